"""Reports, read-only: per branch and business day, per terminal and day, per member (from the
journal, ``transactions``), and the credit that expired (from ``lots``). ``report_output``
turns them into a table, CSV or XLSX.

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
- accruals: ``accrual`` approved: count, money paid (gross, as redemptions: a reversed one too).
  accrual returns: ``accrual_return`` approved: count, money refunded.
- earned, points earned: from ``accruals``, those of the branch whose ``at`` falls in the day
  and that are not reversed: the credit they created (the member's and the referrers' lots),
  and their points. Counted to the terminal of their journal row.
- taken back: the credit the day's approved accrual returns took back: their negative
  postings, as a positive amount (from the lots the accrual created, then from other lots).
- top-ups: ``topup`` approved: count, voucher value credited. Activations: ``gift_activation``
  approved: count, amount loaded.
- declines: every row not approved (code other than 00 and 10; a batch closed with differing
  totals, ``reconcile`` 95, is not a decline), counted by code and binding limit: declined
  accruals, returns, top-ups and activations too.

Expired credit is program-wide (a lot belongs to an account, not a branch), per UTC date: the
lots whose ``expires_at`` falls in the date and has passed, by ``source``, with the credit left
in them (their amount plus their postings; a lot spent below zero counts as nothing left).

The journal has indexes on ``at`` and ``rrn`` only (each is written on every group commit), so
every query of it here is bounded by ``at``: a row of day D is written no earlier than D starts
and, a refund of an old redemption or a late hold expiry, at most ``replay_days`` after it ends.
``accruals`` and ``lots`` have no index on time and ``postings`` none on ``transaction_id``: the
accruals and the lots are read whole, and so are the postings where a day had accrual returns
(the postings of expired lots are found by their lot, which is indexed).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Row, and_, false, func, or_, select

from ..rules.calendar import business_day
from ..vocabulary import mask_pan
from .errors import StoreError
from .reads import chunks, read_lots
from .schema import accruals, cards, lots, postings, terminals, transactions

APPROVED = ("00", "10")
TOTAL = "TOTAL"
MARGIN = timedelta(days=1)  # a time zone's offset, a DST jump, a changed replay_days: read a little more
FIGURE_COLUMNS = (
    "redemptions", "redemption_amount", "refunds", "refund_amount", "reversals", "reversal_amount",
    "open_holds", "open_hold_amount", "expired_holds", "expired_hold_amount",
    "accruals", "accrual_paid", "earned", "points_earned", "accrual_returns", "accrual_returned", "taken_back",
    "topups", "topup_amount", "activations", "activation_amount", "declines",
)
COUNTED = {  # approved journal rows of a kind: the figures of their count and amount
    "redeem": ("redemptions", "redemption_amount"),
    "complete": ("redemptions", "redemption_amount"),
    "refund": ("refunds", "refund_amount"),
    "reverse": ("reversals", "reversal_amount"),
    "hold_expiry": ("expired_holds", "expired_hold_amount"),
    "accrual": ("accruals", "accrual_paid"),
    "accrual_return": ("accrual_returns", "accrual_returned"),
    "topup": ("topups", "topup_amount"),
    "gift_activation": ("activations", "activation_amount"),
}
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
    accruals: int = 0
    accrual_paid: int = 0
    earned: int = 0
    points_earned: int = 0
    accrual_returns: int = 0
    accrual_returned: int = 0
    taken_back: int = 0
    topups: int = 0
    topup_amount: int = 0
    activations: int = 0
    activation_amount: int = 0
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


@dataclass(frozen=True, slots=True)
class MemberReport:
    card: str  # masked
    rows: list[MemberRow]  # newest first
    expired_credit: int  # left in the account's lots expired by the time of the report
    expired_lots: int  # how many of those lots have credit left


@dataclass(frozen=True, slots=True)
class Expired:
    """The lots of one ``source`` that expired on one UTC ``date``."""

    date: str
    source: str
    lots: int = 0
    lots_with_credit: int = 0
    credit: int = 0  # left in them when they expired


@dataclass(frozen=True, slots=True)
class ExpiredReport:
    first: str  # UTC dates
    last: str
    lines: list[Expired]  # by date and source; none for a date or source without expired lots

    @property
    def total(self) -> Expired:
        return Expired(TOTAL, "", *(sum(getattr(line, name) for line in self.lines)
                                    for name in ("lots", "lots_with_credit", "credit")))


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
    of_day = [r for r in rows if (r.day == iso or (r.day is None and calendar.day_of(r.at) == iso))
              and terminal in (None, r.terminal)]
    by_terminal: dict[str, Figures] = {}
    if terminal is None:
        for tid in conn.scalars(select(terminals.c.tid).where(terminals.c.branch == branch)):
            by_terminal[tid] = Figures()
    else:
        by_terminal[terminal] = Figures()
    closed_holds = _closed_holds(rows)
    for row in of_day:
        _count(by_terminal.setdefault(row.terminal, Figures()), row, closed_holds)
    for tid, credit, points in _earned(conn, branch, day, calendar, terminal):
        figures = by_terminal.setdefault(tid, Figures())
        figures.earned += credit
        figures.points_earned += points
    for tid, taken in _taken_back(conn, of_day):
        by_terminal.setdefault(tid, Figures()).taken_back += taken
    total = Figures()
    for figures in by_terminal.values():
        total.add(figures)
    return DailyReport(branch, iso, dict(sorted(by_terminal.items())), total, terminal)


def _earned(conn: Connection, branch: str, day: date, calendar: Calendar,
            terminal: str | None) -> Iterator[tuple[str, int, int]]:
    """(terminal, credit, points) of every accrual of ``branch`` on business ``day`` not reversed."""
    start, end = calendar.bounds(day)
    query = (
        select(transactions.c.terminal, accruals.c.at, accruals.c.points, accruals.c.credit)
        .join(transactions, transactions.c.id == accruals.c.transaction_id)
        .where(accruals.c.branch == branch, accruals.c.at >= start - MARGIN, accruals.c.at < end + MARGIN,
               accruals.c.reversed == false())
    )
    if terminal is not None:
        query = query.where(transactions.c.terminal == terminal)
    for row in conn.execute(query):
        if calendar.day_of(row.at) == day.isoformat():
            yield row.terminal, sum(amount for _, _, amount in json.loads(row.credit)), row.points


def _taken_back(conn: Connection, of_day: Iterable[Row[Any]]) -> Iterator[tuple[str, int]]:
    """(terminal, credit taken back) of every approved accrual return among ``of_day``."""
    returns = {r.id: r.terminal for r in of_day if r.kind == "accrual_return" and r.code in APPROVED}
    for part in chunks(sorted(returns)):
        query = (select(postings.c.transaction_id, func.sum(postings.c.delta).label("delta"))
                 .where(postings.c.transaction_id.in_(part), postings.c.delta < 0)
                 .group_by(postings.c.transaction_id))
        for row in conn.execute(query):
            yield returns[row.transaction_id], -int(row.delta)


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
    kind, code = row.kind, row.code
    if code not in APPROVED:
        if kind != "reconcile":
            figures.declines += 1
            figures.declined[f"{code} {row.binding_limit}" if row.binding_limit else code] += 1
        return
    if kind == "hold":
        by_rrn, by_key = closed_holds
        if row.rrn not in by_rrn and (row.key is None or row.key not in by_key):
            _tally(figures, "open_holds", "open_hold_amount", row.approved)
    elif kind in COUNTED:
        _tally(figures, *COUNTED[kind], row.approved)


def _tally(figures: Figures, count: str, amount_name: str, amount: int) -> None:
    setattr(figures, count, getattr(figures, count) + 1)
    setattr(figures, amount_name, getattr(figures, amount_name) + amount)


def member(conn: Connection, card: str, since: datetime, now: datetime) -> MemberReport:
    """The journal rows of the account holding ``card`` (any of its cards) from ``since``, newest
    first, with the reversals of its requests (a reversal names no card: it is found by the key
    of the request it reverses). ``account_id`` has no index: the scan is bounded by ``at``.
    And the credit left in the account's lots expired by ``now``."""
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
    expired = [lot.remaining for lot in read_lots(conn, [account_id], by_account=True)
               if not lot.usable(now) and lot.remaining > 0]
    return MemberReport(mask_pan(card), [MemberRow(r.at, r.terminal, r.kind, r.requested, r.approved, r.code,
                                                   r.binding_limit, r.rrn) for r in rows],
                        sum(expired), len(expired))


def expired(conn: Connection, first: date, last: date, now: datetime) -> ExpiredReport:
    """The lots that expired from UTC date ``first`` to ``last`` (by ``now``: a lot expiring later
    today has not), per date and source, with the credit left in them."""
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(last + timedelta(days=1), time(), UTC)
    found = list(conn.execute(select(lots.c.id, lots.c.source, lots.c.expires_at)
                              .where(lots.c.expires_at >= start, lots.c.expires_at < end, lots.c.expires_at <= now)))
    left = {lot.id: max(lot.remaining, 0) for lot in read_lots(conn, [row.id for row in found])}
    sums: dict[tuple[str, str], list[int]] = {}
    for row in found:
        line = sums.setdefault((row.expires_at.date().isoformat(), row.source), [0, 0, 0])
        line[0] += 1
        line[1] += left[row.id] > 0
        line[2] += left[row.id]
    return ExpiredReport(first.isoformat(), last.isoformat(),
                         [Expired(day, source, *line) for (day, source), line in sorted(sums.items())])
