"""A de-identified copy of DICOM files, for sharing outside the hospital: PS3.15 Annex E,
Basic Application Level Confidentiality Profile, with UIDs replaced consistently.

What is done to which attribute is the standard's Table E.1-1 ("Basic Prof." column), as
pinned: the table comes from ``dicom-anonymizer`` (Kitware; its action lists are scraped from
the standard, edition 2026c here). That package's own anonymizer is not used, and no other
library fitted whole:

- dicom-anonymizer applies actions to top-level attributes only, and empties every UID in
  Referenced/Source Image Sequence (X/Z/U*), so a SEG's per-frame references would keep
  the original UIDs and its other references would be blanked;
- dicognito replaces values with plausible fakes and shifts dates, from a list of its own
  rather than the standard's table (descriptions, device serial numbers and many more
  stay);
- deid (pydicom/deid) follows recipes of its own ("REMOVE contains:UID", "endswith:ID"),
  which break IOD conformance, and needs matplotlib.

So this module walks every element at every depth of sequences and applies the table:

    D  a dummy value of the VR (a sequence: its items, cleaned, where the IOD requires it;
       else emptied or removed, as its Type allows: items keep what the table does not list)
    Z  an empty value                   X  removed
    U  the UID mapped (see below)       K (not listed)  kept, its sequence items cleaned
    Z/D, X/Z, X/D, X/Z/D: the weakest one the object's IOD allows for that attribute at that
        place (Type 1 or 1C: D; Type 2 or 2C: Z; Type 3 or not in the IOD: X), the types
        taken from the standard's module tables that highdicom ships
    X/Z/U* (Referenced/Source Image Sequence): removed where the IOD makes it optional at the
        top level; elsewhere kept with its UIDs mapped, so that a SEG's per-frame references
        still lead to the copied images
    private attributes, curves (50xx) and overlay data/comments (60xx,3000/4000): removed

UIDs: each instance UID (the table's U list: study, series, SOP instance, frame of
reference, the references to them, ...) is replaced by ``2.25.<n>``, n a name-based UUID
(version 5, PS3.5 B.2) of the original in a namespace made from a secret the app keeps per
project. The same original
becomes the same new UID in every file of a run and of every later run with the same secret
(a study exported series by series stays one study), and nobody without the secret can
recompute the mapping from UIDs they know. The standard's own UIDs (1.2.840.10008.*) stay.

Each copy says what was done: PatientIdentityRemoved YES, DeidentificationMethod,
DeidentificationMethodCodeSequence (DCM 113100 Basic Application Confidentiality Profile)
and LongitudinalTemporalInformationModified REMOVED (the profile removes dates). A file
marked BurnedInAnnotation YES is refused: its pixels may show who the patient is, and this
profile (without the Clean Pixel Data option) does not touch pixels.

Request (JSON):

    files        absolute paths of the DICOM files (a series or a study, its SEGs included)
    out_dir      absolute folder; written there as <study UID>/<series UID>/<SOP UID>.dcm
    uid_secret   hex, at least 32 characters
    staging      optional: the staging folder (inside out_dir) the caller removes if this is stopped

The files are written to a staging folder inside ``out_dir`` and moved into place only when
all of them are done, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pydicom
from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID

EDITION = "dicomfields_2026c"
METHOD = "DICOM PS3.15 E.1 Basic Profile (Delineate)"
PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")

_CATEGORIES = {
    "D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U", "Z_D_TAGS": "Z/D",
    "X_Z_TAGS": "X/Z", "X_D_TAGS": "X/D", "X_Z_D_TAGS": "X/Z/D", "X_Z_U_STAR_TAGS": "X/Z/U*",
}
_REQUIRED = ("1", "1C")
_PRESENT = ("1", "1C", "2", "2C")
_STRENGTH = {"1": 5, "1C": 4, "2": 3, "2C": 2, "3": 1}
_DUMMY_TEXT = "ANONYMIZED"


@cache
def basic_profile() -> tuple[dict[int, str], tuple[tuple[int, int, int, int, str], ...]]:
    """Table E.1-1's Basic Profile: {tag: action}, and the (group, element, masks) ranges."""
    tables = dicom_anonymization_database_selector(EDITION)
    exact: dict[int, str] = {}
    ranges: list[tuple[int, int, int, int, str]] = []
    for category, action in _CATEGORIES.items():
        for t in tables[category]:
            if len(t) == 2:
                exact[(t[0] << 16) | t[1]] = action
            else:
                ranges.append((t[0], t[1], t[2], t[3], action))
    return exact, tuple(ranges)


