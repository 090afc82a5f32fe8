"""Reports from the journal (``transactions``), read-only: per branch and business day, per
terminal and day, per member.

Which business day a row counts to: its ``day`` column where the rule core filled it (every
redemption and hold that got as far as the caps, approved or declined; a completion, refund
and hold expiry carry the day of their original). Rows without one (declines before the caps
were looked at, such as 14, 05 BLOCKED, 13, 58; every reversal; sign-ons) count to the business
day their ``at`` falls in at their branch, computed as the rule core computes ``day`` (the
branch's time zone and cut-off hour, or the program's time zone and midnight for a branch
that is not configured) -- not the UTC date, which would put a Tehran clinic's evening into
the next day.

What each figure is (money in minor units, as stored):

- redemptions: ``redeem`` approved (00 or 10) and ``complete`` approved (00): count, approved
  amount. Gross: a redemption reversed later still counts here, and its reversal under reversals.
- refunds: ``refund`` approved: count, amount.
- reversals: ``reverse`` approved (00), also those with nothing to undo (amount 0): count, amount.
- open holds: ``hold`` approved whose journal has no completion, expiry or reversal yet; expired
  holds: ``hold_expiry`` rows. The daemon writes a hold's expiry with the next decision after
  its deadline, so a hold past its deadline is open here until then.
- declines: every row not approved (code other than 00 and 10; a batch closed with differing
  totals, ``reconcile`` 95, is not a decline), counted by code and binding limit.

The journal has indexes on ``at`` and ``rrn`` only (each is written on every group commit), so
every query here is bounded by ``at``: a row of day D is written no earlier than D starts and, a
refund of an old redemption or a late hold expiry, at most ``replay_days`` after it ends.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Row, and_, or_, select

from ..rules.calendar import business_day
from ..vocabulary import mask_pan
from .errors import StoreError
from .reads import chunks
from .schema import cards, terminals, transactions

APPROVED = ("00", "10")
TOTAL = "TOTAL"
MARGIN = timedelta(days=1)  # a time zone's offset, a DST jump, a changed replay_days: read a little more
FIGURE_COLUMNS = (
    "redemptions", "redemption_amount", "refunds", "refund_amount", "reversals", "reversal_amount",
    "open_holds", "open_hold_amount", "expired_holds", "expired_hold_amount", "declines",
)
MEMBER_COLUMNS = ("time_utc", "terminal", "kind", "requested", "approved", "code", "limit", "rrn")
_DAY_COLUMNS = (transactions.c.id, transactions.c.at, transactions.c.kind, transactions.c.terminal,
                transactions.c.key, transactions.c.approved, transactions.c.code, transactions.c.binding_limit,
                transactions.c.rrn, transactions.c.day, transactions.c.ref)


@dataclass(frozen=True, slots=True)
class Calendar:
    """How a branch's business days fall: as ``RuleCore._day`` computes them."""

    zone: ZoneInfo
    cutoff_hour: int

    def day_of(self, at: datetime) -> str:
        return business_day(at, self.zone, self.cutoff_hour)

    def bounds(self, day: date) -> tuple[datetime, datetime]:
        """The UTC instants business day ``day`` starts and ends."""
        start = datetime.combine(day, time(self.cutoff_hour), tzinfo=self.zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(self.cutoff_hour), tzinfo=self.zone).astimezone(UTC)
        return start, end


@dataclass(slots=True)
class Figures:
    redemptions: int = 0
    redemption_amount: int = 0
    refunds: int = 0
    refund_amount: int = 0
    reversals: int = 0
    reversal_amount: int = 0
    open_holds: int = 0
    open_hold_amount: int = 0
    expired_holds: int = 0
    expired_hold_amount: int = 0
    declines: int = 0
    declined: Counter[str] = field(default_factory=Counter)  # "61 INVOICE_CAP" -> count

    def add(self, other: Figures) -> None:
        for name in FIGURE_COLUMNS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.declined.update(other.declined)


@dataclass(frozen=True, slots=True)
class DailyReport:
    branch: str
    day: str
    terminals: dict[str, Figures]  # by terminal id, sorted
    total: Figures
    terminal: str | None = None  # a report of one terminal

    def reasons(self) -> list[str]:
        """Every decline reason of the report, by code then limit."""
        return sorted(self.total.declined)


@dataclass(frozen=True, slots=True)
class MemberRow:
    at: datetime
    terminal: str
    kind: str
    requested: int | None
    approved: int
    code: str
    limit: str | None
    rrn: str | None


# -- reading -------------------------------------------------------------------------------------


def branch_exists(conn: Connection, branch: str) -> bool:
    """Whether a terminal is registered at ``branch``."""
    return conn.scalar(select(terminals.c.tid).where(terminals.c.branch == branch).limit(1)) is not None


def terminal_branch(conn: Connection, tid: str) -> str:
    branch = conn.scalar(select(terminals.c.branch).where(terminals.c.tid == tid))
    if branch is None:
        raise StoreError(f"terminal {tid!r} is not registered")
    return branch


