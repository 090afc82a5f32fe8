"""The station service without a reader: operations parsed, cards read from an in-process
virtual card, decisions handed to the dispatcher (a stub here), a missing extra named."""

from __future__ import annotations

import json
from pathlib import Path
from threading import Event
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import succeed

from terminal_gateway.config import ConfigError, Station, load
from terminal_gateway.daemon import stations
from terminal_gateway.daemon.stations import BadOperation, Operation, StationService, parse_operation
from terminal_gateway.drivers import cardreader
from terminal_gateway.drivers.cardreader import CardRemoved, DriverMissing, open_reader
from terminal_gateway.simulators.clubcard import VirtualClubCard, VirtualUidTag
from terminal_gateway.vocabulary import BalanceInquiry, Code, Malformed, Outcome, Redeem

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
    (tmp_path / "club-master.key").write_bytes(KEY)
    config = load(write(tmp_path, EXAMPLE + STATIONS.replace("uid_tags_redeem = true", "uid_tags_redeem = false")))
    reader = FakeReader()
    tags = {"04A1B2C3": PAN}
    made = StationService(config, FakeDispatcher(), lambda uid: succeed(tags.get(uid)), reactor,
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
    (request,) = service.dispatcher.requests
    assert isinstance(request, Redeem) and request.card.pan == PAN and request.terminal == "CNTR0001"
    assert request.branch is None and request.invoice == "I-1"


@pytest_twisted.ensureDeferred
async def test_a_counterfeit_is_declined_63_and_journalled(service: Any) -> None:
    status, answer = await operate(service, VirtualClubCard(PAN, bytes(16)), kind="balance")
    assert (status, answer["code"], answer["approved"]) == (200, "63", False)
    (request,) = service.dispatcher.requests
    assert isinstance(request, Malformed) and request.code is Code.SECURITY_VIOLATION
    assert "counterfeit club card 603799******0001" in request.reason and PAN not in request.reason


@pytest_twisted.ensureDeferred
async def test_uid_tags_earn_but_do_not_redeem_unless_configured(service: Any) -> None:
    tag = VirtualUidTag(bytes.fromhex("04A1B2C3"))
    _, answer = await operate(service, tag, kind="balance")
    assert answer["code"] == "00" and answer["card_kind"] == "uid tag"
    assert isinstance(service.dispatcher.requests[-1], BalanceInquiry)
    _, answer = await operate(service, tag, kind="redeem", amount=5, invoice="I-2")
    assert answer["code"] == "12" and isinstance(service.dispatcher.requests[-1], Malformed)
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
    assert service.dispatcher.requests == []


@pytest.mark.parametrize(("body", "message"), [
    (b"[1]", "the body is not a JSON object"),
    (b"{", "the body is not JSON"),
    (b'{"kind": "redeem", "amount": 0, "invoice": "x"}', "amount: expected a whole number of minor units from 1"),
    (b'{"kind": "redeem", "amount": 5}', "invoice: expected 1 to 32 printable characters"),
    (b'{"kind": "refund", "amount": 5}', "rrn: expected 1 to 12 printable characters"),
    (b'{"kind": "balance", "timeout": 0}', "timeout: expected seconds"),
    (b'{"kind": "balance", "pin": "1"}', "pin: unknown field"),
])
def test_bad_operations_name_the_field(body: bytes, message: str) -> None:
    with pytest.raises(BadOperation, match=message):
        parse_operation(body)


def test_operations_become_requests_of_the_station() -> None:
    request = parse_operation(b'{"kind": "hold", "amount": 7, "invoice": "I", "reference": "r1"}').request("T1", PAN)
    assert isinstance(request, Redeem) and request.hold and request.key == "T1/r1"
    assert Operation("balance").request("T1", PAN).key is None


def test_a_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(cardreader.DRIVERS, "pcsc", ("terminal_gateway.drivers.pcsc:PcscReader", "pcsc",
                                                     "no_such_module_for_a_test"))
    with pytest.raises(DriverMissing, match=r"pip install 'terminal-gateway\[pcsc\]'"):
        open_reader(Station("pcsc", "Virtual PCD", "CNTR0001", "B"))
    (tmp_path / "club-master.key").write_bytes(KEY)
    config = load(write(tmp_path, EXAMPLE + STATIONS))
    with pytest.raises(ConfigError, match=r"stations\[0\]\.driver: station CNTR0001 uses the pcsc driver"):
        StationService(config, FakeDispatcher(), lambda uid: succeed(None), reactor)
    assert stations.FAMILY.partial_approval


def test_the_nfc_driver_reads_iso_dep_cards_and_uid_tags() -> None:
    pytest.importorskip("nfc", reason="nfcpy (the 'nfc' extra) is not installed: pip install -e '.[nfc]'")
    from nfc.tag.tt4 import Type4Tag

    from terminal_gateway.drivers.nfc import NfcReader
    from terminal_gateway.protocols.clubcard import Genuine, UidTag, read_card

    class IsoDep(Type4Tag):
        identifier = bytes.fromhex("08112233")

        def __init__(self, card: VirtualClubCard):
            self.card = card

        def transceive(self, data: bytes, timeout: float | None = None) -> bytes:
            return self.card.answer(data)

    class Sticker:
        identifier = bytes.fromhex("04A1B2C3D4E5F6")

    class Frontend:
        def __init__(self, tags: list[Any]):
            self.tags = tags

        def connect(self, rdwr: dict[str, Any], terminate: Any) -> Any:
            assert rdwr["on-connect"](None) is False  # return at once, the tag still activated
            return self.tags.pop(0) if self.tags else None

        def close(self) -> None:
            pass

    reader = NfcReader("usb", frontend=Frontend([IsoDep(VirtualClubCard(PAN, KEY)), Sticker()]))
    assert reader.wait_for_card(1, Event())
    assert read_card(reader.transceive, KEY) == Genuine(PAN)
    assert reader.wait_for_card(1, Event())
    assert read_card(reader.transceive, KEY) == UidTag("04A1B2C3D4E5F6")
    assert not reader.wait_for_card(0.1, Event())
    with pytest.raises(CardRemoved):
        reader.transceive(b"\x00\xa4\x04\x00")
