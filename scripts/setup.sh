# Shared, idempotent set-up for scripts/demo and scripts/test (sourced, not run).
# Creates .venv, installs videx with its test extra when setup.cfg changed, and makes sure the
# system ffmpeg/ffprobe are present (installed with apt-get when missing and run as root).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"

need_system_packages() {
  local missing=()
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ffmpeg (missing: ${missing[*]}) with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq ffmpeg >/dev/null
  else
    echo "setup: ${missing[*]} not found; install ffmpeg first (Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg)" >&2
    exit 1
  fi
}

need_system_packages ffmpeg ffprobe

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
  echo "$want" > "$stamp"
fi
