"""Searching a PACS for studies: C-FIND (Study Root, STUDY level) for a DIMSE destination,
QIDO-RS ``/studies`` for a DICOMweb one, with the same match keys built by ``match_keys``
from the same filters:

- patient name: wildcard matching (PS3.4 C.2.2.2.4): ``*`` stands for any run of characters,
  ``?`` for one. A name typed without a wildcard is matched as a prefix: ``Doe`` is sent as
  ``Doe*`` and finds ``Doe^Jane``. Whether case matters is the PACS's choice for names (most,
  Orthanc among them, ignore it); nothing else is fuzzy: fuzzy matching (QIDO
  ``fuzzymatching``) is not asked for, because PACSes implement it each their own way.
- patient ID and accession number: exact (single value matching) unless ``*`` or ``?`` are
  typed, which then work as above.
- study date: a range ``YYYYMMDD-YYYYMMDD`` (either end may be open), or one day.
- modality: one code (CT, MR, ...), matched exactly against Modalities in Study.

Bringing studies here is retrieve.py's; the C-FIND and QIDO-RS helpers below serve both.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pynetdicom import build_context
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind  # type: ignore[attr-defined]

from .net import _associate, _open_http, _where

MAX_STUDIES = 500
"""A search lists at most this many studies (and says when there were more)."""

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_STUDY_KEYS = {
    # keyword: DICOM JSON tag (QIDO-RS)
    "StudyInstanceUID": "0020000D",
    "PatientName": "00100010",
    "PatientID": "00100020",
    "PatientBirthDate": "00100030",
    "StudyDate": "00080020",
    "StudyTime": "00080030",
    "StudyDescription": "00081030",
    "AccessionNumber": "00080050",
    "ModalitiesInStudy": "00080061",
    "NumberOfStudyRelatedSeries": "00201206",
    "NumberOfStudyRelatedInstances": "00201208",
}
_FIND_FAILURES = {
    0xA700: "it is out of resources",
    0xA900: "the query does not match what it supports",
    0x0122: "it does not support Study Root queries",
}


# ---------------------------------------------------------------- search


def _check(value: str, what: str) -> str:
    if "\\" in value or any(ord(c) < 0x20 for c in value):
        raise ValueError(f"The {what} may not hold a backslash or control characters")
    return value


def match_keys(f: dict[str, Any]) -> dict[str, str]:
    """The filters as DICOM match keys (keyword -> value), as both C-FIND and QIDO-RS send them."""
    keys: dict[str, str] = {}
    if f.get("patient_name"):
        name = _check(str(f["patient_name"]).strip(), "patient name")
        keys["PatientName"] = name if ("*" in name or "?" in name) else name + "*"
    if f.get("patient_id"):
        keys["PatientID"] = _check(str(f["patient_id"]).strip(), "patient ID")
    if f.get("accession"):
        keys["AccessionNumber"] = _check(str(f["accession"]).strip(), "accession number")
    date_from, date_to = f.get("date_from") or "", f.get("date_to") or ""
    for v in (date_from, date_to):
        if v and not re.fullmatch(r"\d{8}", v):
            raise ValueError(f"A study date is written YYYYMMDD, not {v!r}")
    if date_from or date_to:
        keys["StudyDate"] = date_from if date_from == date_to else f"{date_from}-{date_to}"
    if f.get("modality"):
        keys["ModalitiesInStudy"] = _check(str(f["modality"]).strip().upper(), "modality")
    return keys


def _text(ds: Dataset, keyword: str) -> str:
    v = ds.get(keyword)
    if v is None:
        return ""
    if isinstance(v, MultiValue):
        return "\\".join(str(x) for x in v)
    return str(v).strip()


def _int(ds: Dataset, keyword: str) -> int | None:
    try:
        v = ds.get(keyword)
        return None if v is None or v == "" else int(v)
    except (TypeError, ValueError):
        return None


def _study_from_dataset(ds: Dataset) -> dict[str, Any]:
    mods = ds.get("ModalitiesInStudy")
    modalities = [str(m) for m in mods] if isinstance(mods, MultiValue) else ([str(mods)] if mods else [])
    return {
        "study_uid": _text(ds, "StudyInstanceUID"),
        "patient_name": _text(ds, "PatientName"),
        "patient_id": _text(ds, "PatientID"),
        "patient_birth_date": _text(ds, "PatientBirthDate"),
        "study_date": _text(ds, "StudyDate"),
        "study_time": _text(ds, "StudyTime"),
        "description": _text(ds, "StudyDescription"),
        "accession": _text(ds, "AccessionNumber"),
        "modalities": [m for m in modalities if m],
        "series": _int(ds, "NumberOfStudyRelatedSeries"),
        "instances": _int(ds, "NumberOfStudyRelatedInstances"),
    }


def _json_value(item: dict[str, Any], tag: str) -> list[Any]:
    return list((item.get(tag) or {}).get("Value") or [])


def _json_text(item: dict[str, Any], tag: str) -> str:
    vals = _json_value(item, tag)
    out = []
    for v in vals:
        out.append(str(v.get("Alphabetic", "")) if isinstance(v, dict) else str(v))
    return "\\".join(out).strip()


def _json_int(item: dict[str, Any], tag: str) -> int | None:
    vals = _json_value(item, tag)
    try:
        return int(vals[0]) if vals else None
    except (TypeError, ValueError):
        return None


def _study_from_json(item: dict[str, Any]) -> dict[str, Any]:
    k = _STUDY_KEYS
    return {
        "study_uid": _json_text(item, k["StudyInstanceUID"]),
        "patient_name": _json_text(item, k["PatientName"]),
        "patient_id": _json_text(item, k["PatientID"]),
        "patient_birth_date": _json_text(item, k["PatientBirthDate"]),
        "study_date": _json_text(item, k["StudyDate"]),
        "study_time": _json_text(item, k["StudyTime"]),
        "description": _json_text(item, k["StudyDescription"]),
        "accession": _json_text(item, k["AccessionNumber"]),
        "modalities": [str(m) for m in _json_value(item, k["ModalitiesInStudy"]) if m],
        "series": _json_int(item, k["NumberOfStudyRelatedSeries"]),
        "instances": _json_int(item, k["NumberOfStudyRelatedInstances"]),
    }


def _calling(d: dict[str, Any]) -> str:
    return str(d.get("calling_ae_title") or "DELINEATE")


def _lost(d: dict[str, Any], during: str, may: str, waited_s: float) -> str:
    """Why a request got no answer: an abort (most often a PACS that does not let our AE title
    do this) or silence. Told apart by how long the answer was waited for, not by the
    association's state: pynetdicom aborts the association itself when its DIMSE timeout
    runs out, and its thread may not yet have seen a peer's A-ABORT on a busy machine."""
    timeout = float(d.get("timeout_s") or 30)
    if waited_s < timeout * 0.9:
        return (
            f"{_where(d)} aborted the association during {during}: it may not let {_calling(d)} {may} "
            f"(its administrator can allow this AE title)"
        )
    return f"{_where(d)} stopped answering during {during} (no answer within {timeout:g} s)"


