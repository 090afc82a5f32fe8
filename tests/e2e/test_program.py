"""End to end: the club program through the real daemon and simulated Club-8583 terminals,
on SQLite and PostgreSQL: accrual and its return, referrals, points, vouchers and their
lockout, gift cards, operators' changes and reloads while it runs, and restarts in the
middle of the day that lose nothing earned and earn nothing twice."""

from __future__ import annotations

import csv
import json
import signal
import time
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest_twisted
from twisted.internet import defer, reactor, task

from terminal_gateway.rules.calendar import business_day
from terminal_gateway.simulators.population import card_number

from .conftest import Gateway, Sent, until_answered
from .test_club8583 import member

GIFT = card_number(900_000)


def multiplier() -> int:
    """The simulated clinic doubles points on Saturdays of its business day."""
    day = date.fromisoformat(business_day(datetime.now(UTC), ZoneInfo("Asia/Tehran"), 4))
    return 2 if day.weekday() == 5 else 1


def vouchers(gateway: Gateway, count: int, value: int) -> list[str]:
    """Generate and activate a batch; its PINs, as the printer would get them."""
    out = gateway.folder / f"vouchers-{count}-{value}.csv"
    gateway.cli("voucher", "generate", "--count", str(count), "--value", str(value), "--expires", "2099-12-31",
                "--batch", f"B{value}", "--out", str(out))
    gateway.cli("voucher", "activate", "--batch", f"B{value}")
    with out.open() as f:
        return [row["pin"] for row in csv.DictReader(f)]


@pytest_twisted.ensureDeferred
async def test_a_club_day_survives_a_restart(gateway: Gateway) -> None:
    gateway.enrol(members=3, credit=0)
    gateway.cli("member", "add", card_number(50), "--referrer", card_number(1))
    gateway.cli("giftcard", "register", GIFT, "3")
    pins = vouchers(gateway, 3, 50_000)
    gateway.start()
    terminal = await gateway.terminal(1)
    await terminal.sign_on()
    card = card_number(1)

    _, paid = await terminal.accrue(card, 200_000, "INV-A", lines={"FILLING": 150_000, "CHECKUP": 50_000})
    assert (paid.code, paid.earned, paid.points_earned) == ("00", 7_500, 12 * multiplier())  # CHECKUP earns 0%
    assert paid.tags["TR"] == "silver" and paid.tags["AB"] == "7500"
    _, again = await terminal.accrue(card, 200_000, "INV-A")
    assert again.code == "94", "one invoice earns once"
    _, referred = await terminal.accrue(card_number(50), 100_000, "INV-B")
    assert referred.earned == 5_000
    assert member(gateway, 1)["balance"] == 7_500 + 5_000  # the referrer's 5%
    _, returned = await terminal.accrual_return(card, 100_000, "INV-A")
    assert (returned.code, returned.earned, returned.points_earned) == ("00", -3_750, -6 * multiplier())

    _, topped = await terminal.top_up(card, pins[0])
    assert (topped.code, topped.amount) == ("00", 50_000)
    _, used = await terminal.top_up(card, pins[0])
    assert used.code == "55"
    _, gift = await terminal.activate_gift(GIFT, 300_000)
    assert gift.code == "00" and gift.expires
    _, twice = await terminal.activate_gift(GIFT, 300_000)
    assert twice.code == "57"
    _, spent = await terminal.redeem(GIFT, 250_000, "INV-C")  # beyond the silver caps: gift cards have none
    assert (spent.code, spent.amount) == ("00", 250_000)
    inquiry = await terminal.balance(card)
    before = member(gateway, 1)
    assert inquiry.tags["AB"] == str(before["balance"]) == str(7_500 + 5_000 - 3_750 + 50_000)
    assert inquiry.tags["PT"] == str(before["points"]) and inquiry.tags["DP"] == "0"

    assert gateway.stop() == 0
    gateway.start()
    terminal = await gateway.terminal(2)
    await terminal.sign_on()
    assert member(gateway, 1) == before
    _, after = await terminal.accrue(card, 200_000, "INV-A")
    assert after.code == "94", "nothing is earned twice after a restart"
    _, reused = await terminal.top_up(card, pins[0])
    assert reused.code == "55"
    assert (await terminal.balance(GIFT)).tags["AB"] == "50000"
    _, fresh = await terminal.top_up(card_number(2), pins[1])
    assert fresh.code == "00"


