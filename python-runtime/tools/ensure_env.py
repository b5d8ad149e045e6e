#!/usr/bin/env python3
"""Create (once) and locate the Python environment of Delineate's runtime. Stdlib only.

The environment depends on the lock file and nothing else. It is named by the lock's content:
    ${XDG_CACHE_HOME:-~/.cache}/delineate/python-<first 12 hex of sha256(requirements.lock)>
so a changed lock gets a fresh environment and an unchanged one is reused in milliseconds, by
every checkout or installed copy of the app that has the same lock (they share it safely).
It holds the pinned third-party packages only: the runtime package itself is NOT installed
into it. Whoever starts the interpreter puts the ``python-runtime/`` folder on ``PYTHONPATH``
(the app's runtime client and the test scripts do), so ``python -m delineate_runtime`` runs
the calling checkout's source:

    PYTHONPATH=/path/to/python-runtime "$py" -m delineate_runtime --help

Size: the lock pins PyTorch's CUDA build (it runs on CPU too); the environment is about
5.6 GB on disk, most of it downloaded once (torch and the NVIDIA libraries).

Steps: venv -> ``pip install -r requirements.lock`` -> marker file. The marker is written
last, so an interrupted install is detected (venv without marker) and redone from scratch. A
file lock serialises concurrent callers (app + tests). A marker written by older versions of
this script (which also recorded an editable install's ``runtime`` path) still counts as
ready when its lock digest matches.

The venv's python path is the LAST line on stdout. Progress goes to stderr as lines a caller
can parse:

    [ensure_env] step N/M: <what>        one per step
    [ensure_env] error: <what, and how to fix it>   the last line, when it fails

pip honours its environment variables (the install inherits this process's environment), so
an offline machine can install from a folder of wheels:

    PIP_FIND_LINKS=/path/to/wheels PIP_NO_INDEX=1 python3 tools/ensure_env.py

    python3 tools/ensure_env.py            # create if needed, print the python path
    python3 tools/ensure_env.py --check    # print the path if ready, exit 3 otherwise
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

RUNTIME_DIR = Path(__file__).resolve().parents[1]
DEFAULT_LOCK = RUNTIME_DIR / "requirements.lock"
MARKER = ".delineate-env-ready"
STEPS = 3
SIZE_NOTE = "PyTorch's CUDA build: about 5.6 GB download and disk, several minutes"


class EnvError(Exception):
    """A build failure with the one-line explanation for ``[ensure_env] error: ...``."""


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


def step(n: int, msg: str) -> None:
    log(f"step {n}/{STEPS}: {msg}")


def is_ready(venv: Path, digest: str) -> bool:
    """Marker present, interpreter present, same lock. Other marker fields (an old version's
    ``runtime`` path among them) do not matter: the environment depends on the lock only."""
    marker = venv / MARKER
    if not marker.is_file() or not venv_python(venv).exists():
        return False
    try:
        info = json.loads(marker.read_text())
    except ValueError:
        return False
    return isinstance(info, dict) and info.get("lock_sha256") == digest


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


def run(cmd: list[str]) -> tuple[int, str]:
    """Run ``cmd`` with its output copied to stderr (stdout keeps only the final path);
    returns the exit code and the output's tail."""
    log("$ " + " ".join(cmd))
    try:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        )
    except OSError as exc:
        log(f"cannot run {cmd[0]}: {exc}")
        return 127, str(exc)
    assert proc.stdout is not None
    tail: list[str] = []
    for line in proc.stdout:
        sys.stderr.write(line)
        sys.stderr.flush()
        tail.append(line)
        del tail[:-200]
    return proc.wait(), "".join(tail)


def rerun_command(lock: Path, root: Path | None) -> str:
    cmd = ["python" if os.name == "nt" else "python3", str(Path(__file__).resolve())]
    if lock.resolve() != DEFAULT_LOCK.resolve():
        cmd += ["--lock", str(lock)]
    if root is not None:
        cmd += ["--root", str(root)]
    return " ".join(shlex.quote(c) for c in cmd)


def pip_error(lock: Path, root: Path | None, output: str) -> str:
    missing = sorted(set(re.findall(r"No matching distribution found for (\S+)", output)))
    what = f" (not found: {', '.join(missing)})" if missing else ""
    return (
        f"pip could not install the pinned packages of {lock}{what}; no network, or no "
        "index that has them? On an offline machine, download the wheels listed in "
        f"{lock} elsewhere (same OS, CPU and Python version: "
        f"pip download -r {lock.name} -d wheels) and run: "
        f"PIP_FIND_LINKS=/path/to/wheels PIP_NO_INDEX=1 {rerun_command(lock, root)}"
    )


def build(venv: Path, lock: Path, root: Path | None, digest: str, base_python: str) -> None:
    step(1, f"creating the virtual environment {venv}")
    if venv.exists():
        log(f"removing incomplete environment {venv}")
        shutil.rmtree(venv)
    code, _ = run([base_python, "-m", "venv", str(venv)])
    if code != 0:
        raise EnvError(
            f"could not create a virtual environment with {base_python} (exit {code}); "
            "it needs Python's venv module with ensurepip (on Debian/Ubuntu: "
            "apt-get install python3-venv)"
        )
    py = str(venv_python(venv))
    step(2, f"installing the pinned packages of {lock} with pip ({SIZE_NOTE})")
    code, out = run([py, "-m", "pip", "install", "--disable-pip-version-check", "-r", str(lock)])
    if code != 0:
        raise EnvError(pip_error(lock, root, out))
    step(3, "marking the environment ready")
    (venv / MARKER).write_text(
        json.dumps(
            {
                "lock_sha256": digest,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "base_python": base_python,
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Create/locate the runtime's Python environment")
    ap.add_argument("--lock", type=Path, default=DEFAULT_LOCK)
    # Older versions installed the runtime package too; it is never installed now.
    ap.add_argument("--no-runtime", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--root", type=Path, default=None, help="instead of the cache folder")
    ap.add_argument("--python", default=sys.executable, help="interpreter to base the venv on")
    ap.add_argument("--check", action="store_true", help="do not install; exit 3 if not ready")
    a = ap.parse_args(argv)

    if not a.lock.is_file():
        log(f"error: lock file not found: {a.lock}")
        return 2
    lock = a.lock.resolve()
    digest = lock_digest(lock)
    root = (a.root or cache_root()).resolve()
    venv = root / f"python-{digest[:12]}"
    if not is_ready(venv, digest):
        if a.check:
            log(f"environment not ready: {venv}")
            return 3
        with FileLock(root / f"python-{digest[:12]}.lock"):
            if not is_ready(venv, digest):  # another process may have built it
                log(f"creating {venv} from {lock}")
                try:
                    build(venv, lock, a.root and root, digest, a.python)
                except EnvError as exc:
                    log("install failed; the next run starts over")
                    log(f"error: {exc}")
                    return 1
    print(venv_python(venv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
