"""The headless node's DICOM storage SCP: ``python -m delineate_dicom.scp CONFIG.json``.

Why pynetdicom (and not dcmtk's storescp): the app already ships and drives pynetdicom in
this light DICOM environment (net.py), so the node needs nothing the app does not; the
handler below decides, per instance, what is acceptable and writes the file durably BEFORE
the success status goes back (a PACS never hears "stored" for something a crash could lose);
and each stored instance is reported as one JSON line on stdout, which the node reads
without parsing storescp's console output or its exec-on-reception hooks.

Config (JSON):

    {"ae_title": "DLNODE", "host": "0.0.0.0", "port": 11112, "spool": "/var/lib/node/incoming",
     "max_associations": 16, "min_free_bytes": 1073741824, "allow_calling_aes": ["PACS"]}

Each instance is written to ``spool/<SeriesInstanceUID>/<SOPInstanceUID>.dcm`` (Part 10, as
received: temporary name, fsync, rename, fsync of the folder, so that an acknowledged file
survives a power cut and not only a crash). When the spool's file system has less than
``min_free_bytes`` free (default 1 GiB), an instance is refused with 0xA700 (out of
resources) before anything is written: the sender keeps it and tries again later, instead of
the node filling the disk that its queue database lives on. When ``allow_calling_aes`` lists
AE titles, an association whose calling AE title is not among them is rejected (A-ASSOCIATE-RJ,
"calling AE title not recognised") and reported. Lines on stdout, one JSON object each:

    {"event": "listening", "ae_title": ..., "port": ...}
    {"event": "stored", "file": ..., "sop_instance_uid": ..., "series_instance_uid": ...,
     "study_instance_uid": ..., "modality": ..., "calling_ae": ..., "sha256": ...}
    {"event": "refused", "sop_instance_uid": ..., "calling_ae": ..., "reason": ...}
    {"event": "association_refused", "calling_ae": ..., "reason": ...}

The process stops when its stdin closes (the node that started it is gone, even by SIGKILL:
no orphan keeps the port), or on SIGTERM/SIGINT.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

# A UID as PS3.5 9.1 allows it: digits and dots, at most 64 characters. Anything else is
# refused rather than used as a folder or file name.
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")

_out_lock = threading.Lock()

DEFAULT_MIN_FREE_BYTES = 1 << 30


def _emit(event: dict[str, Any]) -> None:
    with _out_lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


def valid_uid(uid: object) -> bool:
    return isinstance(uid, str) and 0 < len(uid) <= 64 and bool(_UID.match(uid))


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (a new file name, a new subfolder) durable: a rename is only on
    disk once its folder is. POSIX only; Windows cannot open a folder, and NTFS journals it."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(data: bytes, out: Path) -> None:
    """A temporary name in the same folder (unique per thread: two associations may carry
    the same instance), flushed to disk, renamed over ``out``, and the folder flushed too (and
    its parent when the folder is new)."""
    if not out.parent.is_dir():
        out.parent.mkdir(parents=True, exist_ok=True)
        fsync_dir(out.parent.parent)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
        fsync_dir(out.parent)
    finally:
        tmp.unlink(missing_ok=True)


def handle_store(event: Any, spool: Path, min_free_bytes: int = DEFAULT_MIN_FREE_BYTES) -> int:
    """Store one instance; the DIMSE status (0x0000 stored, 0xA900 refused, 0xA700 out of
    resources, 0xC000 failed)."""
    calling = event.assoc.requestor.ae_title
    sop = str(event.request.AffectedSOPInstanceUID or "")
    free = shutil.disk_usage(spool).free
    if free < min_free_bytes:
        mib = 1 << 20
        reason = f"the spool {spool} has {free // mib} MiB free, less than the {min_free_bytes // mib} MiB floor"
        _emit({"event": "refused", "sop_instance_uid": sop, "calling_ae": calling, "reason": reason})
        return 0xA700  # out of resources: the sender keeps the instance and tries again
    try:
        ds = event.dataset
        series = str(ds.get("SeriesInstanceUID", ""))
        study = str(ds.get("StudyInstanceUID", ""))
        modality = str(ds.get("Modality", ""))
    except Exception as exc:  # noqa: BLE001 - an undecodable data set is refused, by name
        _emit({"event": "refused", "sop_instance_uid": sop, "calling_ae": calling, "reason": f"the data set cannot be read ({exc})"})
        return 0xC000
    for name, uid in (("SOP Instance UID", sop), ("Series Instance UID", series), ("Study Instance UID", study)):
        if not valid_uid(uid):
            _emit({"event": "refused", "sop_instance_uid": sop, "calling_ae": calling, "reason": f"{name} {uid!r} is not a valid UID"})
            return 0xA900  # data set does not match SOP class
    out = spool / series / f"{sop}.dcm"
    try:
        data = event.encoded_dataset(include_meta=True)
        write_durably(data, out)
    except OSError as exc:
        _emit({"event": "refused", "sop_instance_uid": sop, "calling_ae": calling, "reason": f"cannot write {out} ({exc.strerror or exc})"})
        return 0xA700  # out of resources
    _emit({"event": "stored", "file": str(out), "sop_instance_uid": sop, "series_instance_uid": series,
           "study_instance_uid": study, "modality": modality, "calling_ae": calling,
           # How the node tells a corrected re-send (same SOP Instance UID, other
           # content) from a repeat.
           "sha256": hashlib.sha256(data).hexdigest()})
    return 0x0000


def make_ae(config: dict[str, Any]) -> AE:
    ae = AE(ae_title=str(config["ae_title"]))
    ae.maximum_associations = int(config.get("max_associations") or 16)
    ae.network_timeout = ae.acse_timeout = ae.dimse_timeout = float(config.get("timeout_s") or 60)
    # Every storage SOP class, in every transfer syntax pynetdicom knows: the node decodes
    # compressed images itself (the app's codecs) and refuses what it cannot read by name.
    for cx in AllStoragePresentationContexts:
        ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    ae.add_supported_context(Verification)
    # The called AE title must be ours: a PACS routing to the wrong node is told so.
    ae.require_called_aet = True
    # Only these calling AE titles (the PACS, the modalities routed here), when listed.
    allowed = allowed_calling_aes(config)
    if allowed:
        ae.require_calling_aet = allowed
    return ae


def allowed_calling_aes(config: dict[str, Any]) -> list[str]:
    return [str(a).strip() for a in (config.get("allow_calling_aes") or []) if str(a).strip()]


def handle_rejected(event: Any, allowed: list[str]) -> None:
    """Say which calling AE title was refused (pynetdicom rejects it before any handler runs);
    a rejection for another reason (wrong called AE title, too many associations) is not
    reported here."""
    calling = str(event.assoc.requestor.ae_title or "").strip()
    if allowed and calling not in allowed:
        _emit({"event": "association_refused", "calling_ae": calling,
               "reason": f"calling AE title {calling!r} is not among the allowed ({', '.join(allowed)})"})


def serve(config: dict[str, Any]) -> None:
    spool = Path(config["spool"])
    spool.mkdir(parents=True, exist_ok=True)
    ae = make_ae(config)
    min_free = int(config.get("min_free_bytes", DEFAULT_MIN_FREE_BYTES))
    handlers = [(evt.EVT_C_STORE, handle_store, [spool, min_free]),
                # The list make_ae gave the AE (empty: any calling AE title).
                (evt.EVT_REJECTED, handle_rejected, [list(ae.require_calling_aet)])]
    server = ae.start_server((str(config.get("host") or "0.0.0.0"), int(config["port"])), block=False, evt_handlers=handlers)
    stopped = threading.Event()

    def stop(*_: object) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def watch_stdin() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except OSError:
            pass
        stopped.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    _emit({"event": "listening", "ae_title": str(config["ae_title"]), "port": int(server.server_address[1])})
    stopped.wait()
    server.shutdown()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m delineate_dicom.scp CONFIG.json", file=sys.stderr)
        return 2
    try:
        config = json.loads(Path(args[0]).read_text(encoding="utf-8"))
        serve(config)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
