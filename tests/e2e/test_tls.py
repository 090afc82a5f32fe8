"""End to end over TLS with client certificates, as an attacker would try it: no
certificate gets no session, a certificate speaks only for its own terminal, an expired or
revoked one is turned away, and a new one after a revocation works. Nothing moves."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import pytest_twisted
from twisted.internet import reactor, task
from twisted.internet.ssl import Certificate, PrivateCertificate, optionsForClientTLS

from terminal_gateway import pki
from terminal_gateway.simulators.population import card_number, terminal_id

from .conftest import Gateway, journal

PROFILE = "club-t2"


def balance(gateway: Gateway, index: int) -> int:
    return json.loads(gateway.cli("member", "show", card_number(index)).stdout)["balance"]


def with_tls(gateway: Gateway) -> pki.Issued:
    """Put the club-t2 listener behind TLS with client certificates of a new CA; the CA."""
    ca = pki.authority("test clinic CA")
    server = pki.issue(ca, "localhost", client=False, hosts=("localhost", "127.0.0.1"))
    for name, data in (("ca.pem", ca.certificate), ("ca.key", ca.key), ("gateway.pem", server.certificate),
                       ("gateway.key", server.key)):
        (gateway.folder / name).write_bytes(data)
    port_line = f"port = {gateway.ports[PROFILE]}\n"
    tls = 'tls_certificate = "gateway.pem"\ntls_key = "gateway.key"\ntls_client_ca = "ca.pem"\n'
    gateway.config.write_text(gateway.config.read_text().replace(port_line, port_line + tls))
    return ca


def client(ca: pki.Issued, issued: pki.Issued | None) -> object:
    return optionsForClientTLS(
        "localhost", trustRoot=Certificate.loadPEM(ca.certificate),
        clientCertificate=PrivateCertificate.loadPEM(issued.certificate + issued.key) if issued else None)


def certificate_files(gateway: Gateway, tid: str) -> pki.Issued:
    return pki.Issued((gateway.folder / "certs" / f"{tid}.pem").read_bytes(),
                      (gateway.folder / "certs" / f"{tid}.key").read_bytes())


@pytest_twisted.ensureDeferred
async def test_client_certificates_bind_terminals_and_revocation_takes_effect(gateway: Gateway) -> None:
    ca = with_tls(gateway)
    gateway.enrol(members=3)
    mine, other = terminal_id(1), terminal_id(2)
    for tid in (mine, other):
        gateway.cli("terminal", "cert", tid, "--ca", str(gateway.folder), "--out", str(gateway.folder / "certs"))
    assert oct((gateway.folder / "certs" / f"{mine}.key").stat().st_mode & 0o777) == "0o600"
    gateway.start()

    terminal = await gateway.terminal(1, PROFILE, tls=client(ca, certificate_files(gateway, mine)))
    assert (await terminal.sign_on()).code == "00"
    paid = await terminal.send(terminal.fields("0200", "00", **terminal.money(card_number(1), 1_000, IN="I-1")),
                               "redeem over TLS")
    assert paid.code == "00"
    spoofed = terminal.fields("0200", "00", **terminal.money(card_number(2), 5_000, IN="I-2"))
    spoofed["41"] = other.ljust(8)
    assert (await terminal.send(spoofed, "redeem as another terminal")).code == "63"
    assert balance(gateway, 2) == 500_000
    assert any(row[1] == mine and row[2] == "63" and "client certificate" in row[4] for row in journal(gateway))

    with pytest.raises(Exception):  # noqa: B017 - the handshake fails: no session at all
        await (await gateway.terminal(3, PROFILE, tls=client(ca, None))).sign_on()
    stranger = pki.authority("someone else's CA")
    forged = pki.issue(stranger, mine, client=True)
    with pytest.raises(Exception):  # noqa: B017 - signed by another CA
        await (await gateway.terminal(1, PROFILE, tls=client(ca, forged))).sign_on()
    expired = pki.issue(ca, mine, client=True, not_before=datetime.now(UTC) - timedelta(days=10), days=1)
    with pytest.raises(Exception):  # noqa: B017 - expired
        await (await gateway.terminal(1, PROFILE, tls=client(ca, expired))).sign_on()

    gateway.cli("terminal", "revoke", mine)
    await task.deferLater(reactor, 1.0, lambda: None)  # the daemon polls for changes every 0.2 s here
    with pytest.raises(Exception):  # noqa: B017 - revoked: closed at its first request
        await (await gateway.terminal(1, PROFILE, tls=client(ca, certificate_files(gateway, mine)))).sign_on()
    gateway.cli("terminal", "cert", mine, "--ca", str(gateway.folder), "--out", str(gateway.folder / "certs"))
    renewed = await gateway.terminal(1, PROFILE, tls=client(ca, certificate_files(gateway, mine)))
    assert (await renewed.sign_on()).code == "00"
    assert balance(gateway, 1) == 499_000
    assert gateway.stop() == 0
    assert "-----BEGIN" not in gateway.log.read_text(), "no key or certificate in the log"


def test_tls_files_are_checked_when_the_configuration_is_read(gateway: Gateway) -> None:
    with_tls(gateway)
    (gateway.folder / "ca.pem").unlink()
    result = gateway.cli("init", check=False)
    assert result.returncode != 0 and "tls_client_ca" in result.stderr and "Traceback" not in result.stderr
