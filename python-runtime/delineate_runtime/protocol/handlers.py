"""One handler per JSON-RPC method: validate what the params point to, start jobs.

Handlers return at once; anything that takes longer than a moment runs as a job."""

from __future__ import annotations

import platform
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import onnxruntime
import torch
from pydantic import BaseModel

from .. import __version__
from . import operations as ops
from .errors import INVALID_INPUT, INVALID_PARAMS, RpcError
from .jobs import JobContext, JobManager
from .methods import (
    METHODS,
    PROTOCOL_VERSION,
    EmbeddingsComputeParams,
    EvaluateParams,
    ExportOnnxParams,
    ExportQuantizeParams,
    JobList,
    JobRef,
    JobStarted,
    NoParams,
    RuntimeInfo,
    TrainStartParams,
)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def _must_exist(path: str | None, what: str) -> None:
    if path and not Path(path).exists():
        raise RpcError(
            INVALID_INPUT, f"{what} not found: {path}", {"kind": "FileNotFoundError", "path": path}
        )


def _reporter(ctx: JobContext) -> Callable[..., None]:
    def report(stage: str, **fields: Any) -> None:
        ctx.progress(stage, **fields)

    return report


class Handlers:
    def __init__(self, jobs: JobManager) -> None:
        self.jobs = jobs

    def table(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "runtime.info": self.runtime_info,
            "train.start": self.train_start,
            "job.status": self.job_status,
            "job.cancel": self.job_cancel,
            "job.list": self.job_list,
            "evaluate": self.evaluate,
            "export.onnx": self.export_onnx,
            "export.quantize": self.export_quantize,
            "embeddings.compute": self.embeddings_compute,
        }

    # ---- quick requests --------------------------------------------------------------
    def runtime_info(self, _: NoParams) -> RuntimeInfo:
        from ..device import pick_device
        from ..models import ARCHS

        cuda = torch.cuda.is_available()
        return RuntimeInfo(
            protocol_version=PROTOCOL_VERSION,
            runtime_version=__version__,
            python=platform.python_version(),
            torch=torch.__version__,
            onnxruntime=onnxruntime.__version__,
            segment_anything=_version("segment-anything"),
            device=str(pick_device("auto")),
            cuda_available=cuda,
            gpus=torch.cuda.device_count() if cuda else 0,
            bf16=bool(cuda and torch.cuda.is_bf16_supported()),
            archs=list(ARCHS),
            methods=sorted(METHODS),
            capabilities={
                "train": True,
                "resume": True,
                "embedding_cache": True,
                "onnx_export": True,
                "torchscript_export": True,
                "int8_dynamic": True,
                "int8_static": True,
                "qat": True,
                "cuda": cuda,
            },
        )

    def job_status(self, p: JobRef) -> BaseModel:
        return self.jobs.get(p.job_id).status()

    def job_cancel(self, p: JobRef) -> BaseModel:
        return self.jobs.cancel(p.job_id).status()

    def job_list(self, _: NoParams) -> JobList:
        return JobList(jobs=[j.status() for j in self.jobs.all()])

    # ---- jobs ------------------------------------------------------------------------
    def train_start(self, p: TrainStartParams) -> JobStarted:
        from ..training import TrainConfig, train
        from ..training.launcher import processes_for, run_distributed

        try:
            cfg = TrainConfig.from_dict(p.config)
        except (ValueError, TypeError) as exc:
            raise RpcError(INVALID_PARAMS, str(exc), {"kind": "TrainConfigError"}) from exc
        _must_exist(cfg.dataset, "dataset")
        _must_exist(cfg.checkpoint, "checkpoint")
        processes = processes_for(p.processes)

        def run(ctx: JobContext) -> Any:
            def progress(event: dict[str, Any]) -> None:
                fields = dict(event)
                ctx.progress(str(fields.pop("stage", "train")), **fields)

            if processes > 1:
                return run_distributed(cfg, processes, progress, ctx.should_cancel)
            return train(cfg, progress, ctx.should_cancel).to_dict()

        job = self.jobs.start("train", run)
        return JobStarted(job_id=job.id, kind=job.kind)

    def evaluate(self, p: EvaluateParams) -> JobStarted:
        _must_exist(p.dataset, "dataset")
        for ref in (p.model, p.base_model):
            if ref is not None:
                _must_exist(ref.bundle, "bundle")
                _must_exist(ref.checkpoint, "checkpoint")
        job = self.jobs.start(
            "evaluate",
            lambda ctx: ops.evaluate_model(
                p.model.model_dump(),
                p.dataset,
                p.split,
                p.base_model.model_dump() if p.base_model else None,
                p.options,
                p.report_path,
                report=_reporter(ctx),
            ),
        )
        return JobStarted(job_id=job.id, kind=job.kind)

    def export_onnx(self, p: ExportOnnxParams) -> JobStarted:
        _must_exist(p.model.bundle, "bundle")
        _must_exist(p.model.checkpoint, "checkpoint")
        _must_exist(p.calibration_dataset, "calibration dataset")
        if Path(p.out_dir).exists() and not p.overwrite:
            raise RpcError(
                INVALID_INPUT,
                f"{p.out_dir} already exists; set overwrite to replace it",
                {"kind": "FileExistsError"},
            )
        args = p.model_dump(exclude={"model", "out_dir"})
        job = self.jobs.start(
            "export",
            lambda ctx: ops.export_model(
                p.out_dir, model=p.model.model_dump(), report=_reporter(ctx), **args
            ),
        )
        return JobStarted(job_id=job.id, kind=job.kind)

    def export_quantize(self, p: ExportQuantizeParams) -> JobStarted:
        _must_exist(p.bundle, "bundle")
        _must_exist(p.calibration_dataset, "calibration dataset")
        job = self.jobs.start(
            "quantize",
            lambda ctx: ops.quantize_bundle(
                p.bundle,
                p.method,
                p.calibration_dataset,
                p.max_calibration_images,
                report=_reporter(ctx),
            ),
        )
        return JobStarted(job_id=job.id, kind=job.kind)

    def embeddings_compute(self, p: EmbeddingsComputeParams) -> JobStarted:
        _must_exist(p.bundle, "bundle")
        for ref in p.images:
            _must_exist(ref.path, "image")
        images = [r.model_dump() for r in p.images]
        job = self.jobs.start(
            "embeddings",
            lambda ctx: ops.compute_embeddings(
                p.bundle,
                images,
                p.out_dir,
                p.int8,
                report=_reporter(ctx),
                should_cancel=ctx.should_cancel,
            ),
        )
        return JobStarted(job_id=job.id, kind=job.kind)
