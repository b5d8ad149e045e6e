"""Nothing a client sends stops the server: each bad frame gets a JSON-RPC error answer and
the next valid request its normal answer.

The cases that used to kill the server (a lone surrogate in an id or method, an integer
longer than Python converts) run against the real server over its stdio. Every wait is
bounded, so a server that dies or hangs fails the test instead of hanging it.
"""

from __future__ import annotations

import io
import json
import os
import queue
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from delineate_runtime.protocol.client import RpcClient
from delineate_runtime.protocol.errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
)
from delineate_runtime.protocol.framing import (
    MAX_BODY_BYTES,
    FrameReader,
    FrameWriter,
    FramingError,
    encode_body,
    encode_frame,
)
from delineate_runtime.protocol.server import Server

PKG_ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 30.0  # generous for a loaded CI machine; the server answers in milliseconds
VALID_INFO = {"jsonrpc": "2.0", "id": 7, "method": "runtime.info"}


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


@pytest.fixture
def live() -> Iterator[RpcClient]:
    """A fresh server process per test, so one case that kills it cannot fail the next."""
    env = {
        "PYTHONPATH": str(PKG_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "DELINEATE_LOG": "WARNING",
    }
    client = RpcClient.spawn(env=env, cwd=str(PKG_ROOT))
    yield client
    if client.process and client.process.poll() is None:
        client.process.kill()
        client.process.wait(WAIT_S)


def answer_to_raw(client: RpcClient, data: bytes) -> dict:
    """Send raw bytes; the answer (id null or an id nobody waits for) lands in orphans.
    Fails as soon as the server's stdout closes (it died), else after WAIT_S."""
    client.send_raw(data)
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            return client.orphans.get(timeout=0.1)
        except queue.Empty:
            if client.closed.is_set() and client.orphans.empty():
                break
    code = client.process.wait(WAIT_S) if client.closed.is_set() and client.process else None
    stderr = client.process.stderr.read()[-400:] if code is not None and client.process else b""
    pytest.fail(f"no answer; server exit code {code}; stderr {stderr!r}")


def still_serves(client: RpcClient) -> None:
    info = client.request("runtime.info", timeout=WAIT_S)
    assert info["protocol_version"] == 1
    assert client.process is not None and client.process.poll() is None


BIG_INT = b"9" * 5000  # over Python's default int_max_str_digits (4,300)


@pytest.mark.parametrize(
    "body,code,answer_id",
    [
        # a lone surrogate in the id: the id cannot be echoed faithfully, so it is null
        (b'{"jsonrpc": "2.0", "id": "\\ud800", "method": "runtime.info"}', INVALID_REQUEST, None),
        # ...in the method: the id is fine and is echoed
        (b'{"jsonrpc": "2.0", "id": 1, "method": "\\ud800"}', INVALID_REQUEST, 1),
        (b'{"jsonrpc": "2.0", "id": 2, "method": "job.\\udfff"}', INVALID_REQUEST, 2),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "x", "params": {"n": ' + BIG_INT + b"}}",
            PARSE_ERROR,
            None,
        ),
        (b'{"jsonrpc": "2.0", "id": ' + BIG_INT + b', "method": "x"}', PARSE_ERROR, None),
    ],
    ids=["surrogate-id", "surrogate-method", "low-surrogate-method", "big-int-param", "big-int-id"],
)
def test_real_server_answers_what_used_to_kill_it(live, body, code, answer_id):
    answer = answer_to_raw(live, frame(body))
    assert answer["error"]["code"] == code, answer
    assert answer["id"] == answer_id
    still_serves(live)


def test_real_server_answers_a_run_of_malformed_frames_and_keeps_serving(live):
    bad_frames = [
        (frame(b"\xff\xfe\x00 not utf-8"), PARSE_ERROR),
        (frame(b"42"), INVALID_REQUEST),  # valid JSON, not an object
        (frame(b"null"), INVALID_REQUEST),
        (frame(b'"text"'), INVALID_REQUEST),
        (frame(b""), PARSE_ERROR),
        (frame(b"[]"), INVALID_REQUEST),
        (frame(b"[" * 100_000), PARSE_ERROR),
        # a Content-Length larger than any message the server accepts: refused unread
        (b"Content-Length: 99999999999999\r\n\r\n", PARSE_ERROR),
        (b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n", PARSE_ERROR),
        (b"Content-Type: text/plain\r\n\r\n", PARSE_ERROR),
    ]
    for data, code in bad_frames:
        answer = answer_to_raw(live, data)
        assert answer["error"]["code"] == code, (data[:60], answer)
        assert answer["id"] is None
        still_serves(live)


def test_real_server_refuses_a_lone_surrogate_in_params_as_invalid_params(live):
    body = b'{"jsonrpc": "2.0", "id": "p", "method": "job.status", "params": {"job_id": "\\ud800"}}'
    resp = answer_to_raw(live, frame(body))
    assert resp["id"] == "p" and resp["error"]["code"] == INVALID_PARAMS, resp
    assert "job_id" in resp["error"]["message"]
    still_serves(live)


# ---- in memory: the pieces behind the fixes ------------------------------------------


def test_lone_surrogates_are_written_as_escapes_that_decode_to_the_same_string():
    message = {"message": "Job not found: \ud800x\udfff", "ok": "✓ 肺"}
    body = encode_body(message)
    assert b"\\ud800x\\udfff" in body and "✓ 肺".encode() in body
    assert json.loads(body) == message


def test_an_answer_that_cannot_be_encoded_becomes_an_error_answer_and_serving_goes_on():
    out = io.BytesIO()
    server = Server(FrameWriter(out))
    # the first answer holds an integer too long to print as JSON, the second is normal
    answers = iter([{"jobs": [], "n": 10**5000}, {"jobs": []}])
    server.handlers["job.list"] = lambda _params: next(answers)
    stream = io.BytesIO(
        encode_frame({"jsonrpc": "2.0", "id": 1, "method": "job.list"})
        + encode_frame({"jsonrpc": "2.0", "id": 2, "method": "job.list"})
    )
    server.serve(FrameReader(stream))
    reader = FrameReader(io.BytesIO(out.getvalue()))
    first, second = json.loads(reader.read()), json.loads(reader.read())
    assert first["id"] == 1 and first["error"]["code"] == INTERNAL_ERROR
    assert "could not be encoded" in first["error"]["message"]
    assert second == {"jsonrpc": "2.0", "id": 2, "result": {"jobs": []}}


def test_a_large_declared_length_costs_only_the_bytes_that_arrive():
    declared = MAX_BODY_BYTES - 1  # accepted, so the reader starts reading the body
    # a real buffered stream: BufferedReader.read(n) preallocates n bytes
    stream = io.BufferedReader(io.BytesIO(b"Content-Length: %d\r\n\r\n{}" % declared))
    tracemalloc.start()
    try:
        assert FrameReader(stream).read() is None  # the peer went away mid-message
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB for a 2-byte body"


def test_a_length_over_the_limit_is_refused_and_the_reader_resyncs():
    reader = FrameReader(
        io.BytesIO(b"Content-Length: 2048\r\n\r\n" + b"x" * 2048 + encode_frame({"ok": 1})),
        max_body_bytes=1024,
    )
    with pytest.raises(FramingError, match="out of range"):
        reader.read()
    assert json.loads(reader.read()) == {"ok": 1}
