"""Between the codecs and the rule core: decide at once, answer once durable.

Every protocol hands its typed requests to ``Dispatcher.handle`` and gets a Deferred that
fires with the outcome only after the decision's records are committed by the store, or
with 96 (nothing approved) when they could not be.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ..rules import RuleCore
from ..rules.core import Decision, Record
from ..vocabulary import Code, Echo, Outcome, Request, TerminalFamily, mask_pan

log = Logger(namespace="terminal_gateway.decision")

STOPPING = Outcome(Code.MALFUNCTION, message="the gateway is stopping; nothing was approved")
STORE_FAILED = "the decision could not be made durable; nothing was approved"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Pending:
    """A decision waiting to be durable, with what deciding it again needs."""

    answer: Deferred[Outcome]
    request: Request
    decision: Decision
    family: TerminalFamily


class Dispatcher:
    """The gateway as every driver sees it (``drivers.Gateway``)."""

    def __init__(self, core: RuleCore, submit: Callable[[int, Any], None], resume: Callable[[int], None],
                 prepare: Callable[[tuple[Record, ...]], Any], clock: Callable[[], datetime] = utc_now):
        self.core = core
        self._submit, self._resume, self._prepare, self._clock = submit, resume, prepare, clock
        self._seq = 0
        self._pending: OrderedDict[int, Pending] = OrderedDict()
        self._drained: list[Deferred[None]] = []
        self.accepting = True
        self.sources: Mapping[str, tuple[IPv4Network | IPv6Network, ...]] = {}  # branch -> allowed_sources

    def handle(self, request: Request, family: TerminalFamily) -> Deferred[Outcome]:
        """Decide ``request``; the Deferred fires once the decision is durable."""
        answer: Deferred[Outcome] = Deferred()
        self._decide(request, family, answer)
        return answer

    def _decide(self, request: Request, family: TerminalFamily, answer: Deferred[Outcome]) -> None:
        if not self.accepting:
            self._answer(answer, request, STOPPING)
            return
        try:
            decision = self.core.decide(request, self._clock(), family)
        except Exception:
            self._internal_error(request, answer)
            return
        if not decision.records and (not self._pending or isinstance(request, Echo)):
            # An echo reads nothing a pending decision wrote: it never waits on the store.
            self._answer(answer, request, decision.outcome)
            return
        try:
            prepared = self._prepare(decision.records)
        except Exception:
            self.core.revert(decision.records)
            self._internal_error(request, answer)
            return
        self._seq += 1
        self._pending[self._seq] = Pending(answer, request, decision, family)
        self._submit(self._seq, prepared)

    def remembered(self, terminal: str) -> Iterator[tuple[str, str, Outcome]]:
        """(key, kind, outcome) of every request of ``terminal`` the ledger remembers."""
        for entry in self.core.ledger.by_key.values():
            if entry.terminal == terminal and entry.key is not None:
                yield entry.key, entry.kind, entry.outcome

    def business_day(self, branch: str, now: datetime) -> str:
        """The business day at ``branch`` (its time zone and cut-off hour) that ``now`` is in."""
        return self.core.terms.day(branch, now)

    def certificate_problem(self, terminal: str, issued: datetime) -> str | None:
        """Why a client certificate of ``terminal`` issued at ``issued`` is refused: the
        terminal is not registered, or its certificates were revoked after it was issued."""
        known = self.core.ledger.terminals.get(terminal)
        if known is None:
            return f"the certificate names terminal {terminal!r}, which is not registered"
        if known.certificates_from is not None and issued < known.certificates_from:
            return (f"the certificate of terminal {terminal} was issued {issued:%Y-%m-%d %H:%M:%S} UTC, before its "
                    f"certificates were revoked ({known.certificates_from:%Y-%m-%d %H:%M:%S} UTC)")
        return None

    def source_problem(self, terminal: str, address: str) -> str | None:
        """Why ``terminal`` may not speak from ``address``: its branch's ``allowed_sources``
        name networks and none holds it (an unregistered terminal is the rule core's to answer)."""
        known = self.core.ledger.terminals.get(terminal)
        allowed = self.sources.get(known.branch, ()) if known is not None else ()
        if not allowed:
            return None
        try:
            where = ip_address(address)
        except ValueError:
            return f"terminal {terminal} may not speak from {address!r}"
        if any(where in network for network in allowed):
            return None
        return f"terminal {terminal} of branch {known.branch} may not speak from {address}"

    def _internal_error(self, request: Request, answer: Deferred[Outcome]) -> None:
        """A bug met deciding or recording ``request``: what it changed is undone, it is
        answered 96, and the gateway goes on with the next request."""
        log.failure("could not decide or record a {kind} from terminal {terminal}; answered 96, nothing changed",
                    kind=type(request).__name__, terminal=request.terminal)
        self._answer(answer, request, Outcome(Code.MALFUNCTION, message="the gateway could not decide this request"))

    def committed(self, through: int) -> None:
        """The store made every decision up to ``through`` durable: answer them."""
        while self._pending:
            seq = next(iter(self._pending))
            if seq > through:
                break
            pending = self._pending.pop(seq)
            self._answer(pending.answer, pending.request, pending.decision.outcome)
        self._check_drained()

    def failed(self, first: int, error: Exception) -> None:
        """The store failed from decision ``first`` on: undo every pending decision, newest
        first, answer each 96, and let the writer go on past them."""
        log.error("store write failed ({error}): answering 96 to {count} pending decisions",
                  error=error, count=len(self._pending))
        for _, pending in self._undo_pending(first):
            self._answer(pending.answer, pending.request, Outcome(Code.MALFUNCTION, message=STORE_FAILED))
        self._check_drained()

    def rejected(self, seq: int, error: Exception) -> None:
        """The store refused decision ``seq``'s rows, and only those: answer it 96. The
        pending decisions after it were made on a ledger with it, so they are undone and
        decided again (their answers have not left yet)."""
        log.error("the store refused the rows of one decision ({error}): answering it 96", error=error)
        for number, pending in self._undo_pending(seq):
            if number == seq:
                self._answer(pending.answer, pending.request, Outcome(Code.MALFUNCTION, message=STORE_FAILED))
            else:
                self._decide(pending.request, pending.family, pending.answer)
        self._check_drained()

    def _undo_pending(self, first: int) -> list[tuple[int, Pending]]:
        """Revert every pending decision, newest first, and let the writer drop them (the
        last one, or ``first`` if none is pending); they are returned oldest first."""
        pending = list(self._pending.items())
        self._pending.clear()
        for _, each in reversed(pending):
            self.core.revert(each.decision.records)
        self._resume(pending[-1][0] if pending else first)
        return pending

    def _answer(self, answer: Deferred[Outcome], request: Request, outcome: Outcome) -> None:
        self._log(request, outcome)
        answer.callback(outcome)

    def drain(self) -> Deferred[None]:
        """Stop taking requests; fires when every pending decision has been answered."""
        self.accepting = False
        done: Deferred[None] = Deferred()
        self._drained.append(done)
        self._check_drained()
        return done

    def _check_drained(self) -> None:
        if not self._pending:
            waiting, self._drained = self._drained, []
            for done in waiting:
                done.callback(None)

    @staticmethod
    def _log(request: Request, outcome: Outcome) -> None:
        card = getattr(request, "card", None)
        log.info(
            "{terminal} {kind} card={card} requested={requested} approved={approved} code={code} "
            "limit={limit} rrn={rrn} {message}",
            terminal=request.terminal,
            kind=type(request).__name__,
            card=mask_pan(card.pan) if card and card.pan else ("phone" if card else "-"),
            requested=getattr(request, "amount", None),
            approved=outcome.amount,
            code=outcome.code.value,
            limit=outcome.limit.value if outcome.limit else "-",
            rrn=outcome.rrn or "-",
            message=outcome.message,
        )
