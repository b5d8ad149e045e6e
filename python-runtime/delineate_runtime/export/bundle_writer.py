"""Write a model bundle: ONNX fp32 + int8, checkpoint, model.json with parity figures.

Everything is written into a hidden staging folder next to the target and renamed into
place at the end, so a crash or a cancel never leaves a half-written bundle behind.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from segment_anything.modeling import Sam

from .. import __version__
from ..models import save_official_format, spec_of
from .bundle_reader import Bundle, file_info, listed_files, read_bundle
from .manifest import (
    CHECKPOINT_FILE,
    DECODER_FAST_FILE,
    DECODER_FILE,
    DECODER_INT8_FILE,
    ENCODER_FILE,
    ENCODER_INT8_FILE,
    FAST_DECODER_MIN_IOU,
    MANIFEST_NAME,
    Manifest,
    Preprocessing,
    QuantizedFile,
    decoder_io,
    encoder_io,
    fast_decoder_file,
)
from .fast_decoder import fast_decoder_parity, parity_feeds
from .modules import embedding_shape
from .onnx_export import (
    DEFAULT_OPSET,
    export_decoder_onnx,
    export_encoder_onnx,
    export_fast_decoder_onnx,
    export_torchscript,
)
from .onnx_sam import OnnxSam, make_session
from .parity import fp32_parity, int8_parity, onnx_embeddings
from .preprocess import preprocess_image
from .quantize import (
    LARGE_ENCODER_BYTES,
    LARGE_ENCODER_MAX_CALIBRATION,
    decoder_calibration_feeds,
    encoder_calibration_feeds,
    quantize_onnx,
)

log = logging.getLogger(__name__)
QuantChoice = Literal["auto", "dynamic", "static", "none"]


def probe_images(n: int = 2, seed: int = 0) -> list[np.ndarray]:
    """Stand-in images for parity when the caller has none: smooth blobs on noise, two
    aspect ratios so the decoder's crop-and-resize is exercised."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        h, w = (96, 128) if k % 2 == 0 else (160, 112)
        yy, xx = np.mgrid[0:h, 0:w]
        blob = np.exp(-(((yy - h * 0.5) / (h * 0.2)) ** 2 + ((xx - w * 0.4) / (w * 0.2)) ** 2))
        img = 60 + 120 * blob + rng.normal(0, 10, (h, w))
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def _preprocessing(sam: Sam) -> Preprocessing:
    return Preprocessing(
        image_size=sam.image_encoder.img_size,
        pixel_mean=[float(x) for x in sam.pixel_mean.flatten()],
        pixel_std=[float(x) for x in sam.pixel_std.flatten()],
    )


def quantize_pair(
    root: Path,
    prep: Preprocessing,
    method: Literal["dynamic", "static"],
    images: Sequence[np.ndarray],
    max_calibration: int = 16,
) -> tuple[QuantizedFile, QuantizedFile]:
    """Write encoder.int8.onnx and decoder.int8.onnx next to the fp32 files in ``root``."""
    calib = list(images)[:max_calibration]
    enc_feeds = dec_feeds = None
    n_encoder = len(calib)
    if method == "static":
        inputs = [
            preprocess_image(im, prep.image_size, prep.pixel_mean, prep.pixel_std)[0]
            for im in calib
        ]
        all_feeds = encoder_calibration_feeds(inputs)
        encoder = make_session(root / ENCODER_FILE)
        dec_feeds = decoder_calibration_feeds(
            [encoder.run(None, f)[0] for f in all_feeds], prep.image_size
        )
        fp32_bytes = sum(
            (root / n).stat().st_size
            for n in (ENCODER_FILE, ENCODER_FILE + ".data")
            if (root / n).exists()
        )
        if fp32_bytes > LARGE_ENCODER_BYTES and n_encoder > LARGE_ENCODER_MAX_CALIBRATION:
            log.warning(
                "calibrating the %d MB encoder on %d of %d images (calibration memory)",
                fp32_bytes >> 20,
                LARGE_ENCODER_MAX_CALIBRATION,
                n_encoder,
            )
            n_encoder = LARGE_ENCODER_MAX_CALIBRATION
        enc_feeds = all_feeds[:n_encoder]
    quantize_onnx(root / ENCODER_FILE, root / ENCODER_INT8_FILE, method, enc_feeds)
    quantize_onnx(root / DECODER_FILE, root / DECODER_INT8_FILE, method, dec_feeds)
    static = method == "static"
    return (
        QuantizedFile(
            file=ENCODER_INT8_FILE,
            method=method,
            calibration_images=n_encoder if static else 0,
            external_data=side_file(root, ENCODER_INT8_FILE),
        ),
        QuantizedFile(
            file=DECODER_INT8_FILE,
            method=method,
            calibration_images=len(calib) if static else 0,
            external_data=side_file(root, DECODER_INT8_FILE),
        ),
    )


