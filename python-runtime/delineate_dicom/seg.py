"""A DICOM Segmentation (binary, one segment per label class) from the app's masks.

highdicom does the standard's work: the referenced images frame by frame, the shared and
per-frame functional groups (geometry copied from the sources), the segment descriptions
with their codes and algorithm identification, patient/study copied from the source. This
module only turns the app's request into highdicom's arguments and writes the file
atomically (a temporary name in the same folder, then a rename).

Request (JSON, built by electron/services/dicom-export/seg-request.ts):

    out                 absolute path of the .dcm to write
    sources             the source instances' files, in the order frames refer to them;
                        either single-frame images of one series or one multi-frame image
    masks               [{source, frame, segment, rle}]: COCO RLE of one segment on one frame
    segments            [{number, label, category, type, algorithm_type, algorithm?, color?}]
                        category/type: {scheme, value, meaning};
                        algorithm: {name, version, parameters?: {name: value}}
    series_instance_uid, sop_instance_uid, series_number, series_description,
    content_label, content_description, content_creator, manufacturer, model_name,
    software_version, device_serial
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pydicom
from pydicom.sr.codedict import codes

from . import seg_cine
from .files import save_atomically
from .rle import decode


def _code(c: dict[str, str]) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(value=c["value"], scheme_designator=c["scheme"], meaning=c["meaning"])


def _description(s: dict[str, Any]) -> hd.seg.SegmentDescription:
    algorithm_type = hd.seg.SegmentAlgorithmTypeValues(s["algorithm_type"])
    algorithm = None
    if algorithm_type != hd.seg.SegmentAlgorithmTypeValues.MANUAL:
        a = s.get("algorithm") or {}
        # CID 7162: SAM is a learned model, so "Artificial Intelligence".
        algorithm = hd.AlgorithmIdentificationSequence(
            name=a.get("name") or "Segment Anything",
            family=codes.cid7162.ArtificialIntelligence,
            version=a.get("version") or "unknown",
            # e.g. the model package's hash, from the headless node (AUTOMATIC segments)
            parameters={str(k): str(v) for k, v in a["parameters"].items()} if a.get("parameters") else None,
        )
    color = s.get("color")
    return hd.seg.SegmentDescription(
        segment_number=int(s["number"]),
        segment_label=str(s["label"])[:64],
        segmented_property_category=_code(s["category"]),
        segmented_property_type=_code(s["type"]),
        algorithm_type=algorithm_type,
        algorithm_identification=algorithm,
        tracking_uid=s.get("tracking_uid"),
        tracking_id=s.get("tracking_id"),
        display_color=hd.color.CIELabColor(*color) if color else None,
    )


# Type 2 attributes of the patient and study modules the SEG copies from its sources. Files
# from many vendors (secondary captures above all) leave some out; an empty value is what
# the standard asks for then, so they are filled in (in memory only) rather than refused.
_TYPE2_COPIED = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
)


def _with_type2(ds: pydicom.Dataset) -> pydicom.Dataset:
    for keyword in _TYPE2_COPIED:
        if keyword not in ds:
            setattr(ds, keyword, "")
    return ds


def _pixel_array(req: dict[str, Any], sources: list[pydicom.Dataset]) -> np.ndarray:
    """(frames, rows, columns, segments) bool, frames as highdicom expects them: one per
    source image, or one per frame of a single multi-frame source."""
    multi = len(sources) == 1 and int(getattr(sources[0], "NumberOfFrames", 1) or 1) > 1
    n_frames = int(sources[0].NumberOfFrames) if multi else len(sources)
    rows, cols = int(sources[0].Rows), int(sources[0].Columns)
    segs = sorted(int(s["number"]) for s in req["segments"])
    index = {n: i for i, n in enumerate(segs)}
    arr = np.zeros((n_frames, rows, cols, len(segs)), dtype=bool)
    for m in req["masks"]:
        f = int(m["frame"]) if multi else int(m["source"])
        if not 0 <= f < n_frames:
            raise ValueError(f"mask on frame {m['frame']} of source {m['source']}: out of range")
        mask = decode(m["rle"])
        if mask.shape != (rows, cols):
            raise ValueError(f"mask of {mask.shape} on a {rows}x{cols} image ({req['sources'][m['source']]})")
        arr[f, :, :, index[int(m["segment"])]] |= mask
    return arr


def write_seg(req: dict[str, Any]) -> dict[str, Any]:
    paths = [Path(p) for p in req["sources"]]
    if not paths:
        raise ValueError("no source images")
    sources = []
    for p in paths:
        try:
            sources.append(_with_type2(pydicom.dcmread(p)))
        except Exception as exc:  # noqa: BLE001 - any unreadable source is named
            raise ValueError(f"{p}: cannot be read as DICOM ({exc})") from exc
    if len(sources) > 1 and any(int(getattr(s, "NumberOfFrames", 1) or 1) > 1 for s in sources):
        raise ValueError("a SEG refers either to single-frame images or to one multi-frame image")
    # A cine without patient coordinates: highdicom writes one frame, seg_cine the rest.
    cine = int(getattr(sources[0], "NumberOfFrames", 1) or 1) > 1 and "FrameOfReferenceUID" not in sources[0]
    pixels = _pixel_array(req, sources)
    if not pixels.any():
        raise ValueError("no mask pixels to export")
    try:
        if cine:
            numbers = sorted(int(s["number"]) for s in req["segments"])
            seg = seg_cine.extend_to_frames(_segmentation(req, [seg_cine.single_frame_view(sources[0])], seg_cine.pixels_of_first(pixels)), sources[0], pixels, numbers)
        else:
            seg = _segmentation(req, sources, pixels)
    except ValueError as exc:  # highdicom's checks of the sources: name the file
        raise ValueError(f"{paths[0]}: {exc}") from exc
    if "FrameOfReferenceUID" not in seg and "PatientOrientation" not in seg:
        # General Image module: Patient Orientation is required (possibly empty) when the image
        # has no patient coordinates; take the source's, which the SEG shares a grid with.
        seg.PatientOrientation = sources[0].get("PatientOrientation", "")
    if req.get("series_description"):
        seg.SeriesDescription = str(req["series_description"])[:64]
    out = Path(req["out"])
    save_atomically(seg, out)
    return {
        "file": str(out),
        "sop_instance_uid": str(seg.SOPInstanceUID),
        "series_instance_uid": str(seg.SeriesInstanceUID),
        "frames": int(seg.NumberOfFrames),
        "segments": len(req["segments"]),
        "bytes": out.stat().st_size,
    }


def _segmentation(req: dict[str, Any], sources: list[pydicom.Dataset], pixels: np.ndarray) -> hd.seg.Segmentation:
    return hd.seg.Segmentation(
        source_images=sources,
        pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[_description(s) for s in sorted(req["segments"], key=lambda s: int(s["number"]))],
        series_instance_uid=req["series_instance_uid"],
        series_number=int(req["series_number"]),
        sop_instance_uid=req["sop_instance_uid"],
        instance_number=1,
        manufacturer=req.get("manufacturer") or "Delineate",
        manufacturer_model_name=req.get("model_name") or "Delineate",
        software_versions=req.get("software_version") or "0",
        device_serial_number=req.get("device_serial") or "0",
        content_label=(req.get("content_label") or "SEGMENTATION")[:16],
        content_description=req.get("content_description"),
        content_creator_name=req.get("content_creator") or None,
        omit_empty_frames=True,
    )
