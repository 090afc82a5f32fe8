"""End to end: an operator grants credit to a whole group while the real daemon runs, and the
terminals see the new balances within the change feed's poll, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest_twisted

from terminal_gateway.simulators.population import card_number

from .conftest import Gateway
from .test_club8583 import member

PICKED_UP_WITHIN = 3.0  # seconds; poll_seconds is 0.2


async def balance_becomes(terminal, card: str, expected: int) -> float:
    """Ask balance inquiries until ``card``'s AB is ``expected``; how long it took."""
    from twisted.internet import reactor, task

    started = time.monotonic()
    while True:
        reply = await terminal.balance(card)
        waited = time.monotonic() - started
        if reply.code == "00" and reply.tags.get("AB") == str(expected):
            return waited
        shown = f"{reply.code} AB {reply.tags.get('AB')}"
        assert waited < PICKED_UP_WITHIN, f"{shown}, not {expected}, after {waited:.1f} s"
        await task.deferLater(reactor, 0.1, lambda: None)


@pytest_twisted.ensureDeferred
async def test_a_group_grant_reaches_the_running_daemon(gateway: Gateway) -> None:
    gateway.enrol(members=20)  # all silver, 500,000 each
    gold = card_number(900)
    gateway.cli("member", "add", gold, "--group", "gold")
    gateway.cli("credit", "grant", gold, "1000")
    gateway.cli("member", "block", card_number(2))
    gateway.start()
    terminal = await gateway.terminal(1)
    await terminal.sign_on()
    _, sale = await terminal.redeem(card_number(1), 10_000, "INV-1")
    assert sale.code == "00"

    out = gateway.cli("group", "grant", "silver", "25000", "--expires-in-days", "30").stdout
    assert out.startswith("granted 25000 to 20 members of silver, expiring "), out

    assert await balance_becomes(terminal, card_number(1), 490_000 + 25_000) < 1.5
    await balance_becomes(terminal, card_number(20), 525_000)
    assert (await terminal.balance(gold)).tags.get("AB") == "1000", "gold is not granted"
    gateway.cli("member", "unblock", card_number(2))
    await balance_becomes(terminal, card_number(2), 525_000)  # the blocked member was granted too
    _, spend = await terminal.redeem(card_number(3), 100_000, "INV-2")
    assert (spend.code, spend.tags["AB"]) == ("00", "425000"), "the granted lot is spendable at once"
    assert member(gateway, 3)["balance"] == 425_000
    assert gateway.stop() == 0
