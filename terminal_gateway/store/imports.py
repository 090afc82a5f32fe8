"""Reading the operator's CSV files into new members and terminals.

The header must be exactly the documented one, so a file exported with shifted columns is
refused rather than misread. Each row keeps its line number for the messages, so the
operator can find it in a spreadsheet; blank lines are skipped.
"""

from __future__ import annotations

import csv
from pathlib import Path

from .checks import amount_problem
from .errors import StoreError
from .members import NewMember
from .terminals import NewTerminal

MEMBERS_HEADER = ("card", "group", "phone", "referrer", "credit")
TERMINALS_HEADER = ("tid", "branch")


def read_members(path: str | Path, default_group: str) -> list[NewMember]:
    members = []
    for where, (card, group, phone, referrer, credit) in _rows(path, MEMBERS_HEADER):
        members.append(NewMember(card, group or default_group, phone or None, referrer or None,
                                 _credit(where, credit), where))
    return members


def read_terminals(path: str | Path) -> list[NewTerminal]:
    """``tid,branch``, or ``tid,branch,family`` (an empty family: any)."""
    with_family = _header(path) == (*TERMINALS_HEADER, "family")
    rows = _rows(path, (*TERMINALS_HEADER, "family") if with_family else TERMINALS_HEADER)
    return [NewTerminal(cells[0], cells[1], where, (cells[2] or None) if with_family else None)
            for where, cells in rows]


def _header(path: str | Path) -> tuple[str, ...]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return tuple(cell.strip() for cell in next(csv.reader(f), []))
    except (OSError, UnicodeDecodeError, csv.Error):
        return ()  # _rows says what is wrong with the file


def _rows(path: str | Path, header: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """(where, cells) for each row: ``where`` names the file and line for messages."""
    name = str(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            found = next(reader, [])
            if tuple(cell.strip() for cell in found) != header:
                raise StoreError(f"{name} line 1: expected the header {','.join(header)!r}, found {','.join(found)!r}")
            rows = []
            for cells in reader:
                where = f"{name} line {reader.line_num}: "
                if not any(cell.strip() for cell in cells):
                    continue
                if len(cells) != len(header):
                    raise StoreError(f"{where}expected {len(header)} cells ({','.join(header)}), found {len(cells)}")
                rows.append((where, [cell.strip() for cell in cells]))
            return rows
    except OSError as e:
        raise StoreError(f"{name}: cannot read: {e.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise StoreError(f"{name}: not a UTF-8 CSV file: {e}") from None


def _credit(where: str, cell: str) -> int:
    """An empty cell, or 0 as balance exports have, is no credit."""
    if not cell:
        return 0
    if not cell.isdecimal():
        raise StoreError(f"{where}credit {cell!r} is not a whole number of minor units")
    amount = int(cell)
    problem = amount_problem(amount, "credit") if amount else None
    if problem:
        raise StoreError(where + problem)
    return amount
