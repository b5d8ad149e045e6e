"""Write a DICOM SEG with highdicom, independently of the app's own SEG writer, for the SEG
import tests: BINARY or FRACTIONAL, any algorithm type, optionally without the per-frame
Derivation Image Sequence (so the reader must place frames by Frame of Reference and Plane
Position). Run in the light DICOM environment:

    python seg_fixture.py REQUEST.json

Request:
    out           the .dcm to write
    sources       source image files (single-frame images of one series, or one multi-frame image)
    type          "BINARY" | "FRACTIONAL"
    pixels        values in [0, 1], flat, in (frame, segment, row, column) order; one frame
                  per source image (or per frame of the one multi-frame source)
    segments      [{label, algorithm_type, lab?: [L, a, b], type?: [scheme, value, meaning]}]
    strip_refs    true: remove every frame's Derivation Image Sequence
Prints {"file", "frames"} as its last line.
"""

from __future__ import annotations

import json
import sys

import highdicom as hd
import numpy as np
import pydicom
from pydicom.sr.codedict import codes


def main(path: str) -> None:
    with open(path, encoding="utf-8") as f:
        req = json.load(f)
    sources = [pydicom.dcmread(p) for p in req["sources"]]
    multi = len(sources) == 1 and int(getattr(sources[0], "NumberOfFrames", 1) or 1) > 1
    frames = int(sources[0].NumberOfFrames) if multi else len(sources)
    rows, cols = int(sources[0].Rows), int(sources[0].Columns)
    nseg = len(req["segments"])
    arr = np.asarray(req["pixels"], dtype=np.float32).reshape(frames, nseg, rows, cols).transpose(0, 2, 3, 1)
    fractional = req["type"] == "FRACTIONAL"
    descriptions = []
    for i, s in enumerate(req["segments"]):
        algorithm_type = hd.seg.SegmentAlgorithmTypeValues(s["algorithm_type"])
        algorithm = None
        if algorithm_type != hd.seg.SegmentAlgorithmTypeValues.MANUAL:
            algorithm = hd.AlgorithmIdentificationSequence(name="test-node", family=codes.cid7162.ArtificialIntelligence, version="1")
        t = s.get("type") or ["99TEST", f"seg{i + 1}", s["label"]]
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=i + 1,
                segment_label=s["label"],
                segmented_property_category=hd.sr.CodedConcept("49755003", "SCT", "Morphologically abnormal structure"),
                segmented_property_type=hd.sr.CodedConcept(t[1], t[0], t[2]),
                algorithm_type=algorithm_type,
                algorithm_identification=algorithm,
                display_color=hd.color.CIELabColor(*s["lab"]) if s.get("lab") else None,
            )
        )
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=arr if fractional else arr > 0.5,
        segmentation_type=hd.seg.SegmentationTypeValues.FRACTIONAL if fractional else hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=77,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="Test",
        manufacturer_model_name="seg_fixture",
        software_versions="1",
        device_serial_number="1",
        max_fractional_value=255,
        omit_empty_frames=True,
    )
    if req.get("strip_refs"):
        for item in seg.PerFrameFunctionalGroupsSequence:
            if "DerivationImageSequence" in item:
                del item.DerivationImageSequence
    seg.save_as(req["out"])
    print(json.dumps({"file": req["out"], "frames": int(seg.NumberOfFrames)}))


if __name__ == "__main__":
    main(sys.argv[1])
