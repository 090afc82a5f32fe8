"""``RuleCore.decide``: one request in, one outcome and its journal records out, no I/O.

The common path is here (duplicates, repeats, the terminal, the card, reversal); each kind
of transaction is decided in its own module: ``redemptions``, ``accruals``, ``topups``,
``giftcards``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from ..program import Caps, ClubRules
from ..vocabulary import (
    AccrualReturn,
    Accrue,
    ActivateGift,
    BalanceInquiry,
    CardRef,
    Code,
    Complete,
    Echo,
    Kind,
    Limit,
    Malformed,
    Outcome,
    Reconcile,
    Redeem,
    Refund,
    Request,
    Reverse,
    SignOff,
    SignOn,
    TerminalFamily,
    TopUp,
    mask_pan,
)
from . import accruals, giftcards, redemptions, topups
from .calendar import business_day_span
from .caps import caps_at, room_left
from .cards import luhn_valid
from .earning import discount
from .effects import (
    BatchClosed,
    Changed,
    Effect,
    Posting,
    Recorded,
    Session,
    Tombstone,
)
from .ledger import Account, Entry, Ledger, Terminal
from .states import AccountKind, CardStatus, HoldState

ANY_FAMILY = TerminalFamily()
NO_CAPS = Caps()
NETWORK_MANAGEMENT = (SignOn, SignOff, Echo)  # the 0800s: allowed before sign-on
KINDS = {
    Redeem: Kind.REDEEM,
    SignOn: Kind.SIGN_ON,
    SignOff: Kind.SIGN_OFF,
    BalanceInquiry: Kind.BALANCE,
    Complete: Kind.COMPLETE,
    Refund: Kind.REFUND,
    Reverse: Kind.REVERSE,
    Reconcile: Kind.RECONCILE,
    Accrue: Kind.ACCRUAL,
    AccrualReturn: Kind.ACCRUAL_RETURN,
    TopUp: Kind.TOPUP,
    ActivateGift: Kind.GIFT_ACTIVATION,
}


@dataclass(frozen=True, slots=True)
class Record:
    """One row of the transaction journal: what was asked, what was decided, what changed."""

    at: datetime
    kind: Kind
    terminal: str
    outcome: Outcome
    effects: tuple[Effect, ...]
    key: str | None = None
    repeat: bool = False
    branch: str | None = None
    card: str = ""
    account_id: str | None = None
    requested: int | None = None
    invoice: str | None = None
    day: str | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer and the records that must be durable before it leaves."""

    outcome: Outcome
    records: tuple[Record, ...] = ()


@dataclass(slots=True)
class Draft:
    """The decision being made: effects are applied at once and collected for the record."""

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


