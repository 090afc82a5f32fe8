"""Outcomes into Club-8583 response elements.

A response needs a few things from its request (the MTI, the elements it echoes, the TPDU),
kept in ``ResponseContext`` rather than in the vocabulary request, so that a request that
failed to parse is answered just the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ...vocabulary import Outcome
from . import de48
from .elements import ELEMENTS, TOTALS

__all__ = ["ECHOED", "ResponseContext", "response_fields"]

# Request elements every response carries back when the request had them: the terminal
# matches responses by DE41 + DE11, not by order.
ECHOED = ("2", "3", "7", "11", "41", "42", "49", "70")
# MTI classes whose responses carry DE4 (the approved amount): when the request had DE4, and
# when it had none but something was approved (a top-up answers with the voucher's value).
_MONETARY = frozenset({"010", "020", "022", "040", "042"})
_AVAILABLE_BALANCE = "0002"  # DE54 block: account type 00, amount type 02
# DE48 response tags, in the order they are written, and the ``Outcome`` field each carries.
# Numbers are written in decimal, a negative one (what an accrual return took back) with "-".
_OUTCOME_TAGS = (
    ("AB", "balance"),
    ("DL", "daily_remaining"),
    ("IL", "invoice_remaining"),
    ("RS", "limit"),
    ("CE", "earned"),
    ("PE", "points_earned"),
    ("PT", "points"),
    ("TR", "group"),
    ("DP", "discount"),
)


@dataclass(frozen=True, slots=True)
class ResponseContext:
    """What answering a request takes: its MTI, echoed elements, TPDU and batch number.

    ``echo`` may hold the PAN, so it stays out of the repr (and out of logs).
    ``has_amount``: the request carried DE4, so the response carries it even when 0.
    ``approved_tags``: DE48 sub-elements an approval adds (a key change's SK and KC).
    """

    mti: str
    echo: Mapping[str, str] = field(repr=False)
    tpdu: str | None = None
    batch: str | None = None
    has_amount: bool = False
    approved_tags: tuple[tuple[str, str], ...] = ()

    @property
    def response_mti(self) -> str:
        """0200 -> 0210, 0201 -> 0210, 0421 -> 0430: function digit + 1, repeat digit 0."""
        return f"{self.mti[:2]}{int(self.mti[2]) + 1}0"


def response_fields(context: ResponseContext, outcome: Outcome, currency: int) -> dict[str, str]:
    """The response's elements as pyiso8583 strings (``"h"`` and ``"t"`` included)."""
    doc = dict(context.echo)
    doc["t"] = context.response_mti
    if context.tpdu is not None:
        doc["h"] = context.tpdu
    doc["39"] = outcome.code.value
    if context.mti[:3] in _MONETARY and (context.has_amount or outcome.amount):
        doc["4"] = f"{outcome.amount:012d}"
    if outcome.rrn is not None:
        doc["37"] = outcome.rrn
    if outcome.auth_code is not None:
        doc["38"] = outcome.auth_code
    if outcome.expires_on is not None:
        doc["14"] = f"{outcome.expires_on:%y%m}"  # YYMM
    tags = [
        (tag, str(value))
        for tag, name in _OUTCOME_TAGS
        if (value := getattr(outcome, name)) is not None
    ]
    if context.batch is not None:
        tags.append(("BN", context.batch))
    if outcome.code.approved:
        tags.extend(context.approved_tags)
    if tags:
        doc["48"] = de48.build(tags)
    if outcome.balance is not None:
        sign = "D" if outcome.balance < 0 else "C"
        doc["54"] = f"{_AVAILABLE_BALANCE}{currency:03d}{sign}{abs(outcome.balance):012d}"
    if outcome.totals is not None:
        for de, name in TOTALS:
            doc[str(de)] = f"{getattr(outcome.totals, name):0{ELEMENTS[de].length}d}"
    return doc