def _find_identifier(level: str, match: dict[str, str], returned: list[str]) -> Dataset:
    ds = Dataset()
    if any(not v.isascii() for v in match.values()):
        ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8
    ds.QueryRetrieveLevel = level
    for kw in returned:
        setattr(ds, kw, "")
    for kw, v in match.items():
        setattr(ds, kw, v)
    return ds


def _c_find(assoc: Any, d: dict[str, Any], ds: Dataset, limit: int | None = None) -> tuple[list[Dataset], bool]:
    """Run one C-FIND on an open association: the matches (at most ``limit``, the rest cancelled)
    and whether there were more."""
    found: list[Dataset] = []
    more = False
    responses = assoc.send_c_find(ds, StudyRootQueryRetrieveInformationModelFind, msg_id=1)
    waiting_since = time.monotonic()
    for status, ident in responses:
        if not status:
            raise ValueError(_lost(d, "the search", "query", time.monotonic() - waiting_since))
        waiting_since = time.monotonic()
        code = int(status.Status)
        if code in (0xFF00, 0xFF01):
            if limit is not None and len(found) >= limit:
                if not more:
                    more = True
                    assoc.send_c_cancel(1, query_model=StudyRootQueryRetrieveInformationModelFind)
                continue
            if ident is not None:
                found.append(ident)
        elif code in (0x0000, 0xFE00):
            break
        else:
            why = _FIND_FAILURES.get(code) or ("it could not process it" if 0xC000 <= code <= 0xCFFF else "an unexpected status")
            raise ValueError(f"{_where(d)} refused the query: {why} (status 0x{code:04X})")
    return found, more


