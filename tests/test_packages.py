"""Evidence packages verifiable by whoever receives them: signed with the department's key,
checked with nothing but the public key file (no catalog), anchored in the extract's audit
entry, every non-regular file reported, and no half-written package after a kill -9. Each
forgery is performed on the files as a forger would."""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DEMO_ID
from videx import audit, catalog, package
from videx.hashing import sha256_file


@pytest.fixture
def signed(ingested, run, tmp_path, monkeypatch):
    """A catalog with a package signing key, its public key file, and a signed package."""
    key = tmp_path / "keys" / "dept.pem"
    key.parent.mkdir()
    r = run("keys", "create", "--out", key)
    assert r.exit_code == 0, r.output
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    pub = tmp_path / "keys" / "dept.pub"
    assert run("keys", "export", "--out", pub).exit_code == 0
    monkeypatch.setenv("VIDEX_SIGNING_KEY", str(key))
    out = tmp_path / "pkg"
    r = run("extract", DEMO_ID, "--out", out)
    assert r.exit_code == 0, r.output
    assert "signed with key" in r.stdout
    return out, pub, key


def writable(path: Path) -> Path:
    os.chmod(path, 0o644)
    return path


def resum(pkg: Path, name: str) -> None:
    """Rewrite a file's SHA256SUMS line to its current hash, as a forger would."""
    sums = writable(pkg / "SHA256SUMS")
    lines = [ln if not ln.endswith(f"  {name}") else f"{sha256_file(pkg / name)}  {name}"
             for ln in sums.read_text().splitlines()]
    sums.write_text("\n".join(lines) + "\n")


