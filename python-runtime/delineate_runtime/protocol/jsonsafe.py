"""Make values JSON-safe before they cross the process boundary.

numpy scalars/arrays, Paths and dataclasses become plain JSON; NaN and infinities become
null, because JSON has no such numbers and JavaScript's JSON.parse rejects them."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np


def to_json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, dict):
        return {str(k): to_json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json_safe(value.tolist())
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json_safe(dataclasses.asdict(value))
    if hasattr(value, "item"):  # 0-d torch tensors
        try:
            return to_json_safe(value.item())
        except (TypeError, ValueError, RuntimeError):
            pass
    return str(value)
