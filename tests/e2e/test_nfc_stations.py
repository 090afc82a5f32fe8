"""A counter station on the nfc driver end to end: the real daemon drives nfcpy's UDP reader
(device path ``udp:127.0.0.1:PORT``), a virtual card answers it from the other end of the UDP
link (``terminal_gateway/simulators/nfc_card.py``: an ISO-DEP club card, a Type 2 UID tag), and the counter
asks over HTTP. nfcpy itself activates the card (anticollision, select, RATS, ISO-DEP blocks).

Needs nfcpy (the 'nfc' extra); without it the tests are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import pytest
import pytest_twisted

from terminal_gateway.private import write_private
from terminal_gateway.protocols.clubcard.apdu import GET_UID
from terminal_gateway.simulators.clubcard import VirtualClubCard, VirtualUidTag
from terminal_gateway.simulators.local import free_port, wait_for_port
from terminal_gateway.simulators.nfc_card import NfcCard, free_udp_port
from terminal_gateway.simulators.population import BRANCH, card_number
from terminal_gateway.vocabulary import mask_pan

from ..support import pg_database
from .conftest import Gateway
from .test_stations import MASTER, STATION, Counter, balance, journal, station_token

pytest.importorskip("nfc", reason="nfcpy (the 'nfc' extra) is not installed: pip install -e '.[nfc]'")


class NfcStation:
    def __init__(self, gateway: Gateway, counter: Counter, udp_port: int):
        self.gateway, self.counter, self.udp_port = gateway, counter, udp_port
        self.reader = f"udp:127.0.0.1:{udp_port}"

    def card(self, card: VirtualClubCard | VirtualUidTag) -> NfcCard:
        """``card`` held to the station's reader (until the ``with`` ends)."""
        return NfcCard(card, self.udp_port)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def station(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NfcStation]:
    """One daemon for the module on each store (a start costs seconds); each test uses cards
    of its own and looks only at what it added to the journal."""
    folder = tmp_path_factory.mktemp(f"nfc-{request.param}")
    with contextlib.ExitStack() as stack:
        url = (f"sqlite:///{folder / 'gateway.db'}" if request.param == "sqlite"
               else stack.enter_context(pg_database()))
        gateway = Gateway(folder, url, profiles=("club-t2",))
        write_private(folder / "club-master.key", MASTER.hex() + "\n")
        port, udp_port = free_port(), free_udp_port()
        with gateway.config.open("a") as f:
            f.write(f'\n[clubcard]\nmaster_key_file = "club-master.key"\n\n[counter]\nport = {port}\n\n'
                    f'[[stations]]\ndriver = "nfc"\nreader = "udp:127.0.0.1:{udp_port}"\n'
                    f'terminal = "{STATION}"\nbranch = "{BRANCH}"\n')
        gateway.enrol(members=6, terminals=2)
        gateway.cli("terminal", "add", STATION, "--branch", BRANCH)
        token = station_token(gateway)
        stack.callback(lambda: gateway.kill() if gateway.process is not None else None)
        stack.callback(gateway.close_links)
        gateway.start()
        assert gateway.process is not None
        wait_for_port(port, gateway.process, gateway.log)
        yield NfcStation(gateway, Counter(port, token), udp_port)


@pytest_twisted.ensureDeferred
async def test_redeem_with_an_iso_dep_card_decides_as_club8583_would(station: NfcStation) -> None:
    gateway, counter = station.gateway, station.counter
    assert counter.ask() == (200, {"stations": [
        {"terminal": STATION, "branch": BRANCH, "driver": "nfc", "reader": station.reader, "busy": False}]})
    terminal = await gateway.terminal(1, "club-t2")
    await terminal.sign_on()
    orders = (("INV-7", 150_000), ("INV-8", 150_000), ("INV-9", 50_000))
    with station.card(VirtualClubCard(card_number(1), MASTER)) as held:
        answers = [counter.operate(kind="redeem", amount=amount, invoice=invoice, timeout=10)
                   for invoice, amount in orders]
    assert b"\xe0\x80" in held.frames  # nfcpy activated it as ISO-DEP (RATS), then sent I-blocks
    same = []
    for invoice, amount in orders:
        fields = terminal.fields("0200", "00", **terminal.money(card_number(2), amount, IN=f"T-{invoice}"))
        same.append(await terminal.send(fields, "redeem"))
    # silver: invoice cap 100000, daily cap 200000 -> 100000 (10), 100000 (10), declined 61
    assert [(status, a["code"], a["amount"]) for status, a in answers] == [
        (200, "10", 100_000), (200, "10", 100_000), (200, "61", 0)]
    assert answers[0][1]["limit"] == "INVOICE_CAP" and answers[2][1]["limit"] == "DAILY_CAP"
    assert [(r.fields["39"], int(r.fields.get("4", "0") or 0)) for r in same] == [
        (a["code"], a["amount"]) for _, a in answers]
    assert answers[0][1]["card"] == mask_pan(card_number(1)) and answers[0][1]["card_kind"] == "smart card"
    assert balance(gateway, card_number(1)) == balance(gateway, card_number(2)) == 300_000


