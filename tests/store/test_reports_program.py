"""The club program in the reports: accruals, accrual returns, top-ups and gift activations, the
credit and points earned and the credit taken back (``report daily|terminal``), expired credit
(``report expired``, ``report member``) and XLSX, on SQLite and PostgreSQL and through the
command line (a real process on SQLite), with exact figures.

The rows are written straight into the tables, as the rule core's group commit writes them
(``test_the_rule_core_rows`` has the real rule core decide and write a few).
At branch ``BRANCH`` (Tehran, business day from 04:00 local, 00:30 UTC), business day 2025-03-01:

- 00:20 UTC (03:50 in Tehran: business day 02-28): T1 accrual, 10,000 paid, 500 earned.
- 08:30: T1 accrual of A, 100,000 paid, 5,000 to A and 1,000 to A's referrer B, 10 points.
- 09:00: T2 accrual, 50,000 paid, 2,500 and 5 points; reversed at 09:30 (the accrual is marked
  reversed, its lot emptied): counted as an accrual and a reversal, earns nothing.
- 10:00: T1 accrual return of 40,000 of the 08:30 invoice: takes back 2,000 and 400.
- 11:00: T2 top-up of 25,000, and a wrong PIN (55). 12:00: T1 activates a gift card with 200,000.
- 13:00: T2 accrual of B, 8,000 paid, 400 and 1 point; T2 declines a second accrual (94).
- 2025-03-02 00:10 UTC (03:40 in Tehran: still 03-01): T1 accrual, 20,000 paid, 1,000, 2 points.
- 2025-03-02 00:40 UTC (04:10 in Tehran: 03-02): T1 accrual, 30,000 paid, 1,500, 3 points.
- T9, at another branch: an accrual of 7,000 earning 350.

Expired lots (UTC): on 03-04 an imported 800; on 03-05 a grant of 10,000 of which 3,000 was
spent, a group grant spent in full, the referral lot (600 left) and a voucher of 25,000 (at
20:00); on 03-06 00:00 the 08:30 accrual's lot of A (3,000 left).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, insert, select

from terminal_gateway.program import Earning, Points
from terminal_gateway.simulators.local import clinic_config
from terminal_gateway.store import Store, reports
from terminal_gateway.store.engine import make_engine, writing
from terminal_gateway.store.report_output import EXPIRED_COLUMNS
from terminal_gateway.store.reports import Calendar, Expired, Figures
from terminal_gateway.store.schema import accruals, cards, lots, postings, transactions
from terminal_gateway.vocabulary import AccrualReturn, Accrue, Code, Reverse, mask_pan

from ..support import BRANCH, make_config
from ..test_cli import Result, run
from .clinic import START, Clinic, card_number
from .test_reports import figures, parse_csv

T1, T2, T9 = "T0000001", "T0000002", "T0000009"
OTHER_BRANCH = "CLINIC000000002"
DAY = date(2025, 3, 1)
TEHRAN = Calendar(ZoneInfo("Asia/Tehran"), 4)
AFTER = datetime(2025, 3, 7, tzinfo=UTC)  # every lot of the data has expired


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


@dataclass
class Program:
    """The data's cards, and a way to write rows into the tables."""

    engine: Engine
    a: str  # cards
    b: str
    accounts: dict[str, str] = field(default_factory=dict)  # card -> account id
    owners: dict[str, str] = field(default_factory=dict)  # lot id -> account id

    def write(self, table: Any, **values: Any) -> Any:
        with writing(self.engine) as conn:
            return conn.execute(insert(table).values(**values)).inserted_primary_key[0]

    def lot(self, card: str, amount: int, source: str, expires_at: datetime | None = None) -> str:
        lot_id, self.owners[lot_id] = uuid4().hex, self.accounts[card]
        self.write(lots, id=lot_id, account_id=self.accounts[card], amount=amount, created_at=utc(1, 0),
                   expires_at=expires_at, source=source)
        return lot_id

    def journal(self, at: datetime, kind: str, terminal: str, approved: int, code: str = "00", *,
                card: str = "", branch: str = BRANCH, day: str | None = None,
                taken: tuple[tuple[str, int], ...] = ()) -> int:
        """A journal row, and a posting for each (lot, amount taken from it) of ``taken``."""
        row_id = self.write(transactions, at=at, kind=kind, terminal=terminal, branch=branch, repeat=False,
                            card=mask_pan(card) if card else "", account_id=self.accounts.get(card),
                            requested=approved, approved=approved, code=code, day=day, message="")
        for lot_id, amount in taken:
            self.write(postings, transaction_id=row_id, lot_id=lot_id, account_id=self.owners[lot_id], delta=-amount)
        return row_id

    def accrual(self, at: datetime, terminal: str, card: str, paid: int, points: int,
                credit: tuple[tuple[Any, ...], ...], *, day: str, branch: str = BRANCH,
                reversed: bool = False) -> dict[str, str]:
        """An approved accrual: its journal row, a lot for each (card, amount, source[, expiry]) of
        ``credit``, and its ``accruals`` row; the lot ids by card."""
        row_id = self.journal(at, "accrual", terminal, paid, card=card, branch=branch, day=day)
        made = {earner: self.lot(earner, amount, source, *expiry) for earner, amount, source, *expiry in credit}
        self.write(accruals, id=uuid4().hex, transaction_id=row_id, account_id=self.accounts[card], branch=branch,
                   invoice=f"INV{row_id}", at=at, paid=paid, points=points, reversed=reversed,
                   credit=json.dumps([[self.accounts[earner], made[earner], amount] for earner, amount, *_ in credit]))
        return made


