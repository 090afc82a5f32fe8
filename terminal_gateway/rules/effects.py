"""The changes a decision makes to the ledger, each one persisted and each one reversible.

A decision applies its effects at once, so the next request sees them; the store persists
them with the decision's record; should the store fail, the gateway reverts them newest
first and the ledger is again what the store holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from ..vocabulary import BatchTotals, Kind
from .ledger import Accrual, Entry, Ledger, Lot
from .states import HoldState

REMEMBERED_BY_RRN = frozenset({Kind.REDEEM, Kind.HOLD, Kind.REFUND})


class Effect:
    """One reversible change; ``replayed`` says whether rebuilding replays it from the journal
    (lot balances are summed from the postings table instead)."""

    __slots__ = ()
    replayed: ClassVar[bool] = True

    def apply(self, ledger: Ledger) -> None:
        raise NotImplementedError

    def revert(self, ledger: Ledger) -> None:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Posting(Effect):
    """Credit (+) or debit (-) of one lot."""

    replayed: ClassVar[bool] = False
    lot_id: str
    account_id: str
    delta: int

    def apply(self, ledger: Ledger) -> None:
        ledger.lots[self.lot_id].remaining += self.delta

    def revert(self, ledger: Ledger) -> None:
        ledger.lots[self.lot_id].remaining -= self.delta


@dataclass(frozen=True, slots=True)
class DailyUsage(Effect):
    """Credit used and redemptions counted against a member's business day."""

    account_id: str
    day: str
    amount: int
    count: int

    def apply(self, ledger: Ledger, sign: int = 1) -> None:
        key = (self.account_id, self.day)
        used = ledger.daily.setdefault(key, [0, 0])
        used[0] += sign * self.amount
        used[1] += sign * self.count
        if used == [0, 0]:
            del ledger.daily[key]

    def revert(self, ledger: Ledger) -> None:
        self.apply(ledger, -1)


@dataclass(frozen=True, slots=True)
class InvoiceUsage(Effect):
    """Credit used on one invoice of one branch, across every card that pays it."""

    branch: str
    invoice: str
    amount: int

    def apply(self, ledger: Ledger, sign: int = 1) -> None:
        key = (self.branch, self.invoice)
        used = ledger.invoices.get(key, 0) + sign * self.amount
        if used:
            ledger.invoices[key] = used
        else:
            ledger.invoices.pop(key, None)

    def revert(self, ledger: Ledger) -> None:
        self.apply(ledger, -1)


@dataclass(frozen=True, slots=True)
class Recorded(Effect):
    """A decided request, remembered for repeats, reversals, completions and refunds.

    Later decisions change ``entry`` through ``Changed`` effects; the journal row is made
    from it right after the decision (``Store.prepare``), so it keeps what was decided.
    """

    entry: Entry

    def apply(self, ledger: Ledger) -> None:
        entry = self.entry
        if entry.key is not None:
            ledger.by_key[entry.key] = entry
        rrn = entry.outcome.rrn
        if rrn and entry.kind in REMEMBERED_BY_RRN:
            ledger.by_rrn[rrn] = entry
            ledger.last_rrn = max(ledger.last_rrn, int(rrn))
        if entry.hold_state == HoldState.OPEN:
            ledger.watch_hold(entry)

    def revert(self, ledger: Ledger) -> None:
        entry = self.entry
        if entry.key is not None and ledger.by_key.get(entry.key) is entry:
            del ledger.by_key[entry.key]
        rrn = entry.outcome.rrn
        if rrn and ledger.by_rrn.get(rrn) is entry:
            del ledger.by_rrn[rrn]


@dataclass(frozen=True, slots=True)
class Changed(Effect):
    """One field of a remembered entry changed (a hold completed, a redemption refunded)."""

    entry: Entry
    field: str
    old: Any
    new: Any

    def apply(self, ledger: Ledger) -> None:
        setattr(self.entry, self.field, self.new)

    def revert(self, ledger: Ledger) -> None:
        setattr(self.entry, self.field, self.old)
        if self.field == "hold_state" and self.old == HoldState.OPEN:
            ledger.watch_hold(self.entry)


@dataclass(frozen=True, slots=True)
class Tombstone(Effect):
    """A reversal came for a request never seen: that request is declined if it arrives."""

    key: str

    def apply(self, ledger: Ledger) -> None:
        ledger.reversed_keys.add(self.key)

    def revert(self, ledger: Ledger) -> None:
        ledger.reversed_keys.discard(self.key)


@dataclass(frozen=True, slots=True)
class Session(Effect):
    """A terminal signed on or off; the session outlives its TCP connections."""

    replayed: ClassVar[bool] = False
    terminal: str
    signed_on: bool

    def apply(self, ledger: Ledger) -> None:
        ledger.terminals[self.terminal].signed_on = self.signed_on

    def revert(self, ledger: Ledger) -> None:
        ledger.terminals[self.terminal].signed_on = not self.signed_on