def test_a_counterfeit_card_is_refused_and_recorded(station: NfcStation) -> None:
    gateway, counter = station.gateway, station.counter
    before = journal(gateway)
    with station.card(VirtualClubCard(card_number(3), bytes(16))):  # its key is not derived from our master key
        status, answer = counter.operate(kind="redeem", amount=50_000, invoice="INV-C", timeout=10)
    assert status == 200 and answer["code"] == "63" and answer["approved"] is False and answer["amount"] == 0
    assert "counterfeit" in answer["message"]
    assert balance(gateway, card_number(3)) == 500_000
    rows = journal(gateway)[len(before):]
    assert len(rows) == 1 and rows[0][:4] == ("malformed", STATION, "63", 0)
    assert "counterfeit club card" in rows[0][4] and card_number(3) not in rows[0][4]


def test_no_card_in_time_or_one_taken_away_moves_nothing(station: NfcStation) -> None:
    gateway, counter = station.gateway, station.counter
    before = journal(gateway)
    started = time.monotonic()
    status, answer = counter.operate(kind="redeem", amount=50_000, invoice="INV-T", timeout=1.5)
    elapsed = time.monotonic() - started
    assert status == 408 and answer["status"] == "timeout" and "within 1.5 s" in answer["message"]
    # one sense of nfcpy's UDP reader waits 1 s for an answer: the timeout is overrun by at most that
    assert "nothing moved" in answer["message"] and 1.4 < elapsed < 4

    class Snatched(VirtualClubCard):
        def answer(self, command: bytes) -> bytes:
            if command[:2] == b"\x00\x88":
                raise ConnectionAbortedError("taken away before it answered the challenge")
            return super().answer(command)

    with station.card(Snatched(card_number(4), MASTER)):
        status, answer = counter.operate(kind="redeem", amount=50_000, invoice="INV-R", timeout=10)
    assert status == 408 and "taken away" in answer["message"] and "nothing moved" in answer["message"]
    assert journal(gateway) == before
    assert balance(gateway, card_number(4)) == 500_000


def test_a_type2_uid_tag_earns_but_does_not_redeem(station: NfcStation) -> None:
    gateway, counter = station.gateway, station.counter
    assert "issued" in gateway.cli("card", "issue", "04:A1:B2:C3:D4:E5:F6", card_number(5)).stdout
    with station.card(VirtualUidTag(bytes.fromhex("04A1B2C3D4E5F6"))) as held:
        balance_status, balance_answer = counter.operate(kind="balance", timeout=10)
        redeem_status, redeem_answer = counter.operate(kind="redeem", amount=10_000, invoice="INV-U", timeout=10)
    assert not any(frame.startswith(b"\xe0") for frame in held.frames)  # a Type 2 tag: no RATS
    assert balance_status == 200 and balance_answer["code"] == "00" and balance_answer["balance"] == 500_000
    assert balance_answer["card_kind"] == "uid tag"
    assert redeem_status == 200 and redeem_answer["code"] == "12"
    with station.card(VirtualUidTag(bytes.fromhex("08FFFFFF"))):
        _status, answer = counter.operate(kind="balance", timeout=10)
    assert answer["code"] == "14" and "was not issued" in answer["message"]


@pytest.mark.parametrize("uid", ["08A1B2C3", "04A1B2C3D4E5F6", "04A1B2C3D4E5F607182A"])
def test_the_nfc_driver_on_nfcpys_udp_reader(uid: str) -> None:
    """No daemon: the driver itself against the virtual card, UIDs of each cascade length."""
    from terminal_gateway.drivers.nfc import NfcReader
    from terminal_gateway.protocols.clubcard import Genuine, UidTag, read_card

    port = free_udp_port()
    reader = NfcReader(f"udp:127.0.0.1:{port}")
    try:
        with NfcCard(VirtualClubCard(card_number(1), MASTER, uid=bytes.fromhex(uid)), port):
            assert reader.wait_for_card(5, threading.Event())
            assert reader.transceive(GET_UID) == bytes.fromhex(uid) + b"\x90\x00"
            assert read_card(reader.transceive, MASTER) == Genuine(card_number(1))
        with NfcCard(VirtualUidTag(bytes.fromhex(uid)), port):
            assert reader.wait_for_card(5, threading.Event())
            assert read_card(reader.transceive, MASTER) == UidTag(uid)
        cancel = threading.Event()
        threading.Timer(0.3, cancel.set).start()
        started = time.monotonic()
        assert not reader.wait_for_card(30, cancel)  # a cancel ends the wait within one sense (1 s)
        assert time.monotonic() - started < 2.5
    finally:
        reader.close()


def test_a_reader_that_fails_is_reopened_after_a_pause_not_in_a_busy_loop() -> None:
    from terminal_gateway.drivers.nfc import NfcReader

    class Unplugged:
        def __init__(self) -> None:
            self.connects = self.closes = 0

        def connect(self, rdwr: dict[str, object], terminate: object) -> bool:
            self.connects += 1
            return False  # what nfcpy's connect returns after logging an OSError of the device

        def close(self) -> None:
            self.closes += 1

    frontend = Unplugged()
    reader = NfcReader("udp:127.0.0.1:9", frontend=frontend)
    assert not reader.wait_for_card(0.5, threading.Event())
    assert frontend.connects == 1 and frontend.closes == 1
    assert "NFC reader 'udp:127.0.0.1:9' failed (nfcpy returned False" in reader.problem
