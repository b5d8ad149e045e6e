"""Long-running work (training, export, evaluation) as cancellable jobs in worker threads.

A job that raises is recorded as failed with its message and traceback; the server keeps
serving. A hard crash of the interpreter (segfault, OOM kill) takes the whole runtime down:
the Node runtime client detects the child's exit, which is why jobs write checkpoints
atomically and every training run can resume.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import BUSY, JOB_NOT_FOUND, SHUTTING_DOWN, RpcError
from .jsonsafe import to_json_safe
from .methods import JobError, JobFinished, JobProgress, JobStatus

log = logging.getLogger(__name__)
Notify = Callable[[str, dict[str, Any]], None]


class JobCancelled(Exception):
    """Raised by ``JobContext.check_cancel`` inside a job that honours cancellation."""


@dataclass
class Job:
    id: str
    kind: str
    state: str = "running"
    created: float = field(default_factory=time.time)
    finished: float | None = None
    progress: dict[str, Any] | None = None
    result: Any = None
    error: JobError | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def status(self) -> JobStatus:
        return JobStatus(
            job_id=self.id,
            kind=self.kind,
            state=self.state,  # type: ignore[arg-type]
            progress=self.progress,
            result=self.result,
            error=self.error,
            created=self.created,
            finished=self.finished,
        )


class JobContext:
    """What a job function sees: report progress, ask whether to stop."""

    def __init__(self, job: Job, notify: Notify) -> None:
        self._job = job
        self._notify = notify

    @property
    def job_id(self) -> str:
        return self._job.id

    def progress(self, stage: str, **fields: Any) -> None:
        safe = to_json_safe(fields)
        for reserved in ("job_id", "kind", "stage"):
            safe.pop(reserved, None)  # ours; a caller's field of the same name must not clash
        try:
            payload = JobProgress(
                job_id=self._job.id, kind=self._job.kind, stage=stage, **safe
            ).model_dump(mode="json", exclude_none=True)
        except (ValueError, TypeError):  # a field of an unexpected type must not abort the job
            log.warning("progress fields did not validate: %s", safe)
            payload = {"job_id": self._job.id, "kind": self._job.kind, "stage": stage, **safe}
        self._job.progress = payload
        self._notify("job.progress", payload)

    def should_cancel(self) -> bool:
        return self._job.cancel_event.is_set()

    def check_cancel(self) -> None:
        if self.should_cancel():
            raise JobCancelled()


class JobManager:
    def __init__(self, notify: Notify, exclusive_kinds: tuple[str, ...] = ("train",)) -> None:
        self._notify = notify
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._exclusive = exclusive_kinds
        self._closed = False

    def start(self, kind: str, fn: Callable[[JobContext], Any]) -> Job:
        with self._lock:
            if self._closed:
                raise RpcError(SHUTTING_DOWN, "the runtime is shutting down; no new jobs")
            if kind in self._exclusive:
                running = [j for j in self._jobs.values() if j.kind == kind and j.finished is None]
                if running:
                    raise RpcError(
                        BUSY,
                        f"a {kind} job is already running ({running[0].id})",
                        {"job_id": running[0].id},
                    )
            job = Job(id=f"{kind}-{uuid.uuid4().hex[:10]}", kind=kind)
            self._jobs[job.id] = job
        job.thread = threading.Thread(target=self._run, args=(job, fn), name=job.id, daemon=True)
        job.thread.start()
        return job

    def _run(self, job: Job, fn: Callable[[JobContext], Any]) -> None:
        ctx = JobContext(job, self._notify)
        try:
            result = fn(ctx)
            job.result = to_json_safe(result)
            job.state = "cancelled" if job.cancel_event.is_set() else "succeeded"
        except JobCancelled:
            job.state = "cancelled"
        except BaseException as exc:  # noqa: BLE001 - a job failure must never kill the server
            log.exception("job %s failed", job.id)
            job.error = JobError(
                message=str(exc) or exc.__class__.__name__,
                kind=exc.__class__.__name__,
                traceback=traceback.format_exc(),
            )
            job.state = "failed"
        job.finished = time.time()
        finished = JobFinished(
            job_id=job.id, kind=job.kind, state=job.state, result=job.result, error=job.error
        )  # type: ignore[arg-type]
        try:
            self._notify("job.finished", finished.model_dump(mode="json"))
        except Exception:  # noqa: BLE001 - e.g. a result that is not JSON; status still has it
            log.exception("could not send job.finished for %s", job.id)

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise RpcError(JOB_NOT_FOUND, f"no job with id {job_id!r}", {"job_id": job_id})
        return job

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job.finished is None:
            job.cancel_event.set()
            job.state = "cancelling"
        return job

    def all(self) -> list[Job]:
        return list(self._jobs.values())

    def close(self, timeout_s: float = 60.0) -> None:
        """Refuse new jobs, cancel the running ones and wait for them to stop."""
        with self._lock:
            self._closed = True
        for job in self.all():
            if job.finished is None:
                self.cancel(job.id)
        deadline = time.time() + timeout_s
        for job in self.all():
            if job.thread is not None:
                job.thread.join(max(0.0, deadline - time.time()))
