"""The two exportable halves of SAM: the image encoder and the canonical prompt decoder.

Both wrap the upstream `segment_anything` modules rather than copying them, so official
checkpoints (vit_b/l/h, MedSAM) and our fine-tuned ones export the same way.
"""

from __future__ import annotations

import torch
from segment_anything.modeling import Sam
from segment_anything.utils.onnx import SamOnnxModel
from torch import nn
from torch.nn import functional as F

ENCODER_INPUT = "image"
ENCODER_OUTPUT = "image_embeddings"
DECODER_INPUTS = (
    "image_embeddings",
    "point_coords",
    "point_labels",
    "mask_input",
    "has_mask_input",
    "orig_im_size",
)
DECODER_OUTPUTS = ("masks", "iou_predictions", "low_res_masks")


class EncoderForExport(nn.Module):
    """Image encoder only.

    Input: the SAM-preprocessed image, float32 1x3xSxS (S = image_size): RGB resized so its
    longest side is S, normalised with (x - pixel_mean) / pixel_std, then zero-padded at the
    bottom and right. Normalisation stays outside the graph so the padding stays exactly 0,
    as `Sam.preprocess` does it.
    """

    def __init__(self, sam: Sam) -> None:
        super().__init__()
        self.image_encoder = sam.image_encoder

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.image_encoder(image)


class CanonicalDecoder(SamOnnxModel):
    """Upstream `SamOnnxModel` with a trace-safe crop of the padded mask.

    Upstream crops with ``masks[..., : int(h), : int(w)]``; under the TorchScript-based ONNX
    exporter of torch 2.x those ``int()`` calls are frozen to the sizes of the example input,
    so every other image size would get a wrongly cropped (and then stretched) mask. We
    crop with ``index_select`` over ``arange(h)``, which stays a dynamic Range+Gather.
    """

    def mask_postprocessing(self, masks: torch.Tensor, orig_im_size: torch.Tensor) -> torch.Tensor:
        masks = F.interpolate(
            masks, size=(self.img_size, self.img_size), mode="bilinear", align_corners=False
        )
        prepadded = self.resize_longest_image_size(orig_im_size, self.img_size)
        rows = torch.arange(prepadded[0], device=masks.device)
        cols = torch.arange(prepadded[1], device=masks.device)
        masks = masks.index_select(2, rows).index_select(3, cols)
        size = orig_im_size.to(torch.int64)
        return F.interpolate(masks, size=(size[0], size[1]), mode="bilinear", align_corners=False)


def embedding_shape(sam: Sam) -> tuple[int, int, int, int]:
    h, w = sam.prompt_encoder.image_embedding_size
    return (1, sam.prompt_encoder.embed_dim, h, w)


def example_decoder_inputs(sam: Sam, num_points: int = 3) -> dict[str, torch.Tensor]:
    """Inputs with the canonical names, dtypes and shapes (points in model input pixels)."""
    _, _, eh, ew = embedding_shape(sam)
    size = sam.image_encoder.img_size
    gen = torch.Generator().manual_seed(0)
    return {
        "image_embeddings": torch.randn(embedding_shape(sam), generator=gen),
        "point_coords": torch.randint(0, size, (1, num_points, 2), generator=gen).float(),
        "point_labels": torch.randint(0, 2, (1, num_points), generator=gen).float(),
        "mask_input": torch.randn(1, 1, 4 * eh, 4 * ew, generator=gen),
        "has_mask_input": torch.tensor([1.0]),
        # Deliberately not square and not the model size, so a frozen crop would show.
        "orig_im_size": torch.tensor([float(size) * 0.75, float(size)]),
    }
