# Shared, idempotent set-up for scripts/demo and scripts/test (sourced, not run).
# Creates .venv, installs videx with its test extra when setup.cfg changed, and makes sure the
# system ffmpeg/ffprobe (and Chromium, for the report test) are present: installed with apt-get
# when missing and run as root, otherwise a one-line instruction.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"

# need_system_packages PACKAGE COMMAND...: install PACKAGE with apt-get when a COMMAND is missing.
need_system_packages() {
  local package="$1"; shift
  local missing=()
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing $package (missing: ${missing[*]}) with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "${VIDEX_APT_UPDATED:-}" ]; then
      apt-get update -qq >/dev/null
      export VIDEX_APT_UPDATED=1
    fi
    apt-get install -y -qq "$package" >/dev/null
  else
    echo "setup: ${missing[*]} not found; install $package first (Debian/Ubuntu: sudo apt-get install $package)" >&2
    return 1
  fi
}

need_system_packages ffmpeg ffmpeg ffprobe || exit 1
need_system_packages curl curl || exit 1      # the upload-link tests send files as owners do
# Headless Chromium renders the incident report in the tests (skip with VIDEX_NO_BROWSER=1).
if [ -z "${VIDEX_NO_BROWSER:-}" ] && ! command -v chromium >/dev/null 2>&1 \
    && ! command -v chromium-browser >/dev/null 2>&1; then
  need_system_packages chromium chromium || echo "setup: the report rendering test will fail without Chromium (or set VIDEX_NO_BROWSER=1)" >&2
fi

# PostgreSQL's server programs for the throwaway clusters of the PostgreSQL tests (Debian keeps
# them in /usr/lib/postgresql/N/bin, off PATH), and ChromeDriver for the browser tests of
# videx serve.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  need_system_packages postgresql initdb || echo "setup: the PostgreSQL tests will be skipped without PostgreSQL (or fail under VIDEX_REQUIRE_PG=1)" >&2
fi
if [ -z "${VIDEX_NO_BROWSER:-}" ] && ! command -v chromedriver >/dev/null 2>&1; then
  need_system_packages chromium-driver chromedriver || echo "setup: the browser tests of videx serve will be skipped without chromium-driver" >&2
fi

# axe-core (accessibility checks in the browser tests) and the JavaScript libraries videx
# vendors, at the versions package-lock.json pins, from the npm registry.
if [ -z "${VIDEX_NO_BROWSER:-}" ] && [ ! -f node_modules/axe-core/axe.min.js ]; then
  if ! command -v npm >/dev/null 2>&1; then
    need_system_packages npm npm || echo "setup: the accessibility checks of the browser tests will be skipped without npm" >&2
  fi
  if command -v npm >/dev/null 2>&1; then
    echo "setup: npm ci (axe-core for the browser tests)" >&2
    npm ci --no-audit --no-fund --loglevel=error >/dev/null || echo "setup: npm ci failed; the accessibility checks will be skipped" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PY" -m venv .venv
fi
stamp=".venv/.videx-installed"
want="$(cat setup.cfg pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing videx and its dependencies into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[test]"
  # pip writes no bytecode when PYTHONDONTWRITEBYTECODE is set (it is on some machines), and
  # then every videx command compiles its imports again: about 100 ms of each start-up.
  .venv/bin/python -m compileall -q -j 0 .venv/lib/python*/site-packages >/dev/null 2>&1 || true
  echo "$want" > "$stamp"
fi
.venv/bin/python -m compileall -q videx >/dev/null 2>&1 || true   # only what changed
