"""JSON-RPC error codes and the exception that carries them across the boundary.

Note: python-lsp-jsonrpc gives "internal error" -32602 (the code of invalid params); the
JSON-RPC 2.0 spec says -32603, which is what we send.
"""

from __future__ import annotations

from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# Server-defined codes (-32000..-32099).
INVALID_INPUT = -32001  # a file/dataset/bundle/checkpoint the params point to is wrong
JOB_NOT_FOUND = -32002
BUSY = -32003  # e.g. a second training job while one runs
SHUTTING_DOWN = -32004

ERROR_CODES = {
    "parse_error": PARSE_ERROR,
    "invalid_request": INVALID_REQUEST,
    "method_not_found": METHOD_NOT_FOUND,
    "invalid_params": INVALID_PARAMS,
    "internal_error": INTERNAL_ERROR,
    "invalid_input": INVALID_INPUT,
    "job_not_found": JOB_NOT_FOUND,
    "busy": BUSY,
    "shutting_down": SHUTTING_DOWN,
}


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return err
