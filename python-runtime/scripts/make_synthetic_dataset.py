#!/usr/bin/env python3
"""Write a synthetic CT-like lesion dataset snapshot (COCO RLE + 16-bit PNG/.npy + windows).

python scripts/make_synthetic_dataset.py OUT_DIR [--n 32] [--height 112] [--width 128]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from delineate_runtime.data.synthetic import SyntheticSpec, write_snapshot  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--n", type=int, default=32, help="number of images")
    ap.add_argument("--height", type=int, default=112)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--classes", type=int, default=1, choices=(1, 2))
    a = ap.parse_args(argv)
    out = write_snapshot(
        a.out_dir,
        SyntheticSpec(n_images=a.n, height=a.height, width=a.width, seed=a.seed, classes=a.classes),
    )
    print(out / "annotations.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
