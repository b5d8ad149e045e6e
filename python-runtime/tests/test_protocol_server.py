"""The JSON-RPC endpoint in memory: errors per the spec, and the server keeps serving."""

from __future__ import annotations

import io
import json
import threading
import time

import pytest

from delineate_runtime.protocol import METHODS, contract
from delineate_runtime.protocol.errors import (
    INTERNAL_ERROR,
    INVALID_INPUT,
    INVALID_PARAMS,
    INVALID_REQUEST,
    JOB_NOT_FOUND,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
)
from delineate_runtime.protocol.framing import FrameReader, FrameWriter, encode_frame
from delineate_runtime.protocol.jobs import JobManager
from delineate_runtime.protocol.server import Server


class Collector:
    """Captures everything the server writes (responses and notifications)."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.lock = threading.Lock()

    def write(self, message: dict) -> None:
        with self.lock:
            self.messages.append(json.loads(json.dumps(message)))


@pytest.fixture
def server():
    return Server(Collector())  # type: ignore[arg-type]


def ask(server: Server, method: str, params=None, msg_id=1) -> dict:
    msg = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        msg["params"] = params
    return server.handle_body(json.dumps(msg).encode())


def test_runtime_info(server):
    result = ask(server, "runtime.info")["result"]
    assert result["device"] in ("cpu", "cuda:0")
    assert "tiny" in result["archs"]
    assert set(result["methods"]) == set(METHODS)
    assert result["torch"].startswith("2.")


def test_parse_error_has_null_id(server):
    resp = server.handle_body(b'{"jsonrpc": "2.0", "id": 1, "method": ')
    assert resp["id"] is None and resp["error"]["code"] == PARSE_ERROR
    resp = server.handle_body(b"\xff\xfe not utf-8")
    assert resp["error"]["code"] == PARSE_ERROR
    # nesting deep enough to exhaust the parser's recursion is refused, not fatal
    resp = server.handle_body(b"[" * 200_000)
    assert resp["error"]["code"] == PARSE_ERROR and "deeply" in resp["error"]["message"]
    assert ask(server, "runtime.info")["result"]["torch"].startswith("2.")


@pytest.mark.parametrize(
    "message",
    [
        [1],
        "text",
        {"id": 3, "method": "runtime.info"},
        {"jsonrpc": "1.0", "id": 3, "method": "x"},
        {"jsonrpc": "2.0", "id": 3, "method": 5},
    ],
)
def test_invalid_requests(server, message):
    resp = server.handle_body(json.dumps(message).encode())
    resp = resp[0] if isinstance(resp, list) else resp
    assert resp["error"]["code"] == INVALID_REQUEST


def test_unknown_method_and_bad_params(server):
    assert ask(server, "train.begin")["error"]["code"] == METHOD_NOT_FOUND
    resp = ask(server, "runtime.info", {"verbose": True})
    assert resp["error"]["code"] == INVALID_PARAMS and "verbose" in resp["error"]["message"]
    assert ask(server, "job.status", {})["error"]["code"] == INVALID_PARAMS
    assert ask(server, "job.status", [1, 2])["error"]["code"] == INVALID_PARAMS
    resp = ask(
        server, "train.start", {"config": {"dataset": "x", "run_dir": "y", "epochs": "many"}}
    )
    assert resp["error"]["code"] == INVALID_PARAMS and "epochs" in resp["error"]["message"]
    resp = ask(server, "export.quantize", {"bundle": "b", "method": "static"})
    assert (
        resp["error"]["code"] == INVALID_PARAMS
        and "calibration_dataset" in resp["error"]["message"]
    )
    # ...and the server still answers afterwards.
    assert "result" in ask(server, "runtime.info")


def test_missing_files_are_invalid_input_naming_the_path(server, tmp_path):
    missing = str(tmp_path / "no-dataset")
    resp = ask(
        server,
        "train.start",
        {"config": {"dataset": missing, "run_dir": str(tmp_path / "run"), "arch": "tiny"}},
    )
    assert resp["error"]["code"] == INVALID_INPUT and missing in resp["error"]["message"]
    resp = ask(
        server,
        "embeddings.compute",
        {"bundle": missing, "images": [{"path": "a.png"}], "out_dir": str(tmp_path)},
    )
    assert resp["error"]["code"] == INVALID_INPUT


def test_job_not_found(server):
    resp = ask(server, "job.cancel", {"job_id": "train-nope"})
    assert resp["error"]["code"] == JOB_NOT_FOUND


def test_notifications_get_no_answer_and_batches_work(server):
    assert (
        server.handle_body(json.dumps({"jsonrpc": "2.0", "method": "runtime.info"}).encode())
        is None
    )
    assert server.handle_body(json.dumps({"jsonrpc": "2.0", "method": "no.such"}).encode()) is None
    batch = [
        {"jsonrpc": "2.0", "id": "a", "method": "runtime.info"},
        {"jsonrpc": "2.0", "method": "runtime.info"},
        {"jsonrpc": "2.0", "id": "b", "method": "nope"},
    ]
    answers = server.handle_body(json.dumps(batch).encode())
    assert [a["id"] for a in answers] == ["a", "b"]
    assert "result" in answers[0] and answers[1]["error"]["code"] == METHOD_NOT_FOUND


def test_internal_error_uses_spec_code(server, monkeypatch):
    def boom(_):
        raise RuntimeError("kaput")

    server.handlers["runtime.info"] = boom
    resp = ask(server, "runtime.info")
    assert resp["error"]["code"] == INTERNAL_ERROR == -32603
    assert "kaput" in resp["error"]["message"]


def test_crashing_job_reports_why_and_server_survives():
    sent: list[tuple[str, dict]] = []
    jobs = JobManager(lambda m, p: sent.append((m, p)))

    def crash(ctx):
        ctx.progress("loading")
        raise MemoryError("out of memory while loading batch 3")

    job = jobs.start("export", crash)
    job.thread.join(10)
    status = job.status()
    assert status.state == "failed"
    assert status.error.kind == "MemoryError" and "batch 3" in status.error.message
    assert [m for m, _ in sent] == ["job.progress", "job.finished"]
    assert sent[-1][1]["error"]["message"] == "out of memory while loading batch 3"


def test_job_cancel_sets_state(server):
    started = threading.Event()

    def slow(ctx):
        started.set()
        while not ctx.should_cancel():
            time.sleep(0.01)
        return {"stopped": True}

    job = server.jobs.start("export", slow)
    started.wait(5)
    assert ask(server, "job.cancel", {"job_id": job.id})["result"]["state"] in (
        "cancelling",
        "cancelled",
    )
    job.thread.join(5)
    status = ask(server, "job.status", {"job_id": job.id})["result"]
    assert status["state"] == "cancelled" and status["result"] == {"stopped": True}


def test_shutdown_then_only_exit(server):
    assert ask(server, "shutdown") == {"jsonrpc": "2.0", "id": 1, "result": None}
    assert ask(server, "runtime.info")["error"]["code"] == INVALID_REQUEST
    server.handle_body(json.dumps({"jsonrpc": "2.0", "method": "exit"}).encode())
    assert server.exit_code == 0


def test_exit_without_shutdown_is_code_1_and_serve_loop_stops():
    out = io.BytesIO()
    server = Server(FrameWriter(out))
    stream = io.BytesIO(
        encode_frame({"jsonrpc": "2.0", "method": "exit"})
        + encode_frame({"jsonrpc": "2.0", "id": 9, "method": "runtime.info"})
    )
    assert server.serve(FrameReader(stream)) == 1
    assert out.getvalue() == b""  # nothing after exit was answered


def test_contract_lists_every_method_with_schemas():
    c = contract()
    assert set(c["methods"]) == set(METHODS)
    assert c["methods"]["train.start"]["params"]["required"] == ["config"]
    assert "job_id" in c["notifications"]["job.progress"]["properties"]
    assert c["error_codes"]["internal_error"] == -32603


def test_progress_fields_that_clash_or_are_odd_do_not_break_a_job():
    import numpy as np

    sent: list[tuple[str, dict]] = []
    jobs = JobManager(lambda m, p: sent.append((m, p)))

    def odd(ctx):
        ctx.progress(
            "train",
            job_id="spoof",
            kind="x",
            loss=np.float32(0.25),
            eta_s=float("nan"),
            metrics={"dice": np.float64(0.5)},
        )
        return {"ok": True}

    job = jobs.start("export", odd)
    job.thread.join(10)
    assert job.status().state == "succeeded"
    progress = sent[0][1]
    assert progress["job_id"] == job.id and progress["kind"] == "export"
    assert (
        progress["loss"] == 0.25
        and progress["metrics"] == {"dice": 0.5}
        and "eta_s" not in progress
    )