def make_program(store: Store, url: str) -> Program:
    config = make_config()
    for tid, branch in ((T1, BRANCH), (T2, BRANCH), (T9, OTHER_BRANCH)):
        store.add_terminal(tid, branch)
    a, b = card_number(1), card_number(2)
    store.add_member(b, "silver", config.groups)
    store.add_member(a, "silver", config.groups, referrer=b)
    engine = make_engine(url)
    try:
        p = Program(engine, a, b, {card: store.report(lambda conn, card=card: conn.scalar(
            select(cards.c.account_id).where(cards.c.pan == card))) for card in (a, b)})
        _write_program(p)
    finally:
        engine.dispose()
    return p


def _write_program(p: Program) -> None:
    a, b = p.a, p.b
    p.accrual(utc(1, 0, 20), T1, a, 10_000, 1, ((a, 500, "accrual"),), day="2025-02-28")
    first = p.accrual(utc(1, 8, 30), T1, a, 100_000, 10,
                      ((a, 5_000, "accrual", utc(6, 0)), (b, 1_000, "referral", utc(5, 12))), day="2025-03-01")
    second = p.accrual(utc(1, 9), T2, a, 50_000, 5, ((a, 2_500, "accrual"),), reversed=True, day="2025-03-01")
    p.journal(utc(1, 9, 30), "reverse", T2, 50_000, taken=((second[a], 2_500),))
    p.journal(utc(1, 10), "accrual_return", T1, 40_000, card=a, day="2025-03-01",
              taken=((first[a], 2_000), (first[b], 400)))
    p.lot(b, 25_000, "voucher", utc(5, 20))
    p.journal(utc(1, 11), "topup", T2, 25_000, card=b)
    p.journal(utc(1, 11, 5), "topup", T2, 0, "55", card=b)
    p.journal(utc(1, 12), "gift_activation", T1, 200_000, card=card_number(3))
    p.accrual(utc(1, 13), T2, b, 8_000, 1, ((b, 400, "accrual"),), day="2025-03-01")
    p.journal(utc(1, 13, 1), "accrual", T2, 0, "94", card=b, day="2025-03-01")
    p.accrual(utc(2, 0, 10), T1, a, 20_000, 2, ((a, 1_000, "accrual"),), day="2025-03-01")
    p.accrual(utc(2, 0, 40), T1, a, 30_000, 3, ((a, 1_500, "accrual"),), day="2025-03-02")
    p.accrual(utc(1, 9), T9, b, 7_000, 0, ((b, 350, "accrual"),), branch=OTHER_BRANCH, day="2025-03-01")
    grant, group = p.lot(a, 10_000, "grant", utc(5, 10)), p.lot(a, 5_000, "group", utc(5, 23, 59))
    p.journal(utc(2, 9), "redeem", T1, 8_000, card=a, day="2025-03-02", taken=((grant, 3_000), (group, 5_000)))
    p.lot(b, 800, "import", utc(4, 23))
    p.lot(b, 9_000, "grant")  # never expires


T1_FIGURES = figures(accruals=2, accrual_paid=120_000, earned=7_000, points_earned=12, accrual_returns=1,
                     accrual_returned=40_000, taken_back=2_400, activations=1, activation_amount=200_000)
