"""``train()``: the one entry point for fine-tuning (app, CLI, JSON-RPC and torchrun)."""

from __future__ import annotations

import copy
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from segment_anything.modeling import Sam
from torch.nn.parallel import DistributedDataParallel

from .. import device as devmod
from ..data.loader import open_dataset
from ..data.preprocess import Preprocessor
from ..data.prompts import Prompt, corrective_click
from ..data.records import ImageRecord
from ..evaluation.evaluate import evaluate_records, val_score
from ..evaluation.metrics import epochs_to_fraction_of_best
from ..models import build_sam_model, save_official_format, spec_of, weights_hash
from ..models.checkpoint import load_checkpoint
from ..models.forward import decode
from .config import TrainConfig
from .distributed import DistContext
from .embedding_cache import EmbeddingCache
from .embedding_seeds import CHECKED, MAX_REL_ERROR, EmbeddingSeeds, SeedReport, relative_error
from .freezing import Stage, apply_scope, encoder_frozen, schedule, stage_at, trainable_count
from .losses import LossWeights, mask_losses
from .run_state import RunDir, RunState
from .sam_forward import TrainableSam, enable_activation_checkpointing
from .result import TrainResult, TrainStatus
from .samples import Sample, SampleFactory

Progress = Callable[[dict[str, Any]], None]


def noop(_event: dict[str, Any]) -> None:
    return None


class TrainingCancelled(Exception):
    pass


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