class RuleCore:
    """Decides requests against the ledger under the configured program."""

    def __init__(self, config: ClubRules, ledger: Ledger | None = None, voucher_key: bytes | None = None):
        self.config = config
        self.ledger = ledger if ledger is not None else Ledger()
        self.voucher_key = voucher_key
        self._days: dict[str, tuple[str, datetime, datetime]] = {}
        self._caps: dict[tuple[str, str], Caps] = {}
        self._handlers: dict[type, Callable[[Draft, Entry], Outcome]] = {
            SignOn: self._sign_on,
            SignOff: self._sign_off,
            BalanceInquiry: self._balance,
            Redeem: partial(redemptions.redeem, self),
            Complete: partial(redemptions.complete, self),
            Refund: partial(redemptions.refund, self),
            Reverse: self._reverse,
            Reconcile: self._reconcile,
            Accrue: partial(accruals.accrue, self),
            AccrualReturn: partial(accruals.take_back, self),
            TopUp: partial(topups.top_up, self),
            ActivateGift: partial(giftcards.activate, self),
        }
        self._undo: dict[Kind, Callable[[Draft, Entry], Outcome]] = {
            Kind.REDEEM: partial(redemptions.undo_redeem, self), Kind.HOLD: partial(redemptions.undo_hold, self),
            Kind.COMPLETE: partial(redemptions.undo_completion, self),
            Kind.REFUND: partial(redemptions.undo_refund, self),
            Kind.ACCRUAL: partial(accruals.undo_accrual, self),
            Kind.ACCRUAL_RETURN: partial(accruals.undo_take_back, self), Kind.TOPUP: partial(topups.undo, self),
            Kind.GIFT_ACTIVATION: partial(giftcards.undo, self),
        }

    def reload(self, config: ClubRules, voucher_key: bytes | None) -> None:
        """Decide from now on under a changed program; the ledger stays as it is."""
        self.config, self.voucher_key = config, voucher_key
        self._days.clear()
        self._caps.clear()

    # -- entry points ---------------------------------------------------------------------

    def decide(self, request: Request, now: datetime, family: TerminalFamily = ANY_FAMILY) -> Decision:
        """Decide ``request`` at ``now`` (UTC), applying its effects to the ledger.

        Should deciding fail (a bug), every effect applied so far is reverted before the
        exception goes on: the ledger is never left half-changed."""
        records = [self._expire(entry, now) for entry in self.ledger.due_holds(now)]
        draft = Draft(self.ledger, request, now, family)
        try:
            outcome, record = self._decide(draft)
        except Exception:
            self.revert([*records, Record(now, Kind.FAILED, request.terminal, Outcome(Code.MALFUNCTION),
                                          tuple(draft.effects))])
            raise
        if record is not None:
            records.append(record)
        return Decision(outcome, tuple(records))

    def revert(self, records: tuple[Record, ...] | list[Record]) -> None:
        """Undo ``records``, newest first: they could not be made durable."""
        for record in reversed(records):
            for effect in reversed(record.effects):
                effect.revert(self.ledger)

    def next_rrn(self) -> str:
        self.ledger.last_rrn += 1
        return f"{self.ledger.last_rrn:012d}"

    # -- the common path -------------------------------------------------------------------

    def _decide(self, d: Draft) -> tuple[Outcome, Record | None]:
        request, ledger = d.request, d.ledger
        if isinstance(request, Echo):
            return self._terminal_check(d) or Outcome(Code.APPROVED), None
        if isinstance(request, Malformed):
            outcome = Outcome(request.code, message=request.reason)
            return outcome, self._record(d, Kind.MALFORMED, outcome, with_key=False)
        kind = Kind.HOLD if isinstance(request, Redeem) and request.hold else KINDS[type(request)]
        key = request.key
        known = ledger.by_key.get(key) if key is not None else None
        if known is not None:
            if request.repeat:
                return known.outcome, None
            outcome = Outcome(Code.DUPLICATE, message=f"duplicate of an earlier request {key}")
            return outcome, self._record(d, kind, outcome, with_key=False)
        entry = Entry(kind=kind, terminal=request.terminal, outcome=Outcome(Code.APPROVED), key=key)
        entry.branch = request.branch
        if key is not None and key in ledger.reversed_keys:
            outcome = Outcome(Code.INVALID_TRANSACTION, message="this request was reversed before it arrived")
        else:
            outcome = self._terminal_check(d) or self._handlers[type(request)](d, entry)
        entry.outcome = outcome
        if d.account is not None:
            entry.account_id = d.account.id
        if d.terminal is not None:
            entry.branch = d.terminal.branch
        d.apply(Recorded(entry))
        return outcome, self._record(d, kind, outcome, entry=entry)

    def _record(self, d: Draft, kind: Kind, outcome: Outcome, *, entry: Entry | None = None,
                with_key: bool = True) -> Record:
        request = d.request
        card = getattr(request, "card", None)
        return Record(
            at=d.now,
            kind=kind,
            terminal=request.terminal,
            outcome=outcome,
            effects=tuple(d.effects),
            key=request.key if with_key else None,
            repeat=request.repeat,
            branch=d.terminal.branch if d.terminal else request.branch,
            card=mask_pan(card.pan) if card and card.pan else "",
            account_id=d.account.id if d.account else None,
            requested=getattr(request, "amount", None),
            invoice=getattr(request, "invoice", None),
            day=entry.day if entry else None,
            ref=getattr(request, "rrn", None) or getattr(request, "original_key", None),
        )

    def _terminal_check(self, d: Draft) -> Outcome | None:
        request = d.request
        terminal = d.ledger.terminals.get(request.terminal)
        if terminal is None:
            return Outcome(Code.NOT_PERMITTED_TERMINAL, message=f"terminal {request.terminal!r} is not registered")
        d.terminal = terminal
        if request.branch is not None and request.branch != terminal.branch:
            return Outcome(Code.NOT_PERMITTED_TERMINAL,
                           message=f"terminal {terminal.tid} belongs to branch {terminal.branch}, not {request.branch}")
        if d.family.signon_required and not terminal.signed_on and not isinstance(request, NETWORK_MANAGEMENT):
            return Outcome(Code.NOT_PERMITTED_TERMINAL, message=f"terminal {terminal.tid} is not signed on")
        return None

    def resolve(self, d: Draft, card: CardRef | None, *, gift_check: bool = True) -> Outcome | None:
        """Find the member's (or gift card's) account, or the answer that says why not; a
        gift card must be active and unexpired unless ``gift_check`` is off (activation)."""
        ledger = d.ledger
        if card is None or not (card.pan or card.phone):
            return Outcome(Code.FORMAT_ERROR, message="no card number or phone")
        if card.pan is not None:
            found = ledger.cards.get(card.pan)
            if found is None:  # enrolled cards passed the Luhn check when they were enrolled
                problem = "fails the Luhn check" if not luhn_valid(card.pan) else "is not a club card"
                return Outcome(Code.UNKNOWN_CARD, message=f"card {mask_pan(card.pan)} {problem}")
            if found.status == CardStatus.LOST:
                return Outcome(Code.LOST_CARD, message=f"card {mask_pan(card.pan)} was reported lost")
            account = ledger.accounts[found.account_id]
            d.account = account
            if found.status == CardStatus.BLOCKED:
                return Outcome(Code.DO_NOT_HONOUR, limit=Limit.BLOCKED, message="card blocked by the operator")
        else:
            if not self.config.program.phone_lookup:
                return Outcome(Code.INVALID_TRANSACTION, message="phone lookup is not enabled in this program")
            account_id = ledger.phones.get(card.phone or "")
            if account_id is None:
                return Outcome(Code.UNKNOWN_CARD, message="no member with that phone number")
            account = ledger.accounts[account_id]
            d.account = account
        if account.blocked:
            return Outcome(Code.DO_NOT_HONOUR, limit=Limit.BLOCKED, message="member blocked by the operator")
        if account.kind == AccountKind.GIFT:
            return giftcards.usable(account, d.now) if gift_check else None
        if account.group not in self.config.groups:
            return Outcome(Code.NOT_PERMITTED_CARD, limit=Limit.GROUP,
                           message=f"the member's group {account.group!r} is not configured")
        return None

    def account_or_problem(self, d: Draft, card: CardRef, amount: int | None = None, *,
                           gift_check: bool = True) -> Account | Outcome:
        """The account a request acts on, or the answer that says why it cannot: a bad
        ``amount`` first, then everything ``resolve`` checks."""
        problem = (amount is not None and self.amount_problem(d.request, amount)) or self.resolve(
            d, card, gift_check=gift_check)
        if problem:
            return problem
        assert d.account is not None
        return d.account

    def amount_problem(self, request: Request, amount: int) -> Outcome | None:
        if amount <= 0:
            return Outcome(Code.INVALID_AMOUNT, message="amount must be more than zero")
        program = self.config.program
        if amount > program.max_amount:
            return Outcome(Code.INVALID_AMOUNT, message=f"amount exceeds the program maximum {program.max_amount}")
        currency = getattr(request, "currency", None)
        if currency is not None and currency != program.currency:
            return Outcome(Code.FORMAT_ERROR,
                           message=f"DE49: currency {currency:03d} is not the program currency {program.currency:03d}")
        return None

    def day(self, d: Draft) -> str:
        """The business day at the terminal's branch, computed once per branch and day."""
        assert d.terminal is not None
        cached = self._days.get(d.terminal.branch)
        if cached is not None and cached[1] <= d.now < cached[2]:
            return cached[0]
        branch = self.config.branches.get(d.terminal.branch)
        if branch is None:
            span = business_day_span(d.now, self.config.program.default_timezone, 0)
        else:
            span = business_day_span(d.now, branch.timezone, branch.day_cutoff_hour)
        self._days[d.terminal.branch] = span
        return span[0]

    def room_outcome(self, d: Draft, entry: Entry, code: Code, amount: int = 0,
                      limit: Limit | None = None, **extra: object) -> Outcome:
        """An outcome that reports the member's balance and what is left of the caps."""
        account = d.account
        assert account is not None
        day = entry.day or self.day(d)
        invoice_used = d.ledger.invoices.get((entry.branch or "", entry.invoice or ""), 0) if entry.invoice else 0
        room = room_left(self.caps(account, entry.branch), account.balance(d.now),
                         d.ledger.daily_used(account.id, day), invoice_used, getattr(d.request, "invoice_total", None))
        return Outcome(code, amount=amount, balance=room.balance, daily_remaining=room.daily,
                       invoice_remaining=room.invoice if entry.invoice else None, limit=limit, **extra)

    def caps(self, account: Account, branch: str | None) -> Caps:
        """The caps on the account's credit at ``branch``. A gift card has none, unless the
        program puts the default group's on gift cards too."""
        group = account.group
        if account.kind == AccountKind.GIFT:
            if not self.config.gift_cards.caps:
                return NO_CAPS
            group = self.config.default_group.name
        key = (group, branch or "")
        caps = self._caps.get(key)
        if caps is None:
            caps = self._caps[key] = caps_at(self.config, group, branch)
        return caps

    def member_view(self, account: Account) -> dict[str, Any]:
        """What a member's answers say of it beyond the balance: points, group, discount."""
        if account.kind == AccountKind.GIFT:
            return {}
        return {"points": account.points, "group": account.group, "discount": discount(self.config, account)}

    # -- lots --------------------------------------------------------------------------------

    def take(self, d: Draft, account: Account, amount: int) -> tuple[tuple[str, int], ...]:
        """Debit ``amount`` from the usable lots, soonest-expiring first."""
        taken = []
        for lot in account.lots:
            if amount == 0:
                break
            if lot.remaining > 0 and lot.usable(d.now):
                part = min(lot.remaining, amount)
                d.apply(Posting(lot.id, account.id, -part))
                taken.append((lot.id, part))
                amount -= part
        return tuple(taken)

    def give_back(self, d: Draft, entry: Entry, amount: int) -> tuple[tuple[str, int], ...]:
        """Return ``amount`` of what ``entry`` took to the lots it came from, latest first,
        with their own expiry."""
        skip, left, returned = entry.given_back, amount, []
        for lot_id, taken in reversed(entry.taken):
            if left == 0:
                break
            if skip >= taken:
                skip -= taken
                continue
            part = min(taken - skip, left)
            skip = 0
            d.apply(Posting(lot_id, entry.account_id or "", part))
            returned.append((lot_id, part))
            left -= part
        d.change(entry, "given_back", entry.given_back + amount)
        return tuple(returned)

    def withdraw_created(self, d: Draft, original: Entry, what: str) -> Outcome | None:
        """Take back, whole, the lot ``original`` created (a top-up, a gift card's load);
        the answer that says why not if any of it was spent since."""
        (lot_id,) = original.created
        lot = d.ledger.lots[lot_id]
        if lot.remaining != original.outcome.amount:
            return Outcome(Code.INSUFFICIENT_BALANCE, limit=Limit.BALANCE, message=f"{what} was spent since")
        d.apply(Posting(lot_id, lot.account_id, -lot.remaining))
        return None

    def approval(self) -> tuple[str, str]:
        """A new RRN and its authorization code (its last six digits)."""
        rrn = self.next_rrn()
        return rrn, rrn[-6:]

    # -- network management and batches -------------------------------------------------

    def _set_session(self, d: Draft, signed_on: bool) -> Outcome:
        assert d.terminal is not None
        if d.terminal.signed_on != signed_on:
            d.apply(Session(d.terminal.tid, signed_on))
        return Outcome(Code.APPROVED)

    def _sign_on(self, d: Draft, entry: Entry) -> Outcome:
        return self._set_session(d, True)

    def _sign_off(self, d: Draft, entry: Entry) -> Outcome:
        return self._set_session(d, False)

    def _reconcile(self, d: Draft, entry: Entry) -> Outcome:
        terminal = d.terminal
        assert terminal is not None and isinstance(d.request, Reconcile)
        gateway = terminal.batch
        agreed = gateway == d.request.totals
        d.apply(BatchClosed(terminal.tid, terminal.batch_seq, d.request.batch_number, gateway, d.request.totals))
        message = "totals agree" if agreed else "totals differ; the batch is closed all the same"
        return Outcome(Code.APPROVED if agreed else Code.TOTALS_MISMATCH, totals=gateway, message=message)

    # -- balance and redemption ------------------------------------------------------------

    def _balance(self, d: Draft, entry: Entry) -> Outcome:
        assert isinstance(d.request, BalanceInquiry)
        problem = self.resolve(d, d.request.card)
        if problem:
            return problem
        assert d.account is not None
        return self.room_outcome(d, entry, Code.APPROVED, **self.member_view(d.account))

    # -- reversal and expiry ---------------------------------------------------------------

    def _reverse(self, d: Draft, entry: Entry) -> Outcome:
        request = d.request
        assert isinstance(request, Reverse) and d.terminal is not None
        entry.ref = request.original_key
        original = d.ledger.by_key.get(request.original_key)
        if request.original_is_reversal or (original is not None and original.kind == Kind.REVERSE):
            return Outcome(Code.INVALID_TRANSACTION, message="a reversal cannot be reversed")
        if original is None:
            if request.original_key not in d.ledger.reversed_keys:
                d.apply(Tombstone(request.original_key))
            return Outcome(Code.APPROVED, message="original not seen; it will be declined should it arrive")
        if original.reversed or not original.outcome.approved:
            if not original.reversed:
                d.change(original, "reversed", True)
            return Outcome(Code.APPROVED, message="nothing to undo")
        if original.batch_seq is not None and original.batch_seq != d.terminal.batch_seq:
            return Outcome(Code.INVALID_TRANSACTION, message="the original's batch was closed by reconciliation")
        undo = self._undo.get(original.kind)
        if undo is None:
            d.change(original, "reversed", True)
            return Outcome(Code.APPROVED, message="nothing to undo")
        outcome = undo(d, original)
        if outcome.approved:
            d.change(original, "reversed", True)
        return outcome

    def _expire(self, hold: Entry, now: datetime) -> Record:
        """A hold's lifetime ended: its credit and cap room come back."""
        request = Request(terminal=hold.terminal)
        d = Draft(self.ledger, request, now, ANY_FAMILY)
        held = hold.outcome.amount
        self.give_back(d, hold, held - hold.given_back)
        redemptions.unuse(d, hold, held, 1)
        d.change(hold, "hold_state", HoldState.EXPIRED)
        outcome = Outcome(Code.APPROVED, amount=held, rrn=hold.outcome.rrn, message="hold expired")
        return Record(at=now, kind=Kind.HOLD_EXPIRY, terminal=hold.terminal, outcome=outcome,
                      effects=tuple(d.effects), account_id=hold.account_id, branch=hold.branch,
                      invoice=hold.invoice, day=hold.day, ref=hold.outcome.rrn)
