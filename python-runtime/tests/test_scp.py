"""The headless node's storage SCP (delineate_dicom/scp.py) as its own process, started as the
node starts it (``python -m delineate_dicom.scp CONFIG.json`` in the light DICOM environment,
which this test suite's environment does not hold: scp_scenario.py is the sending modality
there, doing the pynetdicom/pydicom work and printing what it saw as JSON).

An instance C-STOREd to it is on disk under spool/<series>/<sop>.dcm, its data set
byte-identical to what went on the wire, before the success status comes back, and reported as
one JSON line with the file's SHA-256; a data set with a malformed UID is refused and nothing
is written; so is every instance while the spool's disk is below the free-space floor (0xA700,
out of resources, so the sender tries again later); a call to another AE title is rejected;
with an allow-list of calling AE titles, an association from another AE title is rejected and
reported by name, one from a listed title accepted; closing its stdin stops it."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import socket
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterator

import pytest

RUNTIME = Path(__file__).resolve().parents[1]
SCENARIO = RUNTIME / "tests" / "scp_scenario.py"
STUDY = "1.2.826.0.1.3680043.10.1234.55.1"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"


@pytest.fixture(scope="module")
def dicom_python() -> str:
    ensure = [sys.executable, str(RUNTIME / "tools" / "ensure_env.py"), "--lock", str(RUNTIME / "dicom-requirements.lock")]
    r = subprocess.run(ensure, capture_output=True, text=True, check=True)
    return r.stdout.strip().splitlines()[-1]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(RUNTIME)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Scp:
    proc: subprocess.Popen[str]
    port: int
    spool: Path
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)

    def next_line(self, timeout: float = 15) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the SCP printed nothing within {timeout} s") from None
        assert line is not None, "the SCP's stdout ended"
        return line

    def stop(self) -> tuple[int, list[str]]:
        """Close stdin as a dying node would; the exit code and every line printed after."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        code = self.proc.wait(timeout=15)
        rest: list[str] = []
        while (line := self.lines.get(timeout=15)) is not None:
            rest.append(line)
        return code, rest


def _pump(out: IO[str], lines: queue.Queue[str | None]) -> None:
    # A thread, so that a missing line fails the test after a timeout instead of hanging it.
    for line in out:
        lines.put(line)
    lines.put(None)


def _start(dicom_python: str, tmp_path: Path, min_free_bytes: int, allow: list[str] | None = None) -> Iterator[Scp]:
    port = _free_port()
    node = tmp_path / "node"
    node.mkdir()
    cfg = node / "scp.json"
    spool = tmp_path / "spool"
    cfg.write_text(json.dumps({"ae_title": "DLNODE", "host": "127.0.0.1", "port": port, "spool": str(spool),
                               "min_free_bytes": min_free_bytes, **({"allow_calling_aes": allow} if allow else {})}))
    with open(node / "scp.stderr", "w") as err:
        proc = subprocess.Popen([dicom_python, "-m", "delineate_dicom.scp", str(cfg)], cwd=RUNTIME, env=_env(),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True)
    assert proc.stdout is not None
    it = Scp(proc, port, spool)
    threading.Thread(target=_pump, args=(proc.stdout, it.lines), daemon=True).start()
    first = it.next_line()
    listening = {"event": "listening", "ae_title": "DLNODE", "port": port}
    assert json.loads(first) == listening, (node / "scp.stderr").read_text()
    yield it
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@pytest.fixture()
def scp(dicom_python: str, tmp_path: Path) -> Iterator[Scp]:
    # No free-space floor: the machine running the tests may have little disk left.
    yield from _start(dicom_python, tmp_path, 0)


@pytest.fixture()
def full_scp(dicom_python: str, tmp_path: Path) -> Iterator[Scp]:
    # A floor no disk reaches (1 EiB): as if the spool's disk were full.
    yield from _start(dicom_python, tmp_path, 1 << 60)


@pytest.fixture()
def allow_scp(dicom_python: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Scp]:
    # Only the calling AE titles the test names (scp_scenario.py calls as "MODALITY").
    yield from _start(dicom_python, tmp_path, 0, request.param)


