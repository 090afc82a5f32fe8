"""End to end: SmartPOS terminals through the real daemon decide as Club-8583 terminals do."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
import pytest_twisted
from twisted.internet import defer

from terminal_gateway.simulators.population import card_number, terminal_id
from terminal_gateway.simulators.smartpos import SmartPOSTerminal, connect, pb

from .conftest import Gateway

PROFILE = "smartpos-app"


@pytest.fixture
def both(gateway: Gateway) -> Gateway:
    """The clinic's gateway (a Club-8583 listener per family) with a SmartPOS listener too."""
    gateway.add_listener("smartpos", PROFILE)
    return gateway


async def smartpos(gateway: Gateway, index: int, next_id: int = 1) -> SmartPOSTerminal:
    """SmartPOS terminal ``index`` connected to the gateway; closed with its other links."""
    terminal = await connect(gateway.ports[PROFILE], terminal_id(index), timeout=10, next_id=next_id)
    gateway.links.append(terminal.link)
    return terminal


def balance(gateway: Gateway, index: int) -> int:
    return json.loads(gateway.cli("member", "show", card_number(index)).stdout)["balance"]


@pytest_twisted.ensureDeferred
async def test_the_same_operations_get_the_same_decisions_as_club8583(both: Gateway) -> None:
    """Club-8583 on odd cards, SmartPOS on the next even ones (and invoices of their own: the
    invoice cap is per branch and invoice): caps and partial approval, a hold completed without
    the card, a reversal, a 5% accrual; each pair decided alike."""
    both.enrol(members=8)
    both.start()
    club = await both.terminal(1, "club-t2")
    await club.sign_on()
    pos = await smartpos(both, 2)
    assert (await pos.ping()).code == "00"

    # caps of the default silver group: invoice cap 100,000, daily cap 200,000
    for invoice, amount, total, expected in [("INV-1", 150_000, 900_000, ("10", 100_000, "INVOICE_CAP")),
                                             ("INV-2", 150_000, 0, ("10", 100_000, "DAILY_CAP")),
                                             ("INV-3", 1_000, 0, ("61", 0, "DAILY_CAP"))]:
        _, c = await club.redeem(card_number(1), amount, invoice, total=total or None)
        _, s = await pos.redeem(card_number(2), amount, "S-" + invoice, total=total)
        assert (c.code, c.amount, c.tags["RS"]) == expected
        assert (s.code, s.approved, s.limit) == expected
        assert (s.balance, s.daily_remaining) == (int(c.tags["AB"]), int(c.tags["DL"]))

    # a hold, completed for less (SmartPOS names the hold only), then completed again: 25
    _, club_hold = await club.redeem(card_number(3), 30_000, "INV-10", hold=True)
    _, pos_hold = await pos.redeem(card_number(4), 30_000, "S-INV-10", hold=True)
    assert (club_hold.code, club_hold.amount) == (pos_hold.code, pos_hold.approved) == ("00", 30_000)
    club_done = await club.complete(card_number(3), 20_000, club_hold.rrn)
    pos_done = await pos.complete(pos_hold.rrn, 20_000)
    assert (club_done.code, club_done.rrn) == ("00", club_hold.rrn)
    assert (pos_done.code, pos_done.approved, pos_done.rrn) == ("00", 20_000, pos_hold.rrn)
    assert (await club.complete(card_number(3), 1, club_hold.rrn)).code == "25"
    assert (await pos.complete(pos_hold.rrn, 1)).code == "25"

    # a redemption reversed: nothing stays taken
    club_sale_request, club_sale = await club.redeem(card_number(3), 5_000, "INV-11")
    pos_sale_request, pos_sale = await pos.redeem(card_number(4), 5_000, "S-INV-11")
    assert (club_sale.code, club_sale.amount) == (pos_sale.code, pos_sale.approved) == ("00", 5_000)
    assert (await club.reverse(club_sale_request, club_sale)).code == "00"
    assert (await pos.reverse(pos_sale_request)).code == "00"

    # an accrual earns 5% of the money paid (the clinic program's silver group)
    _, club_accrual = await club.accrue(card_number(5), 400_000, "INV-20")
    _, pos_accrual = await pos.accrue(card_number(6), 400_000, "S-INV-20", total=500_000)
    assert (club_accrual.code, club_accrual.earned) == ("00", 20_000)
    assert (pos_accrual.code, pos_accrual.approved, pos_accrual.balance) == ("00", 20_000, 520_000)
    assert (pos_accrual.points, pos_accrual.group) == (club_accrual.points, club_accrual.tags["TR"])

    assert balance(both, 3) == balance(both, 4) == 500_000 - 20_000
    assert balance(both, 5) == balance(both, 6) == 500_000 + 20_000
    assert both.stop() == 0


