"""Turn dataset records into training samples: augment, pick a target, simulate a prompt.

Every random choice comes from a generator seeded by (seed, epoch, record index), so a run
resumed mid-epoch replays exactly the samples an uninterrupted run would have seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ..data.augment import AugmentSpec, copy_paste, cutmix, geometric_photometric
from ..data.images import image_key, load_image
from ..data.preprocess import Preprocessor
from ..data.prompts import Prompt, simulate_prompt
from ..data.records import ImageRecord
from .config import TrainConfig


@dataclass
class Sample:
    record_index: int
    image: torch.Tensor | None  # 3xSxS preprocessed, None when the embedding is cached
    image_key: str
    target: torch.Tensor  # SxS float in the padded model frame
    prompt: Prompt  # in model-input pixels


class SampleFactory:
    def __init__(self, records: list[ImageRecord], pre: Preprocessor, cfg: TrainConfig) -> None:
        self.records = records
        self.pre = pre
        self.cfg = cfg
        self.aug = AugmentSpec(
            scale_range=tuple(cfg.scale_range),  # type: ignore[arg-type]
            rotation_deg=cfg.rotation_deg,
            brightness=cfg.brightness,
            contrast=cfg.contrast,
            hsv_jitter=cfg.hsv_jitter,
            cutmix_p=cfg.cutmix_p,
            copy_paste_p=cfg.copy_paste_p,
        )
        self._keys: dict[int, str] = {}
        self._load = lru_cache(maxsize=256)(self._load_uncached)

    def key(self, i: int) -> str:
        if i not in self._keys:
            r = self.records[i]
            self._keys[i] = image_key(r.path, r.window)
        return self._keys[i]

    def _load_uncached(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        r = self.records[i]
        img = torch.from_numpy(load_image(r.path, r.window)).permute(2, 0, 1).contiguous()
        masks = torch.from_numpy(np.stack([inst.mask for inst in r.instances]))
        return img, masks

    def preprocessed_image(self, i: int) -> torch.Tensor:
        return self.pre.tensor(self._load(i)[0])

    def make(self, i: int, epoch: int, *, augment: bool, with_image: bool) -> Sample:
        rng = np.random.default_rng([self.cfg.seed, epoch, i])
        img, masks = self._load(i)
        if augment:
            img, masks = self._augment(img, masks, rng)
        kind_rng = np.random.default_rng([self.cfg.seed, epoch, i, 1])
        prompt_kind_none = self.cfg.prompt_mix.get("none", 0) > 0 and kind_rng.random() < (
            self.cfg.prompt_mix["none"] / sum(self.cfg.prompt_mix.values())
        )
        if prompt_kind_none or masks.shape[0] == 0:
            target = masks.any(0)  # automatic mode: everything of interest
        else:
            target = masks[int(rng.integers(masks.shape[0]))]
        t = self.pre.mask(target)
        if prompt_kind_none or not bool(t.any()):
            prompt = Prompt("none")
        else:
            mix = {k: v for k, v in self.cfg.prompt_mix.items() if k != "none"}
            prompt = simulate_prompt(
                t.numpy() > 0.5, rng, mix, self.cfg.max_points, self.cfg.box_jitter
            )
        image = self.pre.tensor(img) if with_image else None
        return Sample(i, image, self.key(i), t, prompt)

    def _augment(
        self, img: torch.Tensor, masks: torch.Tensor, rng: np.random.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self.records)
        if n > 1 and self.aug.cutmix_p and rng.random() < self.aug.cutmix_p:
            oi, om = self._load(int(rng.integers(n)))
            img, masks = cutmix(img, masks, oi, om, rng)
        if n > 1 and self.aug.copy_paste_p and rng.random() < self.aug.copy_paste_p:
            oi, om = self._load(int(rng.integers(n)))
            img, masks = copy_paste(img, masks, oi, om, rng)
        img, masks = geometric_photometric(img, masks, self.aug, int(rng.integers(2**31)))
        keep = masks.flatten(1).any(1)
        return img, masks[keep]
