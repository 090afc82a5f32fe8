"""TLS on terminal listeners: modern protocol versions only, and, where the listener names a
client CA, a certificate from every terminal that binds its connection to the terminal it
names (its subject's common name).

A connection without a certificate the CA signed gets no session at all: the handshake
fails before a byte reaches a codec. A certificate revoked with ``terminal revoke`` (issued
before the terminal's ``certificates_from``) is refused at its first request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from OpenSSL import crypto
from twisted.internet.ssl import Certificate, CertificateOptions, PrivateCertificate, TLSVersion
from twisted.protocols.tls import TLSMemoryBIOFactory

from ..config import TlsFiles

__all__ = ["PeerCertificate", "TlsFactory", "peer_certificate", "server_options"]


def server_options(tls: TlsFiles) -> CertificateOptions:
    """The listener's TLS settings; a file that cannot be read raises with its name."""
    try:
        own = PrivateCertificate.loadPEM(tls.certificate.read_text() + "\n" + tls.key.read_text())
        authority = Certificate.loadPEM(tls.client_ca.read_text()) if tls.client_ca else None
    except (OSError, ValueError, crypto.Error) as error:
        raise ValueError(f"TLS files {tls.certificate}, {tls.key}: cannot be used ({error})") from None
    return CertificateOptions(
        privateKey=own.privateKey.original,
        certificate=own.original,
        raiseMinimumTo=TLSVersion.TLSv1_2,
        verify=authority is not None,
        caCerts=[authority.original] if authority else None,
        requireCertificate=authority is not None,
    )


class TlsFactory(TLSMemoryBIOFactory):
    """TLS around a terminal listener's factory; a connection that factory turns away (too
    many from one address) is closed before any handshake work is spent on it."""

    def buildProtocol(self, addr: Any) -> Any:
        wrapped = self.wrappedFactory.buildProtocol(addr)
        return None if wrapped is None else self.protocol(self, wrapped)


@dataclass(frozen=True, slots=True)
class PeerCertificate:
    """What a terminal's client certificate says: who it is, and since when it was issued."""

    terminal: str
    issued: datetime


def peer_certificate(transport: Any) -> PeerCertificate | None:
    """The verified client certificate of a TLS connection (``None``: not TLS, or none)."""
    getter = getattr(transport, "getPeerCertificate", None)
    x509 = getter() if getter is not None else None
    if x509 is None:
        return None
    subject = x509.get_subject().CN or ""
    issued = datetime.strptime(x509.get_notBefore().decode("ascii"), "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)
    return PeerCertificate(subject, issued)
