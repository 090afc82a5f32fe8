"""``report daily|terminal|member``: a journal made by the real rule core and store (``Clinic``),
read back by the report functions (SQLite and PostgreSQL) and by the command line (a real
process on SQLite), with exact figures.

The journal, at branch ``BRANCH`` (Tehran, business day from 04:00 local):

- 2031-02-28: T1 redeems 3,000 (another day: not in 2031-03-01's figures).
- 2031-03-01 08:30 UTC: T1 redeems 40,000 (00) and 10,000 (10, BALANCE), declines 70,000 (61
  INVOICE_CAP, a terminal without partial approval), refunds 5,000 of the first, holds 8,000.
  T2 redeems 20,000 and reverses it. T9, at another branch, redeems 1,000.
- 08:50: T2 holds 12,000 and completes it (a redemption); the 8,000 hold's expiry is written.
- 2031-03-02 00:10 UTC (03:40 in Tehran: still business day 03-01, though the UTC date is
  03-02): T1 declines an unknown card (14; such a row has no ``day``); T2 holds 15,000 (open).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from terminal_gateway.simulators.local import clinic_config
from terminal_gateway.store import Store, StoreError, reports
from terminal_gateway.store.reports import Calendar, DailyReport, Figures
from terminal_gateway.vocabulary import (
    CardRef,
    Code,
    Complete,
    Limit,
    Redeem,
    Refund,
    Reverse,
    TerminalFamily,
    mask_pan,
)

from ..support import BRANCH
from ..test_cli import Result, run
from .clinic import START, TID, Clinic, card_number

T1 = TID
T2 = "T0000002"
T9 = "T0000009"
OTHER_BRANCH = "CLINIC000000002"
DAY = date(2031, 3, 1)
TEHRAN = Calendar(ZoneInfo("Asia/Tehran"), 4)


@dataclass(frozen=True)
class Journal:
    a: CardRef  # the member with 500,000
    b: CardRef  # the member with 10,000


def make_journal(store: Store) -> Journal:
    clinic = Clinic(store, now=START - timedelta(days=1))
    clinic.terminal(T1)
    clinic.terminal(T2)
    store.add_terminal(T9, OTHER_BRANCH)
    clinic.sync()
    a, b = clinic.member(1, 500_000), clinic.member(2, 10_000)

    def send(request_type: type, code: Code, approved: int | None = None, /, **values: object) -> str:
        outcome = clinic.send(request_type, **values)
        assert outcome.code == code, outcome
        if approved is not None:
            assert outcome.amount == approved, outcome
        return outcome.rrn or ""

    send(Redeem, Code.APPROVED, 3_000, card=a, amount=3_000, invoice="INV0")  # 2031-02-28

    clinic.now = START
    first = send(Redeem, Code.APPROVED, 40_000, card=a, amount=40_000, invoice="INV1")
    send(Redeem, Code.PARTIAL, 10_000, card=b, amount=30_000, invoice="INV2")
    clinic.family = TerminalFamily(partial_approval=False)
    outcome = clinic.send(Redeem, card=a, amount=70_000, invoice="INV1")
    assert (outcome.code, outcome.limit) == (Code.OVER_CAP, Limit.INVOICE_CAP)
    clinic.family = TerminalFamily()
    send(Refund, Code.APPROVED, 5_000, card=a, amount=5_000, rrn=first)
    send(Redeem, Code.APPROVED, 8_000, card=a, amount=8_000, invoice="INV6", hold=True)
    key = clinic.key()
    send(Redeem, Code.APPROVED, 20_000, terminal=T2, key=key, card=a, amount=20_000, invoice="INV4")
    send(Reverse, Code.APPROVED, 20_000, terminal=T2, original_key=key)
    send(Redeem, Code.APPROVED, 1_000, terminal=T9, card=a, amount=1_000, invoice="INV9")

    clinic.later(minutes=20)  # the 8,000 hold's deadline has passed: this decision writes its expiry
    held = send(Redeem, Code.APPROVED, 12_000, terminal=T2, card=a, amount=12_000, invoice="INV7", hold=True)
    send(Complete, Code.APPROVED, 12_000, terminal=T2, card=a, amount=12_000, rrn=held)

    clinic.now = datetime(2031, 3, 2, 0, 10, tzinfo=START.tzinfo)
    send(Redeem, Code.UNKNOWN_CARD, card=CardRef(pan=card_number(999)), amount=1_000, invoice="INV8")
    send(Redeem, Code.APPROVED, 15_000, terminal=T2, card=a, amount=15_000, invoice="INV5", hold=True)
    return Journal(a, b)


def figures(**values: int | dict[str, int]) -> Figures:
    declined = values.pop("declined", {})
    assert isinstance(declined, dict)
    return Figures(**values, declined=Counter(declined))  # type: ignore[arg-type]


T1_FIGURES = figures(redemptions=2, redemption_amount=50_000, refunds=1, refund_amount=5_000, expired_holds=1,
                     expired_hold_amount=8_000, declines=2, declined={"61 INVOICE_CAP": 1, "14": 1})
T2_FIGURES = figures(redemptions=2, redemption_amount=32_000, reversals=1, reversal_amount=20_000, open_holds=1,
                     open_hold_amount=15_000)
TOTAL_FIGURES = figures(redemptions=4, redemption_amount=82_000, refunds=1, refund_amount=5_000, reversals=1,
                        reversal_amount=20_000, open_holds=1, open_hold_amount=15_000, expired_holds=1,
                        expired_hold_amount=8_000, declines=2, declined={"61 INVOICE_CAP": 1, "14": 1})


def daily(store: Store, day: date, branch: str = BRANCH, calendar: Calendar = TEHRAN,
          terminal: str | None = None) -> DailyReport:
    return store.report(lambda conn: reports.daily(conn, branch, day, calendar, replay_days=30, hold_minutes=15,
                                                   terminal=terminal))


# -- the report functions, on SQLite and PostgreSQL -----------------------------------------------


def test_daily_report_counts_the_branch_and_business_day_only(store: Store) -> None:
    make_journal(store)
    report = daily(store, DAY)
    assert (report.branch, report.day) == (BRANCH, "2031-03-01")
    assert report.terminals == {T1: T1_FIGURES, T2: T2_FIGURES}
    assert report.total == TOTAL_FIGURES
    assert report.reasons() == ["14", "61 INVOICE_CAP"]


def test_other_days_and_branches_have_their_own_figures(store: Store) -> None:
    make_journal(store)
    before = daily(store, DAY - timedelta(days=1))
    assert before.terminals == {T1: figures(redemptions=1, redemption_amount=3_000), T2: Figures()}
    other = daily(store, DAY, OTHER_BRANCH, Calendar(ZoneInfo("UTC"), 0))
    assert other.terminals == {T9: figures(redemptions=1, redemption_amount=1_000)}
    empty = daily(store, date(2031, 3, 5))
    assert empty.terminals == {T1: Figures(), T2: Figures()} and empty.total == Figures()


def test_terminal_report(store: Store) -> None:
    make_journal(store)
    report = daily(store, DAY, terminal=T2)
    assert report.terminals == {T2: T2_FIGURES} and report.total == T2_FIGURES
    assert store.report(lambda conn: reports.terminal_branch(conn, T9)) == OTHER_BRANCH
    with pytest.raises(StoreError, match="not registered"):
        store.report(lambda conn: reports.terminal_branch(conn, "T0000404"))


def test_member_report_is_newest_first_and_bounded_by_time(store: Store) -> None:
    journal = make_journal(store)
    rows = member(store, journal.a.pan or "", START).rows
    assert [(r.terminal, r.kind, r.requested, r.approved, r.code, r.limit) for r in rows] == [
        (T2, "hold", 15_000, 15_000, "00", None),
        (T2, "complete", 12_000, 12_000, "00", None),
        (T2, "hold", 12_000, 12_000, "00", None),
        (T1, "hold_expiry", None, 8_000, "00", None),
        (T9, "redeem", 1_000, 1_000, "00", None),
        (T2, "reverse", None, 20_000, "00", None),
        (T2, "redeem", 20_000, 20_000, "00", None),
        (T1, "hold", 8_000, 8_000, "00", None),
        (T1, "refund", 5_000, 5_000, "00", None),
        (T1, "redeem", 70_000, 0, "61", "INVOICE_CAP"),
        (T1, "redeem", 40_000, 40_000, "00", None),
    ]
    assert all(r.rrn for r in rows if r.kind in ("redeem", "hold", "refund") and r.code == "00")
    everything = member(store, journal.a.pan or "", START - timedelta(days=2)).rows
    assert len(everything) == len(rows) + 1 and everything[-1].approved == 3_000
    with pytest.raises(StoreError, match="not enrolled"):
        member(store, card_number(999), START)


def member(store: Store, card: str, since: datetime) -> reports.MemberReport:
    return store.report(lambda conn: reports.member(conn, card, since, START))


def test_the_reports_write_nothing(store: Store) -> None:
    make_journal(store)
    cursor, _ = store.changes_since(0)
    daily(store, DAY)
    assert store.changes_since(0)[0] == cursor


# -- the command line (SQLite) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Journal]:
    folder = tmp_path_factory.mktemp("reports")
    db = folder / "gateway.db"
    (folder / "gateway.toml").write_text(clinic_config(f"sqlite:///{db}"))
    store = Store(f"sqlite:///{db}")
    try:
        store.init_schema()
        journal = make_journal(store)
    finally:
        store.close()
    return folder / "gateway.toml", journal


def cli(install: tuple[Path, Journal], *words: str) -> Result:
    return run("--config", str(install[0]), "report", *words)


def parse_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_cli_daily_csv(install: tuple[Path, Journal]) -> None:
    rows = parse_csv(cli(install, "daily", "--branch", BRANCH, "--date", "2031-03-01", "--format", "csv").ok().out)
    assert list(rows[0]) == ["branch", "day", "terminal", *reports.FIGURE_COLUMNS, "declined 14",
                             "declined 61 INVOICE_CAP"]
    assert [r["terminal"] for r in rows] == [T1, T2, "TOTAL"]
    assert {r["branch"] for r in rows} == {BRANCH} and {r["day"] for r in rows} == {"2031-03-01"}
    for row, expected in zip(rows, (T1_FIGURES, T2_FIGURES, TOTAL_FIGURES), strict=True):
        assert {name: int(row[name]) for name in reports.FIGURE_COLUMNS} == {
            name: getattr(expected, name) for name in reports.FIGURE_COLUMNS}
        assert int(row["declined 61 INVOICE_CAP"]) == expected.declined["61 INVOICE_CAP"]
        assert int(row["declined 14"]) == expected.declined["14"]


def test_cli_daily_table(install: tuple[Path, Journal]) -> None:
    lines = cli(install, "daily", "--branch", BRANCH, "--date", "2031-03-01").ok().out.splitlines()
    assert lines[0] == f"branch {BRANCH}, business day 2031-03-01"
    header, *rows = (line.split() for line in lines[1:])
    assert header == ["terminal", *reports.FIGURE_COLUMNS, "declined", "14", "declined", "61", "INVOICE_CAP"]
    assert [row[:11] for row in rows] == [
        [T1, "2", "50000", "1", "5000", "0", "0", "0", "0", "1", "8000"],
        [T2, "2", "32000", "0", "0", "1", "20000", "1", "15000", "0", "0"],
        ["TOTAL", "4", "82000", "1", "5000", "1", "20000", "1", "15000", "1", "8000"],
    ]
    assert [row[11:] for row in rows] == [[*["0"] * 11, "2", "1", "1"], ["0"] * 14, [*["0"] * 11, "2", "1", "1"]]
    widths = {len(line) for line in lines[1:]}
    assert len(widths) == 1, "columns are aligned"


def test_cli_empty_day_is_zeros(install: tuple[Path, Journal]) -> None:
    rows = parse_csv(cli(install, "daily", "--branch", BRANCH, "--date", "2031-04-01", "--format", "csv").ok().out)
    assert [r["terminal"] for r in rows] == [T1, T2, "TOTAL"]
    assert all(int(r[name]) == 0 for r in rows for name in reports.FIGURE_COLUMNS)


def test_cli_terminal(install: tuple[Path, Journal]) -> None:
    rows = parse_csv(cli(install, "terminal", T2, "--date", "2031-03-01", "--format", "csv").ok().out)
    assert [(r["terminal"], r["redemption_amount"], r["reversal_amount"], r["open_hold_amount"]) for r in rows] == [
        (T2, "32000", "20000", "15000")]
    out = cli(install, "terminal", T9, "--date", "2031-03-01").ok().out
    assert out.splitlines()[0] == f"terminal {T9} at branch {OTHER_BRANCH}, business day 2031-03-01"


def test_cli_member(install: tuple[Path, Journal]) -> None:
    card = install[1].b.pan or ""
    rows = parse_csv(cli(install, "member", card, "--format", "csv", "--days", "3650").ok().out)
    assert [(r["terminal"], r["kind"], r["requested"], r["approved"], r["code"], r["limit"]) for r in rows] == [
        (T1, "redeem", "30000", "10000", "10", "BALANCE")]
    assert list(rows[0]) == list(reports.MEMBER_COLUMNS) and rows[0]["time_utc"] == "2031-03-01 08:30:00"
    table = cli(install, "member", install[1].a.pan or "").ok().out.splitlines()
    assert table[0] == f"card {mask_pan(install[1].a.pan or '')}: expired credit 0 in 0 lots"
    assert table[1].split() == list(reports.MEMBER_COLUMNS) and len(table) == 2 + 12
    assert "--days N" in run("report", "member", "--help").ok().out


@pytest.mark.parametrize(("words", "fragment"), [
    (("daily", "--branch", "NOSUCHBRANCH", "--date", "2031-03-01"), "unknown branch 'NOSUCHBRANCH'"),
    (("daily", "--branch", BRANCH, "--date", "2031-02-30"), "--date: expected a date as YYYY-MM-DD"),
    (("daily", "--branch", BRANCH, "--date", "20310301"), "--date: expected a date as YYYY-MM-DD"),
    (("terminal", "T0000404", "--date", "2031-03-01"), "terminal 'T0000404' is not registered"),
    (("member", "6274120000009990", "--days", "0"), "--days: expected a number of days from 1"),
    (("member", "6274120000009990", "--days", "lots"), "--days: expected a whole number"),
])
def test_cli_errors_are_one_line(install: tuple[Path, Journal], words: tuple[str, ...], fragment: str) -> None:
    result = cli(install, *words)
    assert result.code == 1
    result.failed(fragment)
