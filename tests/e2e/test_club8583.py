"""End to end: the real daemon, real TCP, simulated terminals of every firmware family."""

from __future__ import annotations

import json

import pytest
import pytest_twisted
from twisted.internet import defer

from terminal_gateway.protocols.club8583 import load_profile
from terminal_gateway.protocols.framing import FrameBuffer
from terminal_gateway.simulators.population import card_number

from .conftest import Gateway, Sent, stream_redemptions, until_answered


def member(gateway: Gateway, index: int) -> dict:
    return json.loads(gateway.cli("member", "show", card_number(index)).stdout)


@pytest.mark.parametrize("profile", ["club-t1", "club-t2", "club-t3"])
@pytest_twisted.ensureDeferred
async def test_caps_and_partial_approval_per_family(gateway: Gateway, profile: str) -> None:
    gateway.enrol()
    gateway.start()
    terminal = await gateway.terminal(1, profile)
    if profile != "club-t3":
        blocked = await terminal.balance(card_number(1))
        assert blocked.code == "58", "sign-on is required by this family"
    assert (await terminal.sign_on()).code == "00"
    card = card_number(1)
    _, first = await terminal.redeem(card, 150_000, "INV-1", total=900_000)
    if profile == "club-t3":  # no partial approval: declined with the binding limit's code
        assert (first.code, first.amount, first.tags["RS"]) == ("61", 0, "INVOICE_CAP")
    else:
        assert (first.code, first.amount, first.tags["RS"]) == ("10", 100_000, "INVOICE_CAP")
        assert first.tags["AB"] == "400000" and first.tags["DL"] == "100000"
        _, second = await terminal.redeem(card, 150_000, "INV-2")  # daily and invoice room tie: daily is named
        assert (second.code, second.amount, second.tags["RS"]) == ("10", 100_000, "DAILY_CAP")
        _, third = await terminal.redeem(card, 1_000, "INV-3")
        assert (third.code, third.tags["RS"]) == ("61", "DAILY_CAP")
    assert gateway.stop() == 0


@pytest_twisted.ensureDeferred
async def test_every_transaction_of_a_day_and_reconciliation(gateway: Gateway) -> None:
    gateway.enrol()
    gateway.start()
    terminal = await gateway.terminal(2)
    await terminal.sign_on()
    card = card_number(2)
    request, sale = await terminal.redeem(card, 60_000, "INV-9")
    assert sale.approved and len(sale.rrn) == 12 and len(sale.fields["38"]) == 6
    _, refund = await terminal.refund(card, 10_000, sale.rrn)
    assert refund.code == "00"
    _, hold = await terminal.redeem(card, 30_000, "INV-10", hold=True)
    done = await terminal.complete(card, 20_000, hold.rrn)
    assert done.code == "00" and done.rrn == hold.rrn
    assert (await terminal.complete(card, 1, hold.rrn)).code == "25"
    cancel_request, cancel = await terminal.redeem(card, 5_000, "INV-11")
    assert (await terminal.reverse(cancel_request, cancel)).code == "00"
    assert member(gateway, 2)["balance"] == 500_000 - 60_000 + 10_000 - 20_000
    closing = await terminal.reconcile()
    assert closing.code == "00", closing.fields
    assert closing.fields["88"] == f"{60_000 + 20_000 + 5_000:016d}"
    assert (await terminal.reverse(request, sale)).code == "12", "the batch is closed"
    assert gateway.stop() == 0


@pytest_twisted.ensureDeferred
async def test_repeat_duplicate_and_late_original(gateway: Gateway) -> None:
    gateway.enrol()
    gateway.start()
    terminal = await gateway.terminal(3)
    await terminal.sign_on()
    card = card_number(3)
    _, sale = await terminal.redeem(card, 40_000, "INV-1", lose_answer=True)
    assert sale.approved
    assert terminal.codes["repeat-mismatch"] == 0
    assert member(gateway, 3)["balance"] == 460_000, "the repeat did not redeem twice"
    duplicate = terminal.fields("0200", "00", **terminal.money(card, 1_000, IN="INV-2"))
    assert (await terminal.send(duplicate, "original")).approved
    assert (await terminal.send(dict(duplicate), "same key again")).code == "94"
    late = terminal.fields("0200", "00", **terminal.money(card, 7_000, IN="INV-3"))
    assert (await terminal.reverse(late, None)).code == "00"
    assert (await terminal.send(late, "late original")).code == "12"
    assert member(gateway, 3)["balance"] == 459_000
    assert gateway.stop() == 0


