"""A faster, exactly equivalent SAM prompt decoder for interactive clicks on a CPU.

Same weights and the same arithmetic as upstream's `MaskDecoder` (up to float rounding),
rearranged for a click that must answer in tens of milliseconds on two cores:

* **Folded token-to-image attention.** Upstream projects all image tokens (4,096 for a 64x64
  grid) through the key and value projections in each token-to-image attention, although
  only a handful of prompt tokens ask. By associativity, q . (Wk x + bk) = (Wk^T q) . x +
  q . bk, and the q . bk term is constant along the softmax axis, so it drops out; and
  softmax(s) (Wv x + bv) = (softmax(s) x) Wv^T + bv because each softmax row sums to one.
  So the projections are applied to the few query rows instead of the 4,096 keys, which
  removes about 0.27 GMAC per attention for vit_b (3 such attentions). This pays while the
  prompt has fewer tokens than the head width times the number of heads allows (about 11
  clicks for SAM's decoder); beyond that it costs more than upstream, which no interactive
  session reaches.
* **Channels-last upscaling.** A ConvTranspose with kernel 2 and stride 2 writes each input
  pixel to its own 2x2 block, so it is a MatMul to 4x the channels; LayerNorm2d over the
  channels is LayerNorm over the last axis; the pixel shuffle is done once, on the K small
  mask logits, instead of on the 32-channel feature map.
* **Low-resolution outputs only** (``iou_predictions``, ``low_res_masks``). The app upsamples
  just the mask it shows, in its own code, rather than all four to the original image size
  inside the graph.

The canonical decoder stays in every bundle as the fallback, and its parity with this one is
measured and recorded in model.json by `fast_decoder_parity`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from segment_anything.modeling import Sam
from segment_anything.modeling.transformer import Attention, TwoWayAttentionBlock
from segment_anything.utils.onnx import SamOnnxModel
from torch import nn
from torch.nn import functional as F

from ..models.efficient_sam import self_attention_step
from .quantize import decoder_calibration_feeds

FAST_DECODER_INPUTS = (
    "image_embeddings",
    "point_coords",
    "point_labels",
    "mask_input",
    "has_mask_input",
)
FAST_DECODER_OUTPUTS = ("iou_predictions", "low_res_masks")


def _heads(proj: nn.Linear, x: torch.Tensor, heads: int) -> torch.Tensor:
    """``proj(x)`` for batch-1 tokens x (1xTxC), split into heads: H x T x d."""
    t = x.shape[1]
    return proj(x)[0].reshape(t, heads, -1).transpose(0, 1)


def _head_weights(proj: nn.Linear, heads: int) -> torch.Tensor:
    """The weight of a C -> H*d projection as H x d x C."""
    return proj.weight.reshape(heads, -1, proj.weight.shape[1])


def folded_token_to_image(
    attn: Attention, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
) -> torch.Tensor:
    """``attn(q=queries, k=keys, v=values)`` for batch 1 with the key/value projections
    moved onto the queries (see the module docstring). queries 1xTxC, keys/values 1xNxC."""
    heads = attn.num_heads
    d = attn.internal_dim // heads
    c, t = keys.shape[-1], queries.shape[1]
    q = _heads(attn.q_proj, queries, heads)  # H x T x d
    qk = torch.matmul(q, _head_weights(attn.k_proj, heads)).reshape(heads * t, c)  # (H*T) x C
    # Scores are formed image-major (N x H*T) so that only the small matrices are transposed.
    scores = torch.matmul(keys[0], qk.transpose(0, 1)) / math.sqrt(d)  # N x (H*T)
    pv = torch.matmul(torch.softmax(scores, dim=0).transpose(0, 1), values[0])  # (H*T) x C
    wv = _head_weights(attn.v_proj, heads)
    out = torch.matmul(pv.reshape(heads, t, c), wv.transpose(1, 2))  # H x T x d
    out = out + attn.v_proj.bias.reshape(heads, 1, d)
    out = out.transpose(0, 1).reshape(1, t, heads * d)
    return attn.out_proj(out)


def folded_image_to_token(
    attn: Attention, image: torch.Tensor, tokens: torch.Tensor, values: torch.Tensor
) -> torch.Tensor:
    """``attn(q=image, k=tokens, v=values)`` for batch 1 with the query and output
    projections moved onto the few tokens: scores = x (Wq^T k^T) + bq k^T, and
    out_proj(P v) = P (v Wo^T) + bo per head. image 1xNxC, tokens/values 1xTxC."""
    heads = attn.num_heads
    d = attn.internal_dim // heads
    (n, c), t = image.shape[1:], tokens.shape[1]
    k = _heads(attn.k_proj, tokens, heads)  # H x T x d
    wq = _head_weights(attn.q_proj, heads)  # H x d x C
    m = torch.matmul(wq.transpose(1, 2), k.transpose(1, 2))  # H x C x T
    m = m.transpose(0, 1).reshape(c, heads * t)  # C x (H*T), columns (head, token)
    bias = torch.matmul(attn.q_proj.bias.reshape(heads, 1, d), k.transpose(1, 2))  # H x 1 x T
    scores = (torch.matmul(image[0], m) + bias.reshape(1, heads * t)) / math.sqrt(d)
    p = torch.softmax(scores.reshape(n, heads, t), dim=-1).reshape(n, heads * t)
    v = _heads(attn.v_proj, values, heads)  # H x T x d
    wo = attn.out_proj.weight.reshape(c, heads, d).transpose(0, 1)  # H x C x d
    vo = torch.matmul(v, wo.transpose(1, 2)).reshape(heads * t, c)  # (H*T) x C
    return (torch.matmul(p, vo) + attn.out_proj.bias)[None]


def _block(
    layer: TwoWayAttentionBlock,
    queries: torch.Tensor,
    keys: torch.Tensor,
    query_pe: torch.Tensor,
    key_pe: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`TwoWayAttentionBlock.forward` with the folded token-to-image attention."""
    queries = self_attention_step(layer, queries, query_pe)  # SAM's or EfficientSAM's way
    keys_pe = keys + key_pe
    attn = folded_token_to_image(layer.cross_attn_token_to_image, queries + query_pe, keys_pe, keys)
    queries = layer.norm2(queries + attn)
    queries = layer.norm3(queries + layer.mlp(queries))
    q = queries + query_pe
    keys = keys + folded_image_to_token(layer.cross_attn_image_to_token, keys_pe, q, queries)
    keys = layer.norm4(keys)
    return queries, keys