T2_FIGURES = figures(accruals=2, accrual_paid=58_000, earned=400, points_earned=1, reversals=1,
                     reversal_amount=50_000, topups=1, topup_amount=25_000, declines=2, declined={"55": 1, "94": 1})
TOTAL_FIGURES = figures(accruals=4, accrual_paid=178_000, earned=7_400, points_earned=13, accrual_returns=1,
                        accrual_returned=40_000, taken_back=2_400, reversals=1, reversal_amount=50_000, topups=1,
                        topup_amount=25_000, activations=1, activation_amount=200_000, declines=2,
                        declined={"55": 1, "94": 1})
EXPIRED_BY_MARCH_7 = [
    Expired("2025-03-05", "grant", 1, 1, 7_000),
    Expired("2025-03-05", "group", 1, 0, 0),
    Expired("2025-03-05", "referral", 1, 1, 600),
    Expired("2025-03-05", "voucher", 1, 1, 25_000),
    Expired("2025-03-06", "accrual", 1, 1, 3_000),
]


def daily(store: Store, day: date, branch: str = BRANCH, calendar: Calendar = TEHRAN,
          terminal: str | None = None) -> reports.DailyReport:
    return store.report(lambda conn: reports.daily(conn, branch, day, calendar, replay_days=30, hold_minutes=15,
                                                   terminal=terminal))


def expired(store: Store, first: date, last: date, now: datetime = AFTER) -> reports.ExpiredReport:
    return store.report(lambda conn: reports.expired(conn, first, last, now))


# -- the report functions, on SQLite and PostgreSQL -----------------------------------------------


def test_daily_figures_of_the_program(store: Store, store_url: str) -> None:
    make_program(store, store_url)
    report = daily(store, DAY)
    assert report.terminals == {T1: T1_FIGURES, T2: T2_FIGURES}
    assert report.total == TOTAL_FIGURES


def test_the_business_day_boundary_and_other_branches(store: Store, store_url: str) -> None:
    make_program(store, store_url)
    assert daily(store, date(2025, 2, 28)).terminals == {
        T1: figures(accruals=1, accrual_paid=10_000, earned=500, points_earned=1), T2: Figures()}
    assert daily(store, date(2025, 3, 2)).terminals == {
        T1: figures(accruals=1, accrual_paid=30_000, earned=1_500, points_earned=3, redemptions=1,
                    redemption_amount=8_000), T2: Figures()}
    other = daily(store, DAY, OTHER_BRANCH, Calendar(ZoneInfo("UTC"), 0))
    assert other.terminals == {T9: figures(accruals=1, accrual_paid=7_000, earned=350)}


def test_terminal_report_has_its_own_earnings(store: Store, store_url: str) -> None:
    make_program(store, store_url)
    for tid, expected in ((T1, T1_FIGURES), (T2, T2_FIGURES)):
        report = daily(store, DAY, terminal=tid)
        assert report.terminals == {tid: expected} and report.total == expected


def test_expired_credit_per_date_and_source(store: Store, store_url: str) -> None:
    make_program(store, store_url)
    report = expired(store, date(2025, 3, 5), date(2025, 3, 6))
    assert report.lines == EXPIRED_BY_MARCH_7
    assert report.total == Expired("TOTAL", "", 5, 4, 35_600)
    assert expired(store, date(2025, 3, 4), date(2025, 3, 4)).lines == [Expired("2025-03-04", "import", 1, 1, 800)]
    # On 03-05 at 18:00 the voucher (20:00), the group grant (23:59) and the accrual lot (03-06) have not
    # expired yet.
    grant, _, referral, *_ = EXPIRED_BY_MARCH_7
    assert expired(store, date(2025, 3, 5), date(2025, 3, 6), utc(5, 18)).lines == [grant, referral]
    assert expired(store, date(2025, 3, 8), date(2025, 3, 9)).lines == []


def test_member_report_gives_the_expired_credit(store: Store, store_url: str) -> None:
    p = make_program(store, store_url)
    a = store.report(lambda conn: reports.member(conn, p.a, utc(1, 0), AFTER))
    assert (a.card, a.expired_credit, a.expired_lots) == (mask_pan(p.a), 10_000, 2)  # the grant and the accrual
    assert [(r.kind, r.approved) for r in a.rows][-2:] == [("accrual", 100_000), ("accrual", 10_000)]
    before = store.report(lambda conn: reports.member(conn, p.b, utc(1, 0), utc(5, 11)))
    assert (before.expired_credit, before.expired_lots) == (800, 1)


