"""Retrieving studies from a PACS into a folder, so the app can import them: C-GET (Study
Root) for a DIMSE destination, WADO-RS ``GET /studies/{uid}`` for a DICOMweb one. The files
land in the folder the caller gives (one subfolder per study, in the order asked); progress
goes to stderr as ``progress: {json}`` lines.

Why C-GET and not C-MOVE: C-MOVE makes the PACS open a second association back to a
destination AE it already knows (its administrator registers our AE title, host and port)
and needs us to listen on a port its firewall lets through; C-GET brings the instances back
over the association we opened, so it works from any workstation the PACS lets query.
C-MOVE is not offered yet.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable
from http.client import HTTPException
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import StoragePresentationContexts, build_context, build_role, evt
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet  # type: ignore[attr-defined]

from .multipart import iter_parts, multipart_boundary
from .net import _associate, _open_http, _where
from .query import (
    _STUDY_KEYS,
    _UID,
    _c_find,
    _calling,
    _find_association,
    _find_identifier,
    _includefields,
    _int,
    _lost,
    _qido,
    _study_from_dataset,
    _study_from_json,
    _text,
)

Emit = Callable[[dict[str, Any]], None]

MAX_GET_STORAGE_CLASSES = 127
"""A C-GET association carries at most 128 presentation contexts (context IDs are the odd
numbers 1-255, PS3.8 9.3.2.2); one is the C-GET model's, which leaves 127 for storage."""

# The transfer syntaxes the app's importer decodes (electron/services/imaging/transfer-syntax.ts),
# offered for every storage context of a C-GET: the PACS sends as stored when it can.
RECEIVE_SYNTAXES = [
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "1.2.840.10008.1.2",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
    "1.2.840.10008.1.2.2",  # Explicit VR Big Endian
    "1.2.840.10008.1.2.4.50",  # JPEG Baseline
    "1.2.840.10008.1.2.4.51",  # JPEG Extended
    "1.2.840.10008.1.2.4.57",  # JPEG Lossless
    "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
    "1.2.840.10008.1.2.4.81",  # JPEG-LS Near-Lossless
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless
    "1.2.840.10008.1.2.4.91",  # JPEG 2000
    "1.2.840.10008.1.2.5",  # RLE Lossless
]


def _event(e: dict[str, Any]) -> None:
    print("progress: " + json.dumps(e), file=sys.stderr, flush=True)


def _label(study: dict[str, Any] | None, uid: str) -> str:
    """A study as people name it: patient, date, description, then the UID."""
    if not study:
        return f"study {uid}"
    date = study.get("study_date") or ""
    if re.fullmatch(r"\d{8}", date):
        date = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    parts = [study.get("patient_name") or study.get("patient_id") or "", date, study.get("description") or ""]
    named = ", ".join(p for p in parts if p)
    return f"study {uid}" + (f" ({named})" if named else "")


def _plan_dimse(d: dict[str, Any], uid: str) -> dict[str, Any]:
    """What one study holds, by C-FIND: its description, and (SERIES then IMAGE level) its
    instances' SOP classes, for the C-GET's storage contexts and the progress total."""
    assoc = _find_association(d)
    try:
        studies, _ = _c_find(assoc, d, _find_identifier("STUDY", {"StudyInstanceUID": uid}, list(_STUDY_KEYS)))
        if not studies:
            return {"study": None, "classes": None, "total": None}
        study = _study_from_dataset(studies[0])
        try:
            series, _ = _c_find(assoc, d, _find_identifier("SERIES", {"StudyInstanceUID": uid}, ["SeriesInstanceUID", "NumberOfSeriesRelatedInstances"]))
            classes: set[str] = set()
            total = 0
            for s in series:
                suid = _text(s, "SeriesInstanceUID")
                images, _ = _c_find(assoc, d, _find_identifier("IMAGE", {"StudyInstanceUID": uid, "SeriesInstanceUID": suid}, ["SOPInstanceUID", "SOPClassUID"]))
                classes.update(c for c in (_text(i, "SOPClassUID") for i in images) if _UID.match(c))
                total += len(images)
            return {"study": study, "classes": sorted(classes) or None, "total": total or study["instances"]}
        except ValueError:
            # No answer at SERIES/IMAGE level (some PACSes query studies only): the common storage classes.
            return {"study": study, "classes": None, "total": study["instances"]}
    finally:
        if assoc.is_established:
            assoc.release()


