"""Run an exported encoder/decoder pair in onnxruntime, as the app's inference service will."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .preprocess import preprocess_image, scale_points


def make_session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # keep onnxruntime's own warnings off the protocol/stderr noise
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def decoder_feed(
    embedding: np.ndarray,
    points_xy: np.ndarray,
    labels: np.ndarray,
    orig_hw: tuple[int, int],
    image_size: int,
) -> dict[str, np.ndarray]:
    """Canonical decoder inputs for clicks given in original-image pixels (no box, no mask)."""
    coords = scale_points(np.asarray(points_xy, np.float32).reshape(1, -1, 2), orig_hw, image_size)
    # Upstream's clients append a padding point (label -1) when no box is given.
    coords = np.concatenate([coords, np.zeros((1, 1, 2), np.float32)], axis=1)
    lab = np.concatenate([np.asarray(labels, np.float32).reshape(1, -1), [[-1.0]]], axis=1)
    _, _, eh, ew = embedding.shape
    return {
        "image_embeddings": embedding.astype(np.float32),
        "point_coords": coords.astype(np.float32),
        "point_labels": lab.astype(np.float32),
        "mask_input": np.zeros((1, 1, 4 * eh, 4 * ew), np.float32),
        "has_mask_input": np.zeros(1, np.float32),
        "orig_im_size": np.asarray(orig_hw, np.float32),
    }


@dataclass
class OnnxSam:
    encoder: ort.InferenceSession
    decoder: ort.InferenceSession
    image_size: int
    pixel_mean: tuple[float, float, float]
    pixel_std: tuple[float, float, float]

    @classmethod
    def load(
        cls, encoder: Path, decoder: Path, image_size: int, mean, std, threads: int | None = None
    ) -> OnnxSam:
        return cls(
            make_session(encoder, threads),
            make_session(decoder, threads),
            image_size,
            tuple(mean),
            tuple(std),
        )

    def embed(self, image: np.ndarray) -> np.ndarray:
        x, _ = preprocess_image(image, self.image_size, self.pixel_mean, self.pixel_std)
        return self.encoder.run(None, {"image": x})[0]

    def predict(
        self, embedding: np.ndarray, points_xy, labels, orig_hw: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return (mask logits 1xKxHxW at original size, iou predictions 1xK)."""
        return decode_clicks(self.decoder, embedding, points_xy, labels, orig_hw, self.image_size)


def decode_clicks(
    decoder: ort.InferenceSession,
    embedding: np.ndarray,
    points_xy,
    labels,
    orig_hw: tuple[int, int],
    image_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """A canonical decoder session on clicks: (mask logits 1xKxHxW at original size, iou 1xK)."""
    masks, iou, _ = decoder.run(None, decoder_feed(embedding, points_xy, labels, orig_hw, image_size))
    return masks, iou
