"""The measurement report writer (delineate_dicom/sr.py), run as the app runs it
(``python -m delineate_dicom write-sr REQUEST.json`` in the light DICOM environment, which this
test suite's environment does not hold: sr_scenario.py does the pydicom/highdicom work there).

A 4-slice CT series and its SEG (two label segments) are written; the SR of two segments must
pass dciodvfy with no error and read back through highdicom with the figures of the request:
per segment a volumetric group referencing the SEG's SOP instance and segment number (volume,
HU mean/SD/min/max) and a measurement group with the RECIST long and short axes and their ends
on the right source image, both under one tracking identifier and UID. A segment number the SEG
lacks, and a "SEG" that is a CT image, are refused with a sentence naming them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

RUNTIME = Path(__file__).resolve().parents[1]
LESION = {"scheme": "SCT", "value": "52988006", "meaning": "Lesion"}
CATEGORY = {"scheme": "SCT", "value": "49755003", "meaning": "Morphologically Altered Structure"}


@pytest.fixture(scope="module")
def dicom_python() -> str:
    r = subprocess.run([sys.executable, str(RUNTIME / "tools" / "ensure_env.py"), "--lock", str(RUNTIME / "dicom-requirements.lock")], capture_output=True, text=True, check=True)
    return r.stdout.strip().splitlines()[-1]


def _run(python: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, *args], cwd=RUNTIME, env={**os.environ, "PYTHONPATH": str(RUNTIME)}, capture_output=True, text=True)


@pytest.fixture(scope="module")
def series(dicom_python: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("sr")
    r = _run(dicom_python, str(RUNTIME / "tests" / "sr_scenario.py"), "write", str(out))
    assert r.returncode == 0, r.stderr
    return {**json.loads(r.stdout.strip().splitlines()[-1]), "dir": out}


def _request(series: dict[str, Any], groups: list[dict[str, Any]], name: str = "sr.dcm") -> dict[str, Any]:
    return {
        "out": str(series["dir"] / name),
        "sources": series["sources"],
        "seg": {"file": series["seg"]},
        "groups": groups,
        "procedure": "CT",
        "series_instance_uid": "2.25.4001",
        "sop_instance_uid": "2.25.4002",
        "series_number": 9701,
        "series_description": "Delineate SR v1",
        "observer": "Doe^Jane",
        "manufacturer": "Delineate",
        "model_name": "Delineate",
        "software_version": "test",
        "device_serial": "delineate",
        "device_uid": "2.25.4003",
    }


def _group(tracking: str, uid: str, segment: int, **over: Any) -> dict[str, Any]:
    return {
        "tracking_id": tracking,
        "tracking_uid": uid,
        "segment_number": segment,
        "finding": LESION,
        "finding_category": CATEGORY,
        "volume_ml": 0.2265,
        "long_axis_mm": 10.4,
        "short_axis_mm": 9.6,
        "axes_source": 1,
        "axes_frame": None,
        "long_axis_points": [[9.0, 14.5], [22.0, 14.5]],
        "short_axis_points": [[15.5, 8.0], [15.5, 21.0]],
        "hu": {"mean": 1.5, "sd": 3.25, "min": -100.0, "max": 99.0},
        **over,
    }


def _write(python: str, req: dict[str, Any], tmp: Path) -> subprocess.CompletedProcess[str]:
    f = tmp / "request.json"
    f.write_text(json.dumps(req))
    return _run(python, "-m", "delineate_dicom", "write-sr", str(f))


def test_report_passes_dciodvfy_and_reads_back(dicom_python: str, series: dict[str, Any], tmp_path: Path) -> None:
    groups = [
        _group("lesion 1", "2.25.5001", 1),
        # A non-CT-like group: no volume, no values; its calipers on another slice.
        _group("cyst 1", "2.25.5002", 2, volume_ml=None, hu=None, axes_source=2, long_axis_mm=7.2, short_axis_mm=3.2, long_axis_points=[[30, 4], [36, 4]], short_axis_points=[[33, 2], [33, 6]]),
    ]
    r = _write(dicom_python, _request(series, groups), tmp_path)
    assert r.returncode == 0, r.stderr
    written = json.loads(r.stdout.strip().splitlines()[-1])
    assert written["groups"] == 2 and written["frames"] == 2 and written["sop_instance_uid"] == "2.25.4002"

    assert shutil.which("dciodvfy"), "dciodvfy (dicom3tools) is needed"
    v = subprocess.run(["dciodvfy", "-new", written["file"]], capture_output=True, text=True)
    errors = [line for line in (v.stdout + v.stderr).splitlines() if line.strip().lower().startswith("error")]
    assert errors == []

    back = _run(dicom_python, str(RUNTIME / "tests" / "sr_scenario.py"), "read", written["file"])
    assert back.returncode == 0, back.stderr
    sr = json.loads(back.stdout.strip().splitlines()[-1])
    assert sr["sop_class"] == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    assert sr["patient_id"] == "SR-001" and sr["completion"] == "COMPLETE"
    assert series["seg_sop"] in sr["evidence"] and len(sr["evidence"]) == 5, "the SEG and the four source images"

    by = {(g["kind"], g["tracking_id"]): g for g in sr["groups"]}
    vol = by[("volumetric", "lesion 1")]
    assert vol["seg_sop"] == series["seg_sop"] and vol["segment_numbers"] == [1]
    assert vol["tracking_uid"] == "2.25.5001" and vol["finding"] == "Lesion"
    m = {(x["name"], x["derivation"]): x for x in vol["measurements"]}
    assert m[("Volume", None)]["value"] == pytest.approx(0.2265) and m[("Volume", None)]["unit"] == "ml"
    hu = {d: m[("Attenuation Coefficient", d)]["value"] for d in ("Mean", "Standard Deviation", "Minimum", "Maximum")}
    assert hu == {"Mean": 1.5, "Standard Deviation": 3.25, "Minimum": -100.0, "Maximum": 99.0}
    assert {x["unit"] for x in vol["measurements"] if x["name"] == "Attenuation Coefficient"} == {"[hnsf'U]"}

    axes = by[("measurements", "lesion 1")]
    assert axes["tracking_uid"] == "2.25.5001", "both groups of a segment share its tracking UID"
    a = {x["name"]: x for x in axes["measurements"]}
    assert a["Long axis"]["value"] == pytest.approx(10.4) and a["Long axis"]["unit"] == "mm" and a["Long axis"]["method"] == "RECIST 1.1"
    assert a["Long axis"]["coords"] == [9.0, 14.5, 22.0, 14.5]
    assert a["Short axis"]["value"] == pytest.approx(9.6) and a["Short axis"]["coords"] == [15.5, 8.0, 15.5, 21.0]
    assert a["Long axis"]["image"] == "1.2.826.0.1.3680043.10.1234.79.1.2", "the second source image"

    cyst = by[("volumetric", "cyst 1")]
    assert cyst["segment_numbers"] == [2] and cyst["measurements"] == [], "no volume, no values: nothing invented"
    c = {x["name"]: x for x in by[("measurements", "cyst 1")]["measurements"]}
    assert c["Long axis"]["value"] == pytest.approx(7.2) and c["Long axis"]["image"] == "1.2.826.0.1.3680043.10.1234.79.1.3"


def test_a_segment_the_seg_lacks_is_refused(dicom_python: str, series: dict[str, Any], tmp_path: Path) -> None:
    r = _write(dicom_python, _request(series, [_group("lesion 9", "2.25.5009", 9)], "bad.dcm"), tmp_path)
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: lesion 9: the SEG") and "has no segment 9" in last
    assert not (series["dir"] / "bad.dcm").exists()


def test_a_seg_that_is_not_a_segmentation_is_refused(dicom_python: str, series: dict[str, Any], tmp_path: Path) -> None:
    req = _request(series, [_group("lesion 1", "2.25.5001", 1)], "bad2.dcm")
    req["seg"] = {"file": series["sources"][0]}
    r = _write(dicom_python, req, tmp_path)
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {series['sources'][0]}: not a DICOM Segmentation")