def side_file(root: Path, onnx_name: str) -> str | None:
    """The external-data file next to an ONNX file, if it was written with one."""
    name = onnx_name + ".data"
    return name if (root / name).is_file() else None


def measure_int8(root: Path, prep: Preprocessing, images: Sequence[np.ndarray]) -> dict[str, Any]:
    def load(enc: str, dec: str) -> OnnxSam:
        return OnnxSam.load(
            root / enc, root / dec, prep.image_size, prep.pixel_mean, prep.pixel_std
        )

    return int8_parity(
        load(ENCODER_FILE, DECODER_FILE), load(ENCODER_INT8_FILE, DECODER_INT8_FILE), images
    )


def add_fast_decoder(
    root: Path, sam: Sam, manifest: Manifest, embeddings: Sequence[np.ndarray], opset: int
) -> dict[str, float]:
    """Export decoder.fast.onnx and list it in the manifest when it agrees with the canonical
    decoder (mask IoU >= FAST_DECODER_MIN_IOU on every prompt) on ``embeddings`` (the ONNX
    encoder's, of the parity images); otherwise leave it out, so the app keeps the canonical
    one. Returns the parity figures either way."""
    export_fast_decoder_onnx(sam, root / DECODER_FAST_FILE, opset)
    parity = fast_decoder_parity(
        make_session(root / manifest.decoder.file),
        make_session(root / DECODER_FAST_FILE),
        parity_feeds(embeddings, manifest.preprocessing.image_size),
    )
    if parity["mask_iou_min"] >= FAST_DECODER_MIN_IOU:
        _, embed_dim, grid, _ = embedding_shape(sam)
        manifest.decoder_fast = fast_decoder_file(
            embed_dim, grid, opset, sam.mask_decoder.num_mask_tokens, parity
        )
    else:
        log.warning("fast decoder left out: mask IoU %.5f vs the canonical decoder", parity["mask_iou_min"])
        (root / DECODER_FAST_FILE).unlink()
    return parity


def file_sizes(root: Path, names: Sequence[str]) -> dict[str, int]:
    return {n: (root / n).stat().st_size for n in names}


def write_manifest(root: Path, manifest: Manifest) -> Manifest:
    """Fill in file hashes/sizes and write model.json (atomically)."""
    manifest.files = {n: file_info(root / n) for n in listed_files(manifest)}
    tmp = root / (MANIFEST_NAME + ".tmp")
    tmp.write_text(json.dumps(manifest.model_dump(mode="json"), indent=2), encoding="utf-8")
    os.replace(tmp, root / MANIFEST_NAME)
    return manifest


def _swap_into_place(staging: Path, target: Path, overwrite: bool) -> None:
    if target.exists():
        if not overwrite:
            raise FileExistsError(f"{target} already exists; pass overwrite to replace it")
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)


