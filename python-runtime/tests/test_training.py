"""Fine-tuning end to end on CPU: it learns, resumes exactly, caches correctly, scales out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from delineate_runtime.data.prompts import Prompt
from delineate_runtime.models import read_state_dict
from delineate_runtime.training import TrainConfig, train
from delineate_runtime.training.cache_speed import measure_cache_speedup
from delineate_runtime.training.freezing import (
    apply_scope,
    encoder_frozen,
    schedule,
    trainable_count,
)
from delineate_runtime.training.loop import _Trainer, noop
from delineate_runtime.training.sam_forward import TrainableSam, enable_activation_checkpointing


def _cfg(dataset: Path, run_dir: Path, **kw: Any) -> TrainConfig:
    d: dict[str, Any] = dict(
        dataset=str(dataset),
        run_dir=str(run_dir),
        arch="tiny",
        image_size=128,
        epochs=2,
        batch_size=2,
        lr=1e-3,
        freeze="full",
        cache_dir=str(run_dir.parent / "cache"),
        eval_before=False,
    )
    d.update(kw)
    return TrainConfig.from_dict(d)


def test_tiny_sam_fine_tuning_improves_val_dice_by_0_3(trained_tiny) -> None:
    r = trained_tiny.result
    start, best = r["start_val_dice"], r["best_val_dice"]
    print(
        f"\ntiny SAM val Dice: start {start:.3f} -> best {best:.3f} "
        f"(+{best - start:.3f}) after {r['epochs_completed']} epochs; "
        f"epochs to 90% of best: {r['epochs_to_90pct_best']}"
    )
    assert best - start >= 0.3
    assert Path(r["best_checkpoint"]).is_file() and r["status"] == "completed"
    assert [h["epoch"] for h in r["history"]] == list(range(1, r["epochs_completed"] + 1))


def test_config_round_trip_presets_and_errors(tmp_path: Path) -> None:
    c = TrainConfig.from_dict({"dataset": "d", "run_dir": "r", "preset": "medical"})
    assert c.lr == 5e-6 and c.weight_decay == 0.01 and c.batch_size == 4 and c.epochs == 20
    assert TrainConfig.from_dict(c.to_dict()) == c
    assert TrainConfig.from_dict({"dataset": "d", "run_dir": "r"}).lr == 1e-5
    with pytest.raises(ValueError, match="lrr"):
        TrainConfig.from_dict({"dataset": "d", "run_dir": "r", "lrr": 1})


def test_freezing_scopes_and_guide_stages(make_tiny_sam) -> None:
    sam = make_tiny_sam()
    counts = {}
    for scope in ("decoder_head", "decoder", "decoder_and_last_n", "full"):
        apply_scope(sam, scope, last_n=2)
        counts[scope] = trainable_count(sam)
        assert encoder_frozen(sam) == (scope in ("decoder_head", "decoder"))
    assert (
        0
        < counts["decoder_head"]
        < counts["decoder"]
        < counts["decoder_and_last_n"]
        < counts["full"]
    )
    apply_scope(sam, "decoder_and_last_n", last_n=2)
    blocks = sam.image_encoder.blocks
    assert not any(p.requires_grad for p in blocks[1].parameters())
    assert all(p.requires_grad for p in blocks[2].parameters())
    stages = schedule(
        TrainConfig.from_dict({"dataset": "d", "run_dir": "r", "freeze": "progressive"})
    )
    assert [(s.start_epoch, s.end_epoch, s.lr_mult) for s in stages] == [
        (0, 5, 1.0),
        (5, 15, 1.0),
        (15, 20, 0.1),
    ]
    assert [s.scope for s in stages] == ["decoder_head", "decoder_and_last_n", "full"]


def test_activation_checkpointing_gives_the_same_gradients(make_tiny_sam) -> None:
    a, b = make_tiny_sam(seed=4), make_tiny_sam(seed=4)
    enable_activation_checkpointing(b)
    assert set(a.state_dict()) == set(b.state_dict())  # official keys untouched
    x = torch.randn(2, 3, 128, 128)
    prompt = Prompt("box", box=torch.tensor([20.0, 20.0, 80.0, 90.0]).numpy())
    for m in (a, b):
        out = TrainableSam(m)(x, None, [prompt, prompt])
        (out["logits"][0].sum() + out["logits"][1].mean()).backward()
    ga = a.image_encoder.blocks[0].attn.qkv.weight.grad
    gb = b.image_encoder.blocks[0].attn.qkv.weight.grad
    assert ga is not None and torch.allclose(ga, gb, atol=1e-5)


def test_cached_embeddings_give_the_same_loss_as_recomputing(
    small_snapshot: Path, tmp_path: Path
) -> None:
    cfg = _cfg(small_snapshot, tmp_path / "run", freeze="decoder_only", augment=False)
    tr = _Trainer(cfg, noop, lambda: False)
    tr.enter_stage(tr.stages[0])
    assert tr.cache is not None  # encoder frozen -> fast path chosen automatically
    samples = [tr.train_samples.make(i, 0, augment=False, with_image=True) for i in range(4)]
    cached, _ = tr.step_loss(samples, 0, 0)
    cache = tr.cache
    tr.cache = None
    recomputed, _ = tr.step_loss(samples, 0, 0)
    print(f"\nloss cached {cached.item():.6f} recomputed {recomputed.item():.6f}")
    assert torch.allclose(cached, recomputed, rtol=1e-5, atol=1e-6)
    assert cache.hits >= 4
    # Files lost or torn (crash, disk cleanup): the embedding is recomputed, same loss.
    for f in cache.dir.glob("*.pt"):
        f.write_bytes(b"torn")
    cache._mem.clear()
    tr.cache = cache
    again, _ = tr.step_loss(samples, 0, 0)
    assert torch.allclose(again, recomputed, rtol=1e-5, atol=1e-6)
    # A different encoder must not hit the same cache entries.
    with torch.no_grad():
        tr.sam.image_encoder.neck[0].weight.add_(0.01)
    tr.enter_stage(tr.stages[0])
    assert tr.cache is not None and tr.cache.dir != cache.dir


def test_cache_speedup_is_measured(small_snapshot: Path, tmp_path: Path) -> None:
    m = measure_cache_speedup(small_snapshot, tmp_path, image_size=256, rounds=2, batch_size=2)
    print(
        f"\ncached vs recompute steps/s: {m['cached']['steps_per_s']:.2f} vs "
        f"{m['recompute']['steps_per_s']:.2f} = x{m['speedup_steps_per_s']:.2f}"
    )
    assert m["cached"]["cached"] and not m["recompute"]["cached"]
    assert m["cached"]["steps"] == m["recompute"]["steps"] > 0
    # Timing is a benchmark figure, not a test threshold (shared CPUs); only sanity here.
    assert m["speedup_steps_per_s"] > 0


def _final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return read_state_dict(run_dir / "checkpoints" / "last.pt")


def test_cancel_mid_epoch_then_resume_matches_uninterrupted(
    small_snapshot: Path, tmp_path: Path
) -> None:
    common = dict(epochs=2, augment=True, correction_rounds=1, grad_accum_steps=1)
    full = train(_cfg(small_snapshot, tmp_path / "full", **common))
    assert full.status == "completed"

    calls = {"n": 0}

    def cancel_after_7() -> bool:
        calls["n"] += 1
        return calls["n"] > 7

    events: list[dict[str, Any]] = []
    first = train(_cfg(small_snapshot, tmp_path / "cut", **common), events.append, cancel_after_7)
    assert first.status == "cancelled"
    assert (tmp_path / "cut" / "checkpoints" / "last.pt").is_file()
    resumed_events: list[dict[str, Any]] = []
    second = train(_cfg(small_snapshot, tmp_path / "cut", **common), resumed_events.append)
    assert second.status == "completed" and second.epochs_completed == 2
    first_step = next(e for e in resumed_events if e["stage"] == "train")
    steps = first_step["steps"]
    assert (first_step["epoch"], first_step["step"]) == (1 + 7 // steps, 7 % steps + 1)
    a, b = _final_weights(tmp_path / "full"), _final_weights(tmp_path / "cut")
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k


def test_options_smoke_distill_accum_bf16_checkpointing(
    small_snapshot: Path, tmp_path: Path
) -> None:
    events: list[dict[str, Any]] = []
    r = train(
        _cfg(
            small_snapshot,
            tmp_path / "opts",
            epochs=1,
            freeze="encoder_last_n",
            unfreeze_last_n=1,
            distill_weight=0.5,
            grad_accum_steps=2,
            amp="bf16",
            activation_checkpointing=True,
            focal_weight=1.0,
            label_smoothing=0.1,
            max_steps_per_epoch=3,
            cutmix_p=0.5,
            copy_paste_p=0.5,
        ),
        events.append,
    )
    assert r.status == "completed" and not r.timing["cached_embeddings"]
    train_events = [e for e in events if e["stage"] == "train"]
    assert len(train_events) == 3
    assert all("distill" in e["metrics"] for e in train_events)
    assert all(torch.isfinite(torch.tensor(e["loss"])) for e in train_events)
    assert {"epoch", "epochs", "step", "steps", "loss", "metrics", "eta_s"} <= set(train_events[0])


def test_ddp_two_processes_gloo(small_snapshot: Path, tmp_path: Path) -> None:
    cfg = _cfg(small_snapshot, tmp_path / "ddp", epochs=1, augment=False).to_dict()
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "delineate_runtime.training",
            "--config",
            str(tmp_path / "cfg.json"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["status"] == "completed" and result["world_size"] == 2
    ranks = [json.loads((tmp_path / "ddp" / "ranks" / f"rank{i}.json").read_text()) for i in (0, 1)]
    assert ranks[0]["weights"] == ranks[1]["weights"]  # replicas stayed in step
    assert ranks[0]["train_steps"] == ranks[1]["train_steps"] > 0


def test_early_stopping_on_val_dice(small_snapshot: Path, tmp_path: Path) -> None:
    # lr 0: weights never change, so validation Dice never improves after epoch 1.
    r = train(
        _cfg(
            small_snapshot,
            tmp_path / "es",
            epochs=5,
            lr=0.0,
            weight_decay=0.0,
            early_stopping_patience=2,
        )
    )
    assert r.status == "early_stopped" and r.epochs_completed == 3
    assert r.best_epoch == 1 and len({h["val_dice"] for h in r.history}) == 1


def test_progressive_stages_use_the_cache_only_while_the_encoder_is_frozen(
    small_snapshot: Path, tmp_path: Path
) -> None:
    stages = [
        {"name": "head", "epochs": 1, "scope": "decoder_head"},
        {"name": "last1", "epochs": 1, "scope": "decoder_and_last_n", "last_n": 1},
        {"name": "all", "epochs": 1, "scope": "full", "lr_mult": 0.1},
    ]
    events: list[dict[str, Any]] = []
    r = train(
        _cfg(
            small_snapshot,
            tmp_path / "prog",
            freeze="progressive",
            stages=stages,
            max_steps_per_epoch=2,
            augment=False,
        ),
        events.append,
    )
    assert r.status == "completed" and r.epochs_completed == 3
    assert [h["freeze_stage"] for h in r.history] == ["head", "last1", "all"]
    first_cache = next(i for i, e in enumerate(events) if e["stage"] == "caching_embeddings")
    first_train = next(i for i, e in enumerate(events) if e["stage"] == "train")
    assert first_cache < first_train  # stage 1 trained from cached embeddings
    assert not any(e["stage"] == "caching_embeddings" for e in events[first_train:])
    assert not r.timing["cached_embeddings"]  # the last stage recomputed the encoder


def test_synthetic_dataset_script(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[1] / "scripts" / "make_synthetic_dataset.py"
    out = subprocess.run(
        [
            sys.executable,
            str(script),
            str(tmp_path / "ds"),
            "--n",
            "3",
            "--height",
            "40",
            "--width",
            "48",
            "--classes",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    coco = json.loads((tmp_path / "ds" / "annotations.json").read_text())
    assert len(coco["images"]) == 3 and coco["images"][0]["height"] == 40
    assert {c["name"] for c in coco["categories"]} == {"lesion", "cyst"}


def test_resume_after_a_crash_replays_the_lost_epoch(small_snapshot: Path, tmp_path: Path) -> None:
    common = dict(epochs=2, augment=True)
    full = train(_cfg(small_snapshot, tmp_path / "full", **common))

    def crash_in_epoch_2(event: dict[str, Any]) -> None:
        if event["stage"] == "train" and event["epoch"] == 2 and event["step"] == 2:
            raise RuntimeError("simulated crash (power cut, OOM kill...)")

    with pytest.raises(RuntimeError, match="simulated crash"):
        train(_cfg(small_snapshot, tmp_path / "crash", **common), crash_in_epoch_2)
    resumed = train(_cfg(small_snapshot, tmp_path / "crash", **common))
    assert resumed.status == "completed" and any("resumed at epoch 2" in n for n in resumed.notes)
    a, b = _final_weights(tmp_path / "full"), _final_weights(tmp_path / "crash")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert full.history[-1]["val_dice"] == pytest.approx(resumed.history[-1]["val_dice"])


def test_quantization_aware_training_saves_official_float_checkpoints(
    small_snapshot: Path, tmp_path: Path
) -> None:
    r = train(
        _cfg(
            small_snapshot,
            tmp_path / "qat",
            epochs=1,
            freeze="decoder_only",
            qat_scope="decoder",
            max_steps_per_epoch=3,
        )
    )
    assert r.status == "completed"
    qat_notes = [n for n in r.notes if n.startswith("quantization-aware training")]
    assert qat_notes and int(qat_notes[0].split(": ")[1].split()[0]) > 0
    # best.pt must be the official layout: no observer/fake-quant keys, loadable strictly
    # into a plain model of the same architecture, with the trained decoder weights.
    assert r.best_checkpoint is not None
    best = read_state_dict(r.best_checkpoint)
    assert not [k for k in best if "fake_quant" in k or "activation_post_process" in k]
    from delineate_runtime.models import build_sam_model, load_checkpoint

    load_checkpoint(build_sam_model("tiny", image_size=128), r.best_checkpoint)
    initial = read_state_dict(Path(r.run_dir) / "initial.pt")  # random init, no base given
    changed = [
        k for k in best if k.startswith("mask_decoder") and not torch.equal(best[k], initial[k])
    ]
    assert changed, "QAT fine-tuning left the decoder unchanged"


def test_decoder_only_checkpoints_keep_only_the_decoder_and_resume_exactly(
    small_snapshot: Path, tmp_path: Path
) -> None:
    """last.pt is written every epoch: for a decoder-only run it holds the decoder (the
    encoder is the base checkpoint's, loaded first on resume), so a vit_b run writes about
    16 MB an epoch instead of 375 MB; resuming from it continues exactly."""
    common = dict(epochs=2, freeze="decoder_only", augment=False, grad_accum_steps=1)
    full = train(_cfg(small_snapshot, tmp_path / "full", **common))
    assert full.status == "completed"
    payload = torch.load(tmp_path / "full" / "checkpoints" / "last.pt", weights_only=True)
    assert payload["partial"] is True
    keys = set(payload["model"])
    assert keys and all(k.startswith("mask_decoder.") for k in keys), sorted(keys)[:5]
    whole = torch.load(tmp_path / "full" / "initial.pt", weights_only=True)
    assert keys < set(whole), "a strict part of the model: no encoder or prompt-encoder weights"

    calls = {"n": 0}

    def cancel_after_3() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    cut = _cfg(small_snapshot, tmp_path / "cut", **common)
    assert train(cut, lambda _e: None, cancel_after_3).status == "cancelled"
    assert train(_cfg(small_snapshot, tmp_path / "cut", **common)).status == "completed"
    a, b = _final_weights(tmp_path / "full"), _final_weights(tmp_path / "cut")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    # best.pt stays a whole official-layout checkpoint
    best = torch.load(tmp_path / "cut" / "best.pt", weights_only=True)
    assert set(best) == set(whole)


def _write_seeds(folder: Path, embeddings: dict[str, torch.Tensor]) -> Path:
    """A seed folder as the app writes it (training/embedding-seeds.node.ts)."""
    import numpy as np

    folder.mkdir(parents=True)
    entries = {}
    for n, (name, emb) in enumerate(sorted(embeddings.items())):
        np.save(folder / f"{n}.npy", emb.numpy().astype(np.float32))
        entries[name] = f"{n}.npy"
    index = {"format": "delineate-embedding-seeds/1", "source": {"test": True}, "entries": entries}
    (folder / "index.json").write_text(json.dumps(index))
    return folder


def _own_embeddings(snapshot: Path, tmp_path: Path) -> dict[str, torch.Tensor]:
    ref = _Trainer(
        _cfg(snapshot, tmp_path / "ref", freeze="decoder_only", augment=False), noop, lambda: False
    )
    ref.enter_stage(ref.stages[0])
    return {
        f.records[i].path.name: ref.cached_embedding(f, i).cpu()
        for f in (ref.train_samples, ref.val_samples)
        for i in range(len(f.records))
    }


def test_embeddings_the_app_computed_are_reused_after_a_parity_check(
    small_snapshot: Path, tmp_path: Path
) -> None:
    own = _own_embeddings(small_snapshot, tmp_path)
    g = torch.Generator().manual_seed(0)
    # What an fp32 ONNX encoder with Pillow's resize gives: the same up to rounding.
    offered = {k: v + 1e-4 * v.std() * torch.randn(v.shape, generator=g) for k, v in own.items()}
    seeds = _write_seeds(tmp_path / "seeds", offered)
    cfg = _cfg(
        small_snapshot,
        tmp_path / "run",
        freeze="decoder_only",
        augment=False,
        cache_dir=str(tmp_path / "cache2"),
        seed_embeddings=str(seeds),
    )
    tr = _Trainer(cfg, noop, lambda: False)
    tr.enter_stage(tr.stages[0])
    rep = tr.seed_report
    assert rep is not None and rep.refused is None, rep
    assert rep.offered == len(own) and rep.reused == len(own) - 2
    assert len(rep.checked_rel_error) == 2 and max(rep.checked_rel_error) < 1e-3
    assert tr.cache is not None
    taken = computed = 0
    for f in (tr.train_samples, tr.val_samples):
        for i in range(len(f.records)):
            got = tr.cache.get(f.key(i))
            name = f.records[i].path.name
            assert got is not None
            if torch.equal(got, offered[name]):
                taken += 1
            else:  # one of the two checked: training's own
                assert torch.allclose(got, own[name], atol=1e-5)
                computed += 1
    assert (taken, computed) == (len(own) - 2, 2)


def test_embeddings_of_another_encoder_are_refused_and_recomputed(
    small_snapshot: Path, tmp_path: Path
) -> None:
    own = _own_embeddings(small_snapshot, tmp_path)
    # 5 % off: what int8 weights or another checkpoint would give.
    seeds = _write_seeds(tmp_path / "seeds", {k: v * 1.05 for k, v in own.items()})
    cfg = _cfg(
        small_snapshot,
        tmp_path / "run",
        epochs=1,
        freeze="decoder_only",
        augment=False,
        cache_dir=str(tmp_path / "cache2"),
        seed_embeddings=str(seeds),
    )
    r = train(cfg)
    rep = r.timing["embedding_seeds"]
    assert rep["reused"] == 0 and rep["offered"] == len(own)
    assert "relative error 0.05" in rep["refused"] and rep["checked_rel_error"] == [
        pytest.approx(0.05, rel=1e-3)
    ]
    assert any("were not reused" in n for n in r.notes)
    # An unreadable seed folder is a note, not a failed run.
    (seeds / "index.json").write_text("{")
    r2 = train({**cfg.to_dict(), "run_dir": str(tmp_path / "run2"), "cache_dir": str(tmp_path / "c3")})
    assert r2.status == "completed" and any("could not be read" in n for n in r2.notes)
