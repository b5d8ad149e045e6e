"""Read a DICOM SEG back with highdicom/pydicom, as another viewer would, and print what it
says as JSON: its segments (codes, algorithm), the patient/study it belongs to, and every
frame's mask keyed by the source it references (SOP Instance UID, frame number) and segment,
as COCO RLE counts (column-major, starting with a 0-run), so the test compares pixel for
pixel with the project's masks. Run in the light DICOM environment."""

from __future__ import annotations

import json
import sys

import highdicom as hd
import numpy as np

from readback_rle import rle_counts  # beside this script


def main(path: str) -> None:
    seg = hd.seg.segread(path)
    pixels = seg.pixel_array  # (frames, rows, columns) for a binary SEG
    if pixels.ndim == 2:
        pixels = pixels[None]
    shared = seg.SharedFunctionalGroupsSequence[0]

    def group(fg, keyword):
        # A functional group the same for every frame sits in the shared groups instead.
        return fg.get(keyword) or shared.get(keyword)

    frames = []
    for i, fg in enumerate(seg.PerFrameFunctionalGroupsSequence):
        src = group(fg, "DerivationImageSequence")[0].SourceImageSequence[0]
        frames.append({
            "sop": str(src.ReferencedSOPInstanceUID),
            "frame": int(getattr(src, "ReferencedFrameNumber", 1)),
            "segment": int(group(fg, "SegmentIdentificationSequence")[0].ReferencedSegmentNumber),
            "counts": rle_counts(pixels[i] > 0),
        })
    segments = []
    for s in seg.SegmentSequence:
        alg = s.get("SegmentationAlgorithmIdentificationSequence")
        segments.append({
            "number": int(s.SegmentNumber),
            "label": str(s.SegmentLabel),
            "algorithm_type": str(s.SegmentAlgorithmType),
            "algorithm_name": str(alg[0].AlgorithmName) if alg else None,
            "algorithm_version": str(alg[0].AlgorithmVersion) if alg else None,
            "category": str(s.SegmentedPropertyCategoryCodeSequence[0].CodeValue),
            "type": [str(s.SegmentedPropertyTypeCodeSequence[0].CodingSchemeDesignator), str(s.SegmentedPropertyTypeCodeSequence[0].CodeValue)],
        })
    out = {
        "sop_instance_uid": str(seg.SOPInstanceUID),
        "series_instance_uid": str(seg.SeriesInstanceUID),
        "series_description": str(seg.get("SeriesDescription", "")),
        "series_number": int(seg.SeriesNumber),
        "patient_id": str(seg.PatientID),
        "study_uid": str(seg.StudyInstanceUID),
        "content_creator": str(seg.get("ContentCreatorName", "")),
        "referenced_series": [str(r.SeriesInstanceUID) for r in seg.ReferencedSeriesSequence],
        "rows": int(seg.Rows),
        "columns": int(seg.Columns),
        "segments": segments,
        "frames": frames,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
