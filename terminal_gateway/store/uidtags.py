"""UID tags: ``card issue UID CARD`` registers an NFC sticker or fob, known only by its UID,
as an alias of the member's card; a counter station that reads the UID decides as for the
card. Looked up when a tag is read (not kept in the ledger), so a tag issued while the
daemon runs works at once and a tag follows its member's account to a replacement card.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, case, insert, select

from ..vocabulary import mask_pan
from .errors import StoreError
from .schema import cards, uid_tags

if TYPE_CHECKING:
    from . import Store

UID_SIZES = (4, 7, 10)  # bytes of an ISO 14443-3 UID


def normalise_uid(text: str) -> str:
    """``04:a1:b2:c3`` or ``04A1B2C3`` as ``04A1B2C3``; ``StoreError`` when it is no UID."""
    uid = "".join(text.split()).replace(":", "").upper()
    if not (uid and set(uid) <= set(string.hexdigits.upper()) and len(uid) // 2 in UID_SIZES and len(uid) % 2 == 0):
        raise StoreError(f"UID {text!r} must be 4, 7 or 10 bytes in hex (8, 14 or 20 hex digits)")
    return uid


def issue(conn: Connection, uid: str, card: str, now: datetime) -> str:
    """Register ``uid`` to the member holding ``card`` (an active card); the account id."""
    uid = normalise_uid(uid)
    row = conn.execute(select(cards.c.account_id, cards.c.status).where(cards.c.pan == card)).first()
    if row is None:
        raise StoreError(f"card {mask_pan(card)} is not a club card")
    if row.status != "active":
        raise StoreError(f"card {mask_pan(card)} is {row.status}: issue the tag to the member's active card")
    holder = conn.scalar(select(uid_tags.c.pan).where(uid_tags.c.uid == uid))
    if holder is not None:
        raise StoreError(f"UID tag {uid} is already issued (to card {mask_pan(holder)})")
    conn.execute(insert(uid_tags).values(uid=uid, pan=card, account_id=row.account_id, created_at=now))
    return str(row.account_id)


def card_of(conn: Connection, uid: str) -> str | None:
    """The card a station decides a read of ``uid`` for: the card the tag was issued to while
    it is active, else an active card of the same account (the member's replacement), else
    the issued card (whose status the rule core then answers); ``None``: not issued."""
    tag = conn.execute(select(uid_tags.c.pan, uid_tags.c.account_id).where(uid_tags.c.uid == uid)).first()
    if tag is None:
        return None
    active = conn.scalar(
        select(cards.c.pan)
        .where(cards.c.account_id == tag.account_id, cards.c.status == "active")
        .order_by(case((cards.c.pan == tag.pan, 0), else_=1), cards.c.created_at.desc())
        .limit(1))
    return str(active or tag.pan)


def issue_tag(store: Store, uid: str, card: str) -> str:
    """``issue`` in a transaction of its own; the UID as registered."""
    with store._transaction("cannot issue the UID tag", write=True) as conn:
        issue(conn, uid, card, datetime.now(UTC))
    return normalise_uid(uid)


def tag_card(store: Store, uid: str) -> str | None:
    """``card_of`` in a snapshot of its own (blocking: the daemon calls it from a thread)."""
    with store._transaction("cannot read the UID tag", write=False) as conn:
        return card_of(conn, uid)
