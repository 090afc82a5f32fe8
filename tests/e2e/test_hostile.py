"""End to end, attacked: poison frames while honest terminals stream, a store that stalls,
and a dishonest counter's made-up amounts. Nothing an attacker sends may move value or fail
another terminal's request."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_twisted
from sqlalchemy import create_engine, text
from twisted.internet import defer

from terminal_gateway.protocols.club8583 import de48
from terminal_gateway.simulators.club8583 import SimulatedTerminal
from terminal_gateway.simulators.population import card_number
from terminal_gateway.vocabulary import mask_pan as mask

from ..support import pg_database
from .conftest import Gateway, Sent, stream_redemptions, until_answered

CONTROL = "".join(map(chr, range(32))) + "\x7f"


def journal(url: str, query: str) -> list[tuple]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(row) for row in conn.execute(text(query))]
    engine.dispose()
    return rows


def poison(sender: SimulatedTerminal) -> list[tuple[str, dict[str, str]]]:
    """Frames with control characters where a text element goes: DE41 (of no registered
    terminal), DE42, DE48 IN and DE37; each names the element its answer must name."""
    card = card_number(1)

    def redeem() -> dict[str, str]:
        return sender.fields("0200", "00", **sender.money(card, 1_000, IN="INV-P"))

    return [
        ("DE41", {**redeem(), "41": "X\x00\x01BAD\x7f\x1b"}),
        ("DE42", {**redeem(), "42": "CLINIC\x00" + "0000001\n"}),
        ("DE48 IN", sender.fields("0200", "00", **sender.money(card, 1_000), **{"48": de48.build(
            {"IN": "INV\x00\x1b[2J"})})),
        ("DE37", sender.fields("0200", "20", **sender.money(card, 1_000), **{"37": "00000\x00\x7f" + "00001"})),
    ]


@pytest_twisted.ensureDeferred
async def test_poison_frames_fail_no_honest_request(gateway: Gateway, store_url: str) -> None:
    """Four honest terminals stream redemptions while another connection sends frames with
    NUL bytes and other control characters in its text elements: every honest answer is an
    approval and durable; every poison frame is answered 30 and journalled escaped."""
    gateway.enrol(members=500)  # five redemptions a member and day: room for the streams' 2,500
    gateway.start()
    terminals = [await gateway.terminal(i) for i in range(1, 5)]
    sent: Sent = []
    streams = [defer.ensureDeferred(stream_redemptions(t, 500, 1_000, sent)) for t in terminals]
    answers = []
    for _ in range(25):  # a connection a round: one that sends max_bad_frames refused frames is closed
        sender = await gateway.terminal(7)
        await sender.sign_on()
        for element, frame in poison(sender):
            answers.append((element, await sender.send(frame, "poison")))
    await until_answered(sent, 60)
    gateway.close_links()
    for done in streams:
        await done
    assert gateway.stop() == 0
    for element, reply in answers:
        assert reply.code == "30", f"a poison frame in {element} was answered {reply.code}"
    replies = [reply for _, reply in sent if reply is not None]
    assert {reply.code for reply in replies} <= {"00", "10"}, "an honest request failed"
    durable = {rrn for (rrn,) in journal(store_url, "SELECT rrn FROM transactions WHERE code IN ('00', '10')")}
    assert {reply.rrn for reply in replies} <= durable
    texts = journal(store_url, "SELECT terminal, branch, key, card, invoice, ref, message FROM transactions")
    assert not [row for row in texts if any(char in CONTROL for value in row if value for char in value)]
    malformed = journal(store_url, "SELECT terminal, message FROM transactions WHERE kind = 'malformed'")
    assert {message for _, message in malformed} >= {f"{element}: not printable (a control character)"
                                                     for element in ("DE42", "DE48 IN", "DE37")}
    assert not [row for row in malformed if row[1].startswith("DE41")], "nobody's request is not journalled"


@pytest.fixture
def postgres_gateway(tmp_path: Path) -> Iterator[Gateway]:
    with pg_database() as url:
        installation = Gateway(tmp_path, url)
        yield installation
        installation.close_links()
        if installation.process is not None:
            installation.kill()


@pytest_twisted.ensureDeferred
async def test_a_stalled_store_is_answered_96_in_bounded_time_and_echo_at_once(postgres_gateway: Gateway) -> None:
    """Another connection holds LOCK TABLE transactions: a redemption is answered 96 within
    the commit timeout (10 s, the lock timeout 2 s), an echo at once; once the lock is
    released everything works, and nothing that was answered 96 moved value."""
    gateway = postgres_gateway
    gateway.enrol(members=5)
    gateway.start()
    terminal = await gateway.terminal(1)
    await terminal.sign_on()
    card = card_number(1)
    _, before = await terminal.redeem(card, 10_000, "INV-1")
    assert before.code == "00"
    engine = create_engine(gateway.url)
    with engine.connect() as conn, conn.begin():
        conn.execute(text("LOCK TABLE transactions IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        stalled = defer.ensureDeferred(terminal.redeem(card, 20_000, "INV-2"))
        echo = await terminal.echo()
        echoed = time.monotonic() - started
        _, refused = await stalled
        answered = time.monotonic() - started
    engine.dispose()
    assert echo.code == "00" and echoed < 1.0, f"the echo waited {echoed:.1f} s on the store"
    assert refused.code == "96" and answered < 10.0, f"answered {refused.code} after {answered:.1f} s"
    _, after = await terminal.redeem(card, 30_000, "INV-3")
    assert after.code == "00"
    assert gateway.stop() == 0
    balance = json.loads(gateway.cli("member", "show", card).stdout)["balance"]
    assert balance == 500_000 - 10_000 - 30_000, "the request answered 96 moved value"


LIMITS = """
[limits]
max_invoice = 50000000
max_accrual = 50000000
max_gift_activation = 10000000
card_accruals_per_day = 2
"""
GIFT = card_number(900_000)


@pytest_twisted.ensureDeferred
async def test_a_dishonest_counter_mints_nothing_and_velocity_survives_kill(gateway: Gateway, store_url: str) -> None:
    """With nothing but a registered terminal id: made-up accruals, a made-up redemption and
    a gift activation of 999,999,999,999 are declined 13; a card's third accrual of the day
    is declined 65, and still after kill -9; wrong voucher PINs from terminals and cards that
    rotate meet the global lockout (75), and still after kill -9."""
    gateway.config.write_text(gateway.config.read_text().replace(
        "[vouchers]", "[vouchers]\nglobal_max_wrong_pins = 3\nmax_wrong_pins = 5") + LIMITS)
    gateway.enrol(members=10)
    gateway.cli("giftcard", "register", GIFT, "1")
    gateway.start()
    terminal = await gateway.terminal(1)
    await terminal.sign_on()
    card = card_number(1)
    for n in range(3):
        _, minted = await terminal.accrue(card, 16_666_666_667, f"MINT-{n}")
        assert minted.code == "13"
    _, spent = await terminal.redeem(card, 900_000_000, "MINT-9")
    _, gift = await terminal.activate_gift(GIFT, 999_999_999_999)
    assert (spent.code, gift.code) == ("13", "13")
    codes = [(await terminal.accrue(card, 100_000, f"PAID-{n}"))[1].code for n in range(3)]
    assert codes == ["00", "00", "65"]
    for n in range(3):  # one wrong PIN from each of three terminals, on three cards
        guesser = await gateway.terminal(2 + n)
        await guesser.sign_on()
        assert (await guesser.top_up(card_number(2 + n), "999999999999"))[1].code == "55"
    gateway.kill()
    gateway.start()
    again = await gateway.terminal(6)
    await again.sign_on()
    assert (await again.accrue(card, 100_000, "PAID-9"))[1].code == "65", "a restart forgot the day's accruals"
    assert (await again.top_up(card_number(6), "999999999999"))[1].code == "75", "a restart forgot the guesses"
    assert gateway.stop() == 0
    balance = json.loads(gateway.cli("member", "show", card).stdout)["balance"]
    assert balance == 500_000 + 2 * 5_000, "only the two honest accruals earned (5%)"
    declined = journal(store_url, "SELECT code, message FROM transactions WHERE code IN ('13', '65', '75')")
    assert sum(1 for code, _ in declined if code == "13") == 5 and any(
        "max_accrual 50000000" in message for _, message in declined)
    report = gateway.cli("report", "security", "--format", "csv").stdout
    rows = {(row[0], row[1]): row[2:5] for row in (line.split(",") for line in report.splitlines()[1:])}
    assert rows[("terminal", "T0000001")] == ["0", "0", "6"], "five maxima and a velocity limit"
    assert rows[("terminal", "T0000006")] == ["0", "1", "1"] and rows[("terminal", "T0000002")] == ["1", "0", "0"]
    assert "999999999999" not in report and card_number(2) not in report and ("card", mask(card_number(2))) in rows
