"""Vouchers (top-up PINs): ``voucher generate``, ``voucher activate`` and ``voucher void``.

A voucher is a serial (``BATCH-000001``: the batch name, a dash, a 6-digit sequence) and a
PIN drawn from ``secrets``. The PIN is handed back once, for printing, and the store keeps
only its keyed hash (``rules.vouchers.pin_hash``): never the PIN, in no column, message or
log. States: generated, then active (sold), then redeemed by a terminal; generated and
active ones can be voided; a redeemed one never changes again.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    String,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from ..rules.vouchers import pin_hash
from . import changes
from .checks import amount_problem, count_problem
from .errors import StoreError
from .schema import vouchers

SEQUENCE_DIGITS = 6
MAX_COUNT = 10**SEQUENCE_DIGITS - 1
BATCH_LENGTH = 13  # the serial column holds 20 characters: the batch, '-' and the sequence
BATCH = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_]{{0,{BATCH_LENGTH - 1}}}")
SERIAL = re.compile(rf"({BATCH.pattern})-([0-9]{{{SEQUENCE_DIGITS}}})")
PIN_DIGITS = (12, 32)
LIVE = ("generated", "active")


@dataclass(frozen=True, slots=True)
class Move:
    """A change of state an operator makes: from any of ``sources`` to ``target``."""

    target: str
    sources: tuple[str, ...]
    verb: str  # past participle, for messages


ACTIVATE = Move("active", ("generated",), "activated")
VOID = Move("void", LIVE, "voided")


def default_batch(now: datetime) -> str:
    """A new batch name from the time: ``B`` and the UTC date and time to the second."""
    return f"B{now:%y%m%d%H%M%S}"


def generate(conn: Connection, count: int, value: int, expires_at: datetime, key: bytes, batch: str,
             pin_digits: int, now: datetime) -> list[tuple[str, str]]:
    """``count`` new vouchers of ``batch``, state generated; their ``(serial, PIN)`` in serial order."""
    if problem := count_problem("count", count, MAX_COUNT) or amount_problem(value, "value"):
        raise StoreError(problem)
    if expires_at <= now:
        raise StoreError(f"expiry {expires_at:%Y-%m-%d %H:%M} UTC is not in the future")
    if not BATCH.fullmatch(batch):
        raise StoreError(f"batch name {batch!r} must be 1 to {BATCH_LENGTH} letters, digits or '_', "
                         "starting with a letter or digit")
    shortest, longest = PIN_DIGITS
    if not shortest <= pin_digits <= longest:
        raise StoreError(f"PINs must have {shortest} to {longest} digits, not {pin_digits}")
    if conn.scalar(select(vouchers.c.serial).where(vouchers.c.batch == batch).limit(1)) is not None:
        raise StoreError(f"batch {batch} already exists: give another --batch")
    serials = [f"{batch}-{number:0{SEQUENCE_DIGITS}d}" for number in range(1, count + 1)]
    pins = _insert_with_new_pins(conn, serials, key, pin_digits, {"batch": batch, "value": value,
                                                                   "expires_at": expires_at, "state": "generated",
                                                                   "created_at": now})
    return [(serial, pins[serial]) for serial in serials]


def _insert_with_new_pins(conn: Connection, serials: list[str], key: bytes, digits: int,
                          columns: dict[str, Any]) -> dict[str, str]:
    """Insert a voucher row for each of ``serials`` (all of one batch) with a new random PIN's
    hash; the PINs by serial.

    A PIN whose hash another voucher has (with 10^12 PINs and millions of vouchers, rare but
    not never) is drawn again: the insert skips the rows whose hash is taken, and the loop
    draws again for the serials that the batch does not hold yet.
    """
    pins: dict[str, str] = {}
    drawn: set[str] = set()
    missing = serials
    while missing:
        rows = []
        for serial in missing:
            pin = f"{secrets.randbelow(10**digits):0{digits}d}"
            digest = pin_hash(key, pin)
            if digest not in drawn:
                drawn.add(digest)
                pins[serial] = pin
                rows.append((serial, digest))
        if rows:
            _insert_unless_hash_taken(conn, rows, columns)
        stored = set(conn.scalars(select(vouchers.c.serial).where(vouchers.c.batch == columns["batch"])))
        missing = [serial for serial in missing if serial not in stored]
    return pins


def _insert_unless_hash_taken(conn: Connection, rows: list[tuple[str, str]], columns: dict[str, Any]) -> None:
    """INSERT the ``(serial, pin_hash)`` rows with ``columns`` ... ON CONFLICT (pin_hash) DO NOTHING.

    One statement whose rows come from one parameter (two arrays on PostgreSQL, a JSON array
    on SQLite), the other columns bound once: 100,000 rows of seven parameters each would
    take several times longer.
    """
    if conn.dialect.name == "postgresql":
        insert: Any = postgresql.insert
        new = func.unnest(bindparam("serials", [serial for serial, _ in rows], ARRAY(String)),
                          bindparam("hashes", [digest for _, digest in rows], ARRAY(String))
                          ).table_valued("serial", "pin_hash").render_derived("new")
        serial, digest = new.c.serial, new.c.pin_hash
    else:
        insert = sqlite.insert
        pairs = func.json_each(bindparam("rows", json.dumps(rows), String)).table_valued("value")
        serial, digest = func.json_extract(pairs.c.value, "$[0]"), func.json_extract(pairs.c.value, "$[1]")
    values = select(serial, digest, *(literal(value, vouchers.c[name].type) for name, value in columns.items()))
    values = values.where(true())  # SQLite parses INSERT ... SELECT ... ON CONFLICT only after a WHERE
    statement = insert(vouchers).from_select(["serial", "pin_hash", *columns], values)
    conn.execute(statement.on_conflict_do_nothing(index_elements=[vouchers.c.pin_hash]))


@dataclass(frozen=True, slots=True)
class Selection:
    """The vouchers an operator names: a whole batch, or the serials ``first`` to ``last``
    (both included, in serial order) of one batch; one serial is ``first == last``."""

    batch: str
    first: str | None = None
    last: str | None = None

    @classmethod
    def named(cls, batch: str | None = None, first: str | None = None, last: str | None = None) -> Selection:
        """A ``batch``, or the serials ``first`` to ``last`` (``last`` alone or missing: ``first`` only)."""
        if batch is not None:
            if first is not None or last is not None:
                raise StoreError("name a batch or a range of serials, not both")
            return cls(batch)
        if first is None:
            raise StoreError("name a batch or a range of serials")
        last = first if last is None else last
        batch, last_batch = _batch_of(first), _batch_of(last)
        if batch != last_batch:
            raise StoreError(f"serials {first} and {last} are of two batches ({batch}, {last_batch}): "
                             "a range is within one batch")
        if first > last:
            raise StoreError(f"serial {first} comes after {last}: give the range from the lower serial")
        return cls(batch, first, last)

    @property
    def single(self) -> bool:
        return self.first is not None and self.first == self.last

    def where(self) -> ColumnElement[bool]:
        if self.first is None:
            return vouchers.c.batch == self.batch
        return and_(vouchers.c.batch == self.batch, vouchers.c.serial.between(self.first, self.last))

    def __str__(self) -> str:
        if self.first is None:
            return f"of batch {self.batch}"
        return self.first if self.single else f"from {self.first} to {self.last}"


def _batch_of(serial: str) -> str:
    found = SERIAL.fullmatch(serial)
    if not found:
        raise StoreError(f"serial {serial!r} is not a voucher serial (BATCH-{'N' * SEQUENCE_DIGITS})")
    return found.group(1)


def move(conn: Connection, selection: Selection, to: Move, now: datetime) -> int:
    """Move every voucher of ``selection`` that can be to ``to.target``, with a change-feed row
    each; how many. ``StoreError`` (nothing changed) if none exists or none can move."""
    moving = and_(selection.where(), vouchers.c.state.in_(to.sources))
    if to is ACTIVATE:  # an expired voucher is not sold
        moving = and_(moving, or_(vouchers.c.expires_at.is_(None), vouchers.c.expires_at > now))
    serials = conn.scalars(update(vouchers).where(moving).values(state=to.target).returning(vouchers.c.serial)).all()
    if not serials:
        raise StoreError(_nothing_moved(_states(conn, selection, now), selection, to))
    changes.append(conn, "voucher", sorted(serials), now)
    return len(serials)


def _states(conn: Connection, selection: Selection, now: datetime) -> dict[str, int]:
    """How many vouchers of ``selection`` are in each state; expired counts generated and active ones past it."""
    expired = and_(vouchers.c.state.in_(LIVE), vouchers.c.expires_at <= now)
    state = case((expired, "expired"), else_=vouchers.c.state).label("state")
    found = select(state).where(selection.where()).subquery()
    rows = conn.execute(select(found.c.state, func.count()).group_by(found.c.state)).all()
    return {name: number for name, number in rows}


def _nothing_moved(states: Mapping[str, int], selection: Selection, to: Move) -> str:
    if not states:
        return f"no voucher {selection}" if selection.single else f"no vouchers {selection}"
    found = ", ".join(f"{number} {name}" for name, number in sorted(states.items()))
    if selection.single:
        return f"voucher {selection} cannot be {to.verb}: it is {next(iter(states))}"
    return f"none of the {sum(states.values())} vouchers {selection} can be {to.verb}: {found}"