class _Trainer:
    def __init__(self, cfg: TrainConfig, progress: Progress, should_cancel: Callable[[], bool]):
        self.cfg = cfg
        self.progress = progress
        self.should_cancel = should_cancel
        self.dist = DistContext.from_env()
        self.device = devmod.pick_device(cfg.device, self.dist.local_rank)
        self.amp = devmod.amp_dtype(self.device, cfg.amp)
        self.scaler = torch.amp.GradScaler(enabled=devmod.needs_grad_scaler(self.amp))
        self.run = RunDir(cfg.run_dir)
        self.notes: list[str] = []
        _seed_everything(cfg.seed)

        ds = open_dataset(cfg.dataset, cfg.val_fraction)
        self.categories = ds.categories
        self.train_recs: list[ImageRecord] = ds.split("train")
        self.val_recs: list[ImageRecord] = ds.split("val")
        if not self.train_recs:
            raise ValueError(f"dataset {cfg.dataset} has no training images")

        self.sam: Sam = build_sam_model(
            cfg.arch, cfg.checkpoint, image_size=cfg.image_size, **cfg.model_options
        )
        self.base_path: Path = Path(cfg.checkpoint) if cfg.checkpoint else self.run.initial
        if cfg.checkpoint is None and self.dist.is_main and not self.run.initial.is_file():
            save_official_format(self.sam, self.run.initial)
        self.sam.to(self.device)
        # The encoder training starts from: the app's embeddings (seeds) are of this one.
        self._start_encoder_hash = (
            weights_hash(self.sam.image_encoder) if cfg.seed_embeddings else None
        )
        self._embedding_shape: tuple[int, ...] | None = None
        self.seed_report: SeedReport | None = None
        self.spec = spec_of(self.sam, cfg.arch)
        self.pre = Preprocessor(self.spec.image_size, self.spec.pixel_mean, self.spec.pixel_std)
        if cfg.activation_checkpointing:
            enable_activation_checkpointing(self.sam)
        self.teacher: Sam | None = None
        if cfg.distill_weight > 0:
            self.teacher = copy.deepcopy(self.sam).eval().requires_grad_(False)
        if cfg.qat_scope is not None:
            # After the teacher copy: the teacher stays the float base model.
            from ..export.qat import prepare_qat

            n = prepare_qat(self.sam, cfg.qat_scope)
            self.sam.to(self.device)
            self.notes.append(f"quantization-aware training: {n} Linear layers ({cfg.qat_scope})")
        self.weights = LossWeights(
            cfg.bce_weight,
            cfg.dice_weight,
            cfg.focal_weight,
            cfg.iou_weight,
            cfg.label_smoothing,
            cfg.distill_weight,
        )
        self.train_samples = SampleFactory(self.train_recs, self.pre, cfg)
        self.val_samples = SampleFactory(self.val_recs, self.pre, cfg)
        self.stages = schedule(cfg)
        self.total_epochs = self.stages[-1].end_epoch
        self.cache: EmbeddingCache | None = None
        self.state = RunState()
        self.optimizer: torch.optim.Optimizer | None = None
        self.model: torch.nn.Module = TrainableSam(self.sam)
        self._optim_to_restore: dict[str, Any] | None = None
        # Names of the parameters any stage so far has trained: what last.pt must keep.
        self._touched: set[str] = set()

    # ---- resume ------------------------------------------------------------------------
    def resume(self) -> None:
        loaded = self.run.load_last() if self.cfg.resume else None
        if loaded is None:
            return
        model_sd, optim_sd, state, partial = loaded
        if partial:
            # Only the trained weights were saved: the rest is the starting point, which for
            # a random start is initial.pt (not a re-run of the seeded init).
            if self.cfg.checkpoint is None:
                load_checkpoint(self.sam, self.run.initial)
            unexpected = self.sam.load_state_dict(model_sd, strict=False).unexpected_keys
            if unexpected:
                raise ValueError(f"{self.run.last}: weights this model does not have: {unexpected[:5]}")
            self._touched = set(model_sd)
        else:
            self.sam.load_state_dict(model_sd)
        self.state = state
        self._optim_to_restore = optim_sd
        self.notes.append(f"resumed at epoch {state.epoch + 1} step {state.next_step}")
        if self.teacher is not None:
            load_checkpoint(self.teacher, self.base_path)

    # ---- stages and optimiser ----------------------------------------------------------
    def enter_stage(self, stage: Stage) -> None:
        apply_scope(self.sam, stage.scope, stage.last_n)
        self._touched |= {n for n, p in self.sam.named_parameters() if p.requires_grad}
        params = [p for p in self.sam.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            params, lr=self.cfg.lr * stage.lr_mult, weight_decay=self.cfg.weight_decay
        )
        if self._optim_to_restore is not None and self.state.stage == stage.name:
            self.optimizer.load_state_dict(self._optim_to_restore)
        self._optim_to_restore = None
        self.state.stage = stage.name
        core = TrainableSam(self.sam)
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = DistributedDataParallel(core, device_ids=ids, find_unused_parameters=True)
        else:
            self.model = core
        use_cache = self.cfg.embedding_cache == "auto" and encoder_frozen(self.sam)
        self.cache = self._prepare_cache() if use_cache else None
        if use_cache and self.cfg.augment:
            self.notes.append(
                f"stage {stage.name}: image augmentations off while embeddings are cached "
                "(an augmented image would need a new embedding); prompts still vary"
            )

    def _cache_root(self) -> Path:
        if self.cfg.cache_dir:
            return Path(self.cfg.cache_dir)
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "delineate" / "embeddings"

    def _prepare_cache(self) -> EmbeddingCache:
        # The autocast dtype is part of the key: a bf16-computed embedding is not an fp32 one.
        encoder_hash = weights_hash(self.sam.image_encoder)
        cache = EmbeddingCache(self._cache_root(), encoder_hash, f"{self.pre.key()}|amp:{self.amp}")
        todo = [
            (f, i)
            for f in (self.train_samples, self.val_samples)
            for i in range(len(f.records))
            if not cache.has(f.key(i))
        ]
        if self.dist.is_main:
            t0 = time.perf_counter()
            # The app's embeddings were made by the starting encoder: usable only while the
            # encoder still is that one (not after a stage that trained it).
            seeds = self._seeds() if encoder_hash == self._start_encoder_hash else None
            report = SeedReport()
            if seeds is not None:
                todo.sort(key=lambda fi: not seeds.has(fi[0].records[fi[1]].path.name))
                report.offered = sum(seeds.has(f.records[i].path.name) for f, i in todo)
            for n, (f, i) in enumerate(todo):
                name = f.records[i].path.name
                emb = None
                if seeds is not None and seeds.has(name) and report.refused is None:
                    emb = self._seeded(seeds, name, f, i, report)
                if emb is None:
                    with torch.no_grad(), devmod.autocast(self.device, self.amp):
                        emb = self.sam.image_encoder(f.preprocessed_image(i)[None].to(self.device))[0]
                    if seeds is not None and seeds.has(name) and report.refused is None:
                        self._check_seed(seeds, name, emb, report)
                cache.put(f.key(i), emb.float())
                self.progress(
                    {
                        "stage": "caching_embeddings",
                        "step": n + 1,
                        "steps": len(todo),
                        "reused": report.reused,
                        "elapsed_s": time.perf_counter() - t0,
                    }
                )
            if seeds is not None:
                self.seed_report = report
                if report.refused:
                    self.notes.append(f"the app's embeddings were not reused: {report.refused}")
                elif report.reused:
                    self.notes.append(
                        f"reused {report.reused} embeddings the app had computed (checked "
                        f"{len(report.checked_rel_error)}: relative error "
                        f"{max(report.checked_rel_error):.2e} <= {MAX_REL_ERROR})"
                    )
        self.dist.barrier()
        return cache

    def _seeds(self) -> EmbeddingSeeds | None:
        if not self.cfg.seed_embeddings:
            return None
        try:
            return EmbeddingSeeds.open(self.cfg.seed_embeddings)
        except (OSError, ValueError) as exc:
            self.notes.append(f"the app's embeddings could not be read ({exc}); computing them")
            return None

    def _check_seed(
        self, seeds: EmbeddingSeeds, name: str, own: torch.Tensor, report: SeedReport
    ) -> None:
        """Compare an offered embedding with the one just computed; refuse all on a misfit."""
        self._embedding_shape = tuple(own.shape)
        try:
            err = relative_error(seeds.load(name, self._embedding_shape), own.cpu())
        except ValueError as exc:
            report.refused = str(exc)
            return
        report.checked_rel_error.append(err)
        if err > MAX_REL_ERROR:
            report.refused = (
                f"{name}: relative error {err:.3g} > {MAX_REL_ERROR} against training's own "
                f"embedding (a different encoder or preprocessing, e.g. int8)"
            )

    def _seeded(
        self, seeds: EmbeddingSeeds, name: str, f: SampleFactory, i: int, report: SeedReport
    ) -> torch.Tensor | None:
        """The offered embedding once enough of them checked out; None: compute it."""
        if len(report.checked_rel_error) < CHECKED:
            return None  # computed by the caller and compared
        try:
            emb = seeds.load(name, self._embedding_shape)
        except ValueError as exc:
            report.refused = str(exc)
            return None
        report.reused += 1
        return emb.to(self.device)

    def cached_embedding(self, factory: SampleFactory, i: int) -> torch.Tensor:
        """From the cache; recomputed (and stored again) if its file went missing or torn."""
        assert self.cache is not None
        emb = self.cache.get(factory.key(i))
        if emb is None:
            with torch.no_grad(), devmod.autocast(self.device, self.amp):
                emb = self.sam.image_encoder(factory.preprocessed_image(i)[None].to(self.device))[0]
            emb = emb.float()
            self.cache.put(factory.key(i), emb)
        return emb

    # ---- one step ------------------------------------------------------------------------
    def _refiner(
        self, samples: list[Sample], epoch: int, step: int
    ) -> Callable[[int, torch.Tensor, Prompt], tuple[Prompt, torch.Tensor | None]]:
        rng = np.random.default_rng([self.cfg.seed, epoch, step, 99])

        def refine(i: int, emb: torch.Tensor, prompt: Prompt) -> tuple[Prompt, torch.Tensor | None]:
            rounds = self.cfg.correction_rounds
            if rounds <= 0 or prompt.kind == "none" or rng.random() < 0.5:
                return prompt, None
            gt = samples[i].target.numpy() > 0.5
            mask_input = None
            with torch.no_grad():
                for _ in range(int(rng.integers(1, rounds + 1))):
                    logits, ious = decode(self.sam, emb, prompt, mask_input)
                    k = int(ious[0].argmax())
                    low = logits[:, k : k + 1].float()
                    pred = (self.pre.input_frame_logits(low)[0, 0] > 0).cpu().numpy()
                    click = corrective_click(pred, gt, rng)
                    if click is None:
                        break
                    prompt = prompt.with_click(*click)
                    mask_input = low
            return prompt, mask_input

        return refine

    def step_loss(
        self, samples: list[Sample], epoch: int, step: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        dev = self.device
        cached = self.cache is not None
        images = None if cached else torch.stack([s.image for s in samples]).to(dev)  # type: ignore[misc]
        embeddings = None
        if cached:
            assert self.cache is not None
            embeddings = torch.stack(
                [self.cached_embedding(self.train_samples, s.record_index) for s in samples]
            ).to(dev)
        prompts = [s.prompt for s in samples]
        with devmod.autocast(dev, self.amp):
            out = self.model(images, embeddings, prompts, self._refiner(samples, epoch, step))
            teacher_logits: list[torch.Tensor | None] = [None] * len(samples)
            if self.teacher is not None:
                with torch.no_grad():
                    t_emb = (
                        out["embeddings"].detach() if cached else self.teacher.image_encoder(images)
                    )
                    for i, (p, mi) in enumerate(out["prompts"]):
                        teacher_logits[i] = decode(self.teacher, t_emb[i : i + 1], p, mi)[0][0]
        low = self.spec.low_res_size
        total = torch.zeros((), device=dev)
        parts: dict[str, float] = {}
        for i, s in enumerate(samples):
            tgt = F.interpolate(s.target[None, None].to(dev), (low, low), mode="area")[0, 0]
            loss, p = mask_losses(
                out["logits"][i], tgt, out["ious"][i], self.weights, teacher_logits[i]
            )
            total = total + loss
            for k, v in p.items():
                parts[k] = parts.get(k, 0.0) + v / len(samples)
        return total / len(samples), parts

    # ---- learning-rate range test -------------------------------------------------------
    def find_lr(self) -> None:
        from .lr_range import run_range_test

        cfg = self.cfg
        n = len(self.train_recs)
        order = np.random.default_rng([cfg.seed, 7919]).permutation(n)
        steps = 60

        def step_loss(i: int) -> torch.Tensor:
            idx = [order[(i * cfg.batch_size + k) % n] for k in range(cfg.batch_size)]
            samples = [
                self.train_samples.make(int(j), 0, augment=False, with_image=self.cache is None)
                for j in idx
            ]
            return self.step_loss(samples, 0, i)[0]

        def report(i: int, total: int, lr: float, loss: float) -> None:
            if self.dist.is_main:
                self.progress({"stage": "lr_range", "step": i, "steps": total, "lr": lr, "loss": loss})

        self.sam.train()
        r = run_range_test(
            self.model.parameters(),
            step_loss,
            lambda ps, lr: torch.optim.AdamW(ps, lr=lr, weight_decay=cfg.weight_decay),
            steps=steps,
            should_stop=lambda: bool(self.should_cancel()),
            on_step=report,
        )
        # Every rank must train at the same rate: the main rank's choice wins.
        chosen = self.dist.broadcast_float(r.suggested if r.suggested is not None else -1.0)
        used = chosen if chosen > 0 else cfg.lr
        self.state.lr_range = {**r.to_dict(), "lr_used": used}
        self.notes.append(
            f"learning-rate range test: {r.reason}; training at {used:.2e}"
            if chosen > 0
            else f"learning-rate range test could not decide ({r.reason}); training at the given {used:.2e}"
        )
        cfg.lr = used

    # ---- validation ------------------------------------------------------------------
    def validate(self) -> dict[str, Any]:
        recs = self.val_recs or self.train_recs
        fn = None
        if self.cache is not None and self.val_recs:
            factory = self.val_samples

            def fn(i: int, _rec: ImageRecord) -> torch.Tensor:
                return self.cached_embedding(factory, i)

        with devmod.autocast(self.device, self.amp):
            res = evaluate_records(
                self.sam, recs, self.pre, self.categories, self.cfg.val_modes, embedding_fn=fn
            )
        return res

    # ---- the loop -----------------------------------------------------------------------
    def run_epochs(self) -> TrainStatus:
        cfg, st = self.cfg, self.state
        if cfg.eval_before and st.start_score is None and st.epoch == 0 and st.next_step == 0:
            score = -1.0
            if self.dist.is_main:
                self.progress({"stage": "validating", "epoch": 0, "epochs": self.total_epochs})
                self.cache = None
                ev = self.validate()
                st.start_eval = ev
                score = val_score(ev, cfg.val_modes)
            st.start_score = self.dist.broadcast_float(score)
        current: Stage | None = None
        status: TrainStatus = "completed"
        n = len(self.train_recs)
        if st.lr_range is not None:
            self.cfg.lr = float(st.lr_range["lr_used"])  # resumed: the rate the test chose
        for epoch in range(st.epoch, self.total_epochs):
            stage = stage_at(self.stages, epoch)
            if current is None or stage.name != current.name:
                self.enter_stage(stage)
                current = stage
                if cfg.lr_find and st.lr_range is None:
                    self.find_lr()
                    self.enter_stage(stage)  # a fresh optimizer at the chosen rate
            assert self.optimizer is not None
            order = np.random.default_rng([cfg.seed, epoch]).permutation(n)
            world = self.dist.world_size
            if len(order) % world:  # pad like DistributedSampler: every rank runs equal steps
                order = np.concatenate([order, order[: world - len(order) % world]])
            shard = order[self.dist.rank :: world]
            steps = math.ceil(len(shard) / cfg.batch_size)
            if cfg.max_steps_per_epoch:
                steps = min(steps, cfg.max_steps_per_epoch)
            start_step = st.next_step if epoch == st.epoch else 0
            self.sam.train()
            self.optimizer.zero_grad(set_to_none=True)
            t_epoch = time.perf_counter()
            losses: list[float] = []
            last_boundary = start_step
            for step in range(start_step, steps):
                if self.dist.any_flag(bool(self.should_cancel())):
                    st.epoch, st.next_step = epoch, last_boundary
                    self.save_last()
                    return "cancelled"
                t0 = time.perf_counter()
                idx = shard[step * cfg.batch_size : (step + 1) * cfg.batch_size]
                samples = [
                    self.train_samples.make(
                        int(i),
                        epoch,
                        augment=cfg.augment and self.cache is None,
                        with_image=self.cache is None,
                    )
                    for i in idx
                ]
                loss, parts = self.step_loss(samples, epoch, step)
                self.scaler.scale(loss / cfg.grad_accum_steps).backward()
                boundary = (step + 1) % cfg.grad_accum_steps == 0 or step + 1 == steps
                if boundary:
                    self.scaler.step(self.optimizer)
                    self.scaler.update()
                    self.optimizer.zero_grad(set_to_none=True)
                    last_boundary = step + 1
                dt = time.perf_counter() - t0
                st.train_steps += 1
                st.train_seconds += dt
                losses.append(float(loss.detach()))
                if self.dist.is_main:
                    rate = st.train_seconds / max(st.train_steps, 1)
                    left = (steps - step - 1) + (self.total_epochs - epoch - 1) * steps
                    self.progress(
                        {
                            "stage": "train",
                            "freeze_stage": stage.name,
                            "epoch": epoch + 1,
                            "epochs": self.total_epochs,
                            "step": step + 1,
                            "steps": steps,
                            "loss": float(loss.detach()),
                            "metrics": parts,
                            "eta_s": rate * left,
                        }
                    )
            score = -1.0
            record: dict[str, Any] = {}
            if self.dist.is_main:
                self.progress(
                    {"stage": "validating", "epoch": epoch + 1, "epochs": self.total_epochs}
                )
                ev = self.validate()
                score = val_score(ev, cfg.val_modes)
                record = {
                    "epoch": epoch + 1,
                    "freeze_stage": stage.name,
                    "train_loss": float(np.mean(losses)) if losses else None,
                    "val_dice": score,
                    "val": ev,
                    "epoch_seconds": time.perf_counter() - t_epoch,
                }
            score = self.dist.broadcast_float(score)
            st.history.append(record or {"epoch": epoch + 1, "val_dice": score})
            if st.best_score is None or score > st.best_score:
                st.best_score, st.best_epoch = score, epoch + 1
                st.epochs_without_improvement = 0
                if self.dist.is_main:
                    save_official_format(_float_copy(self.sam), self.run.best)
            else:
                st.epochs_without_improvement += 1
            st.epoch, st.next_step = epoch + 1, 0
            self.save_last()
            if self.dist.is_main:
                self.progress(
                    {
                        "stage": "epoch_end",
                        "epoch": epoch + 1,
                        "epochs": self.total_epochs,
                        "loss": record.get("train_loss"),
                        "metrics": {"val_dice": score},
                        "eta_s": None,
                    }
                )
            if st.epochs_without_improvement >= cfg.early_stopping_patience:
                status = "early_stopped"
                break
        return status

    def save_last(self) -> None:
        if self.dist.is_main:
            full = self.sam.state_dict()
            # QAT rewires modules (observers, fake-quant state): keep those runs whole.
            partial = self.cfg.qat_scope is None and 0 < len(self._touched) < len(full)
            keys = self._touched if partial else full.keys()
            self.run.save_last(
                {k: full[k].detach().cpu() for k in keys},
                self.optimizer.state_dict() if self.optimizer else None,
                self.state,
                self.cfg.to_dict(),
                partial=partial,
            )
        self.dist.barrier()

    def result(self, status: TrainStatus) -> TrainResult:
        st = self.state
        curve = [float(h["val_dice"]) for h in st.history]
        steps_per_s = st.train_steps / st.train_seconds if st.train_seconds else None
        return TrainResult(
            status=status,
            run_dir=str(self.run.root),
            epochs_completed=st.epoch,
            history=st.history,
            best_epoch=st.best_epoch,
            best_val_dice=st.best_score,
            start_val_dice=st.start_score,
            best_checkpoint=str(self.run.best) if self.run.best.is_file() else None,
            last_checkpoint=str(self.run.last),
            lr_range=st.lr_range,
            model_spec=self.spec.to_dict(),
            device=devmod.describe(self.device),
            timing={
                "train_steps": st.train_steps,
                "train_seconds": st.train_seconds,
                "steps_per_s": steps_per_s,
                "cached_embeddings": self.cache is not None,
                "embedding_seeds": self.seed_report.to_dict() if self.seed_report else None,
                "trainable_params": trainable_count(self.sam),
            },
            epochs_to_90pct_best=epochs_to_fraction_of_best(curve, 0.9),
            world_size=self.dist.world_size,
            notes=self.notes,
        )


def _float_copy(sam: Sam) -> Sam:
    """The model as official-layout float modules: QAT layers (if any) turned back to Linear."""
    from ..export.qat import strip_qat

    if not any(type(m).__module__.startswith("torch.ao.nn.qat") for m in sam.modules()):
        return sam
    plain = copy.deepcopy(sam)
    strip_qat(plain)
    return plain


def train(
    config: TrainConfig | dict[str, Any],
    progress: Progress = noop,
    should_cancel: Callable[[], bool] = lambda: False,
) -> TrainResult:
    """Fine-tune SAM as ``config`` says; resumable, cancellable, DDP-aware.

    ``progress`` receives dicts with stage/epoch/epochs/step/steps/loss/metrics/eta_s.
    ``should_cancel`` is polled before every step; on True a resumable checkpoint is saved
    and the result has status "cancelled". Calling ``train`` again with the same run_dir
    continues where the last checkpoint left off.
    """
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    trainer = _Trainer(cfg, progress, should_cancel)
    try:
        trainer.resume()
        status = trainer.run_epochs()
        result = trainer.result(status)
        if trainer.dist.enabled:
            # Each rank records its final weights' hash: equal hashes show DDP kept the
            # replicas in step (the DDP test checks this).
            ranks = trainer.run.root / "ranks"
            ranks.mkdir(exist_ok=True)
            (ranks / f"rank{trainer.dist.rank}.json").write_text(
                json.dumps(
                    {
                        "rank": trainer.dist.rank,
                        "weights": weights_hash(trainer.sam),
                        "train_steps": trainer.state.train_steps,
                    }
                )
            )
            trainer.dist.barrier()
        if trainer.dist.is_main:
            trainer.run.write_result(result.to_dict())
            progress(
                {
                    "stage": "done",
                    "status": status,
                    "epoch": result.epochs_completed,
                    "epochs": trainer.total_epochs,
                    "metrics": {
                        "best_val_dice": result.best_val_dice,
                        "start_val_dice": result.start_val_dice,
                    },
                }
            )
        return result
    finally:
        trainer.dist.close()
