"""The station service without a reader: cards read from an in-process virtual card,
decisions handed to the gateway (a stub here), a missing extra named."""

from __future__ import annotations

import json
from pathlib import Path
from threading import Event
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import succeed

from terminal_gateway.config import ConfigError, load
from terminal_gateway.daemon.stations import StationService
from terminal_gateway.drivers.cardreader import CardRemoved
from terminal_gateway.private import write_private
from terminal_gateway.protocols.counter import parse_operation
from terminal_gateway.simulators.clubcard import VirtualClubCard, VirtualUidTag
from terminal_gateway.vocabulary import BalanceInquiry, Code, Malformed, Outcome, Redeem

from ..support import hide_driver_library
from ..test_config import EXAMPLE, write
from ..test_config_stations import KEY, STATIONS

PAN = "6037990000000001"


class FakeReader:
    description = "a reader in a test"
    problem = ""

    def __init__(self, card: Any = None):
        self.card = card

    def wait_for_card(self, timeout: float, cancelled: Event) -> bool:
        if self.card is None:
            cancelled.wait(timeout)
            return False
        return True

    def transceive(self, command: bytes) -> bytes:
        if self.card is None:
            raise CardRemoved("gone")
        return self.card.answer(command)

    def release(self) -> None:
        pass

    def close(self) -> None:
        pass


class FakeDispatcher:
    def __init__(self) -> None:
        self.requests: list[Any] = []

    def handle(self, request: Any, family: Any) -> Any:
        self.requests.append(request)
        if isinstance(request, Malformed):
            return succeed(Outcome(request.code, message=request.reason))
        return succeed(Outcome(Code.APPROVED, amount=getattr(request, "amount", 0) or 0, balance=1000))


@pytest.fixture
def service(tmp_path: Path) -> Any:
    write_private(tmp_path / "club-master.key", KEY)
    config = load(write(tmp_path, EXAMPLE + STATIONS.replace("uid_tags_redeem = true", "uid_tags_redeem = false")))
    reader = FakeReader()
    tags = {"04A1B2C3": PAN}
    made = StationService(config, FakeDispatcher(), lambda uid: succeed(tags.get(uid)), lambda token: succeed(None),
                          reactor,
                          readers={"CNTR0001": reader})
    made.reader = reader
    for worker in made.workers.values():
        worker.start()
    yield made
    for worker in made.workers.values():
        worker.stop()


async def operate(service: Any, card: Any, **body: Any) -> tuple[int, dict[str, Any]]:
    service.reader.card = card
    return await service.operate("CNTR0001", parse_operation(json.dumps(body).encode()), Event())


@pytest_twisted.ensureDeferred
async def test_a_genuine_card_is_decided_as_its_card_number(service: Any) -> None:
    status, answer = await operate(service, VirtualClubCard(PAN, KEY), kind="redeem", amount=500, invoice="I-1")
    assert (status, answer["code"], answer["amount"], answer["card_kind"]) == (200, "00", 500, "smart card")
    (request,) = service.gateway.requests
    assert isinstance(request, Redeem) and request.card.pan == PAN and request.terminal == "CNTR0001"
    assert request.branch is None and request.invoice == "I-1"


@pytest_twisted.ensureDeferred
async def test_a_counterfeit_is_declined_63_and_journalled(service: Any) -> None:
    status, answer = await operate(service, VirtualClubCard(PAN, bytes(16)), kind="balance")
    assert (status, answer["code"], answer["approved"]) == (200, "63", False)
    (request,) = service.gateway.requests
    assert isinstance(request, Malformed) and request.code is Code.SECURITY_VIOLATION
    assert "counterfeit club card 603799******0001" in request.reason and PAN not in request.reason


@pytest_twisted.ensureDeferred
async def test_uid_tags_earn_but_do_not_redeem_unless_configured(service: Any) -> None:
    tag = VirtualUidTag(bytes.fromhex("04A1B2C3"))
    _, answer = await operate(service, tag, kind="balance")
    assert answer["code"] == "00" and answer["card_kind"] == "uid tag"
    assert isinstance(service.gateway.requests[-1], BalanceInquiry)
    _, answer = await operate(service, tag, kind="redeem", amount=5, invoice="I-2")
    assert answer["code"] == "12" and isinstance(service.gateway.requests[-1], Malformed)
    _, answer = await operate(service, VirtualUidTag(bytes.fromhex("04000000")), kind="balance")
    assert answer["code"] == "14" and "04000000 was not issued" in answer["message"]


@pytest_twisted.ensureDeferred
async def test_no_card_and_an_unreadable_card_move_nothing(service: Any) -> None:
    status, answer = await operate(service, None, kind="balance", timeout=0.2)
    assert status == 408 and "within 0.2 s" in answer["message"]

    class NotClub:
        def answer(self, command: bytes) -> bytes:
            return bytes.fromhex("6D00")

    status, answer = await operate(service, NotClub(), kind="balance")
    assert status == 422 and "instruction not supported" in answer["message"]
    assert service.gateway.requests == []


def test_a_station_whose_driver_is_missing_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    hide_driver_library(monkeypatch, "pcsc")
    write_private(tmp_path / "club-master.key", KEY)
    config = load(write(tmp_path, EXAMPLE + STATIONS))
    with pytest.raises(ConfigError, match=r"stations\[0\]\.driver: station CNTR0001: the pcsc driver needs .*"
                                          r"pip install 'terminal-gateway\[pcsc\]'"):
        StationService(config, FakeDispatcher(), lambda uid: succeed(None), lambda token: succeed(None), reactor)
