"""Enrolling members, granting credit (to one member or to a whole group), blocking, replacing
cards and showing a member: the admin side of accounts.

``enrol`` takes a list so that ``member add`` and ``member import`` are one code path: every
member is checked against the database and the members before it, then all are inserted with
one statement per table.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from sqlalchemy import Connection, insert, select, update

from ..vocabulary import mask_pan
from . import changes
from .checks import amount_problem, card_problem, phone_problem
from .errors import StoreError
from .reads import existing, read_cards, read_lots
from .schema import accounts, cards, lots

REPLACEABLE = ("active", "blocked")


@dataclass(frozen=True, slots=True)
class NewMember:
    card: str
    group: str
    phone: str | None = None
    referrer: str | None = None
    credit: int = 0
    where: str = ""  # which row a message is about, e.g. "members.csv line 7: "


def enrol(conn: Connection, members: Sequence[NewMember], groups: Collection[str], now: datetime) -> list[str]:
    """Insert ``members`` (all or, raising ``StoreError``, none); their account ids."""
    pans = [m.card for m in members] + [m.referrer for m in members if m.referrer]
    enrolled = existing(conn, cards.c.pan, cards.c.account_id, pans)
    phones = set(existing(conn, accounts.c.phone, accounts.c.id, [m.phone for m in members if m.phone]))
    account_rows, card_rows, lot_rows = [], [], []
    for index, member in enumerate(members):
        problem = _problem(member, groups, enrolled, phones)
        if problem:
            raise StoreError(member.where + problem)
        account_id = uuid4().hex
        enrolled[member.card] = account_id
        if member.phone:
            phones.add(member.phone)
        account_rows.append({"id": account_id, "group": member.group, "phone": member.phone, "blocked": False,
                             "referrer_id": enrolled[member.referrer] if member.referrer else None,
                             # a microsecond apart, in the file's order: the order members joined
                             # (their referrer's max_referred counts it) is the same after a restart
                             "created_at": now + timedelta(microseconds=index)})
        card_rows.append({"pan": member.card, "account_id": account_id, "status": "active", "created_at": now})
        if member.credit:
            lot_rows.append(lot_row(account_id, member.credit, now, None, "import"))
    insert_rows(conn, accounts, account_rows)
    insert_rows(conn, cards, card_rows)
    insert_rows(conn, lots, lot_rows)
    changes.append(conn, "account", [row["id"] for row in account_rows], now)
    changes.append(conn, "lot", [row["id"] for row in lot_rows], now)
    return [row["id"] for row in account_rows]


def grant(conn: Connection, card: str, amount: int, expires_at: datetime | None, source: str, now: datetime) -> str:
    """A new lot of ``amount`` for the card's account; its id."""
    problem = amount_problem(amount)
    if problem:
        raise StoreError(problem)
    row = lot_row(_account_of(conn, card), amount, now, expires_at, source)
    conn.execute(insert(lots), row)
    changes.append(conn, "lot", [row["id"]], now)
    return row["id"]


def grant_group(conn: Connection, group: str, amount: int, groups: Collection[str], expires_at: datetime | None,
                source: str, now: datetime) -> int:
    """A new lot of ``amount`` for every account in ``group``, with one change-feed row each; how many.

    Blocked accounts get it too: the credit is theirs, a block only stops spending it (and
    lifting the block makes it usable). A group without members is no error: 0 accounts. The
    members are those of the group when this transaction reads them; one enrolled meanwhile by
    another transaction is not granted. All lots and their feed rows go in with one bulk insert
    each, so that tens of thousands of members take a second or two.
    """
    if group not in groups:
        raise StoreError(f"unknown group {group!r}: the groups are {', '.join(sorted(groups))}")
    if problem := amount_problem(amount):
        raise StoreError(problem)
    if expires_at is not None and expires_at <= now:
        raise StoreError(f"expiry {expires_at:%Y-%m-%d %H:%M} UTC is not in the future")
    account_ids = conn.scalars(select(accounts.c.id).where(accounts.c.group == group).order_by(accounts.c.id)).all()
    rows = [lot_row(account_id, amount, now, expires_at, source) for account_id in account_ids]
    insert_rows(conn, lots, rows)
    changes.append(conn, "lot", [row["id"] for row in rows], now)
    return len(rows)


