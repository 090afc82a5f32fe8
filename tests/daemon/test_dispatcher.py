"""The dispatcher when deciding or recording a request fails: the request is answered 96,
what it changed is undone, and the next request is decided as if nothing happened."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

import pytest

from terminal_gateway.daemon.dispatcher import Dispatcher
from terminal_gateway.rules.core import KINDS
from terminal_gateway.rules.effects import PointsMoved
from terminal_gateway.rules.kinds import KindHandler
from terminal_gateway.vocabulary import Accrue, Code, Echo, Kind, Outcome, Redeem, TerminalFamily

from ..rules.conftest import NOON, TID, Club, club_config


def answer(dispatcher: Dispatcher, request: Any) -> Outcome:
    results: list[Outcome] = []
    dispatcher.handle(request, TerminalFamily()).addCallback(results.append)
    if not results:
        dispatcher.committed(dispatcher._seq)
    return results[0]


@pytest.mark.parametrize("failing", ["decide", "prepare"])
def test_a_failure_is_answered_96_and_changes_nothing(failing: str, monkeypatch: pytest.MonkeyPatch) -> None:
    club = Club(club_config())
    card = club.member(1, 10_000)
    account = club.core.ledger.accounts["acc1"]
    submitted: list[Any] = []

    def prepare(records: Any) -> Any:
        if failing == "prepare":
            raise TypeError("cannot encode")
        return records

    dispatcher = Dispatcher(club.core, lambda seq, rows: submitted.append(rows), lambda seq: None, prepare,
                            clock=lambda: NOON)
    if failing == "decide":
        def broken(d: Any, entry: Any) -> Outcome:
            d.apply(PointsMoved(account.id, 5))
            raise KeyError("a bug")

        monkeypatch.setitem(KINDS.by_request, Accrue, (KindHandler(Kind.ACCRUAL, Accrue, broken),))
    request = Accrue(terminal=TID, key=club.key(), card=card, amount=100_000, invoice="A")
    outcome = answer(dispatcher, request)
    assert outcome.code is Code.MALFUNCTION and not outcome.approved
    assert account.points == 0 and submitted == []
    assert request.key not in club.core.ledger.by_key, "a repeat is decided anew, not answered 96 again"
    monkeypatch.undo()
    again = Accrue(terminal=TID, key=club.key(), card=card, amount=100_000, invoice="A")
    assert answer(dispatcher, again).code is (Code.APPROVED if failing == "decide" else Code.MALFUNCTION)


def test_a_refused_decision_alone_is_96_and_the_later_ones_are_decided_again() -> None:
    club = Club(club_config(daily_cap=None, invoice_cap=None, max_redemptions_per_day=None))
    card = club.member(1, 10_000)
    resumed: list[int] = []
    dispatcher = Dispatcher(club.core, lambda seq, rows: None, resumed.append, lambda records: records,
                            clock=lambda: NOON)
    answers: list[list[Outcome]] = [[], [], []]
    for n in range(3):
        request = Redeem(terminal=TID, key=club.key(), card=card, amount=4_000, invoice=f"I{n}")
        dispatcher.handle(request, TerminalFamily()).addCallback(answers[n].append)
    dispatcher.committed(1)
    dispatcher.rejected(2, ValueError("NUL byte"))
    assert resumed == [3] and answers[1][0].code is Code.MALFUNCTION and not answers[2]
    dispatcher.committed(dispatcher._seq)
    assert (answers[2][0].code, answers[2][0].amount) == (Code.APPROVED, 4_000), "decided again without the refused"
    assert club.balance(card) == 2_000


def test_an_echo_is_answered_at_once_while_decisions_wait_on_the_store() -> None:
    club = Club(club_config())
    card = club.member(1, 10_000)
    dispatcher = Dispatcher(club.core, lambda seq, rows: None, lambda seq: None, lambda records: records,
                            clock=lambda: NOON)
    waiting: list[Outcome] = []
    dispatcher.handle(Redeem(terminal=TID, key=club.key(), card=card, amount=1_000, invoice="I1"),
                      TerminalFamily()).addCallback(waiting.append)
    echoed: list[Outcome] = []
    dispatcher.handle(Echo(terminal=TID), TerminalFamily()).addCallback(echoed.append)
    assert echoed[0].code is Code.APPROVED and not waiting, "the store has not answered; the echo does not wait"


def test_a_branch_says_where_its_terminals_may_speak_from() -> None:
    club = Club(club_config())
    dispatcher = Dispatcher(club.core, lambda seq, rows: None, lambda seq: None, lambda records: records)
    assert dispatcher.source_problem(TID, "203.0.113.9") is None, "no allowed_sources: anywhere"
    dispatcher.sources = {club.core.ledger.terminals[TID].branch: (ip_network("192.168.10.0/24"),)}
    assert dispatcher.source_problem(TID, "192.168.10.77") is None
    assert dispatcher.source_problem(TID, "192.168.11.1") == (
        f"terminal {TID} of branch {club.core.ledger.terminals[TID].branch} may not speak from 192.168.11.1")
    assert dispatcher.source_problem("NOBODY", "192.168.11.1") is None, "the rule core answers nobody's request"
