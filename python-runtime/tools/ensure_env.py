#!/usr/bin/env python3
"""Create (once) and locate the Python environment of Delineate's runtime. Stdlib only.

The environment is named by the lock file's content:
    ${XDG_CACHE_HOME:-~/.cache}/delineate/python-<first 12 hex of sha256(requirements.lock)>
so a changed lock gets a fresh environment and an unchanged one is reused in milliseconds.
Steps: venv -> ``pip install -r requirements.lock`` -> runtime package in editable mode ->
marker file. The marker is written last, so an interrupted install is detected (venv without
marker) and redone from scratch. A file lock serialises concurrent callers (app + tests).

The venv's python path is the LAST line on stdout; progress goes to stderr.

    python3 tools/ensure_env.py            # create if needed, print the python path
    python3 tools/ensure_env.py --check    # print the path if ready, exit 3 otherwise
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

RUNTIME_DIR = Path(__file__).resolve().parents[1]
MARKER = ".delineate-env-ready"


def lock_digest(lock: Path) -> str:
    return hashlib.sha256(lock.read_bytes()).hexdigest()


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "delineate"


def venv_python(venv: Path) -> Path:
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def log(msg: str) -> None:
    print(f"[ensure_env] {msg}", file=sys.stderr, flush=True)


def is_ready(venv: Path, digest: str, runtime: Path | None) -> bool:
    marker = venv / MARKER
    if not marker.is_file() or not venv_python(venv).exists():
        return False
    try:
        info = json.loads(marker.read_text())
    except ValueError:
        return False
    return bool(
        info.get("lock_sha256") == digest
        and info.get("runtime") == (str(runtime) if runtime else None)
    )


class FileLock:
    """An exclusive lock on a file (fcntl on POSIX, msvcrt on Windows)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh: IO[str] | None = None

    def __enter__(self) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")  # noqa: SIM115 - held for the lock's lifetime
        self.fh = fh
        if os.name == "nt":
            import msvcrt

            ms: Any = msvcrt  # Windows-only names; typed loosely so POSIX type checks pass
            while True:
                try:
                    ms.locking(fh.fileno(), ms.LK_LOCK, 1)
                    break
                except OSError:
                    time.sleep(1)
        else:
            import fcntl

            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.fh is not None
        if os.name != "nt":
            import fcntl

            fcntl.flock(self.fh.fileno(), fcntl.LOCK_UN)
        self.fh.close()


def run(cmd: list[str]) -> None:
    log("$ " + " ".join(cmd))
    # pip's output goes to stderr so stdout keeps only the final path.
    subprocess.run(cmd, check=True, stdout=sys.stderr, stderr=sys.stderr)


def build(venv: Path, lock: Path, runtime: Path | None, digest: str, base_python: str) -> None:
    if venv.exists():
        log(f"removing incomplete environment {venv}")
        shutil.rmtree(venv)
    run([base_python, "-m", "venv", str(venv)])
    py = str(venv_python(venv))
    run([py, "-m", "pip", "install", "--disable-pip-version-check", "-r", str(lock)])
    if runtime is not None:
        # No build isolation when setuptools is already there: works without a registry.
        has_setuptools = (
            subprocess.run([py, "-c", "import setuptools"], capture_output=True).returncode == 0
        )
        cmd = [
            py,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-deps",
            "-e",
            str(runtime),
        ]
        if has_setuptools:
            cmd.insert(-2, "--no-build-isolation")
        run(cmd)
    (venv / MARKER).write_text(
        json.dumps(
            {
                "lock_sha256": digest,
                "runtime": str(runtime) if runtime else None,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "base_python": base_python,
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Create/locate the runtime's Python environment")
    ap.add_argument("--lock", type=Path, default=RUNTIME_DIR / "requirements.lock")
    ap.add_argument(
        "--runtime", type=Path, default=RUNTIME_DIR, help="package to install in editable mode"
    )
    ap.add_argument(
        "--no-runtime", action="store_true", help="install the locked dependencies only"
    )
    ap.add_argument("--root", type=Path, default=None, help="instead of the cache folder")
    ap.add_argument("--python", default=sys.executable, help="interpreter to base the venv on")
    ap.add_argument("--check", action="store_true", help="do not install; exit 3 if not ready")
    a = ap.parse_args(argv)

    if not a.lock.is_file():
        log(f"lock file not found: {a.lock}")
        return 2
    digest = lock_digest(a.lock)
    runtime = None if a.no_runtime else a.runtime.resolve()
    root = a.root or cache_root()
    venv = root / f"python-{digest[:12]}"
    if not is_ready(venv, digest, runtime):
        if a.check:
            log(f"environment not ready: {venv}")
            return 3
        with FileLock(root / f"python-{digest[:12]}.lock"):
            if not is_ready(venv, digest, runtime):  # another process may have built it
                log(f"creating {venv} from {a.lock}")
                try:
                    build(venv, a.lock, runtime, digest, a.python)
                except subprocess.CalledProcessError as exc:
                    log(f"install failed ({exc}); the next run starts over")
                    return 1
    print(venv_python(venv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
