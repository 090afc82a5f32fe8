"""The counter API on a real socket (plain and TLS), with a fake set of stations: a request
without its station's bearer token, with another's, from a foreign page or Host, with a
non-JSON body or a deeply nested one is refused with its status, and nothing is operated."""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from threading import Event
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.threads import deferToThread
from twisted.logger import capturedLogs, formatEvent
from twisted.web.test.requesthelper import DummyChannel

from terminal_gateway.config import CounterSettings
from terminal_gateway.drivers.counter import BoundedRequest, counter_listener
from terminal_gateway.private import write_private
from terminal_gateway.protocols.counter import MAX_BODY, Operation, Reply

TOKENS = {"good-token-of-station-1": "CNTR0001", "good-token-of-station-2": "CNTR0002"}
GOOD = "good-token-of-station-1"
OPERATIONS = "/stations/CNTR0001/operations"
BALANCE = json.dumps({"kind": "balance", "timeout": 1}).encode()


class FakeStations:
    def __init__(self) -> None:
        self.operated: list[tuple[str, Operation]] = []
        self.store_down = False

    def holder(self, token: str) -> Deferred[str | None]:
        return fail(RuntimeError("the store is down")) if self.store_down else succeed(TOKENS.get(token))

    def serves(self, terminal: str) -> bool:
        return terminal in TOKENS.values()

    def listing(self) -> list[dict[str, Any]]:
        return [{"terminal": terminal} for terminal in sorted(TOKENS.values())]

    def operate(self, terminal: str, operation: Operation, cancel: Event) -> Deferred[Reply]:
        self.operated.append((terminal, operation))
        return succeed(Reply(200, {"status": "decided", "code": "00"}))


class Api:
    """The counter API listening on 127.0.0.1, asked as a client would."""

    def __init__(self, settings: CounterSettings, tls: ssl.SSLContext | None = None):
        self.stations = FakeStations()
        self.service = counter_listener(settings, self.stations, reactor)
        self.service.startService()
        self.port = self.service.port.getHost().port
        self.tls = tls

    def ask(self, method: str, path: str, body: bytes | None = None, token: str | None = GOOD,
            **headers: str) -> Deferred[tuple[int, dict[str, Any], http.client.HTTPResponse]]:
        sent = {"Content-Type": "application/json", "Content-Length": str(len(body or b""))} if method == "POST" else {}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        sent.update({name.replace("_", "-"): value for name, value in headers.items()})
        return deferToThread(self._ask, method, path, body, sent)

    def _ask(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Any:
        connection = (http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls, timeout=10) if self.tls
                      else http.client.HTTPConnection("127.0.0.1", self.port, timeout=10))
        try:
            connection.putrequest(method, path, skip_host="Host" in headers)
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders(body)
            answer = connection.getresponse()
            return answer.status, json.loads(answer.read()), answer
        finally:
            connection.close()


@pytest.fixture
def api() -> Iterator[Api]:
    made = Api(CounterSettings(port=0, allowed_origins=("https://counter.clinic.example",),
                               host_names=("counter.clinic.example",)))
    yield made
    made.service.stopService()


@pytest_twisted.ensureDeferred
async def test_a_station_with_its_token_is_served(api: Api) -> None:
    status, answer, _ = await api.ask("POST", OPERATIONS, BALANCE)
    assert (status, answer["code"]) == (200, "00")
    status, answer, _ = await api.ask("GET", "/stations", token="good-token-of-station-2")
    assert status == 200 and [s["terminal"] for s in answer["stations"]] == ["CNTR0001", "CNTR0002"]
    assert [terminal for terminal, _ in api.stations.operated] == ["CNTR0001"]


@pytest.mark.parametrize(("token", "why"), [(None, "no bearer token"), ("made-up", "the bearer token is wrong"),
                                            ("good-token-of-station-2", "the bearer token is wrong")])
@pytest_twisted.ensureDeferred
async def test_without_the_stations_own_token_nothing_is_done_and_the_attempt_is_logged(
        api: Api, token: str | None, why: str) -> None:
    with capturedLogs() as events:
        status, answer, response = await api.ask("POST", OPERATIONS, BALANCE, token=token)
    assert status == 401 and answer["status"] == "unauthorized" and answer["message"].startswith(why)
    assert "station CNTR0001" in answer["message"] and "nothing was done" in answer["message"]
    assert response.getheader("WWW-Authenticate", "").startswith("Bearer")
    assert api.stations.operated == []
    logged = [formatEvent(event) for event in events]
    assert any("refused POST /stations/CNTR0001/operations from 127.0.0.1: 401" in line for line in logged)
    assert token is None or not any(token in line for line in logged)


@pytest_twisted.ensureDeferred
async def test_the_listing_needs_a_token_too(api: Api) -> None:
    assert (await api.ask("GET", "/stations", token=None))[0] == 401
    assert (await api.ask("GET", "/stations", token="made-up"))[0] == 401
    assert (await api.ask("GET", "/stations", token=None, Authorization=f"Basic {GOOD}"))[0] == 401


