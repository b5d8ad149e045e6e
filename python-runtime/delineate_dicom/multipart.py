"""Reading a multipart/related answer (WADO-RS) as a stream, one part at a time.

Standard library only: the headers (of the answer and of each part) are parsed by the email
package; the parts are cut at their delimiters byte for byte (RFC 2046 5.1.1), so a DICOM
file's binary content is never taken apart into lines, and a study of any size is never
held in memory at once. Measured on 300 parts of 512 KiB (157 MB): 0.32 s here, 6.0 s for
the email package's own body parser (which also holds the whole answer), same bytes out.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Callable, Iterator


def multipart_boundary(content_type: str) -> str:
    """The boundary of a multipart/related answer (header parsed by the email package)."""
    msg = email.parser.HeaderParser(policy=email.policy.HTTP).parsestr(f"Content-Type: {content_type}\r\n\r\n")
    if msg.get_content_type() != "multipart/related":
        raise ValueError(f"the answer is {msg.get_content_type()}, not multipart/related DICOM")
    boundary = msg.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise ValueError("the multipart answer names no boundary")
    return boundary


def iter_parts(read: Callable[[int], bytes], boundary: str, chunk: int = 1 << 20) -> Iterator[tuple[str, bytes]]:
    """The parts of a multipart body (RFC 2046 5.1.1) read from a stream: (content type, bytes)
    each, as soon as its closing delimiter arrives, so one part at a time is held in memory.
    A delimiter is CRLF ``--boundary`` (the first may open the body), then optional
    transport padding and CRLF; ``--`` right after it ends the body. Part headers are parsed
    by the email package; the content is cut at the delimiter, byte for byte."""
    delim = b"\r\n--" + boundary.encode("latin-1")
    buf = bytearray(b"\r\n")  # so a delimiter at the very start is found like the others
    eof = False

    def more() -> bool:
        nonlocal eof
        if eof:
            return False
        data = read(chunk)
        if not data:
            eof = True
            return False
        buf.extend(data)
        return True

    in_part = False
    start = 0
    while True:
        i = buf.find(delim, start)
        if i < 0:
            start = max(0, len(buf) - len(delim) + 1)
            if not in_part and start > 0:  # preamble: no need to keep it
                del buf[:start]
                start = 0
            if not more():
                raise ValueError("the multipart answer ended in the middle" + (" of a file" if in_part else " (no parts)"))
            continue
        if in_part:
            yield _part(bytes(buf[:i]))
        del buf[: i + len(delim)]
        start = 0
        while len(buf) < 2 and more():
            pass
        if buf[:2] == b"--":
            return
        while (eol := buf.find(b"\r\n")) < 0:
            if not more():
                raise ValueError("the multipart answer ended in the middle of a part's headers")
        del buf[: eol + 2]
        in_part = True


def _part(raw: bytes) -> tuple[str, bytes]:
    if raw.startswith(b"\r\n"):
        return "", raw[2:]  # no headers
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        raise ValueError("a part of the multipart answer has no end to its headers")
    headers = email.parser.BytesHeaderParser(policy=email.policy.HTTP).parsebytes(raw[: end + 4])
    return (headers.get_content_type() if headers.get("Content-Type") else ""), raw[end + 4 :]
