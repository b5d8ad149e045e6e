"""Content-Length framing: byte lengths, multi-byte UTF-8, bad headers and resync."""

from __future__ import annotations

import io
import json

import pytest

from delineate_runtime.protocol.framing import FrameReader, FrameWriter, FramingError, encode_frame

TEXT = "Läsion ✓ 肺結節 🫁"  # 1-, 2-, 3- and 4-byte UTF-8 sequences


def test_length_counts_bytes_not_characters():
    out = io.BytesIO()
    FrameWriter(out).write({"note": TEXT})
    raw = out.getvalue()
    header, body = raw.split(b"\r\n\r\n", 1)
    assert int(header.split(b":")[1]) == len(body)
    assert len(body) > len(body.decode("utf-8"))  # characters != bytes for this text
    assert json.loads(body)["note"] == TEXT


def test_reads_back_consecutive_frames_with_utf8():
    stream = io.BytesIO(encode_frame({"a": TEXT}) + encode_frame({"b": 2}))
    reader = FrameReader(stream)
    assert json.loads(reader.read())["a"] == TEXT
    assert json.loads(reader.read()) == {"b": 2}
    assert reader.read() is None


def test_extra_headers_any_case_are_accepted():
    body = b'{"x": 1}'
    stream = io.BytesIO(
        b"content-length: 8\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n"
        + body
    )
    assert FrameReader(stream).read() == body


@pytest.mark.parametrize(
    "header,needle",
    [
        (b"Content-Length: abc\r\n\r\n", "not an integer"),
        (b"Content-Type: text/plain\r\n\r\n", "missing Content-Length"),
        (b"Content-Length: -5\r\n\r\n", "out of range"),
    ],
)
def test_bad_header_raises_then_reader_resyncs(header, needle):
    good = encode_frame({"ok": True})
    stream = io.BytesIO(header + b'{"lost": 1}' + good)
    reader = FrameReader(stream)
    with pytest.raises(FramingError, match=needle):
        reader.read()
    # The unframed body is skipped; the next well-formed message still arrives.
    assert json.loads(reader.read()) == {"ok": True}


def test_garbage_lines_between_frames_are_skipped():
    stream = io.BytesIO(b"hello there\r\n\r\n" + encode_frame({"n": 1}))
    assert json.loads(FrameReader(stream).read()) == {"n": 1}


def test_a_huge_line_without_newline_is_read_in_bounded_pieces():
    class CountingStream(io.BytesIO):
        longest = 0

        def readline(self, size: int | None = -1) -> bytes:  # type: ignore[override]
            line = super().readline(size)
            CountingStream.longest = max(CountingStream.longest, len(line))
            return line

    stream = CountingStream(b"x" * 5_000_000 + b"\r\n" + encode_frame({"n": 2}))
    assert json.loads(FrameReader(stream).read()) == {"n": 2}
    assert CountingStream.longest <= 8192


def test_truncated_body_is_end_of_stream():
    stream = io.BytesIO(b'Content-Length: 100\r\n\r\n{"short": 1}')
    assert FrameReader(stream).read() is None


def test_writer_replaces_nan_with_null():
    out = io.BytesIO()
    FrameWriter(out).write({"loss": float("nan"), "eta": float("inf")})
    body = out.getvalue().split(b"\r\n\r\n", 1)[1]
    assert json.loads(body) == {"loss": None, "eta": None}


def test_stray_output_goes_to_stderr_not_the_protocol_stream():
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import os\n"
        "from delineate_runtime.protocol.stdio import protocol_stdio\n"
        "from delineate_runtime.protocol.framing import FrameWriter\n"
        "_, out = protocol_stdio()\n"
        "print('a stray print')\n"
        "os.write(1, b'C-level write\\n')\n"
        "FrameWriter(out).write({'ok': True})\n"
    )
    root = str(Path(__file__).resolve().parents[1])
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": root},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == encode_frame({"ok": True})
    assert b"a stray print" in proc.stderr and b"C-level write" in proc.stderr
