"""Run in the light DICOM environment by test_scp.py (which runs in the training environment,
without pydicom/pynetdicom), as the modality that sends to the node's storage SCP:

    python scp_scenario.py store PORT SPOOL SERIES_UID [CALLED_AE]

C-STOREs one 4x4 CT instance (a fresh SOP Instance UID, the given Series Instance UID) from
AE "MODALITY" to 127.0.0.1:PORT, called CALLED_AE (default DLNODE), and prints one JSON line:

    sop, study, file           the instance's UIDs and where the SCP must put it
    established, rejected      whether the association was accepted / rejected by the SCP
    status                     the C-STORE status (null when there was no association)
    on_disk_at_status          whether ``file`` existed the moment the status came back,
                               checked before the association is even released
    sent_dataset_hex           the data set exactly as it went on the wire (pynetdicom's
                               own encoder, in the one transfer syntax proposed)
    read_back                  the file read back with pydicom (null when absent): SOP
                               Instance UID, pixel data, transfer syntax of its file meta
                               ({"error": ...} when pydicom cannot read it)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE
from pynetdicom.dsutils import encode

STUDY = "1.2.826.0.1.3680043.10.1234.55.1"


def ct(series: str, sop: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop
    ds.StudyInstanceUID = STUDY
    ds.SeriesInstanceUID = series
    ds.Modality = "CT"
    ds.PatientID = "SCP-1"
    ds.Rows = ds.Columns = 4
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = bytes(range(32))
    return ds


def store(port: int, spool: Path, series: str, called: str = "DLNODE") -> dict[str, Any]:
    sop = generate_uid()
    ds = ct(series, sop)
    out = spool / series / f"{sop}.dcm"
    facts: dict[str, Any] = {
        "sop": sop,
        "study": STUDY,
        "file": str(out),
        "established": False,
        "rejected": False,
        "status": None,
        "on_disk_at_status": None,
        # Explicit VR little endian, not deflated: the only context proposed below.
        "sent_dataset_hex": encode(ds, False, True).hex(),
        "read_back": None,
    }
    ae = AE(ae_title="MODALITY")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", port, ae_title=called)
    facts["rejected"] = bool(assoc.is_rejected)
    if not assoc.is_established:
        return facts
    facts["established"] = True
    try:
        status = assoc.send_c_store(ds)
        # Looked at before anything else happens: "stored" must mean "on disk" already.
        facts["on_disk_at_status"] = out.exists()
        facts["status"] = int(status.Status) if "Status" in status else None
    finally:
        assoc.release()
    if out.exists():
        try:
            back = pydicom.dcmread(out)
            facts["read_back"] = {
                "sop": str(back.SOPInstanceUID),
                "pixel_data_hex": bytes(back.PixelData).hex(),
                "transfer_syntax": str(back.file_meta.TransferSyntaxUID),
            }
        except Exception as exc:  # noqa: BLE001 - a fact for the test to assert on, not a crash
            facts["read_back"] = {"error": f"{type(exc).__name__}: {exc}"}
    return facts


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd != "store" or len(args) not in (3, 4):
        print("usage: scp_scenario.py store PORT SPOOL SERIES_UID [CALLED_AE]", file=sys.stderr)
        raise SystemExit(2)
    print(json.dumps(store(int(args[0]), Path(args[1]), *args[2:])))
