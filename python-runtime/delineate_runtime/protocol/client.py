"""A small Python client for the runtime's JSON-RPC server (tests, bench, remote use).

Reads frames on a background thread: responses resolve waiting requests, notifications
and id-less error responses (parse errors) are queued for the caller.
"""

from __future__ import annotations

import itertools
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, BinaryIO

from .errors import RpcError
from .framing import FrameReader, FrameWriter, FramingError


class RpcClient:
    def __init__(
        self, rfile: BinaryIO, wfile: BinaryIO, process: subprocess.Popen | None = None
    ) -> None:
        self._reader = FrameReader(rfile)
        self._writer = FrameWriter(wfile)
        self._wfile = wfile
        self.process = process
        self._ids = itertools.count(1)
        self._pending: dict[Any, Future] = {}
        self._lock = threading.Lock()
        self.notifications: queue.Queue[dict[str, Any]] = queue.Queue()
        self.orphans: queue.Queue[dict[str, Any]] = queue.Queue()  # responses with id null
        self.closed = threading.Event()
        threading.Thread(target=self._read_loop, daemon=True, name="rpc-client-reader").start()

    @classmethod
    def spawn(
        cls,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
    ) -> RpcClient:
        """Start ``python -m delineate_runtime serve`` as a child process."""
        cmd = args or [sys.executable, "-m", "delineate_runtime", "serve"]
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        assert proc.stdin is not None and proc.stdout is not None
        return cls(proc.stdout, proc.stdin, proc)

    def _read_loop(self) -> None:
        try:
            while True:
                try:
                    body = self._reader.read()
                except FramingError as exc:
                    self.orphans.put({"client_framing_error": str(exc)})
                    continue
                if body is None:
                    break
                import json

                msg = json.loads(body.decode("utf-8"))
                if "method" in msg:
                    self.notifications.put(msg)
                    continue
                with self._lock:
                    fut = self._pending.pop(msg.get("id"), None)
                if fut is None:
                    self.orphans.put(msg)
                else:
                    fut.set_result(msg)
        finally:
            self.closed.set()
            with self._lock:
                for fut in self._pending.values():
                    fut.set_exception(ConnectionError("server closed the stream"))
                self._pending.clear()

    # ---- sending ---------------------------------------------------------------------
    def call(
        self, method: str, params: Any = None, timeout: float = 60.0, msg_id: Any = None
    ) -> dict[str, Any]:
        """Send a request; return the raw response message (result or error)."""
        msg_id = next(self._ids) if msg_id is None else msg_id
        fut: Future = Future()
        with self._lock:
            self._pending[msg_id] = fut
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            msg["params"] = params
        self._writer.write(msg)
        return fut.result(timeout)

    def request(self, method: str, params: Any = None, timeout: float = 60.0) -> Any:
        """Send a request; return its result or raise RpcError."""
        resp = self.call(method, params, timeout)
        if "error" in resp:
            e = resp["error"]
            raise RpcError(e["code"], e["message"], e.get("data"))
        return resp["result"]

    def notify(self, method: str, params: Any = None) -> None:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self._writer.write(msg)

    def send_raw(self, data: bytes) -> None:
        self._wfile.write(data)
        self._wfile.flush()

    # ---- waiting ---------------------------------------------------------------------
    def wait_notification(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 60.0
    ) -> dict[str, Any]:
        """The first queued notification matching ``predicate`` (others are dropped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching notification")
            msg = self.notifications.get(timeout=left)
            if predicate(msg):
                return msg

    def wait_job(
        self,
        job_id: str,
        timeout: float = 300.0,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Block until ``job.finished`` for ``job_id``; return its params."""

        def match(msg: dict[str, Any]) -> bool:
            params = msg.get("params") or {}
            if params.get("job_id") != job_id:
                return False
            if msg["method"] == "job.progress" and on_progress:
                on_progress(params)
            return msg["method"] == "job.finished"

        return self.wait_notification(match, timeout)["params"]

    def close(self, timeout: float = 30.0) -> int | None:
        """shutdown + exit, then wait for the child (if any) to end."""
        try:
            self.request("shutdown", timeout=timeout)
            self.notify("exit")
        except (ConnectionError, BrokenPipeError, OSError):
            pass
        if self.process is not None:
            return self.process.wait(timeout)
        return None