@pytest_twisted.ensureDeferred
async def test_wrong_pins_lock_top_ups_and_the_lock_survives_a_restart(gateway: Gateway) -> None:
    gateway.enrol(members=7, credit=0)
    pins = vouchers(gateway, 1, 20_000)
    gateway.start()
    terminal = await gateway.terminal(1)
    await terminal.sign_on()
    for n in range(5):
        _, wrong = await terminal.top_up(card_number(1 + n), f"{n:012d}")
        assert wrong.code == "55"
    _, locked = await terminal.top_up(card_number(6), pins[0])
    assert locked.code == "75", "five wrong PINs from one terminal lock it"
    gateway.kill()
    gateway.start()
    terminal = await gateway.terminal(1)
    await terminal.sign_on()
    _, still = await terminal.top_up(card_number(6), pins[0])
    assert still.code == "75"
    other = await gateway.terminal(2)
    await other.sign_on()
    _, elsewhere = await other.top_up(card_number(6), pins[0])
    assert (elsewhere.code, elsewhere.amount) == ("00", 20_000)
    log = gateway.log.read_text()
    assert pins[0] not in log and "000000000003" not in log, "PINs never reach the log"


@pytest_twisted.ensureDeferred
async def test_kill_during_accruals_loses_nothing_answered_and_earns_nothing_twice(gateway: Gateway) -> None:
    # hundreds of accruals a second on 20 cards: far beyond any counter's pace, so no velocity limit
    gateway.config.write_text(gateway.config.read_text()
                              + "\n[limits]\nterminal_accruals_per_hour = false\ncard_accruals_per_day = false\n")
    gateway.enrol(members=20, credit=0)
    gateway.start()
    terminals = [await gateway.terminal(n) for n in (1, 2, 3)]
    sent: Sent = []

    async def stream(terminal) -> None:
        await terminal.sign_on()
        for n in range(100_000):
            card = card_number(1 + n % 20)
            request = terminal.fields("0200", "22", **terminal.money(card, 10_000 + n, IN=f"{terminal.tid}-{n}"))
            try:
                sent.append((request, await terminal.send(request, "accrual")))
            except Exception:  # killed
                sent.append((request, None))
                return

    streams = [defer.ensureDeferred(stream(t)) for t in terminals]
    await until_answered(sent, 60)
    gateway.kill()
    await defer.DeferredList(streams)
    gateway.close_links()
    answered_before = [(request, reply) for request, reply in sent if reply is not None]
    assert len(answered_before) > 50
    gateway.start()
    again_on = {t.tid: await gateway.terminal(int(t.tid[1:])) for t in terminals}  # each on its own connection
    for each in again_on.values():
        await each.sign_on()
    terminal = again_on[terminals[0].tid]
    earned: dict[str, int] = {}
    for request, reply in sent:
        again = await again_on[request["41"].strip()].send(dict(request, t="0201"), "accrual repeat")
        if reply is not None:
            assert (again.code, again.earned) == (reply.code, reply.earned), "an answered accrual was lost"
        earned[request["2"]] = earned.get(request["2"], 0) + (again.earned or 0)
        fresh = await terminal.send(terminal.fields("0200", "22", **{k: request[k] for k in ("2", "4", "48", "49")}),
                                    "accrual again")
        assert fresh.code == "94", "the invoice earned once already"
    for n in range(1, 21):
        assert json.loads(gateway.cli("member", "show", card_number(n)).stdout)["balance"] == earned.get(
            card_number(n), 0)


