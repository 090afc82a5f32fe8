"""``Draft``: the decision being made, and all that a kind's functions are given.

A kind's ``decide`` and ``undo`` (see ``kinds``) take the draft and an entry. From the draft
they read the request, the time, the terminal family, the terminal (checked before they run)
and the ledger; they change the ledger only through ``apply`` and ``change``, so that every
change is recorded and can be reverted. Beyond the draft they use:

- ``accounts``: the account a request acts on, or the answer that says why not;
- ``lots``: credit taken from the lots, given back to them, or withdrawn with its lot;
- ``d.terms``: the program (``rules``, ``voucher_key``), its caps and its amount check;
- ``d.day()``, ``d.room_outcome(...)``, ``d.approval()``: below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..vocabulary import Code, Limit, Outcome, Request, TerminalFamily
from .caps import room_left
from .effects import Changed, Effect
from .ledger import Account, Entry, Ledger, Terminal
from .terms import Terms


@dataclass(slots=True)
class Draft:
    """The decision being made: effects are applied at once and collected for the record."""

    terms: Terms
    ledger: Ledger
    request: Request
    now: datetime
    family: TerminalFamily
    terminal: Terminal | None = None
    account: Account | None = None
    effects: list[Effect] = field(default_factory=list)

    def apply(self, effect: Effect) -> None:
        effect.apply(self.ledger)
        self.effects.append(effect)

    def change(self, entry: Entry, name: str, value: object) -> None:
        self.apply(Changed(entry, name, getattr(entry, name), value))

    def day(self) -> str:
        """The business day at the terminal's branch."""
        assert self.terminal is not None
        return self.terms.day(self.terminal.branch, self.now)

    def room_outcome(self, entry: Entry, code: Code, amount: int = 0, limit: Limit | None = None,
                     **extra: object) -> Outcome:
        """An outcome that reports the member's balance and what is left of the caps."""
        account = self.account
        assert account is not None
        day = entry.day or self.day()
        ledger = self.ledger
        invoice_used = ledger.invoices.get((entry.branch or "", entry.invoice or ""), 0) if entry.invoice else 0
        room = room_left(self.terms.caps(account, entry.branch), account.balance(self.now),
                         ledger.daily_used(account.id, day), invoice_used, getattr(self.request, "invoice_total", None))
        return Outcome(code, amount=amount, balance=room.balance, daily_remaining=room.daily,
                       invoice_remaining=room.invoice if entry.invoice else None, limit=limit, **extra)

    def approval(self) -> tuple[str, str]:
        """A new RRN and its authorization code (its last six digits)."""
        self.ledger.last_rrn += 1
        rrn = f"{self.ledger.last_rrn:012d}"
        return rrn, rrn[-6:]