def _find_association(d: dict[str, Any]) -> Any:
    assoc = _associate(d, [build_context(StudyRootQueryRetrieveInformationModelFind)])
    if not assoc.accepted_contexts:
        assoc.release()
        raise ValueError(f"{_where(d)} does not answer queries (Study Root C-FIND) from {_calling(d)}")
    return assoc


def find_dimse(d: dict[str, Any], filters: dict[str, Any]) -> dict[str, Any]:
    match = match_keys(filters)
    assoc = _find_association(d)
    try:
        found, more = _c_find(assoc, d, _find_identifier("STUDY", match, list(_STUDY_KEYS)), MAX_STUDIES)
    finally:
        if assoc.is_established:
            assoc.release()
    return {"studies": [_study_from_dataset(x) for x in found], "truncated": more, "match": match}


def _qido(d: dict[str, Any], path: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
    base = d["base_url"].rstrip("/")
    # Only what a query may not hold is percent-encoded (space, &, =, +, #, %, non-ASCII): the
    # wildcards and the name separator go as they are, since some servers (Orthanc 1.10's
    # DICOMweb plugin) match the query value without decoding it, and "%2A" is not "*".
    query = urllib.parse.urlencode(params, safe="*?^-._~!$'(),;:@/", quote_via=urllib.parse.quote)
    url = f"{base}/{path}?{query}" if params else f"{base}/{path}"
    with _open_http(d, "GET", url, headers={"Accept": "application/dicom+json"}) as r:
        status, body = int(r.status), r.read()
    if status == 204 or (status == 404 and not body.strip()):
        return []
    if status != 200:
        raise ValueError(f"{base}: QIDO-RS answered HTTP {status} ({body[:200].decode('utf-8', 'replace').strip()})")
    try:
        doc = json.loads(body or b"[]")
    except ValueError as exc:
        raise ValueError(f"{base}: the QIDO-RS answer is not DICOM JSON ({exc})") from exc
    if not isinstance(doc, list):
        raise ValueError(f"{base}: the QIDO-RS answer is not a list of matches")
    return [x for x in doc if isinstance(x, dict)]


def _includefields() -> list[tuple[str, str]]:
    return [("includefield", tag) for tag in _STUDY_KEYS.values()]


def find_dicomweb(d: dict[str, Any], filters: dict[str, Any]) -> dict[str, Any]:
    match = match_keys(filters)
    params = [*match.items(), *_includefields(), ("limit", str(MAX_STUDIES + 1))]
    found = _qido(d, "studies", params)
    return {"studies": [_study_from_json(x) for x in found[:MAX_STUDIES]], "truncated": len(found) > MAX_STUDIES, "match": match}


def find(d: dict[str, Any], filters: dict[str, Any]) -> dict[str, Any]:
    return find_dimse(d, filters) if d["kind"] == "dimse" else find_dicomweb(d, filters)
