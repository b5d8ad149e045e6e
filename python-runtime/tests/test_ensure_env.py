"""tools/ensure_env.py: venv named by the lock hash only, marker after success, idempotent,
progress and a parseable error line on stderr, old markers still accepted."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "ensure_env.py"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_creates_once_reuses_and_redoes_interrupted(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("# no packages: the mechanics are under test, not pip's downloads\n")
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    args = ("--lock", str(lock), "--root", str(tmp_path / "envs"))

    assert _run(*args, "--check").returncode == 3
    first = _run(*args)
    assert first.returncode == 0, first.stderr
    py = Path(first.stdout.strip().splitlines()[-1])
    assert py.parent.parent.name == f"python-{digest[:12]}" and py.exists()
    marker = py.parent.parent / ".delineate-env-ready"
    info = json.loads(marker.read_text())
    assert info["lock_sha256"] == digest and "runtime" not in info
    steps = [ln for ln in first.stderr.splitlines() if ln.startswith("[ensure_env] step ")]
    assert [s.split(":")[0] for s in steps] == [f"[ensure_env] step {i}/3" for i in (1, 2, 3)]
    # The runtime package is not installed: the env depends on the lock alone.
    probe = subprocess.run(
        [str(py), "-c", "import importlib.util as u; print(u.find_spec('delineate_runtime'))"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert probe.stdout.strip() == "None", probe.stdout + probe.stderr

    t0 = time.perf_counter()
    second = _run(*args)
    assert second.stdout.strip().splitlines()[-1] == str(py)
    assert "creating" not in second.stderr and time.perf_counter() - t0 < 5
    assert _run(*args, "--no-runtime", "--check").returncode == 0  # old flag: a no-op

    marker.unlink()  # as if the install had been interrupted before the marker
    (py.parent.parent / "leftover").write_text("x")
    third = _run(*args)
    assert third.returncode == 0 and "removing incomplete" in third.stderr
    assert marker.is_file() and not (py.parent.parent / "leftover").exists()

    lock.write_text("# changed lock -> new environment\n")
    fourth = _run(*args)
    assert fourth.stdout.strip().splitlines()[-1] != str(py)


def test_marker_of_an_older_version_counts_as_ready(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("# empty\n")
    args = ("--lock", str(lock), "--root", str(tmp_path / "envs"))
    py = Path(_run(*args).stdout.strip().splitlines()[-1])
    marker = py.parent.parent / ".delineate-env-ready"
    old = json.loads(marker.read_text())
    # What older versions wrote: the editable install's checkout, possibly another copy's.
    old["runtime"] = "/somewhere/else/python-runtime"
    marker.write_text(json.dumps(old))
    before = marker.stat().st_mtime_ns
    again = _run(*args, "--check")
    assert again.returncode == 0 and again.stdout.strip().splitlines()[-1] == str(py)
    assert _run(*args).returncode == 0 and marker.stat().st_mtime_ns == before


def test_pip_failure_ends_with_an_offline_instruction(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("delineate-no-such-package==0.0.1\n")
    args = ("--lock", str(lock), "--root", str(tmp_path / "envs"))
    res = _run(*args, env={"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(tmp_path)})
    assert res.returncode == 1
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("[ensure_env] error: pip could not install"), last
    assert str(lock) in last and "delineate-no-such-package" in last
    assert "PIP_FIND_LINKS=/path/to/wheels PIP_NO_INDEX=1 python3" in last
    assert _run(*args, "--check").returncode == 3  # no marker: the next run starts over
