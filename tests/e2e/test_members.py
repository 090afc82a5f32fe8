"""End to end: an operator blocks, unblocks and replaces cards while the real daemon runs, and
the terminals see it within the change feed's poll (0.2 s here), on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest_twisted

from terminal_gateway.simulators.population import card_number

from .conftest import Gateway
from .test_club8583 import member

PICKED_UP_WITHIN = 3.0  # seconds; poll_seconds is 0.2, so this is generous


async def answered(terminal, card: str, code: str) -> float:
    """Ask balance inquiries until ``card`` is answered ``code``; how long it took."""
    from twisted.internet import reactor, task

    started = time.monotonic()
    while True:
        reply = await terminal.balance(card)
        waited = time.monotonic() - started
        if reply.code == code:
            return waited
        assert waited < PICKED_UP_WITHIN, f"card still answered {reply.code}, not {code}, after {waited:.1f} s"
        await task.deferLater(reactor, 0.05, lambda: None)


@pytest_twisted.ensureDeferred
async def test_block_unblock_and_replace_reach_the_running_daemon(gateway: Gateway) -> None:
    gateway.enrol(members=5)
    gateway.start()
    terminal = await gateway.terminal(1)
    await terminal.sign_on()
    card, new = card_number(1), card_number(777)  # 777: not enrolled by enrol(members=5)
    _, first = await terminal.redeem(card, 10_000, "INV-1")
    assert first.code == "00"

    gateway.cli("member", "block", card)
    assert await answered(terminal, card, "05") < 1.5
    _, blocked = await terminal.redeem(card, 10_000, "INV-2")
    assert (blocked.code, blocked.amount, blocked.tags.get("RS")) == ("05", 0, "BLOCKED")
    assert member(gateway, 1)["balance"] == 490_000

    gateway.cli("member", "unblock", card)
    await answered(terminal, card, "00")
    _, again = await terminal.redeem(card, 10_000, "INV-3")
    assert (again.code, again.amount) == ("00", 10_000)

    gateway.cli("card", "replace", card, new)
    assert await answered(terminal, card, "41") < 1.5
    _, lost = await terminal.redeem(card, 10_000, "INV-4")
    assert (lost.code, lost.amount) == ("41", 0)
    _, moved = await terminal.redeem(new, 20_000, "INV-5")
    assert (moved.code, moved.amount) == ("00", 20_000), "the new card redeems from the same account"
    shown = member(gateway, 777)
    assert shown["balance"] == 500_000 - 10_000 - 10_000 - 20_000
    assert {c["status"] for c in shown["cards"]} == {"lost", "active"}
    assert (await terminal.redeem(new, 100_000, "INV-6"))[1].amount == 100_000
    _, capped = await terminal.redeem(new, 100_000, "INV-7")
    assert (capped.amount, capped.tags.get("RS")) == (60_000, "DAILY_CAP"), "the day's usage carried over too"
    assert gateway.stop() == 0

    gateway.start()  # and after a restart, from the store alone
    terminal = await gateway.terminal(1)
    await terminal.sign_on()
    assert (await terminal.balance(card)).code == "41"
    after = await terminal.balance(new)
    assert (after.code, after.tags.get("AB")) == ("00", str(500_000 - 40_000 - 160_000))
    assert gateway.stop() == 0


@pytest_twisted.ensureDeferred
async def test_blocking_by_one_card_blocks_every_card_of_the_member(gateway: Gateway) -> None:
    gateway.enrol(members=5)
    gateway.start()
    terminal = await gateway.terminal(2)
    await terminal.sign_on()
    old, new = card_number(2), card_number(778)
    gateway.cli("card", "replace", old, new)
    await answered(terminal, old, "41")
    gateway.cli("member", "block", old)  # the lost card still names the member
    await answered(terminal, new, "05")
    _, blocked = await terminal.redeem(new, 1_000, "INV-1")
    assert (blocked.code, blocked.tags.get("RS")) == ("05", "BLOCKED")
    assert (await terminal.balance(old)).code == "41", "a lost card stays lost, blocked or not"
    assert gateway.stop() == 0