def _get_contexts(classes: list[str] | None) -> tuple[list[Any], list[Any]]:
    """Presentation contexts and SCP role selections for a C-GET: the study's own SOP classes
    when the PACS told us them (exact, and a SEG or a private class gets through), else
    pynetdicom's 120 common storage classes; each offering every syntax the importer reads."""
    uids = classes if classes is not None else [str(c.abstract_syntax) for c in StoragePresentationContexts]
    if len(uids) > MAX_GET_STORAGE_CLASSES:
        raise ValueError(f"the study holds {len(uids)} kinds of object, more than the {MAX_GET_STORAGE_CLASSES} one C-GET can receive")
    contexts = [build_context(StudyRootQueryRetrieveInformationModelGet)]
    contexts += [build_context(u, RECEIVE_SYNTAXES) for u in uids]
    roles = [build_role(u, scp_role=True) for u in uids]
    return contexts, roles


def _write_atomically(folder: Path, name: str, data: bytes) -> None:
    tmp = folder / f".{name}.part"
    tmp.write_bytes(data)
    os.replace(tmp, folder / name)


def _get_failure(code: int, status: Dataset) -> str:
    failed = _int(status, "NumberOfFailedSuboperations")
    done = _int(status, "NumberOfCompletedSuboperations")
    if code == 0xB000 or (0xA700 < code <= 0xA7FF and failed):
        return (
            f"the PACS could not send {failed if failed is not None else 'some'} of its instances"
            + (f" ({done} arrived)" if done is not None else "")
            + f" (status 0x{code:04X}; often a kind of object it would not send over this association)"
        )
    if 0xA700 <= code <= 0xA7FF:
        return f"the PACS is out of resources (status 0x{code:04X})"
    if code == 0xA900:
        return "the PACS says the request does not match what it supports (status 0xA900)"
    if code == 0xA801:
        return "the PACS does not know where to send (status 0xA801)"
    if 0xC000 <= code <= 0xCFFF:
        return f"the PACS could not process the request (status 0x{code:04X})"
    return f"the PACS answered with status 0x{code:04X}"