def action_for(tag: int) -> str | None:
    exact, ranges = basic_profile()
    if tag in exact:
        return exact[tag]
    group, element = tag >> 16, tag & 0xFFFF
    for g, e, gm, em, action in ranges:
        if group & gm == g & gm and element & em == e & em:
            return action
    return None


@cache
def iod_types(sop_class_uid: str) -> dict[tuple[tuple[str, ...], str], str]:
    """{(sequence path, keyword): Type} over every module of the IOD, the strongest where
    modules differ; empty for a SOP class the tables do not know."""
    # highdicom's tables of the standard (PS3.3 IODs, modules, attribute types): a private
    # module of the pinned highdicom, so a version bump is checked by deidentify.test.ts.
    from highdicom._standard_utils import get_iod_module_map, get_module_attribute_map, get_sop_class_iod_map

    iod = get_sop_class_iod_map().get(sop_class_uid)
    if iod is None:
        return {}
    attributes = get_module_attribute_map()
    types: dict[tuple[tuple[str, ...], str], str] = {}
    for module in get_iod_module_map()[iod]:
        for a in attributes[module["key"]]:
            key = (tuple(a["path"]), a["keyword"])
            if _STRENGTH.get(a["type"], 0) > _STRENGTH.get(types.get(key, ""), 0):
                types[key] = a["type"]
    return types


def resolve(action: str, iod_type: str, nested: bool) -> str:
    """The one action of a combined one (Z/D, X/Z, X/D, X/Z/D, X/Z/U*) for an attribute of this Type."""
    if action == "Z/D":
        return "D" if iod_type in _REQUIRED else "Z"
    if action == "X/Z":
        return "Z" if iod_type in _PRESENT else "X"
    if action == "X/D":
        return "D" if iod_type in _PRESENT else "X"
    if action == "X/Z/D":
        return "D" if iod_type in _REQUIRED else "Z" if iod_type in _PRESENT else "X"
    if action == "X/Z/U*":
        return "U*" if nested or iod_type in _PRESENT else "X"
    return action


class UidMap:
    """Original UID -> new UID, the same for the same secret; standard UIDs stay."""

    def __init__(self, secret: str) -> None:
        if not re.fullmatch(r"(?:[0-9a-fA-F]{2}){16,}", secret):
            raise ValueError("the UID secret must be at least 32 hex characters")
        self._namespace = uuid.UUID(bytes=hashlib.sha256(bytes.fromhex(secret)).digest()[:16])
        self._seen: dict[str, str] = {}

    def __call__(self, uid: str) -> str:
        uid = str(uid).strip()
        if not uid or uid.startswith("1.2.840.10008."):
            return uid
        if uid not in self._seen:
            self._seen[uid] = f"2.25.{uuid.uuid5(self._namespace, uid).int}"
        return self._seen[uid]


def _dummy(elem: DataElement, uids: UidMap) -> Any:
    vr = elem.VR
    if vr == "UI":
        return _mapped(elem.value, uids)
    if vr == "DA":
        return "19000101"
    if vr == "TM":
        return "000000"
    if vr == "DT":
        return "19000101000000"
    if vr == "AS":
        return "000Y"
    if vr == "UR":
        return "http://anonymized.invalid"
    if vr in ("DS", "IS"):
        return "0"
    if vr in ("FL", "FD", "SL", "SS", "UL", "US", "SV", "UV", "AT"):
        return 0
    if vr in ("OB", "OW", "OD", "OF", "OL", "OV", "UN"):
        return b"\0\0"
    return _DUMMY_TEXT


def _mapped(value: Any, uids: UidMap) -> Any:
    if isinstance(value, (list, tuple, MultiValue)):
        return [uids(v) for v in value]
    return uids(value) if value else value


