"""The dispatcher when deciding or recording a request fails: the request is answered 96,
what it changed is undone, and the next request is decided as if nothing happened."""

from __future__ import annotations

from typing import Any

import pytest

from terminal_gateway.daemon.dispatcher import Dispatcher
from terminal_gateway.rules.core import KINDS
from terminal_gateway.rules.effects import PointsMoved
from terminal_gateway.rules.kinds import KindHandler
from terminal_gateway.vocabulary import Accrue, Code, Kind, Outcome, TerminalFamily

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
