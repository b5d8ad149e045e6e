"""The JSON-RPC 2.0 endpoint: parse, validate, dispatch, answer; and the stdio entry point.

Requests are answered in order on the reading thread (they are all quick: long work runs
as jobs); job threads send notifications through the same locked writer.

Nothing a client sends may stop the server: a frame that cannot be read, parsed, validated,
dispatched or answered gets a JSON-RPC error answer (id null when the id cannot be
trusted), and the next frame is served as usual. Only a closed stdin/stdout or ``exit``
ends the loop.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from typing import Any

from pydantic import BaseModel, ValidationError

from ..data.images import DatasetError
from ..export import BundleError
from ..models import CheckpointError
from .errors import (
    INTERNAL_ERROR,
    INVALID_INPUT,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcError,
)
from .framing import FrameReader, FrameWriter, FramingError, MessageEncodeError
from .handlers import Handlers
from .jobs import JobManager
from .jsonsafe import to_json_safe
from .methods import METHODS
from .stdio import protocol_stdio

log = logging.getLogger(__name__)
INPUT_ERRORS = (
    FileNotFoundError,
    FileExistsError,
    BundleError,
    CheckpointError,
    DatasetError,
    ValueError,
)


def _error(msg_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": msg_id, "error": err}


# A lone UTF-16 surrogate (the JSON escape "\ud800" without its pair) is not Unicode text:
# an id or method holding one cannot be echoed or looked up faithfully.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid_id(value: Any) -> bool:
    if isinstance(value, str):
        return not _LONE_SURROGATE.search(value)
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def _valid_method(value: Any) -> bool:
    return isinstance(value, str) and not _LONE_SURROGATE.search(value)


def _answer_id(answer: Any) -> Any:
    """The id of a single answer, for an error that replaces it; null for batches."""
    msg_id = answer.get("id") if isinstance(answer, dict) else None
    return msg_id if _valid_id(msg_id) else None


class Server:
    def __init__(self, writer: FrameWriter, shutdown_timeout_s: float = 120.0) -> None:
        self.writer = writer
        self.jobs = JobManager(self.notify)
        self.handlers = Handlers(self.jobs).table()
        self.shutdown_requested = False
        self.exit_code: int | None = None
        self.shutdown_timeout_s = shutdown_timeout_s

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self.writer.write({"jsonrpc": "2.0", "method": method, "params": params})

    # ---- one frame -------------------------------------------------------------------
    def handle_body(self, body: bytes) -> Any:
        """The response to one frame body (a dict, a list for batches, or None)."""
        try:
            msg = json.loads(body.decode("utf-8"))
        except ValueError as exc:
            # not UTF-8, not JSON, or an integer longer than Python converts (4,300 digits
            # by default: sys.get_int_max_str_digits) - all of them ValueErrors
            return _error(None, PARSE_ERROR, f"Parse error: {str(exc)[:300]}")
        except RecursionError:
            # e.g. 200,000 nested "[": refuse it like any unparsable body, keep serving
            return _error(None, PARSE_ERROR, "Parse error: JSON nested too deeply")
        except MemoryError:
            return _error(None, PARSE_ERROR, "Parse error: the message is too large to decode")
        if isinstance(msg, list):
            if not msg:
                return _error(None, INVALID_REQUEST, "Invalid Request: empty batch")
            answers = [a for a in (self.handle_message(m) for m in msg) if a is not None]
            return answers or None
        return self.handle_message(msg)

    def handle_message(self, msg: Any) -> dict[str, Any] | None:
        if not isinstance(msg, dict):
            return _error(None, INVALID_REQUEST, "Invalid Request: a message must be a JSON object")
        is_request = "id" in msg
        msg_id = msg.get("id")
        if not _valid_id(msg_id):
            return _error(
                None,
                INVALID_REQUEST,
                "Invalid Request: id must be a string of Unicode text, an integer or null",
            )
        if "method" not in msg and ("result" in msg or "error" in msg):
            return None  # a response; this server sends no requests, so nothing waits for it
        if msg.get("jsonrpc") != "2.0" or not _valid_method(msg.get("method")):
            return _error(
                msg_id,
                INVALID_REQUEST,
                'Invalid Request: needs "jsonrpc": "2.0" and a "method" string of Unicode text',
            )
        try:
            result = self.call(msg["method"], msg.get("params"))
        except RpcError as exc:
            return {"jsonrpc": "2.0", "id": msg_id, "error": exc.to_dict()} if is_request else None
        except ValidationError as exc:
            errors = [{"loc": ".".join(map(str, e["loc"])), "msg": e["msg"]} for e in exc.errors()]
            text = "; ".join(f"{e['loc'] or 'params'}: {e['msg']}" for e in errors)
            return (
                _error(
                    msg_id,
                    INVALID_PARAMS,
                    f"Invalid params for {msg['method']}: {text}",
                    {"errors": errors},
                )
                if is_request
                else None
            )
        except INPUT_ERRORS as exc:
            data = exc.to_dict() if hasattr(exc, "to_dict") else {}
            return (
                _error(msg_id, INVALID_INPUT, str(exc), {**data, "kind": exc.__class__.__name__})
                if is_request
                else None
            )
        except Exception as exc:  # noqa: BLE001 - never let one request take the server down
            log.exception("internal error in %s", msg["method"])
            return (
                _error(
                    msg_id,
                    INTERNAL_ERROR,
                    f"Internal error: {exc}",
                    {"kind": exc.__class__.__name__},
                )
                if is_request
                else None
            )
        return {"jsonrpc": "2.0", "id": msg_id, "result": result} if is_request else None

    def call(self, method: str, params: Any) -> Any:
        if method == "$/cancelRequest":
            return None  # requests finish at once; jobs are cancelled with job.cancel
        if method == "exit":
            self.exit_code = 0 if self.shutdown_requested else 1
            return None
        spec = METHODS.get(method)
        if spec is None:
            raise RpcError(
                METHOD_NOT_FOUND, f"Method not found: {method}", {"known": sorted(METHODS)}
            )
        if self.shutdown_requested:
            raise RpcError(
                INVALID_REQUEST, f"the runtime is shut down; {method} refused (send exit)"
            )
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise RpcError(INVALID_PARAMS, f"Invalid params for {method}: params must be an object")
        parsed = spec.params.model_validate(params)
        if method == "shutdown":
            self.shutdown_requested = True
            self.jobs.close(self.shutdown_timeout_s)
            return None
        out = self.handlers[method](parsed)
        return to_json_safe(out.model_dump(mode="json") if isinstance(out, BaseModel) else out)

    # ---- the loop --------------------------------------------------------------------
    def _send(self, answer: Any) -> bool:
        """Write one answer; False when the client is gone (stdout closed).

        An answer that cannot be encoded (e.g. an integer of more than 4,300 digits) is
        replaced by an internal-error answer for the same id."""
        try:
            try:
                self.writer.write(answer)
            except MessageEncodeError as exc:
                log.error("could not encode an answer: %s", exc)
                fallback = _error(
                    _answer_id(answer),
                    INTERNAL_ERROR,
                    f"Internal error: the answer could not be encoded: {exc}",
                )
                try:
                    self.writer.write(fallback)
                except MessageEncodeError:
                    log.error("could not encode the error answer either; dropped")
            return True
        except (OSError, ValueError):  # ValueError: a write to a closed file
            return False

    def serve(self, reader: FrameReader) -> int:
        while self.exit_code is None:
            try:
                body = reader.read()
            except FramingError as exc:
                if not self._send(_error(None, PARSE_ERROR, f"Parse error: {exc}")):
                    break
                continue
            except MemoryError:
                # the declared body fitted the limit but not this machine's memory: say so; the
                # reader resynchronises on the next Content-Length header
                if not self._send(_error(None, PARSE_ERROR, "Parse error: message too large")):
                    break
                continue
            except OSError:
                break  # stdin failed: same as closed
            if body is None:
                break  # the client closed stdin
            try:
                answer = self.handle_body(body)
            except Exception as exc:  # noqa: BLE001 - one bad message must not stop the server
                log.exception("could not handle a message")
                answer = _error(None, INTERNAL_ERROR, f"Internal error: {str(exc)[:300]}")
            if answer is not None and not self._send(answer):
                log.warning("client went away; stopping")
                break
        if self.exit_code is None:
            # No exit: the parent went away. Stop jobs so they leave resumable checkpoints.
            self.jobs.close(self.shutdown_timeout_s)
            return 0 if self.shutdown_requested else 1
        return self.exit_code


def serve_stdio() -> int:
    logging.basicConfig(
        level=os.environ.get("DELINEATE_LOG", "INFO"),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    rfile, wfile = protocol_stdio()
    server = Server(FrameWriter(wfile))
    log.info("delineate runtime serving JSON-RPC on stdio (pid %d)", os.getpid())
    return server.serve(FrameReader(rfile))