def set_blocked(conn: Connection, card: str, blocked: bool, now: datetime) -> str:
    """Block or unblock the whole account holding ``card`` (answered 05 at terminals); its id.

    Doing it twice changes nothing the second time but is no error: the operator's wish holds.
    """
    account_id = _account_of(conn, card)
    conn.execute(update(accounts).where(accounts.c.id == account_id).values(blocked=blocked))
    changes.append(conn, "account", [account_id], now)
    return account_id


def replace(conn: Connection, old: str, new: str, now: datetime) -> str:
    """Report ``old`` lost (answered 41) and give its account the new card ``new``; the account id.

    Balance, lots, group, phone and history belong to the account, so they carry over. The new
    card is active even if the old one was blocked: a card's block is the card's, a member's
    block (``accounts.blocked``) stays on the account.
    """
    if problem := card_problem(new):
        raise StoreError(f"new {problem}")
    account_id = _account_of(conn, old)
    if conn.scalar(select(cards.c.pan).where(cards.c.pan == new)) is not None:
        raise StoreError(f"new card {mask_pan(new)} is already enrolled")
    # Conditional, so that of two replacements of one card at once only one finds it not yet lost.
    done = conn.execute(update(cards).where(cards.c.pan == old, cards.c.status.in_(REPLACEABLE))
                        .values(status="lost"))
    if done.rowcount != 1:
        status = conn.scalar(select(cards.c.status).where(cards.c.pan == old))
        raise StoreError(f"card {mask_pan(old)} is already {status}: only an active or blocked card can be replaced")
    conn.execute(insert(cards), {"pan": new, "account_id": account_id, "status": "active", "created_at": now})
    changes.append(conn, "account", [account_id], now)
    return account_id


def show(conn: Connection, card: str, now: datetime) -> dict[str, Any]:
    """The member holding ``card`` as JSON-able data, for ``member show``; a gift card's
    account (``kind`` ``gift``) also with its ``gift_state``."""
    account_id = _account_of(conn, card)
    account = conn.execute(select(accounts).where(accounts.c.id == account_id)).one()
    own_lots = read_lots(conn, [account_id], by_account=True)
    all_cards = read_cards(conn, [account_id])
    shown = {
        "card": card,
        "account": account_id,
        "kind": account.kind,
        "group": account.group,
        "phone": account.phone,
        "blocked": account.blocked,
        "status": next(c.status for c in all_cards if c.pan == card),
        "balance": sum(lot.remaining for lot in own_lots if lot.usable(now)),
        "points": account.points,
        "lots": [{"id": lot.id, "remaining": lot.remaining, "created_at": lot.created_at.isoformat(),
                  "expires_at": lot.expires_at.isoformat() if lot.expires_at else None}
                 for lot in sorted(own_lots, key=lambda lot: lot.spend_order)],
        "cards": [{"card": mask_pan(c.pan), "status": c.status} for c in all_cards],
    }
    if account.kind == "gift":
        shown["gift_state"] = account.gift_state
    return shown


def _problem(member: NewMember, groups: Collection[str], enrolled: dict[str, str], phones: set[str]) -> str | None:
    masked = mask_pan(member.card)
    if problem := card_problem(member.card):
        return problem
    if member.card in enrolled:
        return f"card {masked} is already enrolled"
    if member.group not in groups:
        return f"unknown group {member.group!r}: the groups are {', '.join(sorted(groups))}"
    if member.phone and (problem := phone_problem(member.phone)):
        return problem
    if member.phone in phones:
        return f"phone {member.phone} already belongs to another member"
    if member.referrer == member.card:
        return f"card {masked} cannot refer itself"
    if member.referrer and member.referrer not in enrolled:
        return f"referrer card {mask_pan(member.referrer)} is not enrolled"
    if member.credit:
        return amount_problem(member.credit, "credit")
    return None


def _account_of(conn: Connection, card: str) -> str:
    account_id = conn.scalar(select(cards.c.account_id).where(cards.c.pan == card))
    if account_id is None:
        raise StoreError(f"card {mask_pan(card)} is not enrolled")
    return account_id


def lot_row(account_id: str, amount: int, now: datetime, expires_at: datetime | None, source: str) -> dict[str, Any]:
    return {"id": uuid4().hex, "account_id": account_id, "amount": amount, "created_at": now,
            "expires_at": expires_at, "source": source}


def insert_rows(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(table), rows)
