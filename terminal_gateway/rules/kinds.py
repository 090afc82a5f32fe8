"""One registration per kind of transaction, as jPOS lists a transaction's participants once:
the request it answers, how it is decided and how a reversal undoes it.

Each kind module lists its kinds in ``HANDLERS``; ``core`` puts the lists together in one
``KindTable``, which is all the core knows of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..vocabulary import Kind, Outcome, Request
from .draft import Draft
from .ledger import Entry

Decide = Callable[[Draft, Entry], Outcome]  # the draft, and the entry the decision records
Undo = Callable[[Draft, Entry], Outcome]  # the reversal's draft, and the approved entry it undoes


@dataclass(frozen=True, slots=True)
class KindHandler:
    """``decide`` answers a ``request`` of this kind; ``undo`` reverts an approved one when
    it is reversed (``None``: nothing to revert). ``when`` tells apart kinds of one request
    type: a redemption that only authorizes is a hold."""

    kind: Kind
    request: type[Request]
    decide: Decide
    undo: Undo | None = None
    when: Callable[[Request], bool] | None = None


class KindTable:
    """The registered kinds, found by the request they answer or by name."""

    def __init__(self, handlers: Iterable[KindHandler]):
        self.by_kind: dict[Kind, KindHandler] = {}
        by_request: dict[type[Request], list[KindHandler]] = {}
        for handler in handlers:
            if handler.kind in self.by_kind:
                raise ValueError(f"kind {handler.kind} is registered twice")
            self.by_kind[handler.kind] = handler
            by_request.setdefault(handler.request, []).append(handler)
        # a kind with a ``when`` is tried before the one that takes the rest of its type
        self.by_request = {request: tuple(sorted(kinds, key=lambda handler: handler.when is None))
                           for request, kinds in by_request.items()}

    def of(self, request: Request) -> KindHandler:
        """The kind ``request`` is of."""
        return next(handler for handler in self.by_request[type(request)]
                    if handler.when is None or handler.when(request))
