"""CSV imports: all rows or none, a bad row named by its line, 10,000 rows in seconds."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from terminal_gateway.store import Store, StoreError

from ..support import BRANCH, make_config
from .clinic import card_number

GROUPS = make_config().groups
HEADER = "card,group,phone,referrer,credit\n"


def _file(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_members_are_imported_with_their_first_credit(store: Store, tmp_path: Path) -> None:
    a, b, c = card_number(1), card_number(2), card_number(3)
    path = _file(tmp_path, "members.csv", f"{HEADER}{a},gold,09121234567,,250000\n\n{b},,,{a},\n{c}, silver ,,,0\n")
    assert store.import_members(path, GROUPS, "silver") == 3
    first, second, third = store.member(a), store.member(b), store.member(c)
    assert (first["group"], first["phone"], first["balance"]) == ("gold", "09121234567", 250_000)
    assert (second["group"], second["balance"], third["group"], third["lots"]) == ("silver", 0, "silver", [])
    assert len(store.changes_since(0)[1]) == 4  # three accounts, one lot


@pytest.mark.parametrize(("row", "problem"), [
    ("6274120000000011,silver,,,", r"card 627412\*{6}0011 fails the Luhn check"),
    (f"{card_number(1)},silver,,,", r"card 627412\*{6}\d{4} is already enrolled"),
    (f"{card_number(5)},bronze,,,", "unknown group 'bronze': the groups are gold, silver"),
    (f"{card_number(5)},,,{card_number(6)},", r"referrer card 627412\*{6}\d{4} is not enrolled"),
    (f"{card_number(5)},,,,12.5", "credit '12.5' is not a whole number of minor units"),
    (f"{card_number(5)},,,,1000000000000", "credit 1000000000000 must be a whole number of minor units from 1 to"),
    (f"{card_number(5)},,,", r"expected 5 cells \(card,group,phone,referrer,credit\), found 4"),
])
def test_a_bad_row_is_named_and_nothing_is_imported(store: Store, tmp_path: Path, row: str, problem: str) -> None:
    good, later = card_number(2), card_number(6)
    path = _file(tmp_path, "members.csv", f"{HEADER}{good},,,,100\n{card_number(1)},,,,\n{row}\n{later},,,,\n")
    with pytest.raises(StoreError, match=rf"^{re.escape(str(path))} line 4: {problem}"):
        store.import_members(path, GROUPS, "silver")
    with pytest.raises(StoreError, match="is not enrolled"):
        store.member(good)
    assert store.changes_since(0) == (0, [])


def test_a_file_with_another_header_is_refused(store: Store, tmp_path: Path) -> None:
    path = _file(tmp_path, "members.csv", "card,group,credit\n")
    with pytest.raises(StoreError, match=r"line 1: expected the header 'card,group,phone,referrer,credit'"):
        store.import_members(path, GROUPS, "silver")
    with pytest.raises(StoreError, match=r"missing\.csv: cannot read: No such file"):
        store.import_members(tmp_path / "missing.csv", GROUPS, "silver")


def test_terminals_are_imported_all_or_none(store: Store, tmp_path: Path) -> None:
    good = _file(tmp_path, "terminals.csv", f"tid,branch\nT0000001,{BRANCH}\nT0000002,{BRANCH}\n")
    assert store.import_terminals(good) == 2
    bad = _file(tmp_path, "more.csv", f"tid,branch\nT0000003,{BRANCH}\nT0000003,{BRANCH}\n")
    with pytest.raises(StoreError, match=rf"^{re.escape(str(bad))} line 3: terminal T0000003 is already registered$"):
        store.import_terminals(bad)
    assert len(store.changes_since(0)[1]) == 2


def test_terminals_may_be_bound_to_a_family(store: Store, tmp_path: Path) -> None:
    good = _file(tmp_path, "terminals.csv", f"tid,branch,family\nT0000001,{BRANCH},smartpos\nT0000002,{BRANCH},\n")
    assert store.import_terminals(good, ("club8583", "smartpos")) == 2
    assert (store.terminal("T0000001").family, store.terminal("T0000002").family) == ("smartpos", None)
    bad = _file(tmp_path, "more.csv", f"tid,branch,family\nT0000003,{BRANCH},iso8583\n")
    with pytest.raises(StoreError, match=r"line 2: family 'iso8583': expected one of club8583, smartpos$"):
        store.import_terminals(bad, ("club8583", "smartpos"))


def test_ten_thousand_members_import_in_seconds(store: Store, tmp_path: Path) -> None:
    rows = "".join(f"{card_number(n)},,09{n:09d},{card_number(n - 1) if n % 10 != 1 else ''},{n}\n"
                   for n in range(1, 10_001))
    path = _file(tmp_path, "members.csv", HEADER + rows)
    started = time.perf_counter()
    assert store.import_members(path, GROUPS, "silver") == 10_000
    assert time.perf_counter() - started < 15
    assert store.member(card_number(10_000))["balance"] == 10_000


def test_members_imported_together_keep_the_files_order_as_their_join_order(store: Store, tmp_path: Path) -> None:
    """A referrer's max_referred counts its first referred members: after a restart they are
    still the first rows of the file that enrolled them, not an order of random account ids."""
    from datetime import UTC, datetime

    from terminal_gateway.rules import Ledger

    referrer = card_number(1)
    referred = [card_number(n) for n in range(2, 40)]
    rows = "".join(f"{pan},,,{referrer},\n" for pan in referred)
    store.import_members(_file(tmp_path, "members.csv", f"{HEADER}{referrer},,,,\n{rows}"), GROUPS, "silver")
    ledger = Ledger()
    store.load(ledger, datetime.now(UTC), 30)
    by_account = {card.account_id: pan for pan, card in ledger.cards.items()}
    (order,) = ledger.referred.values()
    assert [by_account[account_id] for account_id in order] == referred