@pytest_twisted.ensureDeferred
async def test_an_answered_request_id_gets_its_stored_response(both: Gateway) -> None:
    """A repeat, even one sent while the first is in flight or after a restart, is answered
    with the stored response and processed once; a new id is decided anew."""
    both.enrol(members=4)
    both.start()
    pos = await smartpos(both, 3)
    first, answer = await pos.redeem(card_number(1), 40_000, "INV-1")
    assert (answer.code, answer.approved) == ("00", 40_000)
    changed = pb.Request()
    changed.CopyFrom(first)
    changed.redeem.amount = 90_000  # same id, other body: still the stored answer
    for repeat in (first, changed):
        again = await pos.repeat(repeat)
        assert (again.code, again.approved, again.rrn) == (answer.code, answer.approved, answer.rrn)

    # several in flight on one connection, each repeated before any answer came back
    sales = [pos.build(redeem=pb.Redeem(card=pos.card(card_number(2)), amount=1_000 * n, invoice=f"INV-P{n}"))
             for n in range(1, 6)]
    replies = await defer.gatherResults([defer.ensureDeferred(pos.send(m)) for m in sales + sales])
    assert [r.request_id for r in replies] == [m.request_id for m in sales + sales]
    assert [r.rrn for r in replies[:5]] == [r.rrn for r in replies[5:]]
    assert len({r.rrn for r in replies}) == 5

    reversal_request = pos.build(reverse=pb.Reverse(original_request_id=first.request_id))
    reversal = await pos.send(reversal_request)
    assert reversal.code == "00"
    assert (await pos.send(reversal_request)).code == "00", "a repeated reversal undoes nothing more"
    assert balance(both, 1) == 500_000
    assert balance(both, 2) == 500_000 - 15_000

    assert both.stop() == 0
    both.start()
    again = await smartpos(both, 3)
    replayed = await again.repeat(sales[0])
    assert (replayed.code, replayed.approved, replayed.rrn) == ("00", 1_000, replies[0].rrn)
    assert balance(both, 2) == 500_000 - 15_000
    assert both.stop() == 0


@pytest_twisted.ensureDeferred
async def test_bad_input_is_answered_30_or_closes_the_connection(both: Gateway) -> None:
    both.enrol(members=2)
    both.start()
    pos = await smartpos(both, 4)
    no_card = await pos.send(pos.build(redeem=pb.Redeem(amount=5_000, invoice="INV-1")))
    assert (no_card.code, no_card.message) == ("30", "redeem.card: missing")
    no_body = await pos.send(pos.build())
    assert no_body.code == "30" and "body" in no_body.message
    pin = "271828182845"
    wrong_pin = await pos.top_up(card_number(1), pin)
    assert wrong_pin.code == "55"
    pos.link.send_raw(b"\x03\xff\xff\xff")  # does not parse: the connection closes
    with pytest.raises(ConnectionError):
        await pos.ping()
    oversize = socket.create_connection(("127.0.0.1", both.ports[PROFILE]))
    oversize.sendall(b"\x81\x80\x04")  # 65,537 bytes announced
    assert oversize.recv(10) == b"", "closed before the body arrives"
    oversize.close()
    again = await smartpos(both, 4, next_id=pos.next_id)
    assert (await again.balance(card_number(1))).code == "00"
    day = subprocess.run([sys.executable, "-m", "terminal_gateway.simulators.smartpos", "--port",
                          str(both.ports[PROFILE]), "--terminal", "5", "--card", "2"],
                         capture_output=True, text=True, timeout=60)
    assert day.returncode == 0, day.stderr
    lines = day.stdout.splitlines()
    assert card_number(2) not in day.stdout
    # ping, balance, a sale over the invoice cap and its repeat, refund, hold, completion,
    # a sale and its reversal, accrual, return
    assert [line.split(" -> ")[1][:2] for line in lines] == ["00", "00", "10", "10"] + ["00"] * 7
    assert both.stop() == 0
    log = both.log.read_text()
    assert pin not in log and card_number(1) not in log
    assert "redeem.card: missing" in log
