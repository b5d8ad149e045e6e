"""Read a COCO export back with pycocotools (the format's reference implementation) and PIL,
as a training pipeline would, and print JSON: for every annotation the mask pycocotools
decodes (COCO RLE counts, uncompressed, column-major from a 0-run), its area and bbox as
pycocotools computes them; for every label-mask PNG its mode and, per value, the pixels
holding it (the same RLE counts). Run in an environment that has pycocotools:

    python coco_readback.py EXPORT_FOLDER
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from readback_rle import rle_counts  # beside this script


def main(folder: str) -> None:
    root = Path(folder)
    coco = COCO(str(root / "annotations.json"))  # builds its index: the file is COCO as pycocotools reads it
    annotations = []
    for ann in coco.loadAnns(coco.getAnnIds()):
        rle = ann["segmentation"]
        m = coco.annToMask(ann).astype(bool)
        annotations.append({
            "id": ann["id"],
            "counts": rle_counts(m),
            "area": int(mask_utils.area(rle)),
            "bbox": [float(v) for v in mask_utils.toBbox(rle)],
        })
    pngs = {}
    for img in coco.loadImgs(coco.getImgIds()):
        im = Image.open(root / img["mask_file"])
        a = np.asarray(im).astype(np.int64)
        pngs[img["mask_file"]] = {
            "mode": im.mode,
            "size": [int(a.shape[0]), int(a.shape[1])],
            "values": {str(int(v)): rle_counts(a == v) for v in np.unique(a) if v != 0},
        }
    print(json.dumps({"images": len(coco.getImgIds()), "categories": len(coco.getCatIds()), "annotations": annotations, "pngs": pngs}))


if __name__ == "__main__":
    main(sys.argv[1])