def verify_cli(*args, cwd=None, timeout=60) -> subprocess.CompletedProcess:
    """videx verify in a new process with no catalog anywhere (a recipient's machine)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEX_")}
    return subprocess.run([sys.executable, "-m", "videx", "verify", *map(str, args)],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_a_signed_package_verifies_with_only_the_public_key(signed, tmp_path, open_db):
    out, pub, _ = signed
    elsewhere = tmp_path / "recipient"
    elsewhere.mkdir()
    received = elsewhere / "package-HPD-23-004120"
    shutil.copytree(out, received)
    shutil.copy(pub, elsewhere / "dept.pub")
    done = verify_cli(received.name, "--public-key", "dept.pub", cwd=elsewhere)
    assert done.returncode == 0, done.stdout + done.stderr
    key_id = json.loads((received / "SIGNATURE.json").read_text())["key_id"]
    assert done.stdout.strip().endswith(f"all intact; signed with key {key_id}")
    assert not list(elsewhere.glob("*.db"))                   # no catalog was made or needed
    # without the key the files are still checked against each other, and the report says
    # what that does not prove
    done = verify_cli(received.name, cwd=elsewhere)
    assert done.returncode == 0 and f"signed with key {key_id}, not checked" in done.stderr
    # the extract's audit entry records the digests of SHA256SUMS and manifest.json
    entry = [e for e in open_db().auditlog.entries() if e["command"] == "extract"][-1]
    args = json.loads(entry["args"])
    assert args["sha256sums"] == sha256_file(out / "SHA256SUMS")
    assert args["manifest_sha256"] == sha256_file(out / "manifest.json")
    assert args["signed_by"] == key_id


def test_a_manifest_edit_with_its_sums_line_fails_with_the_key_and_the_catalog(signed, run):
    out, pub, _ = signed
    manifest = writable(out / "manifest.json")
    doc = json.loads(manifest.read_text())
    doc["incident"]["occurred_at"] = "2023-05-01T17:30:00Z"        # an hour earlier
    manifest.write_text(json.dumps(doc))
    resum(out, "manifest.json")
    assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=out).returncode == 0
    assert verify_cli(out).returncode == 0           # consistent: only an anchor can tell
    done = verify_cli(out, "--public-key", pub)
    assert done.returncode == 4
    assert ("SIGNATURE SHA256SUMS is not the one the signature covers: it was altered after "
            "signing") in done.stdout
    r = run("verify", out, "--catalog")
    assert r.exit_code == 4
    assert "no extract entry in the audit log" in r.stdout


def test_a_fully_consistent_rewrite_fails_even_when_re_signed(signed, run, tmp_path):
    """Replace a clip, rewrite manifest.json, manifest.csv and SHA256SUMS to match, and sign
    the result with a key of one's own: the department's key and the catalog both refuse."""
    from cryptography.hazmat.primitives.asymmetric import ed25519
    out, pub, _ = signed
    victim = sorted((out / "originals").iterdir())[0]
    writable(victim).write_bytes(victim.read_bytes() + b"altered frames")
    name = f"originals/{victim.name}"
    manifest = writable(out / "manifest.json")
    doc = json.loads(manifest.read_text())
    for f in doc["files"]:
        if f["file"] == name:
            f["sha256"] = sha256_file(victim)
    manifest.write_text(json.dumps(doc))
    for n in (name, "manifest.json"):
        resum(out, n)
    assert verify_cli(out).returncode == 0
    forger = ed25519.Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization

    from videx.keys import PublicKey, SigningKey
    raw = forger.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
    os.chmod(out / "SIGNATURE.json", 0o644)
    (out / "SIGNATURE.json").unlink()
    package.sign(out, SigningKey(forger, PublicKey(raw)), DEMO_ID)
    done = verify_cli(out, "--public-key", pub)
    assert done.returncode == 4 and "not with the key given" in done.stdout
    # the forger's signature relabelled with the department's key id: it does not verify
    sig = json.loads((out / "SIGNATURE.json").read_text())
    sig["key_id"] = PublicKey(base64.b64decode(_catalog_key(tmp_path)["public_key"])).key_id
    writable(out / "SIGNATURE.json").write_text(json.dumps(sig))
    done = verify_cli(out, "--public-key", pub)
    assert done.returncode == 4 and "the signature does not verify with key" in done.stdout
    r = run("verify", out, "--catalog")
    assert r.exit_code == 4 and "no extract entry in the audit log" in r.stdout


def _catalog_key(tmp_path):
    with catalog.open_catalog(tmp_path / "videx.db") as cat:
        return cat.setting("package_signing_key")


def test_anything_not_a_regular_file_is_reported_without_being_opened(signed, tmp_path):
    out, pub, _ = signed
    os.mkfifo(out / "originals" / "pipe.mp4")                     # added
    done = verify_cli(out, "--public-key", pub, timeout=30)       # never blocks on it
    assert done.returncode == 6, done.stdout
    assert "UNEXPECTED originals/pipe.mp4 (a FIFO, not a regular file)" in done.stdout
    os.unlink(out / "originals" / "pipe.mp4")
    victim = sorted((out / "originals").iterdir())[0]              # replacing a listed clip
    os.chmod(out / "originals", 0o755)
    writable(victim).unlink()
    os.mkfifo(victim)
    done = verify_cli(out, "--public-key", pub, timeout=30)
    assert done.returncode == 6
    assert (f"UNEXPECTED originals/{victim.name} (a FIFO, not a regular file; listed in "
            "SHA256SUMS)") in done.stdout
    os.unlink(victim)
    os.symlink("/dev/zero", victim)                                 # a device, via a link
    done = verify_cli(out, "--public-key", pub, timeout=30)
    assert done.returncode == 6 and "(a symlink, not a regular file" in done.stdout


def test_a_package_checked_against_its_catalog(signed, run, tmp_path):
    out, pub, _ = signed
    r = run("verify", out, "--catalog")
    assert r.exit_code == 0, r.output
    assert "made by extract entry" in r.stderr
    # an unsigned package from another catalog: not this catalog's, and not signed
    other = tmp_path / "other.db"
    shutil.copy(tmp_path / "videx.db", other)
    with catalog.open_catalog(other) as cat:
        with cat.write("test: forget the key"):
            cat.db.execute("DELETE FROM settings WHERE key = 'package_signing_key'")
            cat.touch("settings", "package_signing_key")
    r = run("extract", DEMO_ID, "--out", tmp_path / "pkg2", "--db", other)
    assert r.exit_code == 0 and "not signed" in r.stdout
    r = run("verify", tmp_path / "pkg2", "--catalog")
    assert r.exit_code == 4
    assert "the package is not signed" in r.stdout and "no extract entry" in r.stdout
    done = verify_cli(tmp_path / "pkg2", "--public-key", pub)
    assert done.returncode == 4 and "the package is not signed" in done.stdout


def test_keys_are_never_overwritten_and_a_signing_catalog_needs_its_key(signed, run,
                                                                        monkeypatch, tmp_path):
    _, _, key = signed
    r = run("keys", "create", "--out", tmp_path / "again.pem")
    assert r.exit_code == 1 and "already signs its packages with key" in r.stderr
    monkeypatch.delenv("VIDEX_SIGNING_KEY")
    r = run("extract", DEMO_ID, "--out", tmp_path / "unsigned")
    assert r.exit_code == 1
    assert r.stderr.strip().startswith("Error: this catalog signs its evidence packages")
    assert not (tmp_path / "unsigned").exists()
    assert run("audit", "verify", "--deep").exit_code == 0      # the key setting is audited


@pytest.mark.slow
def test_a_killed_extract_leaves_no_package_and_the_next_run_cleans_up(ingested, run,
                                                                      tmp_path):
    """kill -9 at random moments of an extract (with excerpts: ffmpeg cuts, a second or
    two): afterwards either there is no package folder, or it is complete and recorded;
    partial work is hidden, and the next extract removes it."""
    out = tmp_path / "pkg"
    env = {**os.environ, "VIDEX_DB": str(tmp_path / "videx.db")}
    args = [sys.executable, "-m", "videx", "extract", DEMO_ID, "--out", str(out), "--excerpts",
            "--before", "1m", "--after", "1m"]
    rng = random.Random(19)
    complete = 0
    for _ in range(8):
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 2.5))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if out.exists():                     # finished before the kill: complete, recorded
            r = run("verify", out, "--catalog")
            assert r.exit_code == 0, r.output
            complete += 1
            os.chmod(out, 0o755)
            for p in out.rglob("*"):
                os.chmod(p, 0o755)
            shutil.rmtree(out)
    left = [p for p in tmp_path.iterdir() if ".videx-partial-" in p.name]
    assert left, "no kill landed while a package was being written"
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert [p.name for p in tmp_path.iterdir() if ".videx-partial-" in p.name] == []
    assert run("verify", out, "--catalog").exit_code == 0
    entries = [e for e in catalog.open_catalog(tmp_path / "videx.db").auditlog.entries()
               if e["command"] == "extract"]
    assert len(entries) >= complete + 1
    assert audit.verify(catalog.open_catalog(tmp_path / "videx.db"), deep=True).ok
