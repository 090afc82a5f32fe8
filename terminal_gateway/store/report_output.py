"""The reports of ``reports`` as a ``Sheet``, and a sheet as an aligned table, CSV or XLSX.

A table starts with a title line; CSV and XLSX have none: the title's facts (branch, day)
are leading columns instead, so that every row stands on its own in a spreadsheet. XLSX is
one sheet, header row bold, numbers as numbers, an empty cell where CSV has an empty field.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from .reports import FIGURE_COLUMNS, MEMBER_COLUMNS, TOTAL, DailyReport, ExpiredReport, MemberReport
from .security import SECURITY_COLUMNS, Suspect

FORMATS = ("table", "csv", "xlsx")
EXPIRED_COLUMNS = ("date_utc", "source", "lots", "lots_with_credit", "expired_credit")


@dataclass(frozen=True, slots=True)
class Sheet:
    name: str  # the XLSX sheet's
    title: str | None  # the table's first line
    header: list[str]
    rows: list[list[Any]]  # int, str or None (empty)
    leading: tuple[tuple[str, str], ...] = ()  # (column, value) before every CSV and XLSX row


def daily_sheet(report: DailyReport) -> Sheet:
    reasons = report.reasons()
    header = ["terminal", *FIGURE_COLUMNS, *(f"declined {reason}" for reason in reasons)]
    lines = [*report.terminals.items(), *([] if report.terminal else [(TOTAL, report.total)])]
    rows = [[tid, *(getattr(f, name) for name in FIGURE_COLUMNS), *(f.declined[reason] for reason in reasons)]
            for tid, f in lines]
    what = f"terminal {report.terminal} at branch {report.branch}" if report.terminal else f"branch {report.branch}"
    return Sheet("terminal" if report.terminal else "daily", f"{what}, business day {report.day}", header, rows,
                 (("branch", report.branch), ("day", report.day)))


def member_sheet(report: MemberReport) -> Sheet:
    rows = [[r.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"), r.terminal, r.kind, r.requested, r.approved,
             r.code, r.limit, r.rrn] for r in report.rows]
    title = (f"card {report.card}: expired credit {report.expired_credit} in {report.expired_lots} lot"
             + ("" if report.expired_lots == 1 else "s"))
    return Sheet("member", title, list(MEMBER_COLUMNS), rows)


def expired_sheet(report: ExpiredReport) -> Sheet:
    rows = [[e.date, e.source, e.lots, e.lots_with_credit, e.credit] for e in [*report.lines, report.total]]
    return Sheet("expired", f"credit expired, UTC dates {report.first} to {report.last}", list(EXPIRED_COLUMNS),
                 rows)


def security_sheet(suspects: list[Suspect], days: int) -> Sheet:
    rows = [[s.scope, s.id, s.wrong_pins, s.locked_top_ups, s.limit_declines,
             s.last.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if s.last else None] for s in suspects]
    return Sheet("security", f"wrong voucher PINs, locked top-ups and limit declines, last {days} days",
                 list(SECURITY_COLUMNS), rows)


def emit(sheet: Sheet, fmt: str, out: str | None = None) -> None:
    """``sheet`` in ``fmt`` to stdout, or to the new file ``out`` (never overwritten: an
    existing one is ``FileExistsError``). XLSX needs ``out``."""
    if fmt == "xlsx":
        if out is None:
            raise ValueError("XLSX is written to a file only")
        with open(out, "xb") as file:
            _xlsx(sheet, file)
        return
    text = _csv(sheet) if fmt == "csv" else _table(sheet)
    if out is None:
        sys.stdout.write(text)
        return
    with open(out, "x", encoding="utf-8", newline="") as file:
        file.write(text)


def _csv(sheet: Sheet) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*(name for name, _ in sheet.leading), *sheet.header])
    writer.writerows([*(value for _, value in sheet.leading), *row] for row in sheet.rows)
    return out.getvalue()


def _table(sheet: Sheet) -> str:
    """Plain text, columns aligned: numbers to the right, text to the left."""
    rows = sheet.rows
    texts = [sheet.header, *([("" if cell is None else str(cell)) for cell in row] for row in rows)]
    widths = [max(len(row[i]) for row in texts) for i in range(len(sheet.header))]
    numeric = [bool(rows) and all(isinstance(row[i], int) or row[i] is None for row in rows)
               for i in range(len(sheet.header))]

    def line(row: list[str]) -> str:
        return "  ".join(cell.rjust(w) if num else cell.ljust(w) for cell, w, num in zip(row, widths, numeric,
                                                                                            strict=True)).rstrip()

    title = [sheet.title] if sheet.title else []
    return "\n".join([*title, *(line(row) for row in texts)]) + "\n"


def _xlsx(sheet: Sheet, file: Any) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    ws = book.active
    ws.title = sheet.name
    header = [*(name for name, _ in sheet.leading), *sheet.header]
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in sheet.rows:
        ws.append([*(value for _, value in sheet.leading), *row])
    ws.freeze_panes = "A2"
    for index, name in enumerate(header, start=1):
        longest = max([len(name), *(len(str(cell.value)) for cell in ws[get_column_letter(index)][1:]
                                    if cell.value is not None)])
        ws.column_dimensions[get_column_letter(index)].width = min(longest + 2, 60)
    book.save(file)
