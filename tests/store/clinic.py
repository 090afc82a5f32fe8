"""A clinic for store tests: members enrolled through the admin operations, requests decided
by the real rule core at a fixed clock, every decision's records written to the store."""

from __future__ import annotations

import itertools
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

from terminal_gateway.config import Config
from terminal_gateway.rules import Ledger, RuleCore
from terminal_gateway.rules.cards import with_check_digit
from terminal_gateway.store import Store, apply_change
from terminal_gateway.vocabulary import CardRef, Outcome, Request, TerminalFamily

from ..support import BRANCH, make_config

TID = "T0000001"
START = datetime(2031, 3, 1, 8, 30, tzinfo=UTC)  # 12:00 in Tehran
REPLAY_DAYS = 30


def card_number(n: int) -> str:
    return with_check_digit(f"627412{n:09d}")


class Clinic:
    def __init__(self, store: Store, config: Config | None = None, now: datetime = START):
        self.store, self.config, self.now = store, config or make_config(), now
        self.core = RuleCore(self.config, Ledger())
        self.cursor = store.load(self.core.ledger, now, REPLAY_DAYS)
        self.stan = itertools.count(1)
        self.family = TerminalFamily()

    def terminal(self, tid: str = TID) -> None:
        self.store.add_terminal(tid, BRANCH)
        self.sync()

    def member(self, n: int, *credits: int, group: str = "silver", expires_at: datetime | None = None) -> CardRef:
        pan = card_number(n)
        self.store.add_member(pan, group, self.config.groups)
        for amount in credits:
            self.store.grant_credit(pan, amount, expires_at)
        self.sync()
        return CardRef(pan=pan)

    def sync(self) -> None:
        """What the daemon's poller does: merge the admin changes into the ledger."""
        self.cursor, changes = self.store.changes_since(self.cursor)
        for change in changes:
            apply_change(self.core.ledger, change)

    def key(self) -> str:
        return f"{TID}:{next(self.stan):06d}:{self.now:%m%d%H%M%S}"

    def send(self, request_type: type[Request], **values: Any) -> Outcome:
        """Decide at the clinic's clock and write the records, as the group committer would."""
        values.setdefault("terminal", TID)
        values.setdefault("key", self.key())
        decision = self.core.decide(request_type(**values), self.now, self.family)
        self.store.write(decision.records)
        return decision.outcome

    def later(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def reloaded(self) -> RuleCore:
        """A rule core on a ledger freshly loaded from the store, as after a restart."""
        ledger = Ledger()
        self.store.load(ledger, self.now, REPLAY_DAYS)
        return RuleCore(self.config, ledger)


def ledger_state(ledger: Ledger, now: datetime) -> dict[str, Any]:
    """Everything decisions depend on, in comparable form."""
    open_holds = {rrn for _, rrn in ledger.hold_deadlines if ledger.by_rrn[rrn].hold_state == "open"}
    return {
        "terminals": {tid: (t.branch, t.signed_on, t.batch_seq, t.batch) for tid, t in ledger.terminals.items()},
        "accounts": {a.id: (a.group, a.phone, a.blocked, [lot.id for lot in a.lots], a.balance(now))
                     for a in ledger.accounts.values()},
        "cards": {pan: (c.account_id, c.status) for pan, c in ledger.cards.items()},
        "phones": dict(ledger.phones),
        "lots": {lot.id: tuple(getattr(lot, f.name) for f in fields(lot)) for lot in ledger.lots.values()},
        "daily": dict(ledger.daily),
        "invoices": dict(ledger.invoices),
        "by_key": dict(ledger.by_key),
        "by_rrn": dict(ledger.by_rrn),
        "reversed_keys": set(ledger.reversed_keys),
        "open_holds": open_holds,
        "last_rrn": ledger.last_rrn,
    }