FORM = b'--x\r\nContent-Disposition: form-data; name="kind"\r\n\r\nbalance\r\n--x--\r\n'


@pytest.mark.parametrize(("content_type", "body"), [("text/plain", BALANCE), ("", BALANCE),
                                                    ("application/x-www-form-urlencoded", b"kind=balance"),
                                                    ("multipart/form-data; boundary=x", FORM)])
@pytest_twisted.ensureDeferred
async def test_a_cross_site_form_post_is_refused_415(api: Api, content_type: str, body: bytes) -> None:
    status, answer, _ = await api.ask("POST", OPERATIONS, body, Content_Type=content_type)
    assert status == 415 and "application/json" in answer["message"] and api.stations.operated == []


@pytest_twisted.ensureDeferred
async def test_json_with_a_charset_is_json(api: Api) -> None:
    status, _, _ = await api.ask("POST", OPERATIONS, BALANCE, Content_Type="application/JSON; charset=utf-8")
    assert status == 200 and len(api.stations.operated) == 1


@pytest_twisted.ensureDeferred
async def test_only_the_configured_origins_may_ask(api: Api) -> None:
    for origin in ("https://evil.example", "null", "http://counter.clinic.example"):
        status, answer, _ = await api.ask("POST", OPERATIONS, BALANCE, Origin=origin)
        assert status == 403 and "allowed_origins" in answer["message"]
    assert api.stations.operated == []
    status, _, _ = await api.ask("POST", OPERATIONS, BALANCE, Origin="https://Counter.Clinic.example")
    assert status == 200 and len(api.stations.operated) == 1


@pytest_twisted.ensureDeferred
async def test_the_host_must_be_this_listener(api: Api) -> None:
    for host in ("evil.example", f"evil.example:{api.port}", f"127.0.0.1:{api.port + 1}", "localhost:x"):
        status, answer, _ = await api.ask("POST", OPERATIONS, BALANCE, Host=host)
        assert status == 421 and "host_names" in answer["message"], host
    status, answer, _ = await api.ask("POST", OPERATIONS, BALANCE, Host="")
    assert status == 400 and answer["message"] == "the Host header is required"
    assert api.stations.operated == []
    for host in (f"localhost:{api.port}", "counter.clinic.example", f"127.0.0.1:{api.port}"):
        assert (await api.ask("POST", OPERATIONS, BALANCE, Host=host))[0] == 200
    assert len(api.stations.operated) == 3


@pytest_twisted.ensureDeferred
async def test_a_body_nested_deeper_than_8_is_400_and_the_api_still_answers(api: Api) -> None:
    status, answer, _ = await api.ask("POST", OPERATIONS, b"[" * 65536)
    assert status == 400 and answer["message"] == "the body nests arrays or objects more than 8 deep"
    status, answer, _ = await api.ask("POST", OPERATIONS, b"{" + b" " * 65536 + b"}")
    assert status == 400 and answer["message"] == "the body is larger than 64 KiB"
    assert api.stations.operated == []
    assert (await api.ask("POST", OPERATIONS, BALANCE))[0] == 200


@pytest.mark.parametrize("length", [None, 10_000_000])  # chunked, or a Content-Length
def test_no_more_of_a_body_is_kept_than_one_byte_past_the_largest_operation(length: int | None) -> None:
    request = BoundedRequest(DummyChannel())
    request.gotLength(length)
    for _ in range(100):
        request.handleContentChunk(b" " * 100_000)
    assert request.content.tell() == MAX_BODY + 1


@pytest_twisted.ensureDeferred
async def test_a_token_that_cannot_be_checked_is_503(api: Api) -> None:
    api.stations.store_down = True
    status, answer, _ = await api.ask("POST", OPERATIONS, BALANCE)
    assert status == 503 and "cannot check" in answer["message"] and api.stations.operated == []


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made here, as a clinic's own CA would."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "counter API test")])
    now = datetime.now(UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=1))
                   .not_valid_after(now + timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_file = folder / "counter.crt"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file = write_private(folder / "counter.key", key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_file, key_file


@pytest_twisted.ensureDeferred
async def test_the_api_over_tls_with_the_stations_token(tmp_path: Path) -> None:
    cert_file, key_file = self_signed(tmp_path)
    client = ssl.create_default_context(cafile=str(cert_file))
    api = Api(CounterSettings(description=f"ssl:0:interface=127.0.0.1:privateKey={key_file}:certKey={cert_file}"),
              tls=client)
    try:
        status, answer, _ = await api.ask("POST", OPERATIONS, BALANCE)
        assert (status, answer["code"]) == (200, "00")
        assert (await api.ask("POST", OPERATIONS, BALANCE, token=None))[0] == 401
        untrusting = Api.__new__(Api)
        untrusting.port, untrusting.tls = api.port, ssl.create_default_context()
        with pytest.raises(ssl.SSLCertVerificationError):
            await untrusting.ask("POST", OPERATIONS, BALANCE)
        assert len(api.stations.operated) == 1
    finally:
        await api.service.stopService()
