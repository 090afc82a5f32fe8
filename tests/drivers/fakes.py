"""A gateway as drivers see it (``drivers.Gateway``), answering when a test says so."""

from __future__ import annotations

from datetime import datetime

from twisted.internet.defer import Deferred

from terminal_gateway.vocabulary import Outcome, Request, TerminalFamily


class FakeGateway:
    def __init__(self) -> None:
        self.pending: list[tuple[Request, TerminalFamily, Deferred[Outcome]]] = []
        self.memory: dict[str, list[tuple[str, str, Outcome]]] = {}
        self.revoked: dict[str, datetime] = {}
        self.misplaced: dict[str, str] = {}

    def handle(self, request: Request, family: TerminalFamily) -> Deferred[Outcome]:
        answer: Deferred[Outcome] = Deferred()
        self.pending.append((request, family, answer))
        return answer

    def remembered(self, terminal: str) -> list[tuple[str, str, Outcome]]:
        return self.memory.get(terminal, [])

    def business_day(self, branch: str, now: datetime) -> str:
        return "2026-12-01"

    def source_problem(self, terminal: str, address: str) -> str | None:
        return self.misplaced.get(terminal)

    def certificate_problem(self, terminal: str, issued: datetime) -> str | None:
        revoked = self.revoked.get(terminal)
        return "revoked" if revoked is not None and issued < revoked else None
