"""The simulated terminal's new requests and replies, through the real codecs, no network."""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import date
from typing import Any, TypeVar

import pytest
from twisted.internet import defer

from terminal_gateway.protocols.club8583 import Decoded, HostCodec, Profile, TerminalCodec
from terminal_gateway.simulators.club8583 import Reply, SimulatedTerminal
from terminal_gateway.vocabulary import (
    AccrualReturn,
    Accrue,
    ActivateGift,
    BalanceInquiry,
    CardRef,
    Code,
    Outcome,
    Reverse,
    ServiceLine,
    TopUp,
)

from .messages import BRANCH, CURRENCY, PAN, VOUCHER_PIN

T = TypeVar("T")


class CannedGateway:
    """A terminal link that answers every request with ``outcome``, through the host codec."""

    def __init__(self, profile: Profile) -> None:
        self.host, self.codec = HostCodec(profile, CURRENCY), TerminalCodec(profile)
        self.outcome = Outcome(Code.APPROVED)
        self.seen: list[Decoded] = []

    def request(self, fields: dict[str, str], timeout: float, mac_key: bytes | None = None) -> defer.Deferred[Reply]:
        decoded = self.host.decode(self.codec.encode(fields))
        self.seen.append(decoded)
        return defer.succeed(Reply(self.codec.decode(self.host.encode(decoded.context, self.outcome))))


@pytest.fixture
def setup(profile: Profile) -> tuple[SimulatedTerminal, CannedGateway, list[str]]:
    gateway, printed = CannedGateway(profile), []
    terminal = SimulatedTerminal("TERM0001", BRANCH.rstrip(), gateway, printed.append)  # type: ignore[arg-type]
    return terminal, gateway, printed


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """The canned link answers at once, so the coroutine is done when this returns."""
    done = defer.ensureDeferred(coroutine)
    assert done.called
    return done.result


def test_top_up_and_its_reversal(setup: tuple[SimulatedTerminal, CannedGateway, list[str]]) -> None:
    terminal, gateway, printed = setup
    gateway.outcome = Outcome(Code.APPROVED, amount=50000, balance=150000, rrn="000000000001")
    request, reply = run(terminal.top_up(PAN, VOUCHER_PIN))
    top_up = gateway.seen[-1].request
    assert isinstance(top_up, TopUp) and (top_up.card, top_up.pin) == (CardRef(pan=PAN), VOUCHER_PIN)
    assert (reply.code, reply.amount, reply.tags["AB"]) == ("00", 50000, "150000")

    run(terminal.reverse(request, reply))
    reversal = gateway.seen[-1].request
    assert isinstance(reversal, Reverse) and reversal.amount == 50000  # what the top-up loaded
    assert terminal.totals.counts == {}, "top-ups are not in the batch"
    assert len(printed) == 2 and not any(VOUCHER_PIN in line for line in printed)


def test_accrual_and_its_return(setup: tuple[SimulatedTerminal, CannedGateway, list[str]]) -> None:
    terminal, gateway, printed = setup
    gateway.outcome = Outcome(Code.APPROVED, amount=45000, balance=102250, earned=2250,
                              points_earned=45, points=1045, group="gold")
    _, reply = run(terminal.accrue(PAN, 45000, "INV-7", {"CONS": 30000, "XRAY": 15000}))
    accrual = gateway.seen[-1].request
    assert isinstance(accrual, Accrue)
    assert (accrual.amount, accrual.invoice, accrual.currency) == (45000, "INV-7", 364)
    assert accrual.lines == (ServiceLine("CONS", 30000), ServiceLine("XRAY", 15000))
    assert (reply.earned, reply.points_earned, reply.points, reply.group) == (2250, 45, 1045, "gold")
    assert "earned 2250" in printed[-1] and "group gold" in printed[-1]

    gateway.outcome = Outcome(Code.APPROVED, amount=9000, earned=-450, points_earned=-9)
    _, back = run(terminal.accrual_return(PAN, 9000, "INV-7"))
    accrual_return = gateway.seen[-1].request
    assert isinstance(accrual_return, AccrualReturn)
    assert (accrual_return.card, accrual_return.amount, accrual_return.invoice) == (
        CardRef(pan=PAN), 9000, "INV-7"
    )
    assert (back.earned, back.points_earned, back.points, back.group) == (-450, -9, None, None)


def test_gift_activation_and_balance(setup: tuple[SimulatedTerminal, CannedGateway, list[str]]) -> None:
    terminal, gateway, _ = setup
    gateway.outcome = Outcome(Code.APPROVED, amount=1000000, expires_on=date(2026, 11, 30))
    _, reply = run(terminal.activate_gift(PAN, 1000000))
    assert isinstance(gateway.seen[-1].request, ActivateGift)
    assert (reply.amount, reply.expires) == (1000000, "2611")

    gateway.outcome = Outcome(Code.APPROVED, balance=5, points=12, group="silver", discount=10)
    reply = run(terminal.balance(PAN))
    assert isinstance(gateway.seen[-1].request, BalanceInquiry)
    assert (reply.points, reply.group, reply.discount, reply.expires, reply.earned) == (
        12, "silver", 10, None, None
    )

