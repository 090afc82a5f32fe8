"""``terminal-gateway group grant``: credit for every member of a group, through the real command
line on a temporary SQLite store, and ``Store.grant_group`` with many members in process.

Each test that grants has a store of its own: a group grant reaches every member of the group,
so members of other tests would be granted too.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from terminal_gateway.simulators.population import write_members
from terminal_gateway.store import LotChange, Store, StoreError

from .test_cli import Install, fresh_card, write_csv


@pytest.fixture
def install(tmp_path: Path) -> Install:
    installation = Install(tmp_path)
    installation("init").ok()
    return installation


def test_the_grant_reaches_every_member_of_the_group_and_no_other(install: Install, tmp_path: Path) -> None:
    silver, gold = [fresh_card() for _ in range(3)], [fresh_card() for _ in range(2)]
    rows = [["card", "group", "phone", "referrer", "credit"],
            [silver[0], "silver", "", "", 1_000], [silver[1], "", "", "", ""], [silver[2], "silver", "", "", ""],
            [gold[0], "gold", "", "", 7_000], [gold[1], "gold", "", "", ""]]
    install("member", "import", str(write_csv(tmp_path / "members.csv", rows))).ok()
    install("member", "block", silver[1]).ok()  # blocked: still granted, the credit is the member's
    replacement = fresh_card()
    install("card", "replace", silver[2], replacement).ok()  # two cards, one account: one lot
    before = datetime.now(UTC)

    out = install("group", "grant", "silver", "50000", "--expires-in-days", "30").ok().out

    match = re.fullmatch(r"granted 50000 to 3 members of silver, expiring (\d{4}-\d\d-\d\d \d\d:\d\d) UTC\n", out)
    assert match, out
    expires = datetime.strptime(match[1], "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    assert before + timedelta(days=30) - timedelta(minutes=1) <= expires <= datetime.now(UTC) + timedelta(days=30)
    cards = [*silver, replacement, *gold]
    shown = {card: result.json() for card, result in zip(cards, install.many(*(("member", "show", c) for c in cards)),
                                                          strict=True)}
    assert [shown[card]["balance"] for card in silver] == [51_000, 50_000, 50_000]
    assert shown[silver[1]]["blocked"] is True
    assert shown[replacement]["account"] == shown[silver[2]]["account"]
    for card in silver:
        granted = [lot for lot in shown[card]["lots"] if lot["remaining"] == 50_000]
        assert len(granted) == 1, shown[card]["lots"]
        assert granted[0]["expires_at"][:16] == expires.isoformat()[:16]
    assert [shown[card]["balance"] for card in gold] == [7_000, 0]
    assert [len(shown[card]["lots"]) for card in gold] == [1, 0]
    assert install.rows("SELECT count(*), min(source), max(source) FROM lots WHERE amount = 50000") == [
        (3, "group", "group")]

    again = install("group", "grant", "gold", "1").ok().out
    assert again == "granted 1 to 2 members of gold, without expiry\n"
    assert install("member", "show", gold[1]).json()["lots"][0]["expires_at"] is None


def test_a_group_without_members_is_granted_to_nobody(install: Install) -> None:
    install("member", "add", fresh_card()).ok()  # silver, the default
    out = install("group", "grant", "gold", "100", "--expires-in-days", "1").ok().out
    assert re.fullmatch(r"granted 100 to 0 members of gold, expiring \S+ \S+ UTC: the group has no members\n", out)
    assert install.rows("SELECT count(*) FROM lots") == [(0,)]


def test_failures_are_one_line_and_change_nothing(install: Install) -> None:
    install("member", "add", fresh_card()).ok()
    before = install.snapshot()
    calls = {
        ("group", "grant", "bronze", "100"): ("unknown group 'bronze'", "gold, silver"),
        ("group", "grant", "silver", "0"): ("amount must be more than zero, got 0",),
        ("group", "grant", "silver", "-5"): ("amount must be more than zero",),
        ("group", "grant", "silver", "1.5"): ("amount must be a whole number of minor units, got '1.5'",),
        ("group", "grant", "silver", "lots"): ("amount must be a whole number",),
        ("group", "grant", "silver", "1000000000000"): ("amount 1000000000000 must be a whole number", "999999999999"),
        ("group", "grant", "silver", "100", "--expires-in-days", "0"): ("--expires-in-days: expected a number",),
        ("group", "grant", "silver", "100", "--expires-in-days", "x"): ("--expires-in-days: expected a whole",),
    }
    for (words, fragments), result in zip(calls.items(), install.many(*calls), strict=True):
        line = result.failed(*fragments)
        assert line.startswith("terminal-gateway: "), (words, line)
    assert install.snapshot() == before


def test_ten_thousand_members_in_one_bulk_transaction_all_in_the_change_feed(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'gateway.db'}")
    try:
        store.init_schema()
        store.import_members(write_members(tmp_path / "members.csv", 10_000, credit=0), ["silver", "gold"], "silver")
        cursor, _ = store.changes_since(0)
        expires = datetime.now(UTC) + timedelta(days=30)

        started = time.monotonic()
        assert store.grant_group("silver", 25_000, ["silver", "gold"], expires_at=expires) == 10_000
        assert time.monotonic() - started < 2.0

        _, changed = store.changes_since(cursor)
        assert len(changed) == 10_000 and all(isinstance(change, LotChange) for change in changed)
        assert {change.lot.remaining for change in changed} == {25_000}
        assert len({change.lot.account_id for change in changed}) == 10_000
        assert store.grant_group("gold", 25_000, ["silver", "gold"]) == 0
        for group, amount, problem in [("bronze", 1, "unknown group 'bronze'"), ("silver", 0, "amount 0 must be"),
                                       ("silver", True, "amount True must be"), ("silver", 1.5, "amount 1.5")]:
            with pytest.raises(StoreError, match=re.escape(problem)):
                store.grant_group(group, amount, ["silver", "gold"])  # type: ignore[arg-type]
        with pytest.raises(StoreError, match="not in the future"):
            store.grant_group("silver", 1, ["silver"], expires_at=datetime.now(UTC) - timedelta(seconds=1))
        assert store.changes_since(cursor)[1] == changed, "a refused grant appends nothing"
    finally:
        store.close()
