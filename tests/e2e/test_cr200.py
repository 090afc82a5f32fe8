"""End to end: CR-200 readers on pseudo-terminals made by socat, through the real daemon."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
import pytest_twisted

from terminal_gateway.simulators.cr200 import LinkGaveUp, PtyPair, SimulatedReader, socat_available
from terminal_gateway.simulators.population import card_number, terminal_id

from .conftest import Gateway

READER = terminal_id(8)  # a registered terminal of the clinic, acting as the reader

pytestmark = pytest.mark.skipif(not socat_available(), reason="socat is not installed: no pseudo-terminal pair "
                                "for a CR-200 reader (apt-get install socat, or scripts/bootstrap)")


class ReaderGateway(Gateway):
    """The clinic's gateway with one CR-200 listener on the gateway's end of a socat pair."""

    def __init__(self, folder: Path, url: str):
        super().__init__(folder, url, profiles=("club-t2",))
        self.pair = PtyPair(folder / "cr200-gateway", folder / "cr200-reader")
        self.config.write_text(self.config.read_text() + (
            f'\n[[listeners]]\nprotocol = "cr200"\nprofile = "cr200-fw2"\ndevice = "{self.pair.gateway_end}"\n'
            f'terminal = "{READER}"\nbranch = "CLINIC000000001"\nbaudrate = 115200\n'))
        self.readers: list[SimulatedReader] = []

    def reader(self, seconds: float = 15) -> SimulatedReader:
        """The simulated reader, once the gateway answers it."""
        reader = SimulatedReader(self.pair.reader_end)
        self.readers.append(reader)
        deadline = time.monotonic() + seconds
        while True:
            try:
                assert reader.ping().kind == "p"
                return reader
            except (LinkGaveUp, TimeoutError):
                if time.monotonic() > deadline:
                    raise

    def wait_for_log(self, text: str, seconds: float = 10) -> None:
        deadline = time.monotonic() + seconds
        while text not in self.log.read_text():
            assert time.monotonic() < deadline, f"{text!r} not in the log"
            time.sleep(0.05)

    def member(self, index: int) -> dict:
        return json.loads(self.cli("member", "show", card_number(index)).stdout)


@pytest.fixture
def gateway(tmp_path: Path, store_url: str) -> Iterator[ReaderGateway]:
    installation = ReaderGateway(tmp_path, store_url)
    installation.pair.start()
    yield installation
    installation.close_links()
    for reader in installation.readers:
        reader.close()
    if installation.process is not None:
        installation.kill()
    installation.pair.stop()


@pytest_twisted.ensureDeferred
async def test_reader_decides_as_club8583_repeats_and_cancels(gateway: ReaderGateway) -> None:
    gateway.enrol(members=5)
    gateway.start()
    reader = gateway.reader()
    terminal = await gateway.terminal(1, "club-t2")
    await terminal.sign_on()
    card, other = card_number(1), card_number(2)

    shown = reader.present(card)
    assert (shown.kind, shown.lines) == ("D", ("silver", "Balance 500000"))
    asked = reader.balance(card)
    assert (asked.code, asked.amount, asked.balance) == ("00", 0, 500_000)

    # The same payments on the reader and on a Club-8583 terminal, each on its own card and
    # invoices: the same decisions (silver: invoice cap 100000, daily cap 200000).
    payments = [(150_000, "INV-1", 900_000), (150_000, "INV-2", 0), (1_000, "INV-3", 0)]
    answers, seqs = [], []
    for amount, invoice, total in payments:
        seqs.append(f"{reader.seq:04d}")
        paid = reader.pay(card, f"R-{invoice}", amount, total)
        if invoice == "INV-1":
            again = reader.repeat()  # its answer was lost: the same answer, nothing paid twice
            assert again == paid
            assert gateway.member(1)["balance"] == 400_000
        _, twin = await terminal.redeem(other, amount, f"T-{invoice}", total or None)
        assert (paid.code, paid.amount) == (twin.code, twin.amount), invoice
        answers.append((paid.code, paid.amount, paid.balance))
    assert answers == [("10", 100_000, 400_000), ("10", 100_000, 300_000), ("61", 0, 300_000)]

    cancel = reader.cancel(seqs[1])
    assert (cancel.code, cancel.amount) == ("00", 100_000)
    assert gateway.member(1)["balance"] == 400_000
    assert reader.cancel(seqs[1]).code == "00", "already reversed: nothing more to undo"
    assert gateway.member(1)["balance"] == 400_000
    assert reader.cancel("9876").code == "25"

    # The reader ACKs nothing: the gateway sends the answer three times, 500 ms apart, then
    # gives it up; the reader's repeat still gets it, from memory.
    copies = reader.without_acks("B", card)
    assert [reply for _, reply in copies] == [copies[0][1]] * 3 and copies[0][1].balance == 400_000
    assert all(later - earlier > 0.4 for (earlier, _), (later, _) in pairwise(copies))
    assert reader.repeat() == copies[0][1]

    bad = reader.request("S", card, "R-INV-4", "12a", "0")
    assert bad.fields[2:5] == ("30", "0", "0") and bad.lines[0] == "Bad amount"
    assert reader.request("Q").fields[2:] == ("30", "0", "0", "Unknown command", "'Q'")
    assert gateway.stop() == 0
    log = gateway.log.read_text()
    assert card not in log, "a full card number reached the log"
    assert "no ACK after 3 sends" in log


def test_unplugged_reader_and_killed_gateway_come_back(gateway: ReaderGateway) -> None:
    gateway.enrol(members=2)
    gateway.pair.stop()  # not plugged in yet: the gateway starts all the same, and waits
    gateway.start()
    gateway.wait_for_log("waiting for the CR-200 reader")
    gateway.pair.start()
    reader = gateway.reader()
    card = card_number(1)
    assert reader.balance(card).code == "00"
    reader.close()
    gateway.pair.stop()  # unplugged: the device path disappears
    assert not gateway.pair.gateway_end.exists()
    time.sleep(1.5)
    gateway.pair.start()  # plugged back: the path is there again, on a new pseudo-terminal
    reader = gateway.reader()
    paid = reader.pay(card, "R-INV-1", 10_000)
    assert (paid.code, paid.amount, paid.balance) == ("00", 10_000, 490_000)

    # kill -9 as if the answer never reached the reader: the restarted gateway remembers the
    # payment, so the reader's repeat gets the same answer and pays nothing
    gateway.kill()
    gateway.start()
    assert reader.repeat() == paid
    assert gateway.member(1)["balance"] == 490_000
    cancel = reader.cancel(paid.seq)  # and the history for cancels is back too
    assert (cancel.code, cancel.amount) == ("00", 10_000)
    assert gateway.member(1)["balance"] == 500_000
    assert gateway.stop() == 0
    log = gateway.log.read_text()
    assert "is back; port reopened" in log and "earlier requests of the reader remembered" in log, log[-2000:]