@dataclass(frozen=True, slots=True)
class BatchItem(Effect):
    """One ``kind`` (debits, credits, debits_reversal, credits_reversal) of ``amount`` added
    to the terminal's open batch ``seq``."""

    terminal: str
    seq: int
    kind: str
    amount: int

    def apply(self, ledger: Ledger, sign: int = 1) -> None:
        terminal = ledger.terminals[self.terminal]
        if terminal.batch_seq == self.seq:
            counts, amount_kind = terminal.counts, self.kind + "_amount"
            counts[self.kind] = counts.get(self.kind, 0) + sign
            counts[amount_kind] = counts.get(amount_kind, 0) + sign * self.amount

    def revert(self, ledger: Ledger) -> None:
        self.apply(ledger, -1)


@dataclass(frozen=True, slots=True)
class BatchClosed(Effect):
    """Reconciliation closed batch ``seq``; its totals as the gateway and terminal saw them."""

    terminal: str
    seq: int
    batch_number: str
    gateway: BatchTotals
    reported: BatchTotals

    def apply(self, ledger: Ledger) -> None:
        terminal = ledger.terminals[self.terminal]
        if terminal.batch_seq == self.seq:
            terminal.open_batch(self.seq + 1, BatchTotals())

    def revert(self, ledger: Ledger) -> None:
        ledger.terminals[self.terminal].open_batch(self.seq, self.gateway)


@dataclass(frozen=True, slots=True)
class LotCreated(Effect):
    """A new credit lot (earned, referral, voucher, gift card, converted points); its row in
    ``lots`` is what the store keeps, and ``remaining`` starts at ``amount``."""

    replayed: ClassVar[bool] = False
    lot_id: str
    account_id: str
    amount: int
    created_at: datetime
    expires_at: datetime | None
    source: str

    def apply(self, ledger: Ledger) -> None:
        ledger.add_lot(Lot(self.lot_id, self.account_id, self.amount, self.created_at, self.expires_at))

    def revert(self, ledger: Ledger) -> None:
        ledger.remove_lot(self.lot_id)


@dataclass(frozen=True, slots=True)
class PointsMoved(Effect):
    """Points earned (+) or taken back (-); the store adds ``delta`` to the account's points,
    so that an operator's conversion committed meanwhile is not overwritten."""

    replayed: ClassVar[bool] = False
    account_id: str
    delta: int

    def apply(self, ledger: Ledger) -> None:
        ledger.accounts[self.account_id].points += self.delta

    def revert(self, ledger: Ledger) -> None:
        ledger.accounts[self.account_id].points -= self.delta


@dataclass(frozen=True, slots=True)
class AccrualBooked(Effect):
    """An invoice's accrual; the store keeps it as an ``accruals`` row, made from the
    object as it is when the decision's records are prepared."""

    replayed: ClassVar[bool] = False
    accrual: Accrual

    def apply(self, ledger: Ledger) -> None:
        ledger.add_accrual(self.accrual)

    def revert(self, ledger: Ledger) -> None:
        ledger.remove_accrual(self.accrual)



@dataclass(frozen=True, slots=True)
class Updated(Effect):
    """One field of an account (``group``, ``gift_state``), an accrual (``returned``,
    ``reversed``) or a voucher (``state``) changed from ``old`` to ``new``; the store
    updates that column of its row (a voucher's only while it still has ``old``)."""

    replayed: ClassVar[bool] = False
    kind: str
    id: str
    field: str
    old: Any
    new: Any

    def apply(self, ledger: Ledger) -> None:
        self._set(ledger, self.new)

    def revert(self, ledger: Ledger) -> None:
        self._set(ledger, self.old)

    def _set(self, ledger: Ledger, value: Any) -> None:
        if self.kind == "account":
            setattr(ledger.accounts[self.id], self.field, value)
        elif self.kind == "voucher":
            setattr(ledger.vouchers_by_serial[self.id], self.field, value)
        else:
            accrual = ledger.accruals_by_id[self.id]
            setattr(accrual, self.field, value)
            ledger.reindex_accrual(accrual)


@dataclass(frozen=True, slots=True)
class PinFailure(Effect):
    """A wrong voucher PIN, counted against ``scope`` (``terminal:TID`` or ``account:ID``)
    for the lockout; replayed from the journal, so a restart forgets no guess."""

    scope: str
    at: datetime

    def apply(self, ledger: Ledger) -> None:
        ledger.pin_failures.setdefault(self.scope, []).append(self.at)

    def revert(self, ledger: Ledger) -> None:
        failures = ledger.pin_failures[self.scope]
        failures.remove(self.at)
        if not failures:
            del ledger.pin_failures[self.scope]


@dataclass(frozen=True, slots=True)
class Counted(Effect):
    """An approved request (and its ``amount``) counted against velocity limit ``rate`` of
    ``subject`` (``terminal:TID`` or ``account:ID``) in ``window``; ``before``: what the
    ledger held for them, restored on revert. Replayed from the journal, so a restart
    forgets no count."""

    rate: str
    subject: str
    window: str
    amount: int
    before: tuple[str, int, int] | None = None

    def apply(self, ledger: Ledger) -> None:
        key = (self.rate, self.subject)
        current = ledger.velocity.get(key)
        if current is not None and current[0] > self.window:  # a later window is counting already
            return
        count, amount = current[1:] if current is not None and current[0] == self.window else (0, 0)
        ledger.velocity[key] = (self.window, count + 1, amount + self.amount)

    def revert(self, ledger: Ledger) -> None:
        if self.before is None:
            ledger.velocity.pop((self.rate, self.subject), None)
        else:
            ledger.velocity[self.rate, self.subject] = self.before