def test_the_rule_core_rows(store: Store) -> None:
    """The figures of accruals, a return and a reversal decided and written by the real rule core."""
    config = make_config()
    config = dataclasses.replace(config, groups={name: dataclasses.replace(
        group, earning=Earning(percent_bp=500), points=Points(per_invoice=2), credit_expiry_days=10)
        for name, group in config.groups.items()})
    clinic = Clinic(store, config, START)
    clinic.terminal(T1)
    card = clinic.member(1)
    assert clinic.send(Accrue, card=card, amount=100_000, invoice="I1").earned == 5_000
    assert clinic.send(AccrualReturn, card=card, amount=40_000, invoice="I1").earned == -2_000
    key = clinic.key()
    assert clinic.send(Accrue, key=key, card=card, amount=50_000, invoice="I2").earned == 2_500
    assert clinic.send(Reverse, original_key=key).code == Code.APPROVED
    report = store.report(lambda conn: reports.daily(conn, BRANCH, START.date(), TEHRAN, replay_days=30,
                                                     hold_minutes=15))
    assert report.total == figures(accruals=2, accrual_paid=150_000, earned=5_000, points_earned=2,
                                   accrual_returns=1, accrual_returned=40_000, taken_back=2_000, reversals=1,
                                   reversal_amount=50_000)
    day = (START + timedelta(days=10)).date()
    assert expired(store, day, day, START + timedelta(days=11)).lines == [
        Expired(day.isoformat(), "accrual", 2, 1, 3_000)]  # the reversed accrual's lot was emptied


# -- the command line (SQLite) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Program]]:
    folder = tmp_path_factory.mktemp("program_reports")
    url = f"sqlite:///{folder / 'gateway.db'}"
    (folder / "gateway.toml").write_text(clinic_config(url))
    store = Store(url)
    try:
        store.init_schema()
        program = make_program(store, url)
    finally:
        store.close()
    yield folder / "gateway.toml", program


def cli(install: tuple[Path, Program], *words: str) -> Result:
    return run("--config", str(install[0]), "report", *words)


def read_xlsx(path: Path) -> tuple[str, list[list[Any]], bool]:
    """The one sheet's name, its rows, and whether its header row is bold."""
    book = load_workbook(path)
    assert len(book.worksheets) == 1
    sheet = book.worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    return sheet.title, rows, all(cell.font.bold for cell in sheet[1])


def test_cli_daily_csv_has_the_program_figures(install: tuple[Path, Program]) -> None:
    rows = parse_csv(cli(install, "daily", "--branch", BRANCH, "--date", "2025-03-01", "--format", "csv").ok().out)
    assert [r["terminal"] for r in rows] == [T1, T2, "TOTAL"]
    for row, expected in zip(rows, (T1_FIGURES, T2_FIGURES, TOTAL_FIGURES), strict=True):
        assert {name: int(row[name]) for name in reports.FIGURE_COLUMNS} == {
            name: getattr(expected, name) for name in reports.FIGURE_COLUMNS}


def test_cli_daily_xlsx(install: tuple[Path, Program], tmp_path: Path) -> None:
    out = tmp_path / "daily.xlsx"
    assert cli(install, "daily", "--branch", BRANCH, "--date", "2025-03-01", "--format", "xlsx", "--out",
               str(out)).ok().out == ""
    name, (header, *rows), bold = read_xlsx(out)
    assert name == "daily" and bold
    assert header == ["branch", "day", "terminal", *reports.FIGURE_COLUMNS, "declined 55", "declined 94"]
    for row, tid, expected in zip(rows, (T1, T2, "TOTAL"), (T1_FIGURES, T2_FIGURES, TOTAL_FIGURES), strict=True):
        assert row == [BRANCH, "2025-03-01", tid, *(getattr(expected, n) for n in reports.FIGURE_COLUMNS),
                       expected.declined["55"], expected.declined["94"]]


def test_cli_terminal_xlsx(install: tuple[Path, Program], tmp_path: Path) -> None:
    out = tmp_path / "t2.xlsx"
    cli(install, "terminal", T2, "--date", "2025-03-01", "--format", "xlsx", "--out", str(out)).ok()
    name, (header, *rows), _ = read_xlsx(out)
    assert name == "terminal" and len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert (row["terminal"], row["earned"], row["topup_amount"], row["declined 94"]) == (T2, 400, 25_000, 1)


