"""JSON-RPC 2.0 over stdio (Content-Length framing): methods, jobs and the server."""

from .errors import RpcError
from .framing import FrameReader, FrameWriter, FramingError, encode_frame
from .methods import METHODS, NOTIFICATIONS, contract
from .server import Server, serve_stdio

__all__ = [
    "METHODS",
    "NOTIFICATIONS",
    "FrameReader",
    "FrameWriter",
    "FramingError",
    "RpcError",
    "Server",
    "contract",
    "encode_frame",
    "serve_stdio",
]
