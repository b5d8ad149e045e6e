"""Read a measurement report (DICOM SR, TID 1500) back with plain pydicom, walking its content
tree as any SR reader would (not through highdicom, which wrote it), and print what it says as
JSON: the document's identity and evidence, and per measurement group its tracking identifier
and UID, the SEG segment it references, and its numeric measurements (name, value, unit,
derivation, method, SCOORD points and the image they lie on). Run in the light DICOM environment.
"""

from __future__ import annotations

import json
import sys

import pydicom


def _name(item) -> str | None:
    seq = item.get("ConceptNameCodeSequence")
    return str(seq[0].CodeMeaning) if seq else None


def _num(item) -> dict:
    mv = item.MeasuredValueSequence[0]
    out = {
        "name": _name(item),
        "value": float(mv.NumericValue),
        "unit": str(mv.MeasurementUnitsCodeSequence[0].CodeValue),
        "derivation": None,
        "method": None,
        "points": None,
        "image": None,
    }
    for child in item.get("ContentSequence", []):
        n = _name(child)
        if child.ValueType == "CODE" and n == "Derivation":
            out["derivation"] = str(child.ConceptCodeSequence[0].CodeMeaning)
        elif child.ValueType == "CODE" and n == "Measurement Method":
            out["method"] = str(child.ConceptCodeSequence[0].CodeMeaning)
        elif child.ValueType == "SCOORD":
            out["points"] = [float(v) for v in child.GraphicData]
            out["graphic_type"] = str(child.GraphicType)
            out["image"] = str(child.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID)
    return out


def _group(container) -> dict:
    g = {"tracking_id": None, "tracking_uid": None, "seg_sop": None, "segment_number": None, "finding": None, "measurements": []}
    for item in container.get("ContentSequence", []):
        n = _name(item)
        if item.ValueType == "TEXT" and n == "Tracking Identifier":
            g["tracking_id"] = str(item.TextValue)
        elif item.ValueType == "UIDREF" and n == "Tracking Unique Identifier":
            g["tracking_uid"] = str(item.UID)
        elif item.ValueType == "IMAGE" and n == "Referenced Segment":
            ref = item.ReferencedSOPSequence[0]
            g["seg_sop"] = str(ref.ReferencedSOPInstanceUID)
            g["segment_number"] = int(ref.ReferencedSegmentNumber)
        elif item.ValueType == "CODE" and n == "Finding":
            g["finding"] = str(item.ConceptCodeSequence[0].CodeMeaning)
        elif item.ValueType == "NUM":
            g["measurements"].append(_num(item))
    return g


def main(path: str) -> None:
    ds = pydicom.dcmread(path)
    groups = []
    for item in ds.ContentSequence:
        if item.ValueType == "CONTAINER" and _name(item) == "Imaging Measurements":
            groups += [_group(c) for c in item.ContentSequence if c.ValueType == "CONTAINER" and _name(c) == "Measurement Group"]
    evidence = sorted(
        str(i.ReferencedSOPInstanceUID)
        for s in ds.get("CurrentRequestedProcedureEvidenceSequence", [])
        for se in s.ReferencedSeriesSequence
        for i in se.ReferencedSOPSequence
    )
    print(
        json.dumps(
            {
                "sop_class": str(ds.SOPClassUID),
                "sop_instance_uid": str(ds.SOPInstanceUID),
                "modality": str(ds.Modality),
                "title": _name(ds),
                "patient_id": str(ds.PatientID),
                "study_uid": str(ds.StudyInstanceUID),
                "series_description": str(ds.get("SeriesDescription", "")),
                "evidence": evidence,
                "groups": groups,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
