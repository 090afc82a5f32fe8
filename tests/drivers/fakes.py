"""A gateway as drivers see it (``drivers.Gateway``), answering when a test says so."""

from __future__ import annotations

from datetime import datetime

from twisted.internet.defer import Deferred

from terminal_gateway.vocabulary import Outcome, Request, TerminalFamily


class FakeGateway:
    def __init__(self) -> None:
        self.pending: list[tuple[Request, TerminalFamily, Deferred[Outcome]]] = []
        self.memory: dict[str, list[tuple[str, str, Outcome]]] = {}

    def handle(self, request: Request, family: TerminalFamily) -> Deferred[Outcome]:
        answer: Deferred[Outcome] = Deferred()
        self.pending.append((request, family, answer))
        return answer

    def remembered(self, terminal: str) -> list[tuple[str, str, Outcome]]:
        return self.memory.get(terminal, [])

    def business_day(self, branch: str, now: datetime) -> str:
        return "2026-12-01"