def _retrieve_dimse_study(d: dict[str, Any], uid: str, classes: list[str] | None, folder: Path, index: int, emit: Emit) -> tuple[int, str | None]:
    received = 0

    def on_store(event: Any) -> int:
        nonlocal received
        sop = str(event.request.AffectedSOPInstanceUID or "")
        name = f"{sop}.dcm" if _UID.match(sop) else f"instance-{received + 1:06d}.dcm"
        try:
            _write_atomically(folder, name, event.encoded_dataset(include_meta=True))
        except OSError:
            return 0xA700  # out of resources: our disk
        received += 1
        emit({"event": "received", "index": index, "done": received})
        return 0x0000

    contexts, roles = _get_contexts(classes)
    assoc = _associate(d, contexts, ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    try:
        if not any(c.abstract_syntax == StudyRootQueryRetrieveInformationModelGet for c in assoc.accepted_contexts):
            return received, f"{_where(d)} does not offer C-GET (Study Root) to {_calling(d)}"
        ds = Dataset()
        ds.QueryRetrieveLevel = "STUDY"
        ds.StudyInstanceUID = uid
        final: tuple[int, Dataset] | None = None
        waiting_since = time.monotonic()
        for status, _ in assoc.send_c_get(ds, StudyRootQueryRetrieveInformationModelGet):
            if not status:
                return received, _lost(d, f"the C-GET ({received} instances had arrived)", "retrieve from it", time.monotonic() - waiting_since)
            waiting_since = time.monotonic()
            code = int(status.Status)
            if code not in (0xFF00, 0xFF01):
                final = (code, status)
        if final is None:
            return received, f"{_where(d)} ended the C-GET without a final status"
        code, status = final
        if code == 0x0000:
            return received, None
        return received, _get_failure(code, status)
    finally:
        if assoc.is_established:
            assoc.release()


def _plan_dicomweb(d: dict[str, Any], uid: str) -> dict[str, Any]:
    studies = _qido(d, "studies", [("StudyInstanceUID", uid), *_includefields()])
    if not studies:
        return {"study": None, "total": None}
    study = _study_from_json(studies[0])
    try:
        total = len(_qido(d, f"studies/{uid}/instances", [("includefield", "00080018")]))
    except ValueError:
        total = 0
    return {"study": study, "total": total or study["instances"]}


def _retrieve_dicomweb_study(d: dict[str, Any], uid: str, folder: Path, index: int, emit: Emit) -> tuple[int, str | None]:
    base = d["base_url"].rstrip("/")
    received = skipped = 0
    accepts = ['multipart/related; type="application/dicom"; transfer-syntax=*', 'multipart/related; type="application/dicom"']
    for k, accept in enumerate(accepts):
        with _open_http(d, "GET", f"{base}/studies/{uid}", headers={"Accept": accept}) as r:
            status = int(r.status)
            if status in (400, 406) and k + 1 < len(accepts):
                continue  # no "as stored" transfer syntax here: ask for the default (Explicit VR Little Endian)
            if status == 404:
                return 0, f"{base} has no such study (HTTP 404)"
            if status != 200:
                return 0, f"{base} answered HTTP {status} ({r.read(200).decode('utf-8', 'replace').strip()})"
            try:
                for ctype, data in iter_parts(r.read, multipart_boundary(r.headers.get("Content-Type", ""))):
                    if ctype not in ("", "application/dicom") or data[128:132] != b"DICM":
                        skipped += 1  # not a DICOM file (a server's note, bulk data)
                        continue
                    received += 1
                    _write_atomically(folder, f"instance-{received:06d}.dcm", data)
                    emit({"event": "received", "index": index, "done": received})
            except (OSError, HTTPException) as exc:
                return received, f"the answer from {base} broke off after {received} instances ({exc})"
            except ValueError as exc:
                return received, f"{base}: {exc} (after {received} instances)"
            if received == 0 and skipped:
                return 0, f"{base} sent {skipped} part(s), none of them a DICOM file"
            return received, None
    return received, f"{base} would not send the study as DICOM files"


def retrieve(d: dict[str, Any], study_uids: list[str], out_dir: str, emit: Emit = _event) -> dict[str, Any]:
    """Retrieve each study into ``out_dir/<index>/``; per-study results. A study that fails
    (not on the PACS, refused, broken off) is named with the reason; the others go on. Events:
    ``planned`` (every study's total, first), ``received`` (each instance), ``study-done``."""
    for uid in study_uids:
        if not _UID.match(uid) or len(uid) > 64:
            raise ValueError(f"{uid!r} is not a Study Instance UID")
    dimse = d["kind"] == "dimse"
    plans = [_plan_dimse(d, uid) if dimse else _plan_dicomweb(d, uid) for uid in study_uids]
    emit({"event": "planned", "studies": [{"study_uid": u, "label": _label(p["study"], u), "total": p["total"], "found": p["study"] is not None} for u, p in zip(study_uids, plans, strict=True)]})
    results = []
    where = _where(d) if dimse else d["base_url"].rstrip("/")
    for index, (uid, plan) in enumerate(zip(study_uids, plans, strict=True)):
        label = _label(plan["study"], uid)
        if plan["study"] is None:
            results.append({"study_uid": uid, "label": label, "ok": False, "total": 0, "received": 0, "error": f"{where} has no {label}"})
            continue
        folder = Path(out_dir) / str(index)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            if dimse:
                received, error = _retrieve_dimse_study(d, uid, plan["classes"], folder, index, emit)
            else:
                received, error = _retrieve_dicomweb_study(d, uid, folder, index, emit)
        except ValueError as exc:  # the association or the request itself failed
            received, error = 0, str(exc)
        if error is None and received == 0:
            error = f"{where} sent no instances"
        results.append({"study_uid": uid, "label": label, "ok": error is None, "total": plan["total"], "received": received, "error": error})
        emit({"event": "study-done", "index": index, "dir": str(folder), "received": received})
    return {"studies": results}
