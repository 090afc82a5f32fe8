"""What a terminal asks of its own state: its session (sign-on, sign-off) and its batch
(reconciliation, which closes the batch whether or not the totals agree)."""

from __future__ import annotations

from ..vocabulary import Code, Kind, Outcome, Reconcile, SignOff, SignOn
from .draft import Draft
from .effects import BatchClosed, Session
from .kinds import KindHandler
from .ledger import Entry


def sign_on(d: Draft, entry: Entry) -> Outcome:
    return _set_session(d, True)


def sign_off(d: Draft, entry: Entry) -> Outcome:
    return _set_session(d, False)


def _set_session(d: Draft, signed_on: bool) -> Outcome:
    assert d.terminal is not None
    if d.terminal.signed_on != signed_on:
        d.apply(Session(d.terminal.tid, signed_on))
    return Outcome(Code.APPROVED)


def reconcile(d: Draft, entry: Entry) -> Outcome:
    terminal = d.terminal
    assert terminal is not None and isinstance(d.request, Reconcile)
    gateway = terminal.batch
    agreed = gateway == d.request.totals
    d.apply(BatchClosed(terminal.tid, terminal.batch_seq, d.request.batch_number, gateway, d.request.totals))
    message = "totals agree" if agreed else "totals differ; the batch is closed all the same"
    return Outcome(Code.APPROVED if agreed else Code.TOTALS_MISMATCH, totals=gateway, message=message)


HANDLERS = (
    KindHandler(Kind.SIGN_ON, SignOn, sign_on),
    KindHandler(Kind.SIGN_OFF, SignOff, sign_off),
    KindHandler(Kind.RECONCILE, Reconcile, reconcile),
)
