"""Test helper for deidentify.test.ts, run with the light DICOM environment's python.

    deid_check.py make OUT_DIR        a CT study full of identifying data: two series (3 + 2
                                      slices), conformant to the CT Image IOD, and one image of
                                      another study marked BurnedInAnnotation YES; prints the files
    deid_check.py check REQUEST.json  {"originals": [...], "copies": [...]}: the checks below;
                                      prints {"pairs", "checked", "errors": [...]}

The check pairs each copy with its original by SOP Class and pixel data (which the profile
leaves alone), then, independently of the code under test:
- walks every element of the original at every depth: one the Basic Profile (PS3.15 Table
  E.1-1, the pinned table) lists as D, Z, X or a combination of them must be gone, empty or
  changed in the copy; a U one must be gone or changed, and mapped the same way everywhere; private
  ones must be gone;
- looks for every identifying text value (6+ characters) and every replaced UID of the
  originals in the raw bytes of every copy;
- checks the copies' references: the SEG's study, frame of reference, referenced series and
  instances, and each frame's source image are the copied images' new UIDs, the same
  originals mapped;
- checks the de-identification marks (PatientIdentityRemoved, method code 113100,
  LongitudinalTemporalInformationModified).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from delineate_dicom.deid import action_for

ROOT = "1.2.826.0.1.3680043.10.1234.88"
ROWS, COLS = 48, 64


def _item(**kw: Any) -> Dataset:
    d = Dataset()
    for k, v in kw.items():
        setattr(d, k, v)
    return d


def make(out: Path) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for series, n in ((1, 3), (2, 2)):
        for i in range(n):
            ds = Dataset()
            ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
            ds.SOPInstanceUID = f"{ROOT}.{series}.{i + 1}"
            ds.StudyInstanceUID = f"{ROOT}.0"
            ds.SeriesInstanceUID = f"{ROOT}.{series}.0"
            ds.FrameOfReferenceUID = f"{ROOT}.9"
            ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
            ds.InstanceCreationDate, ds.InstanceCreationTime = "20260301", "101500"
            ds.StudyDate, ds.StudyTime = "20260301", "101010"
            ds.SeriesDate, ds.SeriesTime = "20260301", "101100"
            ds.AcquisitionDate, ds.AcquisitionTime = "20260301", "101200"
            ds.ContentDate, ds.ContentTime = "20260301", "101300"
            ds.AccessionNumber = "ACC-7734215"
            ds.Modality = "CT"
            ds.Manufacturer = "Test Scanners"
            ds.InstitutionName = "St Elsewhere Hospital"
            ds.InstitutionAddress = "12 Harbour Road, Elsewhere"
            ds.ReferringPhysicianName = "House^Gregory"
            ds.ReferringPhysicianIdentificationSequence = Sequence([_item(InstitutionName="Nested Clinic of Elsewhere", PersonIdentificationCodeSequence=Sequence([_item(CodeValue="DR-4471", CodingSchemeDesignator="99HOSP", CodeMeaning="Dr Gregory House")]))])
            ds.StationName = "CTROOM3-WEST"
            ds.StudyDescription = "CT abdomen for John Doe"
            ds.SeriesDescription = f"Axial series {series} of Doe"
            ds.PerformingPhysicianName = "Wilson^James"
            ds.OperatorsName = "Tech^Tina"
            ds.ManufacturerModelName = "Model 9"
            ds.ReferencedStudySequence = Sequence([_item(ReferencedSOPClassUID="1.2.840.10008.3.1.2.3.1", ReferencedSOPInstanceUID=f"{ROOT}.77")])
            ds.PatientName = "Doe^John^Quincy"
            ds.PatientID = "MRN-12345678"
            ds.IssuerOfPatientID = "Elsewhere MRN"
            ds.PatientBirthDate = "19650412"
            ds.PatientSex = "M"
            ds.OtherPatientIDsSequence = Sequence([_item(PatientID="ALT-998877", TypeOfPatientID="TEXT")])
            ds.PatientAge = "060Y"
            ds.PatientAddress = "1 Main Street, Springfield"
            ds.PatientTelephoneNumbers = "555-0199-1234"
            ds.AdditionalPatientHistory = "Fell from ladder at home"
            ds.PatientComments = "Allergic to penicillin, lives alone"
            ds.BodyPartExamined = "ABDOMEN"
            ds.SliceThickness = "2.5"
            ds.KVP = "120"
            ds.DeviceSerialNumber = "SN-99887766"
            ds.SoftwareVersions = "1.0"
            ds.ProtocolName = "ABD ROUTINE JD"
            ds.DateOfLastCalibration = "20260201"
            ds.PatientPosition = "HFS"
            ds.StudyID = "STUDY-5511"
            ds.SeriesNumber = series
            ds.AcquisitionNumber = 1
            ds.InstanceNumber = i + 1
            ds.ImagePositionPatient = [-40, -30, i * 2.5]
            ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            ds.PositionReferenceIndicator = ""
            ds.SliceLocation = str(i * 2.5)
            ds.ImageComments = "Patient John Doe moved during scan"
            ds.RequestAttributesSequence = Sequence([_item(RequestedProcedureID="RP-55661", ScheduledProcedureStepID="SPS-55662", ScheduledProcedureStepDescription="Follow-up for Doe")])
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.Rows, ds.Columns = ROWS, COLS
            ds.PixelSpacing = [0.8, 0.8]
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
            ds.RescaleIntercept, ds.RescaleSlope = "0", "1"
            ds.BurnedInAnnotation = "NO"
            px = ((np.arange(ROWS * COLS, dtype=np.int32) * 7 + i * 13 + series * 101) % 400 - 1000).astype(np.int16)
            ds.PixelData = px.tobytes()
            block = ds.private_block(0x0009, "ACME 1.0", create=True)
            block.add_new(0x10, "LO", "Private note: John Doe, MRN-12345678")
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = ds.SOPClassUID
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            meta.SourceApplicationEntityTitle = "HOSPITALPACS"
            ds.file_meta = meta
            f = out / f"s{series}-{i}.dcm"
            ds.save_as(f, enforce_file_format=True)
            files.append(str(f))
    # Another study whose image says its pixels carry burned-in text: not to be copied.
    ds.StudyInstanceUID, ds.SeriesInstanceUID = f"{ROOT}.100", f"{ROOT}.100.1"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"{ROOT}.100.1.1"
    ds.BurnedInAnnotation = "YES"
    f = out / "burned-in.dcm"
    ds.save_as(f, enforce_file_format=True)
    files.append(str(f))
    return files


def _walk(ds: Dataset, path: tuple[Any, ...] = ()):  # noqa: ANN202 - (path, element) pairs
    for elem in ds:
        yield path, elem
        if elem.VR == "SQ" and elem.value:
            for n, item in enumerate(elem.value):
                yield from _walk(item, (*path, int(elem.tag), n))


def _at(ds: Dataset, path: tuple[Any, ...], tag: int) -> Any:
    cur: Any = ds
    for k in range(0, len(path), 2):
        seq = cur.get(path[k])
        if seq is None or seq.VR != "SQ" or len(seq.value) <= path[k + 1]:
            return None
        cur = seq.value[path[k + 1]]
    return cur.get(tag)


def _key(ds: Dataset) -> tuple[str, str]:
    return str(ds.SOPClassUID), hashlib.sha1(bytes(ds.PixelData)).hexdigest()


def _values(elem: Any) -> list[str]:
    v = elem.value
    if v is None or elem.VR in ("SQ", "OB", "OW", "UN"):
        return []
    return [str(x) for x in (v if isinstance(v, (list, tuple, pydicom.multival.MultiValue)) else [v]) if str(x) != ""]


def check(req: dict[str, Any]) -> dict[str, Any]:
    errors: list[str] = []
    originals = {_key(ds): (f, ds) for f in req["originals"] for ds in [pydicom.dcmread(f)]}
    copies = [(f, pydicom.dcmread(f)) for f in req["copies"]]
    raw = {f: Path(f).read_bytes() for f, _ in copies}
    mapping: dict[str, str] = {}
    secrets_text: set[str] = set()
    checked = 0
    pairs = []
    for f, out in copies:
        found = originals.get(_key(out))
        if not found:
            errors.append(f"{f}: no original with the same pixel data")
            continue
        of, orig = found
        pairs.append((orig, out))
        for elem in list(orig.file_meta):
            if int(elem.tag) in (0x00020003, 0x00020016) and elem.value and out.file_meta.get(elem.tag) is not None and out.file_meta[elem.tag].value == elem.value:
                errors.append(f"{f}: file meta {elem.keyword} kept its original value")
        for path, elem in _walk(orig):
            tag = int(elem.tag)
            now = _at(out, path, tag)
            if elem.tag.is_private:
                checked += 1
                if now is not None:
                    errors.append(f"{f}: private {elem.tag} survived")
                for v in _values(elem):
                    secrets_text.add(v)
                continue
            action = action_for(tag)
            if action is None or action == "X/Z/U*":
                continue
            checked += 1
            vals = _values(elem)
            if elem.VR == "SQ" and action != "U":  # what a listed sequence holds must not survive either
                secrets_text.update(v for _, e in _walk(Dataset({elem.tag: elem})) if e.VR not in ("DA", "TM", "DT", "DS", "IS", "UI") for v in _values(e) if len(v) >= 6)
            if action == "U":
                if not vals or now is None:  # removed with the sequence that held it (X/Z/U*): gone is fine
                    continue
                new = _values(now)
                if len(new) != len(vals):
                    errors.append(f"{f}: {elem.keyword} at {path} lost its UIDs")
                    continue
                for o, n in zip(vals, new, strict=True):
                    if o.startswith("1.2.840.10008."):
                        continue
                    if n == o:
                        errors.append(f"{f}: {elem.keyword} at {path} kept UID {o}")
                    if mapping.setdefault(o, n) != n:
                        errors.append(f"{f}: {o} became {n} here but {mapping[o]} elsewhere")
                continue
            # D, Z, X and their combinations: the original value must not survive.
            if vals and now is not None and _values(now) == vals:
                errors.append(f"{f}: {elem.keyword or elem.tag} ({action}) at {path} kept its value {vals}")
            secrets_text.update(v for v in vals if len(v) >= 6 and elem.VR not in ("DA", "TM", "DT", "DS", "IS"))
    if len(set(mapping.values())) != len(mapping):
        errors.append("two original UIDs were mapped to the same new UID")
    for f, data in raw.items():
        for t in secrets_text:
            if t.encode() in data:
                errors.append(f"{f}: the original value {t!r} is still in the file")
        for o in mapping:
            if o.encode() in data:
                errors.append(f"{f}: the original UID {o} is still in the file")
    for orig, out in pairs:
        if out.get("PatientIdentityRemoved") != "YES":
            errors.append(f"{out.SOPInstanceUID}: PatientIdentityRemoved is not YES")
        codes = [c.CodeValue for c in out.get("DeidentificationMethodCodeSequence", [])]
        if "113100" not in codes:
            errors.append(f"{out.SOPInstanceUID}: no DeidentificationMethodCodeSequence 113100")
        if out.get("LongitudinalTemporalInformationModified") != "REMOVED":
            errors.append(f"{out.SOPInstanceUID}: LongitudinalTemporalInformationModified is not REMOVED")
        if out.file_meta.MediaStorageSOPInstanceUID != out.SOPInstanceUID:
            errors.append(f"{out.SOPInstanceUID}: the file meta names another instance")
    # The SEGs' references lead to the copied images, as the originals' led to the originals.
    images = {str(o.SOPInstanceUID): (o, c) for o, c in pairs if o.Modality != "SEG"}
    new_images = {str(c.SOPInstanceUID): c for _, c in images.values()}
    segs = 0
    for orig, out in pairs:
        if orig.Modality != "SEG":
            continue
        segs += 1
        refs = [(s.SeriesInstanceUID, [r.ReferencedSOPInstanceUID for r in s.ReferencedInstanceSequence]) for s in out.ReferencedSeriesSequence]
        for series_uid, sops in refs:
            for sop in sops:
                img = new_images.get(str(sop))
                if img is None:
                    errors.append(f"SEG {out.SOPInstanceUID}: references {sop}, which is not a copied image")
                elif img.SeriesInstanceUID != series_uid:
                    errors.append(f"SEG {out.SOPInstanceUID}: {sop} is not in the referenced series {series_uid}")
        frames = 0
        for fo, fc in zip(orig.PerFrameFunctionalGroupsSequence, out.PerFrameFunctionalGroupsSequence, strict=True):
            for do, dc in zip(fo.DerivationImageSequence, fc.DerivationImageSequence, strict=True):
                for so, sc in zip(do.SourceImageSequence, dc.SourceImageSequence, strict=True):
                    frames += 1
                    target = images.get(str(so.ReferencedSOPInstanceUID))
                    if target is None or str(sc.ReferencedSOPInstanceUID) != str(target[1].SOPInstanceUID):
                        errors.append(f"SEG {out.SOPInstanceUID}: a frame's source image does not lead to the copy of {so.ReferencedSOPInstanceUID}")
        if frames == 0:
            errors.append(f"SEG {out.SOPInstanceUID}: no per-frame source images")
        some = next(iter(new_images.values()), None)
        if some is not None and (out.StudyInstanceUID != some.StudyInstanceUID or out.FrameOfReferenceUID != some.FrameOfReferenceUID):
            errors.append(f"SEG {out.SOPInstanceUID}: not in the copied images' study and frame of reference")
    return {"pairs": len(pairs), "segs": segs, "checked": checked, "uids_mapped": len(mapping), "identifying_values": len(secrets_text), "errors": errors}


if __name__ == "__main__":
    cmd, arg = sys.argv[1], sys.argv[2]
    if cmd == "make":
        print(json.dumps(make(Path(arg))))
    else:
        print(json.dumps(check(json.loads(Path(arg).read_text()))))
