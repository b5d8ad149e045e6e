"""SAM-correct preprocessing: resize longest side, pad, normalise, and the way back."""

from __future__ import annotations

import numpy as np
import torch
from segment_anything.utils.transforms import ResizeLongestSide

from delineate_runtime.data.preprocess import Preprocessor, resized_shape


def test_shapes_match_the_official_transform() -> None:
    official = ResizeLongestSide(1024)
    for h, w in [(480, 640), (640, 480), (333, 1000), (1024, 1024), (50, 70)]:
        assert resized_shape(h, w, 1024) == official.get_preprocess_shape(h, w, 1024)
        pts = np.array([[0.0, 0.0], [w - 1.0, h - 1.0], [w / 3, h / 2]])
        assert np.allclose(
            Preprocessor(1024).coords(pts, (h, w)), official.apply_coords(pts, (h, w))
        )
        box = np.array([[5.0, 7.0, w - 3.0, h - 2.0]])
        assert np.allclose(Preprocessor(1024).boxes(box, (h, w)), official.apply_boxes(box, (h, w)))


def test_non_square_image_is_padded_bottom_right_with_mean() -> None:
    pre = Preprocessor(128)
    img = np.full((60, 100, 3), 200.0)
    x = pre.image(img)
    assert x.shape == (3, 128, 128)
    nh, nw = resized_shape(60, 100, 128)  # 77 x 128
    content, below = x[:, :nh, :nw], x[:, nh:, :]
    expected = (200 - torch.tensor(pre.pixel_mean)) / torch.tensor(pre.pixel_std)
    assert torch.allclose(content.mean(dim=(1, 2)), expected, atol=1e-4)
    assert torch.count_nonzero(below) == 0  # padding is exactly "mean colour"


def test_mask_round_trip_on_non_square_images() -> None:
    rng = np.random.default_rng(0)
    for h, w, size in [(60, 100, 128), (150, 90, 256), (75, 200, 256)]:
        pre = Preprocessor(size)
        yy, xx = np.mgrid[0:h, 0:w]
        cy, cx, r = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w, 0.25 * min(h, w)
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
        model_frame = pre.mask(mask)
        assert model_frame.shape == (size, size)
        # Pretend the decoder answered with this mask as low-res logits (4x smaller).
        low = torch.nn.functional.interpolate(
            model_frame[None, None] * 20 - 10, size=(size // 4, size // 4), mode="area"
        )
        back = pre.postprocess_masks(low[0, 0], (h, w)) > 0
        assert back.shape == (h, w)
        inter = (back.numpy() & mask).sum()
        iou = inter / (back.numpy() | mask).sum()
        assert iou > 0.9, (h, w, size, iou)


def test_point_transform_lands_on_the_same_content() -> None:
    pre = Preprocessor(128)
    h, w = 90, 160
    img = np.zeros((h, w, 3))
    img[60:70, 120:130] = 255.0  # a bright square
    x = pre.image(img)[0]
    px, py = pre.coords(np.array([[125.0, 65.0]]), (h, w))[0]
    assert x[int(py), int(px)] > 1.0  # bright (normalised) where the point maps
    assert np.allclose(
        pre.coords_back(pre.coords(np.array([[125.0, 65.0]]), (h, w)), (h, w)), [[125.0, 65.0]]
    )
