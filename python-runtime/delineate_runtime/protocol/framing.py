"""Content-Length framing (as LSP does it) over byte streams.

Why not python-lsp-jsonrpc's JsonRpcStreamReader: on a header without Content-Length it
calls ``read(None)`` and swallows the rest of the stream, and it drops unparsable bodies
without telling the client. Here a bad header raises :class:`FramingError` (the server
answers with a parse error) and the reader resynchronises on the next ``Content-Length``.
Lengths are counted in bytes of the UTF-8 body, never in characters.

A body is read in pieces, so a peer that declares a large Content-Length but sends little
costs only what it sent, never an allocation of the declared size.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any, BinaryIO

from .jsonsafe import to_json_safe

log = logging.getLogger(__name__)
# Requests carry paths and settings, never pixels (those travel as files), so a larger
# Content-Length is refused unread; the Node client holds the runtime's answers to the same.
MAX_BODY_BYTES = 64 * 1024 * 1024
# Bodies are read in pieces of this size (see the module docstring).
BODY_CHUNK = 1024 * 1024
# A header line longer than this is read in pieces, so a peer that never sends a newline
# cannot make the reader buffer without bound.
MAX_HEADER_LINE = 8192
_LENGTH = b"content-length"


class FramingError(Exception):
    """A header block could not be understood; the body (if any) is skipped."""


class MessageEncodeError(Exception):
    """A message could not be turned into JSON (e.g. an integer too long to print).

    Not an OSError or ValueError, so that the server can tell "this answer cannot be
    written" (answer with an error instead) from "the client is gone" (stop)."""


class FrameReader:
    def __init__(self, stream: BinaryIO, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self._stream = stream
        self._max_body_bytes = max_body_bytes

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
        if length < 0 or length > self._max_body_bytes:
            raise FramingError(f"Content-Length {length} out of range (0..{self._max_body_bytes})")
        body = self._read_body(length)
        if body is None:
            return None  # the peer went away mid-message
        if problems:
            log.warning("ignored %s", "; ".join(problems))
        return body

    def _read_body(self, length: int) -> bytes | None:
        """Exactly ``length`` bytes, or None at end of stream; allocates as bytes arrive."""
        parts: list[bytes] = []
        left = length
        while left > 0:
            part = self._stream.read(min(left, BODY_CHUNK))
            if not part:
                return None
            parts.append(part)
            left -= len(part)
        return b"".join(parts)

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


# Lone UTF-16 surrogates (e.g. from a client that sent the JSON escape \ud800) are valid in a
# Python str but cannot be encoded as UTF-8.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def encode_body(message: Any) -> bytes:
    """The UTF-8 JSON body of one message. Raises MessageEncodeError, never anything else.

    A lone surrogate can only occur inside a JSON string here, so it is written as its
    ``\\uXXXX`` escape: valid JSON that decodes back to the very same string."""
    try:
        text = json.dumps(to_json_safe(message), ensure_ascii=False, allow_nan=False)
        text = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
        return text.encode("utf-8")
    except Exception as exc:  # noqa: BLE001 - any failure here means "cannot encode"
        raise MessageEncodeError(f"{exc.__class__.__name__}: {exc}"[:300]) from exc


class FrameWriter:
    """Thread-safe writer: job threads send notifications while the main thread answers."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def write(self, message: Any) -> None:
        """Raises MessageEncodeError when ``message`` cannot be encoded (nothing is written),
        OSError/ValueError when the stream is closed."""
        body = encode_body(message)
        frame = b"Content-Length: %d\r\n\r\n" % len(body) + body
        with self._lock:
            self._stream.write(frame)
            self._stream.flush()


def encode_frame(message: Any) -> bytes:
    """One framed message (for clients and tests)."""
    body = json.dumps(message, ensure_ascii=False).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body