@pytest_twisted.ensureDeferred
async def test_operator_changes_reach_the_running_daemon(gateway: Gateway) -> None:
    from twisted.internet import reactor, task

    gateway.enrol(members=5)
    gateway.start()
    terminal = await gateway.terminal(4)
    await terminal.sign_on()
    newcomer = card_number(777)
    assert (await terminal.balance(newcomer)).code == "14"
    gateway.cli("member", "add", newcomer)
    gateway.cli("credit", "grant", newcomer, "25000")
    gateway.cli("terminal", "add", "T0000099", "--branch", "CLINIC000000001")
    await task.deferLater(reactor, 1.0, lambda: None)
    balance = await terminal.balance(newcomer)
    assert (balance.code, balance.tags["AB"]) == ("00", "25000")
    other = await gateway.terminal(99)
    assert (await other.sign_on()).code == "00"
    assert gateway.stop() == 0


@pytest_twisted.ensureDeferred
async def test_bad_input_gets_an_answer_and_the_daemon_stays_up(gateway: Gateway) -> None:
    gateway.enrol(members=5)
    gateway.start()
    terminal = await gateway.terminal(5)
    await terminal.sign_on()
    no_amount = terminal.fields("0200", "00", **{"2": card_number(1), "49": "364", "48": "IN003ABC"})
    malformed = await terminal.send(no_amount, "no DE4")
    assert malformed.code == "30"
    terminal.link.send_raw(FrameBuffer(load_profile("club-t2").header).frame(b"\x00garbage"))
    terminal.link.send_raw(b"\x00\x00")  # keep-alive
    assert (await terminal.echo()).code == "00"
    terminal.link.send_raw(b"\xff\xff")  # 65535 bytes announced: the connection must close
    again = await gateway.terminal(5)
    again.stan = terminal.stan  # the same terminal, reconnecting: its STAN goes on
    assert (await again.balance(card_number(1))).code == "00"
    assert gateway.stop() == 0
    log = gateway.log.read_text()
    assert card_number(1) not in log, "a full card number reached the log"
    assert "DE4" in log


@pytest_twisted.ensureDeferred
async def test_kill_during_approvals_loses_nothing_and_repeats_replay(gateway: Gateway) -> None:
    """kill -9 while four terminals stream redemptions: every answered approval survives the
    restart, every repeat replays its answer, and no rial is lost or spent twice."""
    gateway.enrol(members=20)
    gateway.start()
    terminals = [await gateway.terminal(i) for i in range(1, 5)]
    sent: Sent = []
    streams = [defer.ensureDeferred(stream_redemptions(t, 20, 1_000, sent)) for t in terminals]
    await until_answered(sent, 60)
    gateway.kill()
    for done in streams:
        await done
    assert sum(1 for _, reply in sent if reply is not None) > 50
    gateway.start()
    again = {t.tid: await gateway.terminal(int(t.tid[1:])) for t in terminals}
    approved = 0
    for request, reply in sent:
        repeat = dict(request, t=request["t"][:3] + "1")
        replayed = await again[request["41"].strip()].send(repeat, "repeat after restart")
        if reply is not None:
            assert (replayed.code, replayed.rrn, replayed.amount) == (reply.code, reply.rrn, reply.amount)
        approved += replayed.amount if replayed.approved else 0
    balances = sum(member(gateway, i)["balance"] for i in range(1, 21))
    assert balances == 20 * 500_000 - approved
    assert gateway.stop() == 0


