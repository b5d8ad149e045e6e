"""Content-Length framing (as LSP does it) over byte streams.

Why not python-lsp-jsonrpc's JsonRpcStreamReader: on a header without Content-Length it
calls ``read(None)`` and swallows the rest of the stream, and it drops unparsable bodies
without telling the client. Here a bad header raises :class:`FramingError` (the server
answers with a parse error) and the reader resynchronises on the next ``Content-Length``.
Lengths are counted in bytes of the UTF-8 body, never in characters.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, BinaryIO

from .jsonsafe import to_json_safe

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 256 * 1024 * 1024
# A header line longer than this is read in pieces, so a peer that never sends a newline
# cannot make the reader buffer without bound.
MAX_HEADER_LINE = 8192
_LENGTH = b"content-length"


class FramingError(Exception):
    """A header block could not be understood; the body (if any) is skipped."""


class FrameReader:
    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def read(self) -> bytes | None:
        """The next body, or None at end of stream. Raises FramingError on a bad header."""
        line = self._next_header_start()
        if line is None:
            return None
        headers: dict[bytes, bytes] = {}
        problems = []
        while line.strip():
            name, sep, value = line.partition(b":")
            if not sep:
                problems.append(f"malformed header line {line.strip()[:60]!r}")
            else:
                headers[name.strip().lower()] = value.strip()
            line = self._stream.readline(MAX_HEADER_LINE)
            if not line:
                return None
        if _LENGTH not in headers:
            raise FramingError("; ".join(problems + ["missing Content-Length header"]))
        raw = headers[_LENGTH]
        try:
            length = int(raw)
        except ValueError:
            raise FramingError(f"Content-Length is not an integer: {raw[:40]!r}") from None
        if length < 0 or length > MAX_BODY_BYTES:
            raise FramingError(f"Content-Length {length} out of range (0..{MAX_BODY_BYTES})")
        body = self._stream.read(length)
        if len(body) < length:
            return None  # the peer went away mid-message
        if problems:
            log.warning("ignored %s", "; ".join(problems))
        return body

    def _next_header_start(self) -> bytes | None:
        """Skip blank lines and garbage until a line holding a header; a garbage prefix
        before ``Content-Length`` (an unterminated body after a bad header) is cut off."""
        while True:
            line = self._stream.readline(MAX_HEADER_LINE)
            if not line:
                return None
            if not line.strip():
                continue
            idx = line.lower().find(_LENGTH)
            if idx > 0:
                log.warning("skipped %d bytes of garbage before a header", idx)
                return line[idx:]
            if idx == 0 or b":" in line:
                return line
            log.warning("skipped a line that is not a header: %r", line[:60])


class FrameWriter:
    """Thread-safe writer: job threads send notifications while the main thread answers."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def write(self, message: Any) -> None:
        body = json.dumps(to_json_safe(message), ensure_ascii=False, allow_nan=False).encode(
            "utf-8"
        )
        frame = b"Content-Length: %d\r\n\r\n" % len(body) + body
        with self._lock:
            self._stream.write(frame)
            self._stream.flush()


def encode_frame(message: Any) -> bytes:
    """One framed message (for clients and tests)."""
    body = json.dumps(message, ensure_ascii=False).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body
