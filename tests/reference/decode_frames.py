"""Reference decoder for the differential DICOM test: pydicom with its pylibjpeg, GDCM and
Pillow plugins decodes every frame of every file named on stdin (one JSON object per line:
``{"file": path, "plugin": optional pydicom plugin name}``) and writes, per file, the
frames as raw little-endian values plus one JSON line on stdout.

The plugin is chosen per transfer syntax so that a lossy file is compared with the same
decoder family the app uses (lossless files must match whatever decodes them):

- JPEG baseline 8-bit: Pillow (libjpeg-turbo, as the app). pydicom asks Pillow for the raw
  components and does the YBR_FULL -> RGB conversion itself when the Photometric
  Interpretation says YBR, which is what the app does too.
- JPEG extended 12-bit: GDCM called directly (its IJG 12-bit library; the app's decoder is
  dcmtk's IJG 12-bit build). pydicom's own GDCM plugin refuses 12-bit JPEG.
- JPEG 2000: pylibjpeg-openjpeg (OpenJPEG, as the app).
- everything else: pydicom's default choice, unless the caller names a plugin (Pillow
  refuses a colour JPEG whose components are RGB without an Adobe marker; GDCM, also IJG
  libjpeg, reads it).

PALETTE COLOR is returned through pydicom's ``apply_color_lut``, as a viewer would show it.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.pixels import apply_color_lut, pixel_array

JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
J2K = ("1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91")


def gdcm_frames(path: str, ds: pydicom.Dataset) -> np.ndarray:
    import gdcm  # type: ignore[import-not-found]

    reader = gdcm.ImageReader()
    reader.SetFileName(path)
    if not reader.Read():
        raise ValueError("GDCM could not read the file")
    buf = reader.GetImage().GetBuffer()
    raw = buf.encode("utf-8", "surrogateescape") if isinstance(buf, str) else bytes(buf)
    dtype = np.dtype("<i2" if ds.PixelRepresentation else "<u2") if ds.BitsAllocated > 8 else np.dtype("u1")
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    spp = int(ds.SamplesPerPixel)
    shape = (frames, ds.Rows, ds.Columns) + ((spp,) if spp > 1 else ())
    return np.frombuffer(raw, dtype=dtype)[: int(np.prod(shape))].reshape(shape)


def decode(path: str, plugin: str | None) -> tuple[np.ndarray, list[str]]:
    caught: list[str] = []
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ds = pydicom.dcmread(path)
        ts = str(ds.file_meta.TransferSyntaxUID)
        opts: dict[str, Any] = {}
        if plugin:
            opts["decoding_plugin"] = plugin
        elif ts == JPEG_BASELINE:
            opts["decoding_plugin"] = "pillow"
        elif ts in J2K:
            opts["decoding_plugin"] = "pylibjpeg"
        if ts == JPEG_EXTENDED and int(ds.BitsStored) > 8:
            arr = gdcm_frames(path, ds)
        else:
            arr = pixel_array(ds, **opts)
            frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
            spp = int(ds.SamplesPerPixel)
            if frames == 1:
                arr = arr[np.newaxis]
            if spp > 1 and arr.ndim == 3:  # one frame of colour came back as (rows, cols, 3)
                arr = arr[np.newaxis]
        if ds.PhotometricInterpretation == "PALETTE COLOR":
            arr = np.stack([apply_color_lut(f, ds) for f in arr])
        caught = [str(x.message) for x in w]
    return arr, caught


def main() -> None:
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    for n, line in enumerate(sys.stdin):
        if not line.strip():
            continue
        request = json.loads(line)
        path = request["file"]
        record: dict[str, Any] = {"file": path}
        try:
            arr, notes = decode(path, request.get("plugin"))
            target = out_dir / f"{n}.bin"
            arr.astype(arr.dtype.newbyteorder("<"), copy=False).tofile(target)
            record.update(
                ok=True,
                dtype=arr.dtype.name,
                shape=list(arr.shape),
                data=str(target),
                warnings=notes[:5],
            )
        except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
            record.update(ok=False, error=f"{type(e).__name__}: {e}"[:300])
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
