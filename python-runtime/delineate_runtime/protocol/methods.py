"""Every JSON-RPC method and notification, defined once as a value (name, params, result).

The Node side mirrors these (`vscode-jsonrpc` RequestType/NotificationType); `contract()`
dumps them as JSON Schema (``python -m delineate_runtime schema``) for its contract test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from .errors import ERROR_CODES

PROTOCOL_VERSION = 1
JobState = Literal["running", "cancelling", "succeeded", "failed", "cancelled"]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoParams(_Params):
    pass


class JobRef(_Params):
    job_id: str = Field(min_length=1)


class TrainStartParams(_Params):
    config: dict[str, Any] = Field(
        description="TrainConfig fields (dataset, run_dir, arch, epochs, ...)"
    )
    processes: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="training processes (DDP under torchrun); default: one per GPU when the "
        "host has several, else 1",
    )


class ImageRef(_Params):
    path: str
    window: dict[str, float] | None = Field(
        default=None, description="{center, width} for 16-bit/float images"
    )


class ModelRef(_Params):
    """A model to load: a bundle folder, or a checkpoint with its architecture."""

    bundle: str | None = None
    checkpoint: str | None = None
    arch: str = "vit_b"
    image_size: int | None = Field(default=None, ge=16)
    model_options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self) -> ModelRef:
        if self.bundle and self.checkpoint:
            raise ValueError("give either bundle or checkpoint, not both")
        return self


class EvaluateParams(_Params):
    model: ModelRef
    dataset: str
    base_model: ModelRef | None = Field(default=None, description="if given, a before/after report")
    split: Literal["train", "val"] = "val"
    report_path: str | None = None
    options: dict[str, Any] = Field(default_factory=dict, description="passed to the evaluator")


class ExportOnnxParams(_Params):
    model: ModelRef
    out_dir: str
    quantize: Literal["auto", "dynamic", "static", "none"] = "auto"
    calibration_dataset: str | None = None
    max_calibration_images: int = Field(default=16, ge=1, le=1024)
    torchscript: bool = False
    overwrite: bool = False
    base_model: str | None = None
    dataset_hash: str | None = None
    training_config: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None


class ExportQuantizeParams(_Params):
    bundle: str
    method: Literal["dynamic", "static"] = "static"
    calibration_dataset: str | None = None
    max_calibration_images: int = Field(default=16, ge=1, le=1024)

    @model_validator(mode="after")
    def _static_needs_data(self) -> ExportQuantizeParams:
        if self.method == "static" and not self.calibration_dataset:
            raise ValueError("static quantization needs calibration_dataset")
        return self


class EmbeddingsComputeParams(_Params):
    bundle: str
    images: list[ImageRef] = Field(min_length=1)
    out_dir: str
    int8: bool = False


# ---- results and notifications -------------------------------------------------------------
class JobStarted(BaseModel):
    job_id: str
    kind: str


class JobError(BaseModel):
    message: str
    kind: str
    traceback: str | None = None


class JobStatus(BaseModel):
    job_id: str
    kind: str
    state: JobState
    progress: dict[str, Any] | None = None
    result: Any = None
    error: JobError | None = None
    created: float
    finished: float | None = None


class JobList(BaseModel):
    jobs: list[JobStatus]


class RuntimeInfo(BaseModel):
    protocol_version: int
    runtime_version: str
    python: str
    torch: str
    onnxruntime: str
    segment_anything: str
    device: str
    cuda_available: bool
    gpus: int = Field(default=0, description="CUDA devices; train.start runs one process each")
    bf16: bool
    archs: list[str]
    methods: list[str]
    capabilities: dict[str, bool]


class JobProgress(BaseModel):
    """Sent while a job runs. Training fills epoch/step/loss/metrics/eta_s; others a stage."""

    model_config = ConfigDict(extra="allow")
    job_id: str
    kind: str
    stage: str
    epoch: int | None = None
    epochs: int | None = None
    step: int | None = None
    steps: int | None = None
    loss: float | None = None
    metrics: dict[str, Any] | None = None
    eta_s: float | None = None


class JobFinished(BaseModel):
    job_id: str
    kind: str
    state: JobState
    result: Any = None
    error: JobError | None = None


class Empty(BaseModel):
    pass


# ---- job results (what job.finished carries in `result`, per method) -----------------------
class ClassMetrics(BaseModel):
    dice: float
    iou: float
    n: int


class ModeMetrics(BaseModel):
    """evaluation.metrics.aggregate(): per-class means and their class mean."""

    dice_mean: float
    miou: float
    per_class: dict[str, ClassMetrics]


class EvaluatedModel(BaseModel):
    metrics: dict[str, ModeMetrics] = Field(description="per prompt mode: click1, click3, box, auto")
    val_dice: float = Field(description="mean Dice of box and click1: the early-stopping metric")


class EvaluateResult(BaseModel):
    dataset: str
    split: str
    images: int
    after: EvaluatedModel
    before: EvaluatedModel | None = None
    delta_val_dice: float | None = None


class ExportResult(BaseModel):
    bundle: str
    parity: dict[str, Any]
    files: list[str]


class QuantizeResult(BaseModel):
    bundle: str
    int8_vs_fp32: dict[str, Any] | None = None


class EmbeddingFile(BaseModel):
    image: str
    embedding: str
    shape: list[int]
    orig_hw: list[int]


class EmbeddingsResult(BaseModel):
    encoder: str
    embeddings: list[EmbeddingFile]


def _train_result() -> Any:
    from ..training.result import TrainResult

    return TrainResult


@dataclass(frozen=True)
class Method:
    name: str
    params: type[BaseModel]
    result: type[BaseModel] | None
    doc: str
    notification: bool = False
    # For job methods: what job.finished's `result` holds (a pydantic model or dataclass),
    # given as a loader so that importing this module stays free of torch (the training
    # package's __init__ imports the loop); only contract() calls it.
    job_result: Callable[[], Any] | None = None


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("runtime.info", NoParams, RuntimeInfo, "versions, device and capabilities"),
        Method(
            "train.start",
            TrainStartParams,
            JobStarted,
            "start fine-tuning; returns a job id at once",
            job_result=_train_result,
        ),
        Method("job.status", JobRef, JobStatus, "state, last progress, result or error of a job"),
        Method(
            "job.cancel",
            JobRef,
            JobStatus,
            "ask a job to stop (training saves a resumable checkpoint)",
        ),
        Method("job.list", NoParams, JobList, "all jobs of this server"),
        Method(
            "evaluate",
            EvaluateParams,
            JobStarted,
            "metrics on a dataset split (job)",
            job_result=lambda: EvaluateResult,
        ),
        Method(
            "export.onnx",
            ExportOnnxParams,
            JobStarted,
            "write a model bundle (job)",
            job_result=lambda: ExportResult,
        ),
        Method(
            "export.quantize",
            ExportQuantizeParams,
            JobStarted,
            "re-quantize a bundle's int8 files (job)",
            job_result=lambda: QuantizeResult,
        ),
        Method(
            "embeddings.compute",
            EmbeddingsComputeParams,
            JobStarted,
            "image embeddings as .npy files (job)",
            job_result=lambda: EmbeddingsResult,
        ),
        Method(
            "shutdown", NoParams, None, "cancel jobs, wait for them, answer null; then send exit"
        ),
        Method("exit", NoParams, None, "terminate the process", notification=True),
    )
}
NOTIFICATIONS: dict[str, type[BaseModel]] = {
    "job.progress": JobProgress,
    "job.finished": JobFinished,
}


def _schema(t: Any) -> dict[str, Any]:
    if isinstance(t, type) and issubclass(t, BaseModel):
        return t.model_json_schema()
    return TypeAdapter(t).json_schema()


def contract() -> dict[str, Any]:
    """Machine-readable description of the protocol: the Node side's TypeScript types are
    generated from it (scripts/gen-runtime-contract.ts) and a test fails when they drift."""
    from ..training.config import TrainConfig

    return {
        "protocol_version": PROTOCOL_VERSION,
        "framing": "Content-Length (bytes of the UTF-8 JSON body), JSON-RPC 2.0",
        "methods": {
            m.name: {
                "doc": m.doc,
                "notification": m.notification,
                "params": m.params.model_json_schema(),
                "result": m.result.model_json_schema() if m.result else {"type": "null"},
                **({"job_result": _schema(m.job_result())} if m.job_result is not None else {}),
            }
            for m in METHODS.values()
        },
        # train.start's `config`: every TrainConfig field, as the runtime validates it.
        "types": {"TrainConfig": _schema(TrainConfig)},
        "notifications": {name: model.model_json_schema() for name, model in NOTIFICATIONS.items()},
        "error_codes": ERROR_CODES,
    }
