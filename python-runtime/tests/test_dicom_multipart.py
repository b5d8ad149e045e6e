"""WADO-RS answers are multipart/related: delineate_dicom/multipart.py cuts them into parts as
they stream in. Binary parts come back byte for byte whatever they hold (CR, LF, dashes, the
boundary's own prefix) and however the stream is chunked; the standard's optional pieces
(preamble, epilogue, transport padding, a part without headers, a quoted boundary) are read;
a body that breaks off is an error, never a short file."""

from __future__ import annotations

import email
import email.policy
import io
import random

import pytest

from delineate_dicom.multipart import iter_parts, multipart_boundary

BOUNDARY = "b0und-ary.42"


def _payloads() -> list[bytes]:
    rng = random.Random(7)
    # Everything but the delimiter itself, which a part may not hold (RFC 2046 5.1.1).
    tricky = [b"\r\n--b0und-ary.4", b"\r\n--b0und-ary.4X", b"-b0und-ary.42", b"\n--b0und-ary.42", b"\r\n\r\n", b"\r", b"\n", b"--"]
    out = [b"", b"x", bytes(rng.randrange(256) for _ in range(5000))]
    out.append(b"".join(rng.choice(tricky) + bytes(rng.randrange(256) for _ in range(rng.randrange(20))) for _ in range(400)))
    out.append(b"\r\n--b0und-ary.4")  # a near-delimiter right at the end of a part
    assert not any(f"\r\n--{BOUNDARY}".encode() in p for p in out)
    return out


def _body(parts: list[bytes], headers: bytes = b"Content-Type: application/dicom\r\n") -> bytes:
    chunks = [b"This is a preamble; it is ignored.\r\n"]
    for p in parts:
        chunks.append(f"--{BOUNDARY} \t\r\n".encode() + headers + b"\r\n" + p + b"\r\n")
    chunks.append(f"--{BOUNDARY}--\r\nepilogue, ignored".encode())
    return b"".join(chunks)


@pytest.mark.parametrize("chunk", [1, 2, 3, 17, 4096, 1 << 20])
def test_parts_come_back_byte_for_byte_however_chunked(chunk: int) -> None:
    parts = _payloads()
    got = list(iter_parts(io.BytesIO(_body(parts)).read, BOUNDARY, chunk))
    assert [data for _, data in got] == parts
    assert {ctype for ctype, _ in got} == {"application/dicom"}


def test_agrees_with_the_email_package_on_a_plain_message() -> None:
    parts = [b"first part", b"second\r\npart", b"third"]
    body = _body(parts, b"Content-Type: application/dicom\r\nContent-Location: x\r\n")
    msg = email.message_from_bytes(
        f'Content-Type: multipart/related; type="application/dicom"; boundary="{BOUNDARY}"\r\n\r\n'.encode() + body,
        policy=email.policy.HTTP,
    )
    reference = [p.get_payload(decode=True) for p in msg.iter_parts()]
    assert reference == parts
    assert [d for _, d in iter_parts(io.BytesIO(body).read, BOUNDARY)] == reference


def test_a_part_without_headers_and_a_body_that_opens_with_its_delimiter() -> None:
    body = f"--{BOUNDARY}\r\n\r\nno headers\r\n--{BOUNDARY}--".encode()
    assert list(iter_parts(io.BytesIO(body).read, BOUNDARY, 3)) == [("", b"no headers")]


@pytest.mark.parametrize("cut", [10, 60, -20, -40])
def test_a_body_that_breaks_off_is_an_error(cut: int) -> None:
    body = _body([b"A" * 30, b"B" * 30])[:cut]
    with pytest.raises(ValueError, match="ended in the middle"):
        list(iter_parts(io.BytesIO(body).read, BOUNDARY, 7))


def test_boundary_from_the_content_type() -> None:
    assert multipart_boundary(f'multipart/related; type="application/dicom"; boundary="{BOUNDARY}"') == BOUNDARY
    assert multipart_boundary("Multipart/Related; boundary=abc; type=application/dicom") == "abc"
    with pytest.raises(ValueError, match="application/dicom\\+json, not multipart/related"):
        multipart_boundary("application/dicom+json")
    with pytest.raises(ValueError, match="names no boundary"):
        multipart_boundary("multipart/related; type=application/dicom")