def daily(conn: Connection, branch: str, day: date, calendar: Calendar, *, replay_days: int, hold_minutes: int,
          terminal: str | None = None) -> DailyReport:
    """The figures of ``branch`` (or of its ``terminal`` only) for business ``day``."""
    iso = day.isoformat()
    start, end = calendar.bounds(day)
    # A hold of the day may be reversed after the day ends, until its deadline.
    closing_until = end + timedelta(minutes=hold_minutes) + MARGIN
    query = (
        select(*_DAY_COLUMNS)
        .where(transactions.c.at >= start - MARGIN,
               transactions.c.at < end + timedelta(days=replay_days) + MARGIN,
               transactions.c.branch == branch,
               or_(transactions.c.day == iso,
                   and_(transactions.c.day.is_(None), transactions.c.at < closing_until)))
        .order_by(transactions.c.at, transactions.c.id)
    )
    rows = list(conn.execute(query))
    of_day = [r for r in rows if r.day == iso or (r.day is None and calendar.day_of(r.at) == iso)]
    by_terminal: dict[str, Figures] = {}
    if terminal is None:
        for tid in conn.scalars(select(terminals.c.tid).where(terminals.c.branch == branch)):
            by_terminal[tid] = Figures()
    else:
        by_terminal[terminal] = Figures()
    closed_holds = _closed_holds(rows)
    for row in of_day:
        if terminal is not None and row.terminal != terminal:
            continue
        _count(by_terminal.setdefault(row.terminal, Figures()), row, closed_holds)
    total = Figures()
    for figures in by_terminal.values():
        total.add(figures)
    return DailyReport(branch, iso, dict(sorted(by_terminal.items())), total, terminal)


def _closed_holds(rows: Iterable[Row[Any]]) -> tuple[set[str], set[str]]:
    """The RRNs of holds completed or expired, and the keys of those reversed."""
    by_rrn, by_key = set(), set()
    for row in rows:
        if row.kind in ("complete", "hold_expiry") and row.code == "00" and row.ref:
            by_rrn.add(row.ref)
        elif row.kind == "reverse" and row.code == "00" and row.approved > 0 and row.ref:
            by_key.add(row.ref)
    return by_rrn, by_key


def _count(figures: Figures, row: Row[Any], closed_holds: tuple[set[str], set[str]]) -> None:
    kind, code, amount = row.kind, row.code, row.approved
    if code not in APPROVED:
        if kind != "reconcile":
            figures.declines += 1
            figures.declined[f"{code} {row.binding_limit}" if row.binding_limit else code] += 1
        return
    if kind in ("redeem", "complete"):
        figures.redemptions += 1
        figures.redemption_amount += amount
    elif kind == "refund":
        figures.refunds += 1
        figures.refund_amount += amount
    elif kind == "reverse":
        figures.reversals += 1
        figures.reversal_amount += amount
    elif kind == "hold_expiry":
        figures.expired_holds += 1
        figures.expired_hold_amount += amount
    elif kind == "hold":
        by_rrn, by_key = closed_holds
        if row.rrn not in by_rrn and (row.key is None or row.key not in by_key):
            figures.open_holds += 1
            figures.open_hold_amount += amount


def member(conn: Connection, card: str, since: datetime) -> list[MemberRow]:
    """The journal rows of the account holding ``card`` (any of its cards) from ``since``, newest
    first, with the reversals of its requests (a reversal names no card: it is found by the key
    of the request it reverses). ``account_id`` has no index: the scan is bounded by ``at``."""
    account_id = conn.scalar(select(cards.c.account_id).where(cards.c.pan == card))
    if account_id is None:
        raise StoreError(f"card {mask_pan(card)} is not enrolled")
    t = transactions.c
    columns = (t.id, t.at, t.terminal, t.kind, t.key, t.requested, t.approved, t.code, t.binding_limit, t.rrn)
    own = list(conn.execute(select(*columns).where(t.at >= since, t.account_id == account_id)))
    keys = sorted({r.key for r in own if r.key is not None and r.kind != "reverse"})
    reversals = [r for part in chunks(keys)
                 for r in conn.execute(select(*columns).where(t.at >= since, t.kind == "reverse",
                                                              t.account_id.is_(None), t.ref.in_(part)))]
    rows = sorted({r.id: r for r in [*own, *reversals]}.values(), key=lambda r: (r.at, r.id), reverse=True)
    return [MemberRow(r.at, r.terminal, r.kind, r.requested, r.approved, r.code, r.binding_limit, r.rrn)
            for r in rows]


# -- rendering -----------------------------------------------------------------------------------


def render_daily(report: DailyReport, fmt: str) -> str:
    reasons = report.reasons()
    header = ["terminal", *FIGURE_COLUMNS, *(f"declined {reason}" for reason in reasons)]
    lines = [report.terminals.items()] if report.terminal else [report.terminals.items(), [(TOTAL, report.total)]]
    rows = [[tid, *(getattr(f, name) for name in FIGURE_COLUMNS), *(f.declined[reason] for reason in reasons)]
            for part in lines for tid, f in part]
    if fmt == "csv":
        return _csv(["branch", "day", *header], [[report.branch, report.day, *row] for row in rows])
    what = f"terminal {report.terminal} at branch {report.branch}" if report.terminal else f"branch {report.branch}"
    return f"{what}, business day {report.day}\n" + _table(header, rows)


def render_member(rows: Sequence[MemberRow], fmt: str) -> str:
    cells = [[r.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"), r.terminal, r.kind,
              "" if r.requested is None else r.requested, r.approved, r.code, r.limit or "", r.rrn or ""]
             for r in rows]
    return _csv(list(MEMBER_COLUMNS), cells) if fmt == "csv" else _table(list(MEMBER_COLUMNS), cells)


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _table(header: list[str], rows: list[list[Any]]) -> str:
    """Plain text, columns aligned: numbers to the right, text to the left."""
    texts = [[str(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in texts) for i in range(len(header))]
    numeric = [bool(rows) and all(isinstance(row[i], int) or row[i] == "" for row in rows) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join(cell.rjust(w) if num else cell.ljust(w) for cell, w, num in zip(row, widths, numeric,
                                                                                            strict=True)).rstrip()

    return "\n".join(line(row) for row in texts) + "\n"
