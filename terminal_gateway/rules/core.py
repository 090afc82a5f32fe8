"""``RuleCore.decide``: one request in, one outcome and its journal records out, no I/O.

The common path is here (duplicates, repeats, the terminal, reversal, hold expiry); each
kind of transaction is registered once, in its own module (``kinds``): ``terminals``,
``balances``, ``redemptions``, ``accruals``, ``topups``, ``giftcards``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..program import ClubRules
from ..vocabulary import (
    Code,
    Echo,
    Kind,
    Malformed,
    Outcome,
    Request,
    Reverse,
    SignOff,
    SignOn,
    TerminalFamily,
    mask_pan,
)
from . import accruals, balances, giftcards, redemptions, terminals, topups
from .draft import Draft
from .effects import Effect, Recorded, Tombstone
from .kinds import KindHandler, KindTable
from .ledger import Entry, Ledger
from .lots import give_back
from .states import HoldState
from .terms import Terms

ANY_FAMILY = TerminalFamily()
NETWORK_MANAGEMENT = (SignOn, SignOff, Echo)  # the 0800s: allowed before sign-on


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


def reverse(d: Draft, entry: Entry) -> Outcome:
    """Undo the request named by its key with its kind's ``undo``; a reversal that comes
    first leaves a tombstone, so that the request is declined should it arrive."""
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
    undo = KINDS.by_kind[original.kind].undo
    if undo is None:
        d.change(original, "reversed", True)
        return Outcome(Code.APPROVED, message="nothing to undo")
    outcome = undo(d, original)
    if outcome.approved:
        d.change(original, "reversed", True)
    return outcome


KINDS = KindTable((
    *terminals.HANDLERS,
    *balances.HANDLERS,
    *redemptions.HANDLERS,
    *accruals.HANDLERS,
    *topups.HANDLERS,
    *giftcards.HANDLERS,
    KindHandler(Kind.REVERSE, Reverse, reverse),
))


class RuleCore:
    """Decides requests against the ledger under the configured program."""

    def __init__(self, rules: ClubRules, ledger: Ledger | None = None, voucher_key: bytes | None = None):
        self.terms = Terms(rules, voucher_key)
        self.ledger = ledger if ledger is not None else Ledger()

    def reload(self, rules: ClubRules, voucher_key: bytes | None) -> None:
        """Decide from now on under a changed program; the ledger stays as it is."""
        self.terms = Terms(rules, voucher_key)

    def decide(self, request: Request, now: datetime, family: TerminalFamily = ANY_FAMILY) -> Decision:
        """Decide ``request`` at ``now`` (UTC), applying its effects to the ledger.

        Should deciding fail (a bug), every effect applied so far is reverted before the
        exception goes on: the ledger is never left half-changed."""
        records = [self._expire(entry, now) for entry in self.ledger.due_holds(now)]
        draft = Draft(self.terms, self.ledger, request, now, family)
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

    def _decide(self, d: Draft) -> tuple[Outcome, Record | None]:
        request, ledger = d.request, d.ledger
        if isinstance(request, Echo):
            return self._terminal_check(d) or Outcome(Code.APPROVED), None
        if request.terminal not in ledger.terminals:
            # Nobody's request: answered, but neither journalled nor remembered, so a flood of
            # made-up terminal ids costs no row and no memory (the drivers count it per link).
            if isinstance(request, Malformed):
                return Outcome(request.code, message=request.reason), None
            return self._terminal_check(d), None
        if isinstance(request, Malformed):
            outcome = Outcome(request.code, message=request.reason)
            return outcome, self._record(d, Kind.MALFORMED, outcome, with_key=False)
        handler = KINDS.of(request)
        key = request.key
        known = ledger.by_key.get(key) if key is not None else None
        if known is not None:
            if request.repeat:
                return known.outcome, None
            outcome = Outcome(Code.DUPLICATE, message=f"duplicate of an earlier request {key}")
            return outcome, self._record(d, handler.kind, outcome, with_key=False)
        entry = Entry(kind=handler.kind, terminal=request.terminal, outcome=Outcome(Code.APPROVED), key=key)
        entry.branch = request.branch
        if key is not None and key in ledger.reversed_keys:
            outcome = Outcome(Code.INVALID_TRANSACTION, message="this request was reversed before it arrived")
        else:
            outcome = self._terminal_check(d) or handler.decide(d, entry)
        entry.outcome = outcome
        if d.account is not None:
            entry.account_id = d.account.id
        if d.terminal is not None:
            entry.branch = d.terminal.branch
        d.apply(Recorded(entry))
        return outcome, self._record(d, handler.kind, outcome, entry=entry)

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
        family = d.family.protocol
        if terminal.family is not None and family is not None and family != terminal.family:
            return Outcome(Code.NOT_PERMITTED_TERMINAL,
                           message=f"terminal {terminal.tid} is registered for {terminal.family}, not {family}")
        if request.branch is not None and request.branch != terminal.branch:
            return Outcome(Code.NOT_PERMITTED_TERMINAL,
                           message=f"terminal {terminal.tid} belongs to branch {terminal.branch}, not {request.branch}")
        if d.family.signon_required and not terminal.signed_on and not isinstance(request, NETWORK_MANAGEMENT):
            return Outcome(Code.NOT_PERMITTED_TERMINAL, message=f"terminal {terminal.tid} is not signed on")
        return None

    def _expire(self, hold: Entry, now: datetime) -> Record:
        """A hold's lifetime ended: its credit and cap room come back."""
        request = Request(terminal=hold.terminal)
        d = Draft(self.terms, self.ledger, request, now, ANY_FAMILY)
        held = hold.outcome.amount
        give_back(d, hold, held - hold.given_back)
        redemptions.unuse(d, hold, held, 1)
        d.change(hold, "hold_state", HoldState.EXPIRED)
        outcome = Outcome(Code.APPROVED, amount=held, rrn=hold.outcome.rrn, message="hold expired")
        return Record(at=now, kind=Kind.HOLD_EXPIRY, terminal=hold.terminal, outcome=outcome,
                      effects=tuple(d.effects), account_id=hold.account_id, branch=hold.branch,
                      invoice=hold.invoice, day=hold.day, ref=hold.outcome.rrn)