def _as_matmul(conv: nn.ConvTranspose2d) -> tuple[torch.Tensor, torch.Tensor]:
    """A kernel-2 stride-2 ConvTranspose as (weight Cin x 4*Cout, bias 4*Cout); the output
    columns are ordered (row offset, column offset, channel)."""
    if tuple(conv.kernel_size) != (2, 2) or tuple(conv.stride) != (2, 2) or conv.padding != (0, 0):
        raise ValueError("the fast decoder expects SAM's kernel-2 stride-2 upscaling")
    cin, cout = conv.weight.shape[:2]
    weight = conv.weight.permute(0, 2, 3, 1).reshape(cin, 4 * cout)
    bias = conv.bias.repeat(4) if conv.bias is not None else torch.zeros(4 * cout)
    return weight, bias


class FastDecoder(nn.Module):
    """Canonical decoder inputs minus ``orig_im_size`` -> (iou_predictions, low_res_masks),
    all mask tokens (index 0 single-mask, 1..3 multimask), batch 1."""

    def __init__(self, sam: Sam) -> None:
        super().__init__()
        self.prompts = SamOnnxModel(sam, return_single_mask=False)
        self.decoder = sam.mask_decoder
        self.transformer = sam.mask_decoder.transformer
        layers = list(self.decoder.output_upscaling)
        if len(layers) != 5 or not isinstance(layers[1], nn.Module):
            raise ValueError("unexpected output_upscaling layout; use the canonical decoder")
        self.conv1, self.norm, self.act1, self.conv2, self.act2 = layers
        with torch.no_grad():
            pe = sam.prompt_encoder.get_dense_pe()  # 1 x C x h x w, a constant of the weights
        self.grid = (int(pe.shape[2]), int(pe.shape[3]))
        self.register_buffer("image_pe", pe.flatten(2).transpose(1, 2).contiguous(), persistent=False)

    def forward(
        self,
        image_embeddings: torch.Tensor,
        point_coords: torch.Tensor,
        point_labels: torch.Tensor,
        mask_input: torch.Tensor,
        has_mask_input: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        md = self.decoder
        sparse = self.prompts._embed_points(point_coords, point_labels)
        dense = self.prompts._embed_masks(mask_input, has_mask_input)
        output_tokens = torch.cat([md.iou_token.weight, md.mask_tokens.weight], dim=0)[None]
        tokens = torch.cat([output_tokens, sparse], dim=1)
        src = (image_embeddings + dense).flatten(2).transpose(1, 2)  # 1 x N x C

        queries, keys = tokens, src
        for layer in self.transformer.layers:
            queries, keys = _block(layer, queries, keys, tokens, self.image_pe)
        final = folded_token_to_image(
            self.transformer.final_attn_token_to_image,
            queries + tokens,
            keys + self.image_pe,
            keys,
        )
        hs = self.transformer.norm_final_attn(queries + final)

        k = md.num_mask_tokens
        iou = md.iou_prediction_head(hs[:, 0, :])
        hyper = torch.stack(
            [md.output_hypernetworks_mlps[i](hs[:, 1 + i, :]) for i in range(k)], dim=1
        )[0]  # K x C2

        w1, b1 = _as_matmul(self.conv1)
        w2, b2 = _as_matmul(self.conv2)
        c1, c2 = w1.shape[1] // 4, w2.shape[1] // 4
        h, w = self.grid
        y = (torch.matmul(keys[0], w1) + b1).reshape(h * w * 4, c1)
        if isinstance(self.norm, nn.GroupNorm):
            # EfficientSAM's GroupNorm(1, C): one mean and variance over every pixel and
            # channel (the rows' order does not matter), then the per-channel affine.
            mean = y.mean()
            var = (y - mean).square().mean()
            y = (y - mean) * torch.rsqrt(var + self.norm.eps) * self.norm.weight + self.norm.bias
        else:
            y = F.layer_norm(y, (c1,), self.norm.weight, self.norm.bias, self.norm.eps)
        y = self.act1(y)
        y = self.act2(torch.matmul(y, w2) + b2).reshape(h * w * 16, c2)
        logits = torch.matmul(y, hyper.transpose(0, 1))  # (h*w*16) x K
        # rows are (y, x, a1, b1, a2, b2): pixel (4y + 2a1 + a2, 4x + 2b1 + b2)
        masks = logits.reshape(h, w, 2, 2, 2, 2, k).permute(6, 0, 2, 4, 1, 3, 5)
        return iou, masks.reshape(1, k, 4 * h, 4 * w)


def parity_feeds(
    embeddings: Sequence[np.ndarray], image_size: int, seed: int = 0
) -> list[dict[str, np.ndarray]]:
    """Canonical decoder inputs over real embeddings: 1..3 clicks with and without a
    previous mask (from `decoder_calibration_feeds`), plus a box with and without a click."""
    feeds = decoder_calibration_feeds(embeddings, image_size, points_per_embedding=4, seed=seed)
    rng = np.random.default_rng(seed + 1)
    for emb in embeddings:
        _, _, eh, ew = emb.shape
        x0, y0 = rng.uniform(0, image_size * 0.5, 2)
        x1, y1 = x0 + rng.uniform(8, image_size * 0.5, 2)
        box = np.array([[[x0, y0], [x1, y1]]], np.float32)
        for click in (None, [[(x0 + x1) / 2, (y0 + y1) / 2]]):
            coords = box if click is None else np.concatenate([np.array([click], np.float32), box], 1)
            labels = np.array([[2.0, 3.0]] if click is None else [[1.0, 2.0, 3.0]], np.float32)
            feeds.append(
                {
                    "image_embeddings": emb.astype(np.float32),
                    "point_coords": coords,
                    "point_labels": labels,
                    "mask_input": np.zeros((1, 1, 4 * eh, 4 * ew), np.float32),
                    "has_mask_input": np.zeros(1, np.float32),
                    "orig_im_size": np.array([image_size, image_size], np.float32),
                }
            )
    return feeds


def fast_decoder_parity(canonical, fast, feeds: Sequence[dict[str, np.ndarray]]) -> dict[str, float]:
    """Run both decoders (onnxruntime sessions) on the same feeds; report the largest
    low-res logit and IoU-prediction differences and the worst thresholded-mask IoU over
    every token."""
    worst_iou, worst_diff, worst_score = 1.0, 0.0, 0.0
    fast_names = {i.name for i in fast.get_inputs()}
    for feed in feeds:
        _, iou_c, low_c = canonical.run(None, feed)
        iou_f, low_f = fast.run(None, {k: v for k, v in feed.items() if k in fast_names})
        worst_diff = max(worst_diff, float(np.abs(low_c - low_f).max()))
        worst_score = max(worst_score, float(np.abs(iou_c - iou_f).max()))
        for t in range(low_c.shape[1]):
            a, b = low_c[0, t] > 0, low_f[0, t] > 0
            union = np.logical_or(a, b).sum()
            worst_iou = min(worst_iou, 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union))
    return {
        "prompts": float(len(feeds)),
        "low_res_max_abs_diff": worst_diff,
        "iou_prediction_max_abs_diff": worst_score,
        "mask_iou_min": worst_iou,
    }