def write_bundle(
    out_dir: str | Path,
    sam: Sam,
    *,
    arch: str = "custom",
    base_model: str | None = None,
    dataset_hash: str | None = None,
    training_config: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    images: Sequence[np.ndarray] | None = None,
    quantize: QuantChoice = "auto",
    torchscript: bool = False,
    opset: int = DEFAULT_OPSET,
    overwrite: bool = False,
    external_data: bool | None = None,
) -> Bundle:
    """Export ``sam`` (CPU, fp32, eval) as a bundle folder at ``out_dir``.

    ``images`` (HxW[x3], 0..255) are the user's images: they calibrate static int8
    quantization (``quantize="auto"`` picks static when images are given, dynamic otherwise)
    and are used for the parity figures; without them, synthetic probe images are used.
    """
    target = Path(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.partial-{uuid.uuid4().hex[:8]}")
    staging.mkdir()
    sam = sam.eval()
    try:
        prep = _preprocessing(sam)
        spec = spec_of(sam, arch)
        grid = spec.embedding_grid
        save_official_format(sam, staging / CHECKPOINT_FILE)
        export_encoder_onnx(sam, staging / ENCODER_FILE, opset, external_data=external_data)
        export_decoder_onnx(sam, staging / DECODER_FILE, opset, external_data=external_data)
        user_images = list(images or [])
        parity_images = user_images[:2] or probe_images()
        # The ONNX encoder's embeddings of the parity images, computed once (seconds each for
        # vit_h on a CPU) for the fp32 parity and the fast decoder's.
        embeddings = onnx_embeddings(sam, staging / ENCODER_FILE, parity_images)
        parity: dict[str, Any] = {
            "fp32_vs_pytorch": fp32_parity(
                sam, staging / ENCODER_FILE, staging / DECODER_FILE, parity_images,
                embeddings=embeddings,
            )
        }
        encoder = encoder_io(prep.image_size, spec.prompt_embed_dim, grid, opset)
        encoder.external_data = side_file(staging, ENCODER_FILE)
        decoder = decoder_io(
            spec.prompt_embed_dim, grid, opset, num_masks=sam.mask_decoder.num_mask_tokens
        )
        decoder.external_data = side_file(staging, DECODER_FILE)
        manifest = Manifest(
            created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            runtime_version=__version__,
            architecture=spec.to_dict(),
            preprocessing=prep,
            encoder=encoder,
            decoder=decoder,
            base_model=base_model,
            dataset_hash=dataset_hash,
            training_config=training_config,
            metrics=metrics or {},
        )
        parity["fast_decoder_vs_canonical"] = add_fast_decoder(
            staging, sam, manifest, embeddings, opset
        )
        method = ("static" if user_images else "dynamic") if quantize == "auto" else quantize
        if method != "none":
            manifest.encoder_int8, manifest.decoder_int8 = quantize_pair(
                staging, prep, method, user_images
            )
            parity["int8_vs_fp32"] = {
                "method": method,
                **measure_int8(staging, prep, parity_images),
            }
        if torchscript:
            export_torchscript(
                sam, staging / "encoder.torchscript.pt", staging / "decoder.torchscript.pt"
            )
            manifest.torchscript = {
                "encoder": "encoder.torchscript.pt",
                "decoder": "decoder.torchscript.pt",
            }
        parity["file_bytes"] = file_sizes(staging, listed_files(manifest))
        manifest.parity = parity
        write_manifest(staging, manifest)
        read_bundle(staging)  # the bundle must pass its own validator before it is published
        _swap_into_place(staging, target, overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return read_bundle(target, verify_hashes=False)


def requantize_bundle(
    root: str | Path,
    method: Literal["dynamic", "static"],
    images: Sequence[np.ndarray] | None = None,
) -> Bundle:
    """Replace a bundle's int8 files (e.g. static calibration on newly chosen images)."""
    bundle = read_bundle(root)
    root = bundle.root
    m = bundle.manifest
    imgs = list(images or [])
    if method == "static" and not imgs:
        raise ValueError("static quantization needs calibration images")
    m.encoder_int8, m.decoder_int8 = quantize_pair(root, m.preprocessing, method, imgs)
    m.parity["int8_vs_fp32"] = {
        "method": method,
        **measure_int8(root, m.preprocessing, imgs[:2] or probe_images()),
    }
    m.parity["file_bytes"] = file_sizes(root, listed_files(m))
    write_manifest(root, m)
    return read_bundle(root)
