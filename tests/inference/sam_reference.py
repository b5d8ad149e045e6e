"""PyTorch side of the Node-vs-PyTorch SAM parity test and the tiny test model builder.

Run with the Python runtime's interpreter:

  python sam_reference.py train-bundle OUT_DIR   # tiny blob model (runtime's tiny_demo) -> bundle
  python sam_reference.py random-bundle OUT_DIR --arch vit_b --decoder-only   # random weights (any runtime arch: vit_t, efficientsam_ti...)
  python sam_reference.py predict BUNDLE REQUEST.json OUT.json
  python sam_reference.py export-decoder BUNDLE OUT.onnx --kind single-mask|upstream

`predict` runs segment-anything's own SamPredictor on the checkpoint of a bundle; masks come
back as COCO RLE strings (pycocotools), with scores and the chosen low-res logits' shape.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def export_run(run_dir: Path, out: Path) -> None:
    """Bundle the best checkpoint of a finished training run (run.json + best.pt)."""
    from delineate_runtime.export import write_bundle
    from delineate_runtime.models import build_from_spec, load_checkpoint
    from delineate_runtime.models.spec import ModelSpec

    run = json.loads((run_dir / "run.json").read_text())
    sam = build_from_spec(ModelSpec.from_dict(run["model_spec"]))
    load_checkpoint(sam, run["best_checkpoint"] or run["last_checkpoint"])
    write_bundle(out, sam.eval(), arch="tiny", base_model="tiny_demo", quantize="dynamic",
                 metrics={"val_dice": run["best_val_dice"], "start_val_dice": run["start_val_dice"]},
                 training_config={"epochs": run["epochs_completed"]}, overwrite=True)
    print(json.dumps({"bundle": str(out), "val_dice": run["best_val_dice"]}))


def train_bundle(out: Path, epochs: int | None) -> None:
    from delineate_runtime.training.tiny_demo import train_tiny_blob_model

    with tempfile.TemporaryDirectory() as tmp:
        overrides = {"epochs": epochs} if epochs else {}
        result = train_tiny_blob_model(Path(tmp) / "train", **overrides)
        export_run(Path(result.run_dir), out)


def random_bundle(out: Path, arch: str, seed: int) -> None:
    import torch

    from delineate_runtime.export import write_bundle
    from delineate_runtime.models import build_sam_model

    torch.manual_seed(seed)
    sam = build_sam_model(arch)
    write_bundle(out, sam.eval(), arch=arch, base_model=f"random {arch}", quantize="dynamic", overwrite=True)
    print(json.dumps({"bundle": str(out)}))


def export_decoder(bundle: Path, out: Path, kind: str) -> None:
    """A decoder for the import tests, from a bundle's checkpoint: ``single-mask`` is our
    canonical export with return_single_mask; ``upstream`` is segment-anything's own
    SamOnnxModel exported as its scripts/export_onnx_model.py does (example orig_im_size
    1500x2250), whose crop torch 2.x freezes to that example."""
    import warnings

    import torch
    from segment_anything.utils.onnx import SamOnnxModel

    from delineate_runtime.export.onnx_export import export_decoder_onnx
    from delineate_runtime.protocol.operations import load_model

    sam, _ = load_model(bundle=str(bundle))
    sam = sam.eval()
    if kind == "single-mask":
        export_decoder_onnx(sam, out, return_single_mask=True)
        return
    model = SamOnnxModel(sam, return_single_mask=False)
    emb_dim = sam.prompt_encoder.embed_dim
    grid = sam.prompt_encoder.image_embedding_size
    mask_side = [4 * x for x in grid]
    inputs = {
        "image_embeddings": torch.randn(1, emb_dim, *grid),
        "point_coords": torch.randint(0, 1024, (1, 5, 2), dtype=torch.float),
        "point_labels": torch.randint(0, 4, (1, 5), dtype=torch.float),
        "mask_input": torch.randn(1, 1, *mask_side),
        "has_mask_input": torch.tensor([1], dtype=torch.float),
        "orig_im_size": torch.tensor([1500, 2250], dtype=torch.float),
    }
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, tuple(inputs.values()), str(out), dynamo=False, opset_version=17,
            do_constant_folding=True, input_names=list(inputs),
            output_names=["masks", "iou_predictions", "low_res_masks"],
            dynamic_axes={"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}},
        )


def _rle(mask: np.ndarray) -> dict[str, Any]:
    from pycocotools import mask as mask_utils

    r = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in r["size"]], "counts": r["counts"].decode("ascii")}


def _prompt(case: dict[str, Any]) -> dict[str, Any]:
    pts = case.get("points") or []
    return {
        "point_coords": np.array([[p["x"], p["y"]] for p in pts], np.float64) if pts else None,
        "point_labels": np.array([p["label"] for p in pts], np.int64) if pts else None,
        "box": np.array([case["box"]["x0"], case["box"]["y0"], case["box"]["x1"], case["box"]["y1"]], np.float64) if case.get("box") else None,
    }


def predict(bundle: Path, request: Path, out: Path) -> None:
    from segment_anything import SamPredictor

    from delineate_runtime.data.images import apply_window
    from delineate_runtime.export.preprocess import as_rgb_uint8
    from delineate_runtime.protocol.operations import load_model

    req = json.loads(request.read_text())
    sam, _ = load_model(bundle=str(bundle))
    h, w = req["height"], req["width"]
    raw = np.fromfile(req["raw"], dtype=req["dtype"]).reshape(h, w).astype(np.float64)
    modality = raw * req["slope"] + req["intercept"]
    rgb = as_rgb_uint8(apply_window(modality, req["window"]))
    predictor = SamPredictor(sam)
    predictor.set_image(rgb)
    results = []
    for case in req["cases"]:
        masks, scores, logits = predictor.predict(**_prompt(case), multimask_output=case["multimask"])
        entry: dict[str, Any] = {"name": case["name"], "masks": [_rle(m) for m in masks], "scores": scores.tolist()}
        if case.get("refine"):
            best = int(np.argmax(scores))
            masks, scores, _ = predictor.predict(**_prompt(case["refine"]), mask_input=logits[best][None], multimask_output=False)
            entry["refined"] = {"masks": [_rle(m) for m in masks], "scores": scores.tolist()}
        results.append(entry)
    out.write_text(json.dumps({"results": results, "rgb_sum": int(rgb.astype(np.int64).sum())}))


def slow_bundle(src: Path, out: Path, iterations: int) -> None:
    """A copy of a bundle whose encoder does the same thing, slowly: an input-dependent chain
    of ``iterations`` 768x256x256 MatMuls (+ tanh) whose sum, times 0, is added to the
    embeddings. onnxruntime cannot fold it away (it depends on the image), so every embed
    costs real CPU time, like a big encoder, while the masks stay the tiny model's.
    int8 files are dropped, so 'auto' runs this encoder."""
    import hashlib
    import shutil

    import onnx
    from onnx import TensorProto, helper, numpy_helper

    shutil.copytree(src, out)
    for f in out.glob("*.int8.onnx"):
        f.unlink()
    m = onnx.load(str(out / "encoder.onnx"))
    g = m.graph
    x = g.input[0].name
    y = g.output[0].name
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((256, 256)) / 16).astype(np.float32)
    g.initializer.extend([
        numpy_helper.from_array(w, "slow_w"),
        numpy_helper.from_array(np.array([-1, 256], dtype=np.int64), "slow_shape"),
        numpy_helper.from_array(np.array(0.0, dtype=np.float32), "slow_zero"),
    ])
    for node in g.node:  # the encoder's last node now writes to a new name
        node.output[:] = ["slow_enc_out" if o == y else o for o in node.output]
    nodes = [helper.make_node("Reshape", [x, "slow_shape"], ["slow_0"])]
    for k in range(iterations):
        nodes.append(helper.make_node("MatMul", [f"slow_{k}", "slow_w"], [f"slow_mm{k}"]))
        nodes.append(helper.make_node("Tanh", [f"slow_mm{k}"], [f"slow_{k + 1}"]))
    nodes += [
        helper.make_node("ReduceSum", [f"slow_{iterations}"], ["slow_sum"], keepdims=0),
        helper.make_node("Mul", ["slow_sum", "slow_zero"], ["slow_nothing"]),
        helper.make_node("Add", ["slow_enc_out", "slow_nothing"], [y]),
    ]
    g.node.extend(nodes)
    onnx.checker.check_model(m)
    onnx.save(m, str(out / "encoder.onnx"))
    manifest = json.loads((out / "model.json").read_text())
    manifest["encoder_int8"] = None
    manifest["decoder_int8"] = None
    manifest["name"] = f"slow encoder ({iterations} MatMuls)"
    files = manifest.get("files", {})
    for name in list(files):
        if not (out / name).is_file():
            del files[name]
    data = (out / "encoder.onnx").read_bytes()
    files["encoder.onnx"] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (out / "model.json").write_text(json.dumps(manifest, indent=2))


def mobile_sam_file(out: Path) -> None:
    """A file laid out as MobileSAM's official mobile_sam.pt, random values (see
    python-runtime/tests/mobile_sam_layout.py)."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python-runtime" / "tests"))
    from mobile_sam_layout import mobile_sam_checkpoint

    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(mobile_sam_checkpoint(seed=5), out)