def clean(ds: Dataset, uids: UidMap, types: dict[tuple[tuple[str, ...], str], str], path: tuple[str, ...] = ()) -> None:
    """Apply the Basic Profile to ``ds`` in place, at every depth."""
    for elem in list(ds):
        tag = int(elem.tag)
        if elem.tag.is_private:
            del ds[tag]
            continue
        action = action_for(tag)
        keyword = elem.keyword
        if action is None:  # K: kept; a sequence's items are cleaned
            _items(elem, lambda item: clean(item, uids, types, (*path, keyword)))
            continue
        act = resolve(action, types.get((path, keyword), "3"), nested=bool(path))
        if act == "X":
            del ds[tag]
        elif act == "Z":
            elem.value = Sequence() if elem.VR == "SQ" else None
        elif act == "D" and elem.VR == "SQ":
            # A dummy sequence: the items, cleaned, where the IOD needs it (Type 1); where it
            # may be empty or absent, it is, since items keep what the table does not list
            # (a code's meaning may name a person).
            t = types.get((path, keyword), "3")
            if t in _REQUIRED:
                _items(elem, lambda item: clean(item, uids, types, (*path, keyword)))
            elif t in _PRESENT:
                elem.value = Sequence()
            else:
                del ds[tag]
        elif act == "U*" and elem.VR == "SQ":
            _items(elem, lambda item: clean(item, uids, types, (*path, keyword)))
        elif act in ("U", "U*"):
            elem.value = _mapped(elem.value, uids)
        elif act == "D":
            elem.value = _dummy(elem, uids)
        else:
            raise ValueError(f"unknown action {act} for {elem.tag}")


def _items(elem: DataElement, fn: Callable[[Dataset], None]) -> None:
    if elem.VR == "SQ" and elem.value:
        for item in elem.value:
            fn(item)


def deidentify_dataset(ds: Dataset, uids: UidMap) -> None:
    """De-identify one dataset (file meta included) and say so in it."""
    types = iod_types(str(ds.get("SOPClassUID", "")))
    clean(ds, uids, types)
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = PROFILE_CODE
    ds.DeidentificationMethodCodeSequence = Sequence([code])
    ds.LongitudinalTemporalInformationModified = "REMOVED"
    old = ds.file_meta
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = old.TransferSyntaxUID
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta


def deidentify(req: dict[str, Any]) -> dict[str, Any]:
    files = [str(f) for f in req["files"]]
    out_dir = Path(req["out_dir"])
    if not out_dir.is_absolute():
        raise ValueError(f"{out_dir}: the output folder must be an absolute path")
    if not files:
        raise ValueError("nothing to de-identify: no files")
    uids = UidMap(str(req["uid_secret"]))
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(req.get("staging") or out_dir / f".delineate-partial-{uuid.uuid4().hex[:8]}")
    if staging.parent != out_dir:
        raise ValueError(f"{staging}: the staging folder must be inside {out_dir}")
    staging.mkdir()
    written: list[dict[str, str]] = []
    try:
        for f in files:
            try:
                ds = pydicom.dcmread(f)
            except Exception as exc:  # noqa: BLE001 - the file is named
                raise ValueError(f"{f}: cannot be read as DICOM ({exc})") from exc
            if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
                raise ValueError(
                    f"{f}: marked BurnedInAnnotation YES (its pixels may show who the patient is); "
                    "the Basic Profile does not clean pixels, so it is not copied"
                )
            deidentify_dataset(ds, uids)
            rel = Path(str(ds.StudyInstanceUID)) / str(ds.SeriesInstanceUID) / f"{ds.SOPInstanceUID}.dcm"
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            ds.save_as(staging / rel, enforce_file_format=True)
            written.append({
                "source": f,
                "file": str(out_dir / rel),
                "sop_instance_uid": str(ds.SOPInstanceUID),
                "series_instance_uid": str(ds.SeriesInstanceUID),
                "study_instance_uid": str(ds.StudyInstanceUID),
                "modality": str(ds.get("Modality", "")),
            })
        for w in written:
            final = Path(w["file"])
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / final.relative_to(out_dir), final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"out_dir": str(out_dir), "files": written}
