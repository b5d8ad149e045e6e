"""Learning-rate range test (Smith, "Cyclical Learning Rates for Training Neural Networks",
2017; the "LR finder" of fastai): train for a few dozen steps with the rate growing
geometrically from ``lr_min`` to ``lr_max``, smooth the loss, stop once it blows up, and
suggest a tenth of the rate where the smoothed loss was lowest (the steepest-descent point
is noisier on the small datasets a user brings). The weights and the optimizer are put back
afterwards: the test only chooses the rate.

The pure part (``suggest``) is separate from the loop so it is tested on known curves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class RangeResult:
    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)  # smoothed, bias-corrected
    suggested: float | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"lrs": self.lrs, "losses": self.losses, "suggested": self.suggested, "reason": self.reason}


def geometric(lr_min: float, lr_max: float, steps: int) -> list[float]:
    return [lr_min * (lr_max / lr_min) ** (i / max(steps - 1, 1)) for i in range(steps)]


def suggest(lrs: list[float], losses: list[float], lo: float = 1e-7, hi: float = 1e-2) -> tuple[float | None, str]:
    """A tenth of the rate at the lowest smoothed loss, if the loss fell at all before it."""
    if len(losses) < 5:
        return None, f"only {len(losses)} steps ran"
    k = min(range(len(losses)), key=lambda i: losses[i])
    if k == 0 or losses[k] >= losses[0] * 0.98:
        return None, "the loss did not fall at any rate tried"
    lr = min(max(lrs[k] / 10, lo), hi)
    return lr, f"lowest smoothed loss {losses[k]:.4f} at lr {lrs[k]:.2e}; a tenth of it"


def run_range_test(
    params: Iterable[torch.nn.Parameter],
    step_loss: Callable[[int], torch.Tensor],
    make_optimizer: Callable[[list[torch.nn.Parameter], float], torch.optim.Optimizer],
    steps: int = 60,
    lr_min: float = 1e-7,
    lr_max: float = 1e-1,
    beta: float = 0.9,
    should_stop: Callable[[], bool] = lambda: False,
    on_step: Callable[[int, int, float, float], None] = lambda i, n, lr, loss: None,
) -> RangeResult:
    """``step_loss(i)`` returns the loss of step ``i`` on a training batch (with grad).
    The parameters' values are restored when the test ends, whatever happened."""
    params = [p for p in params if p.requires_grad]
    saved = [p.detach().clone() for p in params]
    opt = make_optimizer(params, lr_min)
    out = RangeResult()
    avg = 0.0
    best = math.inf
    try:
        for i, lr in enumerate(geometric(lr_min, lr_max, steps)):
            if should_stop():
                break
            for g in opt.param_groups:
                g["lr"] = lr
            opt.zero_grad(set_to_none=True)
            loss = step_loss(i)
            value = float(loss.detach())
            if not math.isfinite(value):
                break
            loss.backward()
            opt.step()
            avg = beta * avg + (1 - beta) * value
            smooth = avg / (1 - beta ** (i + 1))
            out.lrs.append(lr)
            out.losses.append(smooth)
            on_step(i + 1, steps, lr, smooth)
            best = min(best, smooth)
            if i > 5 and smooth > 4 * best:
                break  # diverging: higher rates only get worse
    finally:
        with torch.no_grad():
            for p, v in zip(params, saved, strict=True):
                p.copy_(v)
    out.suggested, out.reason = suggest(out.lrs, out.losses)
    return out