def _send(python: str, scp: Scp, series: str, called: str | None = None) -> dict[str, Any]:
    args = [python, str(SCENARIO), "store", str(scp.port), str(scp.spool), series, *([called] if called else [])]
    r = subprocess.run(args, cwd=RUNTIME, env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def _dataset_part(part10: bytes) -> bytes:
    """What follows the File Meta Information of a Part 10 file: 128-byte preamble, "DICM",
    then (0002,0000) UL, explicit VR little endian, giving the length of the rest of group 2."""
    assert part10[128:132] == b"DICM", "a Part 10 file"
    tag, vr, _, group_length = struct.unpack("<4s2sHI", part10[132:144])
    assert (tag, vr) == (b"\x02\x00\x00\x00", b"UL"), "File Meta Information Group Length first"
    return part10[144 + group_length:]


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_stores_durably_then_reports(dicom_python: str, scp: Scp, tmp_path: Path) -> None:
    series = "1.2.826.0.1.3680043.10.1234.55.1.2"
    sent = _send(dicom_python, scp, series)
    out = scp.spool / series / f"{sent['sop']}.dcm"
    assert sent["established"] and sent["status"] == 0x0000
    assert sent["file"] == str(out) and sent["on_disk_at_status"] is True, "written before the success status"

    event = json.loads(scp.next_line())
    assert event == {"event": "stored", "file": str(out), "sop_instance_uid": sent["sop"], "series_instance_uid": series,
                     "study_instance_uid": STUDY, "modality": "CT", "calling_ae": "MODALITY",
                     "sha256": hashlib.sha256(out.read_bytes()).hexdigest()}

    on_wire = bytes.fromhex(sent["sent_dataset_hex"])
    assert _dataset_part(out.read_bytes()) == on_wire, "the data set as received, byte for byte"
    pixels = bytes(range(32)).hex()
    assert sent["read_back"] == {"sop": sent["sop"], "pixel_data_hex": pixels, "transfer_syntax": EXPLICIT_VR_LITTLE_ENDIAN}
    stored = f"spool/{series}/{sent['sop']}.dcm"
    assert _files(tmp_path) == ["node/scp.json", "node/scp.stderr", stored], "no temporary file left"

    code, rest = scp.stop()
    assert code == 0 and rest == [], "one line per stored instance"


def test_refuses_a_malformed_uid_and_writes_nothing(dicom_python: str, scp: Scp, tmp_path: Path) -> None:
    # Were it used as a folder name, this would put the file at tmp_path/etc, outside the spool.
    sent = _send(dicom_python, scp, "1.2.3/../../etc")
    assert sent["established"] and sent["status"] == 0xA900
    event = json.loads(scp.next_line())
    assert event["event"] == "refused"
    assert event["sop_instance_uid"] == sent["sop"] and event["calling_ae"] == "MODALITY"
    assert "Series Instance UID" in event["reason"] and "1.2.3/../../etc" in event["reason"]
    assert _files(tmp_path) == ["node/scp.json", "node/scp.stderr"], "nothing written, inside the spool or outside"
    assert sent["read_back"] is None
    code, rest = scp.stop()
    assert code == 0 and rest == [], "one line per refused instance"


def test_refuses_out_of_resources_below_the_free_space_floor(dicom_python: str, full_scp: Scp, tmp_path: Path) -> None:
    sent = _send(dicom_python, full_scp, "1.2.826.0.1.3680043.10.1234.55.1.3")
    assert sent["established"] and sent["status"] == 0xA700, "out of resources: the sender keeps it and tries again"
    event = json.loads(full_scp.next_line())
    assert event["event"] == "refused" and event["sop_instance_uid"] == sent["sop"]
    assert "MiB free, less than the" in event["reason"] and str(full_scp.spool) in event["reason"]
    assert _files(tmp_path) == ["node/scp.json", "node/scp.stderr"], "nothing written"
    code, rest = full_scp.stop()
    assert code == 0 and rest == []


def test_rejects_another_called_ae_title(dicom_python: str, scp: Scp, tmp_path: Path) -> None:
    sent = _send(dicom_python, scp, "1.2.3.4", called="SOMEONE")
    assert sent["rejected"] and not sent["established"] and sent["status"] is None
    assert _files(tmp_path) == ["node/scp.json", "node/scp.stderr"]
    code, rest = scp.stop()
    assert code == 0 and rest == [], "a rejected association stores and reports nothing"


@pytest.mark.parametrize("allow_scp", [["PACS", "OTHER"]], indirect=True)
def test_rejects_a_calling_ae_title_not_allowed_and_says_which(dicom_python: str, allow_scp: Scp, tmp_path: Path) -> None:
    sent = _send(dicom_python, allow_scp, "1.2.826.0.1.3680043.10.1234.55.1.4")
    assert sent["rejected"] and not sent["established"] and sent["status"] is None
    event = json.loads(allow_scp.next_line())
    assert event["event"] == "association_refused" and event["calling_ae"] == "MODALITY"
    assert "'MODALITY' is not among the allowed (PACS, OTHER)" in event["reason"]
    assert _files(tmp_path) == ["node/scp.json", "node/scp.stderr"], "nothing stored"
    code, rest = allow_scp.stop()
    assert code == 0 and rest == []


@pytest.mark.parametrize("allow_scp", [["PACS", "MODALITY"]], indirect=True)
def test_accepts_a_calling_ae_title_allowed(dicom_python: str, allow_scp: Scp) -> None:
    series = "1.2.826.0.1.3680043.10.1234.55.1.5"
    sent = _send(dicom_python, allow_scp, series)
    assert sent["established"] and sent["status"] == 0x0000
    event = json.loads(allow_scp.next_line())
    assert event["event"] == "stored" and event["calling_ae"] == "MODALITY" and event["series_instance_uid"] == series
    code, rest = allow_scp.stop()
    assert code == 0 and rest == []


def test_stops_when_stdin_closes(scp: Scp) -> None:
    code, rest = scp.stop()
    assert code == 0 and rest == []
