"""A DICOM Structured Report of a series' segment measurements: a TID 1500 Measurement Report.

highdicom does the standard's work (the content tree of TID 1500 / 1411 / 300, the SR
document modules, the evidence of the referenced objects); this module turns the app's
request into highdicom's arguments and writes the file atomically. The figures themselves
are the app's (electron/services/segments/measure.ts): they are written here, never
computed again.

- Per segment (a label's instance) two groups with one Tracking Identifier (the segment's
  name) and one Tracking UID, which is how TID 1500 ties them to one finding:
  - a Volumetric ROI Measurements group (TID 1411) referencing the segment's label segment in
    the SEG the app exported (Referenced Segment: the SEG's SOP instance and segment number,
    with the source series), holding the Volume (mL; absent when the series gives none) and,
    for CT, the attenuation coefficient's mean, standard deviation, minimum and maximum (HU)
    over the segment's voxels;
  - a Measurement group (TID 1501) holding the Long axis and Short axis (mm, method RECIST
    1.1), each with its two ends as an SCOORD POLYLINE on the source image (and frame) where
    the segment is largest. TID 1410/1411 groups may not carry coordinates on their
    measurements (highdicom enforces it), TID 1501 may.
  The SEG has one segment per label, its instances merged, so two instances of one label
  reference the same SEG segment; the tracking identifier and UID tell them apart.
- Finding type and category: the codes of the label's SEG segment.
- Observer: the user (person) and Delineate (device); the document is complete, not verified.

Request (JSON, built by electron/services/dicom-export/sr-request.ts):

    out, sources        as for the SEG (seg.py): the source images, in slice order
    seg                 {"file": absolute path of the referenced SEG}
    groups              [{tracking_id, tracking_uid, segment_number, finding: {scheme, value,
                          meaning}, finding_category, volume_ml | null, long_axis_mm,
                          short_axis_mm, axes_source, axes_frame | null,
                          long_axis_points [[x, y], [x, y]], short_axis_points,
                          hu: {mean, sd, min, max} | null}]
    procedure           "CT" or anything else (an imaging procedure)
    series_instance_uid, sop_instance_uid, series_number, series_description, observer,
    manufacturer, model_name, software_version, device_serial, device_uid
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pydicom
from pydicom.sr.codedict import codes

from .files import save_atomically
from .seg import _with_type2

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
_ML = hd.sr.CodedConcept(value="ml", scheme_designator="UCUM", meaning="milliliter")
_MM = hd.sr.CodedConcept(value="mm", scheme_designator="UCUM", meaning="millimeter")
_HU = hd.sr.CodedConcept(value="[hnsf'U]", scheme_designator="UCUM", meaning="Hounsfield unit")


def _code(c: dict[str, str]) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(value=c["value"], scheme_designator=c["scheme"], meaning=c["meaning"])


def _read(path: str, what: str) -> pydicom.Dataset:
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is named
        raise ValueError(f"{path}: cannot be read as DICOM ({what}: {exc})") from exc


def _axis(name: hd.sr.CodedConcept, value: float, points: list[list[float]], image: pydicom.Dataset, frame: int | None) -> hd.sr.Measurement:
    source = hd.sr.SourceImageForRegion(
        referenced_sop_class_uid=image.SOPClassUID,
        referenced_sop_instance_uid=image.SOPInstanceUID,
        referenced_frame_numbers=[frame] if frame else None,
    )
    return hd.sr.Measurement(
        name=name,
        value=float(value),
        unit=_MM,
        method=codes.DCM.RECIST1Point1,
        referenced_coordinates=[
            hd.sr.CoordinatesForMeasurement(graphic_type=hd.sr.GraphicTypeValues.POLYLINE, graphic_data=np.asarray(points, dtype=float), source_image=source)
        ],
    )


def _groups(g: dict[str, Any], sources: list[pydicom.Dataset], seg: pydicom.Dataset) -> list[Any]:
    """The segment's two groups, one tracking identifier and UID: volumetric (TID 1411, the SEG
    segment) and the RECIST calipers (TID 1501: ROI groups may not carry coordinates)."""
    number = int(g["segment_number"])
    if number not in {int(s.SegmentNumber) for s in seg.SegmentSequence}:
        raise ValueError(f"{g['tracking_id']}: the SEG {seg.SOPInstanceUID} has no segment {number}")
    index = int(g["axes_source"])
    if not 0 <= index < len(sources):
        raise ValueError(f"{g['tracking_id']}: source {index} is out of range")
    image = sources[index]
    frame = int(g["axes_frame"]) if g.get("axes_frame") else None
    tracking = {"uid": g["tracking_uid"], "identifier": str(g["tracking_id"])[:64]}
    finding = _code(g["finding"])
    category = _code(g["finding_category"]) if g.get("finding_category") else None
    volumetric: list[hd.sr.Measurement] = []
    if g.get("volume_ml") is not None:
        volumetric.append(hd.sr.Measurement(name=codes.SCT.Volume, value=float(g["volume_ml"]), unit=_ML))
    hu = g.get("hu")
    if hu:
        for key, derivation in (("mean", codes.SCT.Mean), ("sd", codes.SCT.StandardDeviation), ("min", codes.SCT.Minimum), ("max", codes.SCT.Maximum)):
            volumetric.append(hd.sr.Measurement(name=codes.DCM.AttenuationCoefficient, value=float(hu[key]), unit=_HU, derivation=derivation))
    return [
        hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(**tracking),
            referenced_segment=hd.sr.ReferencedSegment(
                sop_class_uid=seg.SOPClassUID,
                sop_instance_uid=seg.SOPInstanceUID,
                segment_number=number,
                source_series=hd.sr.SourceSeriesForSegmentation(sources[0].SeriesInstanceUID),
            ),
            finding_type=finding,
            finding_category=category,
            measurements=volumetric or None,
        ),
        hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(**tracking),
            finding_type=finding,
            finding_category=category,
            measurements=[
                _axis(codes.SCT.LongAxis, g["long_axis_mm"], g["long_axis_points"], image, frame),
                _axis(codes.SCT.ShortAxis, g["short_axis_mm"], g["short_axis_points"], image, frame),
            ],
        ),
    ]


def write_sr(req: dict[str, Any]) -> dict[str, Any]:
    if not req.get("sources"):
        raise ValueError("no source images")
    if not req.get("groups"):
        raise ValueError("no segments to report")
    sources = [_with_type2(_read(p, "source image")) for p in req["sources"]]
    seg = _read(req["seg"]["file"], "the SEG the report refers to")
    if seg.SOPClassUID != SEGMENTATION_STORAGE:
        raise ValueError(f"{req['seg']['file']}: not a DICOM Segmentation ({seg.SOPClassUID})")
    if seg.StudyInstanceUID != sources[0].StudyInstanceUID:
        raise ValueError(f"{req['seg']['file']}: the SEG belongs to another study than {req['sources'][0]}")
    groups = [group for g in req["groups"] for group in _groups(g, sources, seg)]
    observation = hd.sr.ObservationContext(
        observer_person_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name=req.get("observer") or "Unknown"),
        ),
        observer_device_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Device,
            observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                uid=req["device_uid"],
                name="Delineate",
                manufacturer_name=req.get("manufacturer") or "Delineate",
                model_name=req.get("model_name") or "Delineate",
                serial_number=req.get("device_serial") or None,
            ),
        ),
    )
    procedure = codes.LN.CTUnspecifiedBodyRegion if req.get("procedure") == "CT" else codes.SCT.ImagingProcedure
    report = hd.sr.MeasurementReport(
        observation_context=observation,
        procedure_reported=procedure,
        imaging_measurements=groups,
        title=codes.DCM.ImagingMeasurementReport,
    )
    try:
        sr = hd.sr.Comprehensive3DSR(
            evidence=[*sources, seg],
            content=report,
            series_instance_uid=req["series_instance_uid"],
            series_number=int(req["series_number"]),
            sop_instance_uid=req["sop_instance_uid"],
            instance_number=1,
            manufacturer=req.get("manufacturer") or "Delineate",
            is_complete=True,
            is_final=False,
            is_verified=False,
        )
    except ValueError as exc:  # highdicom's checks of the sources: name the file
        raise ValueError(f"{req['sources'][0]}: {exc}") from exc
    if req.get("series_description"):
        sr.SeriesDescription = str(req["series_description"])[:64]
    sr.ManufacturerModelName = req.get("model_name") or "Delineate"
    sr.SoftwareVersions = req.get("software_version") or "0"
    sr.DeviceSerialNumber = req.get("device_serial") or "0"
    out = Path(req["out"])
    save_atomically(sr, out)
    return {
        "file": str(out),
        "sop_instance_uid": str(sr.SOPInstanceUID),
        "series_instance_uid": str(sr.SeriesInstanceUID),
        "frames": len({(int(g["axes_source"]), g.get("axes_frame")) for g in req["groups"]}),
        "groups": len(req["groups"]),
        "bytes": out.stat().st_size,
    }
