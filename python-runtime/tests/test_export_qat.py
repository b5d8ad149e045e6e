"""QAT helpers: fake-quant linears train, then strip back to the official layout."""

from __future__ import annotations

import torch
from torch.ao.nn import qat as nnqat

from delineate_runtime.export.qat import prepare_qat, strip_qat
from delineate_runtime.models import build_sam_model


def _decoder_out(sam: torch.nn.Module, emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pe = sam.prompt_encoder.get_dense_pe()
    coords = torch.tensor([[[40.0, 50.0], [90.0, 70.0]]])
    sparse, dense = sam.prompt_encoder(points=(coords, torch.ones(1, 2)), boxes=None, masks=None)
    return sam.mask_decoder(emb, pe, sparse, dense, False)


def test_prepare_train_strip_roundtrip():
    torch.manual_seed(0)
    sam = build_sam_model("tiny")
    keys = set(sam.state_dict())
    emb = torch.randn(1, 64, 8, 8)
    with torch.no_grad():
        float_out = _decoder_out(sam, emb)[0]
    swapped = prepare_qat(sam, "decoder")
    assert swapped > 0
    assert any(isinstance(m, nnqat.Linear) for m in sam.mask_decoder.modules())
    assert not any(isinstance(m, nnqat.Linear) for m in sam.image_encoder.modules())
    sam.train()
    opt = torch.optim.SGD([p for p in sam.mask_decoder.parameters()], lr=1e-2)
    masks, iou = _decoder_out(sam, emb)
    # Fake quantization changes the forward pass: the network now sees int8 rounding.
    assert not torch.allclose(masks.detach(), float_out)
    (masks.mean() + iou.mean()).backward()
    opt.step()
    assert strip_qat(sam) == swapped
    assert not any(isinstance(m, nnqat.Linear) for m in sam.modules())
    assert set(sam.state_dict()) == keys  # still the official checkpoint layout