def test_cli_expired(install: tuple[Path, Program], tmp_path: Path) -> None:
    table = cli(install, "expired", "--date", "2025-03-06", "--days", "2").ok().out.splitlines()
    assert table[0] == "credit expired, UTC dates 2025-03-05 to 2025-03-06"
    assert [line.split() for line in table[1:]] == [
        list(EXPIRED_COLUMNS),
        ["2025-03-05", "grant", "1", "1", "7000"],
        ["2025-03-05", "group", "1", "0", "0"],
        ["2025-03-05", "referral", "1", "1", "600"],
        ["2025-03-05", "voucher", "1", "1", "25000"],
        ["2025-03-06", "accrual", "1", "1", "3000"],
        ["TOTAL", "5", "4", "35600"],
    ]
    rows = parse_csv(cli(install, "expired", "--date", "2025-03-04", "--format", "csv").ok().out)
    assert rows == [dict(zip(EXPIRED_COLUMNS, values, strict=True)) for values in (
        ("2025-03-04", "import", "1", "1", "800"), ("TOTAL", "", "1", "1", "800"))]
    out = tmp_path / "expired.xlsx"
    cli(install, "expired", "--date", "2025-03-06", "--days", "2", "--format", "xlsx", "--out", str(out)).ok()
    name, (header, *cells), bold = read_xlsx(out)
    assert (name, header, bold) == ("expired", list(EXPIRED_COLUMNS), True)
    assert cells == [[e.date, e.source, e.lots, e.lots_with_credit, e.credit] for e in EXPIRED_BY_MARCH_7] + [
        ["TOTAL", None, 5, 4, 35_600]]


def test_cli_member_expired_credit_and_xlsx(install: tuple[Path, Program], tmp_path: Path) -> None:
    card = install[1].a
    assert cli(install, "member", card).ok().out.splitlines()[0] == (
        f"card {mask_pan(card)}: expired credit 10000 in 2 lots")
    out = tmp_path / "member.xlsx"
    cli(install, "member", card, "--days", "3650", "--format", "xlsx", "--out", str(out)).ok()
    name, (header, *rows), _ = read_xlsx(out)
    assert (name, header) == ("member", list(reports.MEMBER_COLUMNS))
    assert [row[1:] for row in rows[-2:]] == [[T1, "accrual", 100_000, 100_000, "00", None, None],
                                              [T1, "accrual", 10_000, 10_000, "00", None, None]]


def test_cli_csv_to_a_file(install: tuple[Path, Program], tmp_path: Path) -> None:
    out = tmp_path / "expired.csv"
    assert cli(install, "expired", "--date", "2025-03-04", "--format", "csv", "--out", str(out)).ok().out == ""
    assert parse_csv(out.read_text())[0]["expired_credit"] == "800"


def test_cli_never_overwrites(install: tuple[Path, Program], tmp_path: Path) -> None:
    out = tmp_path / "taken.xlsx"
    out.write_text("keep me")
    cli(install, "expired", "--date", "2025-03-04", "--format", "xlsx", "--out", str(out)).failed(
        f"--out: {out} already exists")
    assert out.read_text() == "keep me"


@pytest.mark.parametrize(("words", "fragment"), [
    (("expired", "--date", "2025-3-4"), "--date: expected a date as YYYY-MM-DD"),
    (("expired", "--date", "2025-03-04", "--days", "0"), "--days: expected a number of days from 1"),
    (("expired", "--date", "2025-03-04", "--days", "two"), "--days: expected a whole number"),
    (("expired", "--date", "2025-03-04", "--format", "xlsx"), "--format xlsx needs --out FILE"),
    (("daily", "--branch", BRANCH, "--date", "2025-03-01", "--format", "xlsx"), "--format xlsx needs --out FILE"),
    (("member", card_number(1), "--format", "xlsx"), "--format xlsx needs --out FILE"),
    (("terminal", T1, "--date", "2025-03-01", "--format", "xlsx", "--out", "/nonexistent/folder/t.xlsx"),
     "/nonexistent/folder/t.xlsx: No such file or directory"),
])
def test_cli_errors_are_one_line(install: tuple[Path, Program], words: tuple[str, ...], fragment: str) -> None:
    result = cli(install, *words)
    assert result.code == 1
    result.failed(fragment)
