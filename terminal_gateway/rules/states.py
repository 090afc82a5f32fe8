"""The states of what the ledger holds, spelt as the store keeps them.

String enums, so that a value read from the store compares equal to its member and a member
is stored as its plain value.
"""

from __future__ import annotations

from enum import StrEnum


class HoldState(StrEnum):
    """A hold is open until it is completed, reversed or expires."""

    OPEN = "open"
    COMPLETED = "completed"
    REVERSED = "reversed"
    EXPIRED = "expired"


class CardStatus(StrEnum):
    ACTIVE = "active"
    LOST = "lost"
    BLOCKED = "blocked"


class AccountKind(StrEnum):
    MEMBER = "member"
    GIFT = "gift"


class GiftState(StrEnum):
    """A gift card is registered inactive; a terminal activates it."""

    INACTIVE = "inactive"
    ACTIVE = "active"


class VoucherState(StrEnum):
    """A voucher is generated, activated when sold, then redeemed; or void."""

    GENERATED = "generated"
    ACTIVE = "active"
    REDEEMED = "redeemed"
    VOID = "void"
