"""A counter station end to end: the real daemon drives a PC/SC reader through pcscd, a virtual
club card is put into it through vsmartcard's vpcd, and the counter asks over HTTP.

Needs pcscd running with vpcd's reader ('Virtual PCD', Debian package vsmartcard-vpcd) and
pyscard (the 'pcsc' extra); scripts/test starts pcscd. Where any is missing the tests are
skipped with the reason, never passed.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from terminal_gateway.private import write_private
from terminal_gateway.simulators.clubcard import VPCD_READER, VirtualClubCard, VirtualUidTag, VpcdCard, vpcd_problem
from terminal_gateway.simulators.local import free_port, wait_for_port
from terminal_gateway.simulators.population import BRANCH, card_number
from terminal_gateway.vocabulary import mask_pan

from .conftest import Gateway, journal

READER = VPCD_READER
STATION = "CNTR0001"
MASTER = bytes(range(16))


@pytest.fixture(scope="module")
def vpcd() -> None:
    problem = vpcd_problem()
    if problem:
        pytest.skip(problem)


class Counter:
    """The counter software, holding the station's bearer token."""

    def __init__(self, port: int, token: str):
        self.port, self.token = port, token

    def operate(self, **body: Any) -> tuple[int, dict[str, Any]]:
        return self.ask(json.dumps(body).encode())

    def ask(self, body: bytes | None = None, token: str | None = "", **headers: str) -> tuple[int, dict[str, Any]]:
        """POST ``body`` to the station's operations (``None``: GET the listing) with ``token``
        (``""``: the station's own, ``None``: none) and ``headers``."""
        path = "/stations" if body is None else f"/stations/{STATION}/operations"
        sent = {"content-type": "application/json"}
        if token is not None:
            sent["authorization"] = f"Bearer {token or self.token}"
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body,
                                         method="GET" if body is None else "POST", headers=sent | headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


def station_token(gateway: Gateway) -> str:
    return gateway.cli("station", "token", STATION).stdout.strip()


@pytest.fixture
def station(tmp_path: Path, vpcd: None, store_url: str) -> Iterator[tuple[Gateway, Counter]]:
    gateway = Gateway(tmp_path, store_url, profiles=("club-t2",))
    write_private(tmp_path / "club-master.key", MASTER.hex() + "\n")
    port = free_port()
    with gateway.config.open("a") as f:
        f.write(f'\n[clubcard]\nmaster_key_file = "club-master.key"\n\n[counter]\nport = {port}\n\n'
                f'[[stations]]\ndriver = "pcsc"\nreader = "{READER}"\nterminal = "{STATION}"\nbranch = "{BRANCH}"\n')
    gateway.enrol(members=6, terminals=2)
    gateway.cli("terminal", "add", STATION, "--branch", BRANCH)
    token = station_token(gateway)
    gateway.start()
    assert gateway.process is not None
    wait_for_port(port, gateway.process, gateway.log)
    yield gateway, Counter(port, token)
    gateway.close_links()
    if gateway.process is not None:
        gateway.kill()


def balance(gateway: Gateway, card: str) -> int:
    return int(json.loads(gateway.cli("member", "show", card).stdout)["balance"])


@pytest_twisted.ensureDeferred
async def test_redeem_at_the_station_decides_as_club8583_would(station: tuple[Gateway, Counter]) -> None:
    gateway, counter = station
    terminal = await gateway.terminal(1, "club-t2")
    await terminal.sign_on()
    answers = []
    with VpcdCard(VirtualClubCard(card_number(1), MASTER)):
        for invoice, amount in (("INV-7", 150_000), ("INV-8", 150_000), ("INV-9", 50_000)):
            answers.append(counter.operate(kind="redeem", amount=amount, invoice=invoice, timeout=10))
    same = []
    for invoice, amount in (("INV-7", 150_000), ("INV-8", 150_000), ("INV-9", 50_000)):
        fields = terminal.fields("0200", "00", **terminal.money(card_number(2), amount, IN=f"T-{invoice}"))
        same.append(await terminal.send(fields, "redeem"))
    # silver: invoice cap 100000, daily cap 200000 -> 100000 (10), 100000 (10), declined 61
    assert [(status, a["code"], a["amount"]) for status, a in answers] == [
        (200, "10", 100_000), (200, "10", 100_000), (200, "61", 0)]
    assert answers[0][1]["limit"] == "INVOICE_CAP" and answers[2][1]["limit"] == "DAILY_CAP"
    for (_, a), r in zip(answers, same, strict=True):
        assert f"RS{len(a['limit']):03d}{a['limit']}" in r.fields["48"]
    assert [(r.fields["39"], int(r.fields.get("4", "0") or 0)) for r in same] == [
        (a["code"], a["amount"]) for _, a in answers]
    assert answers[0][1]["card"] == mask_pan(card_number(1))
    assert answers[0][1]["card_kind"] == "smart card" and card_number(1) not in json.dumps(answers)
    assert balance(gateway, card_number(1)) == balance(gateway, card_number(2))


