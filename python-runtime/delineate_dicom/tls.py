"""DICOM over TLS for DIMSE destinations (PS3.15 Annex B, the TLS secure transport profile).

A destination's optional ``tls`` object (as the app stores it, in snake case):

    {"enabled": true,
     "ca_file": "/abs/ca.pem" | null,        the CA certificate(s) to trust; null: the system's store
     "cert_file": "/abs/client.pem" | null,  our certificate, for a PACS that wants mutual TLS
     "key_file": "/abs/client.key" | null,   its private key (null: in cert_file)
     "server_name": "pacs.example.org" | null}  the name the PACS's certificate must carry; null: host

The PACS's certificate is always verified (CERT_REQUIRED, with its name checked). pynetdicom
gets the context through ``AE.associate(tls_args=(context, server_name))``; it reports a failed
handshake only as an aborted association, so a handshake of our own first (and, when an
association is aborted, a second look) turns what went wrong into one sentence: the
certificate is not trusted and why, the port does not speak TLS, the PACS refused our
certificate, or the port speaks TLS while the destination does not.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any


def context(d: dict[str, Any], where: str) -> tuple[ssl.SSLContext, str] | None:
    """The verifying client context and the server name to check, or None without TLS."""
    tls = d.get("tls") or {}
    if not tls.get("enabled"):
        return None
    ca = tls.get("ca_file") or None
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"{where}: the CA certificate {ca} cannot be read ({_reason(exc)})") from exc
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.check_hostname = True
    cert, key = tls.get("cert_file") or None, tls.get("key_file") or None
    if cert:
        try:
            ctx.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"{where}: our client certificate {cert}{f' with key {key}' if key else ''} cannot be used ({_reason(exc)})") from exc
    elif key:
        raise ValueError(f"{where}: a client key ({key}) was given without its certificate")
    return ctx, str(tls.get("server_name") or d["host"])


def check(d: dict[str, Any], where: str, tls: tuple[ssl.SSLContext, str], timeout: float) -> None:
    """A TLS handshake with the PACS, before pynetdicom's, to say why it fails."""
    ctx, name = tls
    try:
        with socket.create_connection((d["host"], int(d["port"])), timeout=timeout) as sock, ctx.wrap_socket(sock, server_hostname=name):
            pass
    except ssl.SSLCertVerificationError as exc:
        raise ValueError(f"{where}: the PACS's certificate is not trusted: {(exc.verify_message or _reason(exc)).rstrip('.')} (checked as {name})") from exc
    except ssl.SSLError as exc:
        raise ValueError(f"{where}: no TLS answer ({_reason(exc)}): is DICOM TLS enabled on that port?") from exc
    except (ConnectionError, TimeoutError, OSError) as exc:
        raise ValueError(f"{where}: the connection closed during the TLS handshake ({_reason(exc)}): is DICOM TLS enabled on that port?") from exc


def why_aborted(d: dict[str, Any], where: str, tls: tuple[ssl.SSLContext, str] | None, timeout: float) -> str:
    """An aborted association, explained where TLS is the reason."""
    probe = min(timeout, 3.0)
    if tls is not None:
        # TLS 1.3 settles the client certificate after the handshake: the PACS's alert comes with
        # the first read.
        ctx, name = tls
        try:
            with socket.create_connection((d["host"], int(d["port"])), timeout=probe) as sock, ctx.wrap_socket(sock, server_hostname=name) as s:
                s.recv(1)
        except ssl.SSLError as exc:
            return f"{where} refused our TLS connection ({_reason(exc)}): it may want a client certificate it trusts"
        except (OSError, TimeoutError):
            pass
        return f"{where} aborted the association over TLS"
    # No TLS configured: does the port speak TLS? (Any certificate will do for asking.)
    plain = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    plain.check_hostname = False
    plain.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((d["host"], int(d["port"])), timeout=probe) as sock, plain.wrap_socket(sock):
            return f"{where} aborted the association: that port expects DICOM over TLS; turn TLS on for this destination"
    except (OSError, TimeoutError):  # ssl.SSLError is an OSError
        return f"{where} aborted the association"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).replace("_", " ").lower()
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
