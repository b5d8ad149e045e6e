"""tools/ensure_env.py: venv named by the lock hash, marker after success, idempotent."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "ensure_env.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300
    )


def test_creates_once_reuses_and_redoes_interrupted(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("# no packages: the mechanics are under test, not pip's downloads\n")
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    args = ("--lock", str(lock), "--root", str(tmp_path / "envs"), "--no-runtime")

    assert _run(*args, "--check").returncode == 3
    first = _run(*args)
    assert first.returncode == 0, first.stderr
    py = Path(first.stdout.strip().splitlines()[-1])
    assert py.parent.parent.name == f"python-{digest[:12]}" and py.exists()
    marker = py.parent.parent / ".delineate-env-ready"
    assert digest in marker.read_text()

    t0 = time.perf_counter()
    second = _run(*args)
    assert second.stdout.strip().splitlines()[-1] == str(py)
    assert "creating" not in second.stderr and time.perf_counter() - t0 < 5

    marker.unlink()  # as if the install had been interrupted before the marker
    (py.parent.parent / "leftover").write_text("x")
    third = _run(*args)
    assert third.returncode == 0 and "removing incomplete" in third.stderr
    assert marker.is_file() and not (py.parent.parent / "leftover").exists()

    lock.write_text("# changed lock -> new environment\n")
    fourth = _run(*args)
    assert fourth.stdout.strip().splitlines()[-1] != str(py)
