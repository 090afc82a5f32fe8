"""The counter protocol's answers: an HTTP status and a JSON body, one constructor each.

Only ``decided`` moves anything; every other answer says why there is no decision.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from ...vocabulary import Outcome

__all__ = ["Reply", "bad_request", "busy", "decided", "failed", "forbidden", "misdirected", "no_card", "not_found",
           "removed", "unauthorized", "unavailable", "unreadable", "unsupported_media"]

# What an outcome adds to a decided answer where it has it.
_OPTIONAL = ("balance", "daily_remaining", "invoice_remaining", "rrn", "auth_code", "earned", "points_earned",
             "points", "group", "discount")


class Reply(NamedTuple):
    status: int
    body: dict[str, Any]

    def encode(self) -> bytes:
        return json.dumps(self.body).encode() + b"\n"


def decided(outcome: Outcome, card_kind: str, card: str | None) -> Reply:
    """A decision (HTTP 200), with the masked ``card`` it was made for."""
    body: dict[str, Any] = {
        "status": "decided",
        "approved": outcome.approved,
        "code": outcome.code.value,
        "amount": outcome.amount,
        "card": card,
        "card_kind": card_kind,
        "message": outcome.message,
    }
    for name in _OPTIONAL:
        value = getattr(outcome, name)
        if value is not None:
            body[name] = value
    if outcome.limit is not None:
        body["limit"] = outcome.limit.value
    return Reply(200, body)


def no_card(why: str) -> Reply:
    """No card in time (or the wait was cancelled): nothing moved."""
    return Reply(408, {"status": "timeout", "message": f"{why}; nothing moved"})


def removed(terminal: str) -> Reply:
    return Reply(408, {"status": "timeout", "message": f"the card was taken away at station {terminal} before it "
                                                      "could be read; nothing moved: present it again"})


def unreadable(reason: str) -> Reply:
    return Reply(422, {"status": "unreadable", "message": f"not a club card ({reason}); nothing moved"})


def busy(terminal: str) -> Reply:
    return Reply(409, {"status": "busy", "message": f"station {terminal} is waiting for a card for another "
                                                    "operation; try again when it is done"})


def bad_request(message: str) -> Reply:
    return Reply(400, {"status": "bad request", "message": message})


def not_found(message: str) -> Reply:
    return Reply(404, {"status": "not found", "message": message})


def failed() -> Reply:
    return Reply(500, {"status": "error", "message": "the gateway failed; nothing moved"})


def unauthorized(message: str) -> Reply:
    return Reply(401, {"status": "unauthorized", "message": message})


def forbidden(message: str) -> Reply:
    return Reply(403, {"status": "forbidden", "message": f"{message}; nothing was done"})


def unsupported_media(message: str) -> Reply:
    return Reply(415, {"status": "unsupported media type", "message": f"{message}; nothing was done"})


def misdirected(message: str) -> Reply:
    return Reply(421, {"status": "misdirected", "message": f"{message}; nothing was done"})


def unavailable(message: str) -> Reply:
    return Reply(503, {"status": "unavailable", "message": f"{message}; nothing was done"})