def test_configuration_errors_name_the_key(gateway: Gateway) -> None:
    gateway.config.write_text(gateway.config.read_text().replace('profile = "club-t1"', 'profile = "club-t9"'))
    result = gateway.cli("init", check=False)
    assert result.returncode != 0
    assert "listeners[0].profile" in result.stderr and "club-t9" in result.stderr
    assert "Traceback" not in result.stderr



FAILING_INSERT = {
    "sqlite": ["CREATE TRIGGER disk_full BEFORE INSERT ON transactions BEGIN SELECT RAISE(ABORT, 'disk full'); END"],
    "postgresql": [
        "CREATE FUNCTION disk_full() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER disk_full BEFORE INSERT ON transactions FOR EACH ROW EXECUTE FUNCTION disk_full()",
    ],
}


def database(url: str, *statements: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    engine.dispose()


@pytest_twisted.ensureDeferred
async def test_when_the_store_fails_nothing_is_approved_and_it_recovers(gateway: Gateway) -> None:
    gateway.enrol(members=5)
    gateway.start()
    terminal = await gateway.terminal(7)
    await terminal.sign_on()
    card = card_number(4)
    dialect = "sqlite" if gateway.url.startswith("sqlite") else "postgresql"
    database(gateway.url, *FAILING_INSERT[dialect])
    request = terminal.fields("0200", "00", **terminal.money(card, 50_000, IN="INV-96"))
    failed = await terminal.send(request, "redeem while the store fails")
    assert (failed.code, failed.amount) == ("96", 0)
    database(gateway.url, "DROP TRIGGER disk_full" + (" ON transactions" if dialect == "postgresql" else ""))
    assert member(gateway, 4)["balance"] == 500_000
    again = await terminal.send(dict(request, t="0201"), "repeat once the store is back")
    assert again.code == "00", "the failed decision was undone, so its repeat is decided anew"
    assert member(gateway, 4)["balance"] == 450_000
    assert gateway.stop() == 0


@pytest_twisted.ensureDeferred
async def test_sigterm_during_a_stream_stops_cleanly_and_keeps_every_answer(gateway: Gateway) -> None:
    """SIGTERM while terminals stream: exit 0, and every approval a terminal was told of is
    durable; what was refused or unanswered moved nothing."""
    from twisted.internet import reactor

    gateway.enrol(members=10, credit=10_000_000)
    gateway.start()
    terminals = [await gateway.terminal(i) for i in range(1, 4)]
    sent: Sent = []
    streams = [defer.ensureDeferred(stream_redemptions(t, 10, 100, sent)) for t in terminals]
    await until_answered(sent, 20)
    stopping: defer.Deferred[int] = defer.Deferred()
    reactor.callInThread(lambda: reactor.callFromThread(stopping.callback, gateway.stop()))
    assert await stopping == 0
    for done in streams:
        await done
    approved = sum(reply.amount for _, reply in sent if reply is not None and reply.approved)
    assert approved > 0
    balances = sum(member(gateway, i)["balance"] for i in range(1, 11))
    assert balances == 10 * 10_000_000 - approved


@pytest_twisted.ensureDeferred
async def test_several_requests_in_flight_on_one_connection(gateway: Gateway) -> None:
    """A terminal may send its next requests before the first is answered; each answer
    finds its request by DE41 + DE11, whatever the order."""
    gateway.enrol(members=8)
    gateway.start()
    terminal = await gateway.terminal(8)
    await terminal.sign_on()
    requests = [terminal.fields("0200", "00", **terminal.money(card_number(n), 10_000 * n, IN=f"INV-P{n}"))
                for n in range(1, 9)]
    replies = await defer.gatherResults([defer.ensureDeferred(terminal.send(request, "pipelined"))
                                         for request in requests])
    assert [(reply.fields["11"], reply.amount) for reply in replies] == [
        (request["11"], 10_000 * n) for n, request in enumerate(requests, 1)]
    assert len({reply.rrn for reply in replies}) == 8
    assert gateway.stop() == 0
