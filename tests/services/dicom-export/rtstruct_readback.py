"""Read a DICOM RTSTRUCT back with pydicom, as a planning system would, and print JSON: its
ROIs (name, colour, interpreted type, generation algorithm, derivation algorithm), its
references (frame of reference, study, series, images), and for every ROI on every
referenced image (frame) the mask its contours fill, as COCO RLE counts, so the test
compares pixel for pixel with the project's masks.

The filling here is written independently of the app's (delineate_dicom/contours.py): each
contour's patient coordinates (mm) are taken back to pixel coordinates through the
referenced image's own Image Position/Orientation (Patient) and Pixel Spacing, checked to
lie in that image's plane, and all contours of an ROI on one image are combined with the
even-odd rule (a pixel is inside when a ray from its centre crosses them an odd number of
times; the classic crossing-number test, "pnpoly"). Run in the light DICOM environment:

    python rtstruct_readback.py RTSTRUCT.dcm SOURCE_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pydicom

from readback_rle import rle_counts  # beside this script


def plane_of(ds: Any, frame: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    if "PerFrameFunctionalGroupsSequence" in ds:
        def get(k: str) -> Any:
            for fg in (ds.PerFrameFunctionalGroupsSequence[frame - 1], ds.SharedFunctionalGroupsSequence[0]):
                if k in fg:
                    return fg[k][0]
            raise KeyError(k)

        ipp = get("PlanePositionSequence").ImagePositionPatient
        iop = get("PlaneOrientationSequence").ImageOrientationPatient
        ps = get("PixelMeasuresSequence").PixelSpacing
    else:
        ipp, iop, ps = ds.ImagePositionPatient, ds.ImageOrientationPatient, ds.PixelSpacing
    o = np.array([float(v) for v in ipp])
    cos = np.array([float(v) for v in iop])
    return o, cos[:3], cos[3:], float(ps[1]), float(ps[0])


def frame_numbers(ref: Any) -> list[int]:
    if "ReferencedFrameNumber" not in ref:
        return []
    v = ref.ReferencedFrameNumber
    return [int(x) for x in v] if isinstance(v, pydicom.multival.MultiValue) else [int(v)]


def even_odd(polygons: list[np.ndarray], rows: int, cols: int) -> np.ndarray:
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float64)
    inside = np.zeros((rows, cols), dtype=bool)
    for poly in polygons:
        xs, ys = poly[:, 0], poly[:, 1]
        j = len(poly) - 1
        for i in range(len(poly)):
            xi, yi, xj, yj = xs[i], ys[i], xs[j], ys[j]
            if yi != yj:
                crosses = ((yi > yy) != (yj > yy)) & (xx < (xj - xi) * (yy - yi) / (yj - yi) + xi)
                inside ^= crosses
            j = i
    return inside


def main(path: str, source_dir: str) -> None:
    rs = pydicom.dcmread(path)
    sources: dict[str, Any] = {}
    for f in Path(source_dir).rglob("*"):
        if f.is_file():
            try:
                d = pydicom.dcmread(f, stop_before_pixels=True)
            except Exception:  # noqa: BLE001 - not DICOM: not a source
                continue
            if "SOPInstanceUID" in d:
                sources[str(d.SOPInstanceUID)] = d
    names = {int(r.ROINumber): r for r in rs.StructureSetROISequence}
    observations = {int(o.ReferencedROINumber): o for o in rs.RTROIObservationsSequence}
    rois, masks, contours_out = [], [], []
    max_off_plane = 0.0
    for rc in rs.ROIContourSequence:
        n = int(rc.ReferencedROINumber)
        r = names[n]
        alg = r.get("ROIDerivationAlgorithmIdentificationSequence")
        rois.append({
            "number": n,
            "name": str(r.ROIName),
            "color": [int(v) for v in rc.ROIDisplayColor],
            "frame_of_reference": str(r.ReferencedFrameOfReferenceUID),
            "generation_algorithm": str(r.get("ROIGenerationAlgorithm", "")),
            "algorithm_name": str(alg[0].AlgorithmName) if alg else None,
            "algorithm_version": str(alg[0].AlgorithmVersion) if alg else None,
            "interpreted_type": str(observations[n].RTROIInterpretedType),
            "interpreter": str(observations[n].get("ROIInterpreter", "")),
        })
        per_image: dict[tuple[str, int], list[np.ndarray]] = {}
        for c in rc.get("ContourSequence", []):
            assert c.ContourGeometricType == "CLOSED_PLANAR", c.ContourGeometricType
            ref = c.ContourImageSequence[0]
            sop = str(ref.ReferencedSOPInstanceUID)
            frame = int(ref.get("ReferencedFrameNumber", 1))
            pts = np.array([float(v) for v in c.ContourData]).reshape(-1, 3)
            assert len(pts) == int(c.NumberOfContourPoints)
            o, x_dir, y_dir, dx, dy = plane_of(sources[sop], frame)
            rel = pts - o
            normal = np.cross(x_dir, y_dir)
            max_off_plane = max(max_off_plane, float(np.abs(rel @ normal).max()))
            xy = np.stack([rel @ x_dir / dx, rel @ y_dir / dy], axis=1)
            per_image.setdefault((sop, frame), []).append(xy)
            contours_out.append({"roi": n, "sop": sop, "frame": frame, "points": pts.tolist()})
        for (sop, frame), polys in per_image.items():
            src = sources[sop]
            m = even_odd(polys, int(src.Rows), int(src.Columns))
            masks.append({"roi": n, "sop": sop, "frame": frame, "counts": rle_counts(m)})
    fr = rs.ReferencedFrameOfReferenceSequence[0]
    study = fr.RTReferencedStudySequence[0]
    series = study.RTReferencedSeriesSequence[0]
    print(json.dumps({
        "sop_instance_uid": str(rs.SOPInstanceUID),
        "series_instance_uid": str(rs.SeriesInstanceUID),
        "series_description": str(rs.get("SeriesDescription", "")),
        "series_number": int(rs.SeriesNumber),
        "modality": str(rs.Modality),
        "patient_id": str(rs.PatientID),
        "study_uid": str(rs.StudyInstanceUID),
        "operator": str(rs.get("OperatorsName", "")),
        "structure_set_label": str(rs.StructureSetLabel),
        "structure_set_date": str(rs.get("StructureSetDate", "")),
        "predecessor": str(rs.PredecessorStructureSetSequence[0].ReferencedSOPInstanceUID) if "PredecessorStructureSetSequence" in rs else None,
        "frame_of_reference": str(fr.FrameOfReferenceUID),
        "referenced_study": str(study.ReferencedSOPInstanceUID),
        "referenced_series": str(series.SeriesInstanceUID),
        "referenced_images": [[str(i.ReferencedSOPInstanceUID), frame_numbers(i)] for i in series.ContourImageSequence],
        "max_off_plane_mm": max_off_plane,
        "rois": rois,
        "masks": masks,
        "contours": contours_out,
    }))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