def test_a_counterfeit_card_is_refused_and_recorded(station: tuple[Gateway, Counter]) -> None:
    gateway, counter = station
    before = balance(gateway, card_number(3))
    with VpcdCard(VirtualClubCard(card_number(3), bytes(16))):  # its key is not derived from our master key
        status, answer = counter.operate(kind="redeem", amount=50_000, invoice="INV-C", timeout=10)
    assert status == 200 and answer["code"] == "63" and answer["approved"] is False and answer["amount"] == 0
    assert "counterfeit" in answer["message"]
    assert balance(gateway, card_number(3)) == before
    rows = [row for row in journal(gateway) if row[1] == STATION]
    assert len(rows) == 1 and rows[0][:4] == ("malformed", STATION, "63", 0)
    assert "counterfeit club card" in rows[0][4] and card_number(3) not in rows[0][4]


def test_no_card_in_time_or_one_taken_away_moves_nothing(station: tuple[Gateway, Counter]) -> None:
    gateway, counter = station
    before = journal(gateway)
    started = time.monotonic()
    status, answer = counter.operate(kind="redeem", amount=50_000, invoice="INV-T", timeout=1.5)
    assert status == 408 and answer["status"] == "timeout" and "within 1.5 s" in answer["message"]
    assert "nothing moved" in answer["message"] and 1.4 < time.monotonic() - started < 10

    class Snatched(VirtualClubCard):
        def answer(self, command: bytes) -> bytes:
            if command[:2] == b"\x00\x88":
                raise ConnectionAbortedError("taken away before it answered the challenge")
            return super().answer(command)

    with VpcdCard(Snatched(card_number(4), MASTER)):
        status, answer = counter.operate(kind="redeem", amount=50_000, invoice="INV-R", timeout=10)
    assert status == 408 and "taken away" in answer["message"] and "nothing moved" in answer["message"]
    assert journal(gateway) == before
    assert balance(gateway, card_number(4)) == 500_000


def test_a_uid_tag_earns_but_does_not_redeem(station: tuple[Gateway, Counter]) -> None:
    gateway, counter = station
    assert "issued" in gateway.cli("card", "issue", "04:A1:B2:C3", card_number(5)).stdout
    with VpcdCard(VirtualUidTag(bytes.fromhex("04A1B2C3"))):
        balance_status, balance_answer = counter.operate(kind="balance", timeout=10)
        redeem_status, redeem_answer = counter.operate(kind="redeem", amount=10_000, invoice="INV-U", timeout=10)
        accrue_status, accrue_answer = counter.operate(kind="accrue", amount=100_000, invoice="INV-U", timeout=10)
    assert balance_status == 200 and balance_answer["code"] == "00" and balance_answer["balance"] == 500_000
    assert balance_answer["card_kind"] == "uid tag"
    assert redeem_status == 200 and redeem_answer["code"] == "12"
    assert "may earn but not redeem" in redeem_answer["message"]
    assert accrue_status == 200 and accrue_answer["code"] == "00" and accrue_answer["earned"] > 0
    with VpcdCard(VirtualUidTag(bytes.fromhex("04FFFFFF"))):
        _status, answer = counter.operate(kind="balance", timeout=10)
    assert answer["code"] == "14" and "was not issued" in answer["message"]


