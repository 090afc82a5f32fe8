"""The counter protocol, sans-I/O: the counter software's JSON over HTTP to the stations.

    POST /stations/CNTR0001/operations
    {"kind": "redeem", "amount": 150000, "invoice": "INV-7", "timeout": 30}

``parse_operation`` turns a request body into an ``Operation`` (``BadOperation`` names the
field), ``Operation.request`` into the vocabulary's request for the card presented, and
``answers`` turns what happened into the JSON ``Reply``.
"""

from .answers import Reply, bad_request, busy, decided, failed, no_card, not_found, removed, unreadable
from .operations import (
    DEFAULT_TIMEOUT,
    KINDS,
    MAX_BODY,
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
    "MAX_TIMEOUT",
    "SPENDING",
    "BadOperation",
    "Operation",
    "Reply",
    "bad_request",
    "busy",
    "decided",
    "failed",
    "no_card",
    "not_found",
    "parse_operation",
    "removed",
    "unreadable",
]
