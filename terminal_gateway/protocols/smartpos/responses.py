"""Outcomes into SmartPOS ``Response`` messages.

``approved`` is the outcome's amount: the amount approved, a voucher's value, and for an
accrual (and its return) the credit earned (taken back: negative), as smartpos.proto says
("approved amount (or voucher value, earned credit)"). Fields the outcome leaves unset stay
at their proto3 defaults (0, ""). ``expires`` is a gift card's expiry, YYYY-MM-DD.
"""

from __future__ import annotations

from ...vocabulary import AccrualReturn, Accrue, Outcome, Request
from . import smartpos_pb2 as pb

__all__ = ["to_response"]


def to_response(request_id: int, request: Request, outcome: Outcome) -> pb.Response:
    earning = isinstance(request, Accrue | AccrualReturn) and outcome.earned is not None
    response = pb.Response(
        request_id=request_id,
        code=outcome.code.value,
        approved=outcome.earned if earning else outcome.amount,
        rrn=outcome.rrn or "",
        auth_code=outcome.auth_code or "",
        limit=outcome.limit.value if outcome.limit is not None else "",
        group=outcome.group or "",
        expires=f"{outcome.expires_on:%Y-%m-%d}" if outcome.expires_on is not None else "",
        message=outcome.message,
    )
    for name in ("balance", "daily_remaining", "invoice_remaining", "points"):
        value = getattr(outcome, name)
        if value is not None:
            setattr(response, name, value)
    return response