def test_bad_requests_are_answered_without_waiting(station: tuple[Gateway, Counter]) -> None:
    _, counter = station
    assert counter.ask() == (200, {"stations": [
        {"terminal": STATION, "branch": BRANCH, "driver": "pcsc", "reader": READER, "busy": False}]})
    status, answer = counter.operate(kind="redeem", invoice="INV-1")
    assert status == 400 and answer["message"].startswith("amount: expected a whole number")
    status, answer = counter.operate(kind="pay", amount=1)
    assert status == 400 and answer["message"].startswith("kind: expected one of")


def test_a_clean_stop_ends_a_wait_for_a_card(station: tuple[Gateway, Counter]) -> None:
    gateway, counter = station
    answers: list[tuple[int, dict[str, Any]]] = []
    waiting = threading.Thread(target=lambda: answers.append(counter.operate(kind="balance", timeout=60)))
    waiting.start()
    time.sleep(1)
    started = time.monotonic()
    assert gateway.stop() == 0
    waiting.join(10)
    assert time.monotonic() - started < 10
    assert answers and answers[0][0] == 408 and "cancelled" in answers[0][1]["message"]


def test_a_request_without_the_stations_token_moves_nothing(station: tuple[Gateway, Counter]) -> None:
    """A genuine card lies on the reader all along: only the credential stands between a
    request and a redemption."""
    gateway, counter = station
    before, rows = balance(gateway, card_number(6)), journal(gateway)
    redeem = json.dumps({"kind": "redeem", "amount": 77_000, "invoice": "INV-X", "timeout": 5}).encode()
    with VpcdCard(VirtualClubCard(card_number(6), MASTER)):
        refused = [counter.ask(redeem, token=None), counter.ask(redeem, token="guessed-" + counter.token[8:]),
                   counter.ask(redeem, token=None, authorization=f"Basic {counter.token}"), counter.ask(token=None)]
        renewed = station_token(gateway)  # the daemon runs on: the old token fails from the next request
        refused.append(counter.ask(redeem))
        status, answer = counter.ask(json.dumps({"kind": "balance", "timeout": 5}).encode(), token=renewed)
    assert [(status, answer["status"]) for status, answer in refused] == [(401, "unauthorized")] * 5
    assert all("nothing was done" in answer["message"] for _, answer in refused)
    assert status == 200 and answer["balance"] == before
    assert balance(gateway, card_number(6)) == before
    assert [row for row in journal(gateway) if row[0] != "balance"] == [row for row in rows if row[0] != "balance"]
    gateway.cli("station", "revoke", STATION)
    assert counter.ask(token=renewed)[0] == 401
    log = gateway.log.read_text()
    assert log.count(f"refused POST /stations/{STATION}/operations from 127.0.0.1: 401") == 4
    assert counter.token not in log and renewed not in log


def test_cross_site_requests_and_a_nested_body_move_nothing(station: tuple[Gateway, Counter]) -> None:
    gateway, counter = station
    before, rows = balance(gateway, card_number(6)), journal(gateway)
    redeem = json.dumps({"kind": "redeem", "amount": 77_000, "invoice": "INV-X", "timeout": 5}).encode()
    with VpcdCard(VirtualClubCard(card_number(6), MASTER)):
        form = counter.ask(redeem, token=None, **{"content-type": "text/plain"})  # what a web page can send
        tokened_form = counter.ask(redeem, **{"content-type": "text/plain"})
        foreign = counter.ask(redeem, origin="https://evil.example")
        rebound = counter.ask(redeem, host=f"evil.example:{counter.port}")
        nested = counter.ask(b"[" * 65536)
        status, answer = counter.operate(kind="balance", timeout=5)
    assert [(form[0], tokened_form[0], foreign[0], rebound[0])] == [(415, 415, 403, 421)]
    assert "application/json" in form[1]["message"] and "allowed_origins" in foreign[1]["message"]
    assert nested == (400, {"status": "bad request", "message": "the body nests arrays or objects more than 8 deep"})
    assert status == 200 and answer["balance"] == before  # the daemon still answers
    assert balance(gateway, card_number(6)) == before
    assert [row for row in journal(gateway) if row[0] != "balance"] == [row for row in rows if row[0] != "balance"]
