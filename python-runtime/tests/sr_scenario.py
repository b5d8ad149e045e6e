"""Run in the light DICOM environment by test_sr.py (which runs in the training environment,
without pydicom): ``python sr_scenario.py write|read|request OUT_DIR``.

    write    a 4-slice CT series (pydicom) and its SEG (delineate_dicom.seg, two label
             segments) into OUT_DIR; prints {"sources": [...], "seg": ..., "seg_sop": ...}
    read     FILE: an SR read back with highdicom: its groups' tracking ids, referenced
             SEG and segment, measurements (name, value, unit, derivation, method,
             coordinates), as JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from coco_rle import rle_counts
from delineate_dicom.seg import write_seg

ROOT = "1.2.826.0.1.3680043.10.1234.79"


def encode(mask: np.ndarray) -> dict:
    """COCO RLE (column-major runs, starting with a 0-run), as the app stores masks."""
    return {"size": list(mask.shape), "counts": rle_counts(mask)}


def _ct(i: int, out: Path) -> Path:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = f"{ROOT}.1.{i + 1}"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = f"{ROOT}.1.{i + 1}"
    ds.StudyInstanceUID = f"{ROOT}.1"
    ds.SeriesInstanceUID = f"{ROOT}.1.1"
    ds.FrameOfReferenceUID = f"{ROOT}.1.9"
    ds.PatientName = "Sr^Test"
    ds.PatientID = "SR-001"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyDate = "20260101"
    ds.StudyTime = "120000"
    ds.StudyID = "1"
    ds.AccessionNumber = "ACC-SR"
    ds.ReferringPhysicianName = ""
    ds.Modality = "CT"
    ds.Manufacturer = "Test"
    ds.SeriesNumber = 2
    ds.InstanceNumber = i + 1
    ds.ImagePositionPatient = [-20, -20, i * 2.5]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.SliceThickness = 2.5
    ds.PixelSpacing = [0.8, 0.8]
    ds.Rows = 32
    ds.Columns = 40
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.KVP = 120
    ds.AcquisitionNumber = 1
    ds.PixelData = (np.arange(32 * 40, dtype=np.int16) % 200 - 100).tobytes()
    f = out / f"ct{i}.dcm"
    ds.save_as(f, enforce_file_format=True)
    return f


def write(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    sources = [str(_ct(i, out)) for i in range(4)]
    disc = np.zeros((32, 40), dtype=bool)
    yy, xx = np.mgrid[:32, :40]
    disc[(xx - 15) ** 2 + (yy - 14) ** 2 <= 36] = True
    square = np.zeros((32, 40), dtype=bool)
    square[2:6, 30:36] = True
    code = {"scheme": "SCT", "value": "52988006", "meaning": "Lesion"}
    category = {"scheme": "SCT", "value": "49755003", "meaning": "Morphologically Altered Structure"}
    req = {
        "out": str(out / "seg.dcm"),
        "sources": sources,
        "masks": [
            {"source": 1, "frame": 0, "segment": 1, "rle": encode(disc)},
            {"source": 2, "frame": 0, "segment": 1, "rle": encode(disc)},
            {"source": 2, "frame": 0, "segment": 2, "rle": encode(square)},
        ],
        "segments": [
            {"number": 1, "label": "lesion", "category": category, "type": code, "algorithm_type": "MANUAL", "algorithm": None},
            {"number": 2, "label": "cyst", "category": category, "type": code, "algorithm_type": "MANUAL", "algorithm": None},
        ],
        "series_instance_uid": generate_uid(),
        "sop_instance_uid": generate_uid(),
        "series_number": 9901,
        "series_description": "Delineate SEG v1",
        "content_label": "DELINEATE",
        "content_description": "2 segments",
        "content_creator": "Doe^Jane",
        "manufacturer": "Delineate",
        "model_name": "Delineate",
        "software_version": "test",
        "device_serial": "delineate",
    }
    r = write_seg(req)
    return {"sources": sources, "seg": r["file"], "seg_sop": r["sop_instance_uid"]}


def read(file: str) -> dict:
    sr = hd.sr.srread(file)
    out: dict = {
        "sop_class": str(sr.SOPClassUID),
        "sop_instance_uid": str(sr.SOPInstanceUID),
        "patient_id": str(sr.PatientID),
        "study_uid": str(sr.StudyInstanceUID),
        "completion": str(sr.CompletionFlag),
        "evidence": sorted(str(i.ReferencedSOPInstanceUID) for s in sr.CurrentRequestedProcedureEvidenceSequence for se in s.ReferencedSeriesSequence for i in se.ReferencedSOPSequence),
        "groups": [],
    }
    groups = [("volumetric", g) for g in sr.content.get_volumetric_roi_measurement_groups()]
    groups += [("measurements", g) for g in sr.content.get_image_measurement_groups()]
    for kind, g in groups:
        ref = g.referenced_segment if kind == "volumetric" else None
        item = {
            "kind": kind,
            "tracking_id": g.tracking_identifier,
            "tracking_uid": str(g.tracking_uid),
            "seg_sop": str(ref.referenced_sop_instance_uid) if ref else None,
            "segment_numbers": [int(n) for n in ref.referenced_segment_numbers] if ref else None,
            "finding": g.finding_type.meaning if g.finding_type else None,
            "measurements": [],
        }
        for m in g.get_measurements():
            coords = None
            image = None
            for c in m.referenced_coordinates or []:
                coords = [float(v) for v in c.GraphicData]
                image = str(c.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID)
            item["measurements"].append(
                {
                    "name": m.name.meaning,
                    "value": float(m.value),
                    "unit": m.unit.value,
                    "derivation": m.derivation.meaning if m.derivation else None,
                    "method": m.method.meaning if m.method else None,
                    "coords": coords,
                    "image": image,
                }
            )
        out["groups"].append(item)
    return out


if __name__ == "__main__":
    cmd, arg = sys.argv[1], sys.argv[2]
    print(json.dumps(write(Path(arg)) if cmd == "write" else read(arg)))
