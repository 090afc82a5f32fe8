"""The counter protocol, sans-I/O: the counter software's JSON over HTTP to the stations.

    POST /stations/CNTR0001/operations
    {"kind": "redeem", "amount": 150000, "invoice": "INV-7", "timeout": 30}

``parse_operation`` turns a request body into an ``Operation`` (``BadOperation`` names the
field), ``Operation.request`` into the vocabulary's request for the card presented, and
``answers`` turns what happened into the JSON ``Reply``; ``guard`` says which requests are
refused before any of that (Host, Origin, Content-Type, the station's bearer token).
"""

from .answers import Reply, bad_request, busy, decided, failed, no_card, not_found, removed, unavailable, unreadable
from .guard import Listener, bearer_token, no_credential, refusal
from .operations import (
    DEFAULT_TIMEOUT,
    KINDS,
    MAX_BODY,
    MAX_NESTING,
    MAX_TIMEOUT,
    SPENDING,
    BadOperation,
    Operation,
    parse_operation,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "KINDS",
    "MAX_BODY",
    "MAX_NESTING",
    "MAX_TIMEOUT",
    "SPENDING",
    "BadOperation",
    "Listener",
    "Operation",
    "Reply",
    "bad_request",
    "bearer_token",
    "busy",
    "decided",
    "failed",
    "no_card",
    "no_credential",
    "not_found",
    "parse_operation",
    "refusal",
    "removed",
    "unavailable",
    "unreadable",
]