@pytest_twisted.ensureDeferred
async def test_operator_changes_and_reloads_reach_the_running_daemon(gateway: Gateway) -> None:
    gateway.enrol(members=2, credit=0)
    gateway.start()
    terminal = await gateway.terminal(1)
    await terminal.sign_on()
    card = card_number(1)
    await terminal.accrue(card, 1_000_000, "INV-1")  # 5%: 50,000 credit; 10 + 10 points
    pins = vouchers(gateway, 1, 30_000)  # generated and activated while the daemon runs
    for attempt in range(4):  # each miss counts as a wrong PIN: five would lock the terminal
        await task.deferLater(reactor, 0.6, lambda: None)
        if (await terminal.top_up(card, pins[0]))[1].code == "00":
            break
        assert attempt < 3, "the activated voucher did not reach the daemon within 2.4 s"
    points = member(gateway, 1)["points"]
    converted = json.loads(gateway.cli("points", "convert", card, str(points)).stdout)
    assert converted["credit"] == points * 100
    await answered_balance(terminal, card, 50_000 + 30_000 + points * 100)

    text = gateway.config.read_text()
    silver = "[groups.silver.earning]\npercent = "
    gateway.config.write_text(text.replace(silver + "5", silver + "9"))
    result = gateway.cli("reload")
    assert result.returncode == 0
    await expect_earning(terminal, card, 100_000, 9_000)
    gateway.config.write_text(text.replace(silver + "5", silver + "-1"))
    refused = gateway.cli("reload", check=False)
    assert refused.returncode != 0 and "groups.silver.earning.percent" in refused.stderr
    _, still = await terminal.accrue(card, 100_000, "INV-BAD")
    assert still.earned == 9_000, "a reload that does not validate changes nothing"
    gateway.config.write_text(text.replace(silver + "5", silver + "2"))
    gateway.process.send_signal(signal.SIGHUP)
    await expect_earning(terminal, card, 100_000, 2_000)
    assert "reloaded the program" in gateway.log.read_text()


async def answered_balance(terminal, card: str, balance: int) -> None:
    started = time.monotonic()
    while (reply := await terminal.balance(card)).tags.get("AB") != str(balance):
        assert time.monotonic() - started < 3, f"balance {reply.tags.get('AB')}, not {balance}"


async def expect_earning(terminal, card: str, paid: int, earned: int) -> None:
    """Accrue on new invoices until the new program is in force (it is polled or signalled)."""
    started = time.monotonic()
    while True:
        _, reply = await terminal.accrue(card, paid, f"INV-{time.monotonic_ns()}")
        if reply.earned == earned:
            return
        assert time.monotonic() - started < 3, f"still earning {reply.earned}, not {earned}"



def test_the_simulator_works_every_scenario_against_the_daemon(gateway: Gateway) -> None:
    gateway.enrol(members=20)
    gateway.cli("giftcard", "register", GIFT, "3")
    pins = gateway.folder / "pins.csv"
    gateway.cli("voucher", "generate", "--count", "3", "--value", "10000", "--expires", "2099-12-31", "--batch", "SIM",
                "--out", str(pins))
    gateway.cli("voucher", "activate", "--batch", "SIM")
    gateway.start()
    common = ["simulate", "--port", str(gateway.ports["club-t2"]), "--profile", "club-t2", "--terminals", "3",
              "--cards", "20", "--quiet"]
    club = gateway.cli(*common, "--scenario", "club", "--vouchers", str(pins), "--gift-card", GIFT).stdout
    # Per terminal: one wrong PIN (55), one second activation (57); everything else approved.
    assert "summary: 36 answers (00: 30, 55: 3, 57: 3)" in club
    for scenario in ("day", "random"):  # exit 0: every request answered, every repeat the same
        assert "summary:" in gateway.cli(*common, "--scenario", scenario).stdout