def efficient_sam_file(out: Path) -> None:
    """A file laid out as EfficientSAM-Ti's official efficient_sam_vitt.pt, random values
    (see python-runtime/tests/efficient_sam_layout.py)."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python-runtime" / "tests"))
    from efficient_sam_layout import efficient_sam_checkpoint

    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(efficient_sam_checkpoint(seed=5), out)


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train-bundle")
    t.add_argument("out", type=Path)
    t.add_argument("--epochs", type=int, default=None)
    e = sub.add_parser("export-run")
    e.add_argument("run_dir", type=Path)
    e.add_argument("out", type=Path)
    r = sub.add_parser("random-bundle")
    r.add_argument("out", type=Path)
    r.add_argument("--arch", default="vit_b")
    r.add_argument("--seed", type=int, default=0)
    x = sub.add_parser("export-decoder")
    x.add_argument("bundle", type=Path)
    x.add_argument("out", type=Path)
    x.add_argument("--kind", choices=["single-mask", "upstream"], required=True)
    w = sub.add_parser("slow-bundle")
    w.add_argument("src", type=Path)
    w.add_argument("out", type=Path)
    w.add_argument("--iterations", type=int, required=True)
    ms = sub.add_parser("mobile-sam-checkpoint")
    ms.add_argument("out", type=Path)
    es = sub.add_parser("efficient-sam-checkpoint")
    es.add_argument("out", type=Path)
    p = sub.add_parser("predict")
    p.add_argument("bundle", type=Path)
    p.add_argument("request", type=Path)
    p.add_argument("out", type=Path)
    a = ap.parse_args(argv)
    if a.cmd == "train-bundle":
        train_bundle(a.out, a.epochs)
    elif a.cmd == "export-run":
        export_run(a.run_dir, a.out)
    elif a.cmd == "export-decoder":
        export_decoder(a.bundle, a.out, a.kind)
    elif a.cmd == "slow-bundle":
        slow_bundle(a.src, a.out, a.iterations)
    elif a.cmd == "mobile-sam-checkpoint":
        mobile_sam_file(a.out)
    elif a.cmd == "efficient-sam-checkpoint":
        efficient_sam_file(a.out)
    elif a.cmd == "random-bundle":
        random_bundle(a.out, a.arch, a.seed)
    else:
        predict(a.bundle, a.request, a.out)


if __name__ == "__main__":
    main(sys.argv[1:])
