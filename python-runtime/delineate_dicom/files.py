"""Writing DICOM files so that a crash never leaves half of one under its final name."""

from __future__ import annotations

import os
from pathlib import Path

from pydicom.dataset import Dataset


def save_atomically(ds: Dataset, out: Path) -> None:
    """Write ``ds`` as a Part 10 file: a temporary name in the same folder, flushed to disk,
    then renamed over ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        ds.save_as(tmp, enforce_file_format=True)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
