"""JSON-RPC 2.0 over stdio (Content-Length framing): methods, jobs and the server.

Kept light on purpose: importing the method registry (``schema``) must not import torch;
the server lives in ``protocol.server``.
"""

from .errors import RpcError
from .framing import FrameReader, FrameWriter, FramingError, encode_frame
from .methods import METHODS, NOTIFICATIONS, contract

__all__ = [
    "METHODS",
    "NOTIFICATIONS",
    "FrameReader",
    "FrameWriter",
    "FramingError",
    "RpcError",
    "contract",
    "encode_frame",
]
