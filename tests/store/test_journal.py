"""The journal codec: every replayed effect survives JSON under its kind from the table, a
``Changed`` finds its entry again, and a text this code does not read is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from terminal_gateway.rules import Entry
from terminal_gateway.rules import effects as effect_classes
from terminal_gateway.rules.effects import (
    BatchClosed,
    BatchItem,
    Changed,
    DailyUsage,
    Effect,
    InvoiceUsage,
    PinFailure,
    Recorded,
    Tombstone,
)
from terminal_gateway.store import journal
from terminal_gateway.vocabulary import BatchTotals, Code, Limit, Outcome

NOW = datetime(2031, 3, 1, 8, 30, tzinfo=UTC)


def _hold() -> Entry:
    outcome = Outcome(Code.PARTIAL, amount=60_000, balance=10, daily_remaining=0, limit=Limit.DAILY_CAP,
                      rrn="000000000007", auth_code="000007", totals=BatchTotals(debits=1), message="partial")
    return Entry(kind="hold", terminal="T0000001", outcome=outcome, key="T0000001:000001:0301083000",
                 account_id="a" * 32, branch="CLINIC000000001", day="2031-03-01", invoice="INV-1",
                 taken=(("lot1", 50_000), ("lot2", 10_000)), hold_state="open", expires_at=NOW + timedelta(minutes=15))


def _decode(text: str, lookup: journal.Lookup = {}.get) -> list[Effect]:
    return journal.decode(text, journal.FORMAT_VERSION, lookup)


def test_every_replayed_effect_survives_json() -> None:
    entry = _hold()
    effects = [
        DailyUsage("a" * 32, "2031-03-01", 60_000, 1),
        InvoiceUsage("CLINIC000000001", "INV-1", 60_000),
        Recorded(entry),
        Tombstone("T0000001:000009:0301083000"),
        BatchItem("T0000001", 3, "debits", 60_000),
        BatchClosed("T0000001", 3, "001", BatchTotals(debits=2), BatchTotals(debits=2, credits=1)),
    ]
    decoded = _decode(journal.encode(effects))
    assert decoded == effects
    assert decoded[2].entry.outcome.message == "partial"  # not compared by Outcome's ==


def test_a_changed_entry_is_named_by_its_key_and_found_in_the_ledger() -> None:
    entry, earlier = _hold(), _hold()
    text = journal.encode([Changed(entry, "hold_state", "open", "completed"),
                           Changed(entry, "expires_at", entry.expires_at, NOW)])
    assert "INV-1" not in text
    first, second = _decode(text, {entry.key: earlier}.get)
    assert first == Changed(earlier, "hold_state", "open", "completed")
    assert first.entry is earlier
    assert second.new == NOW  # decoded by the type of the field it sets


def test_a_changed_entry_not_in_the_ledger_is_skipped() -> None:
    text = journal.encode([Changed(_hold(), "captured", 0, 10), Tombstone("k")])
    assert _decode(text) == [Tombstone("k")]


def test_fields_at_their_default_are_left_out() -> None:
    entry = Entry(kind="balance", terminal="T0000001", outcome=Outcome(Code.APPROVED))
    (item,) = json.loads(journal.encode([Recorded(entry)]))
    assert item == ["recorded", {"entry": {"kind": "balance", "terminal": "T0000001", "outcome": {"code": "00"}}}]


def test_the_club_programs_entries_and_effects_survive_json() -> None:
    """A gift activation's answer carries a date (DE14); an accrual names what it changed."""
    outcome = Outcome(Code.APPROVED, amount=300_000, balance=300_000, rrn="000000000008", auth_code="000008",
                      earned=-2_500, points_earned=-3, points=7, group="gold", discount=5,
                      expires_on=(NOW + timedelta(days=365)).date())
    entry = Entry(kind="gift_activation", terminal="T0000001", outcome=outcome, key="T0000001:000002:0301083000",
                  created=("lot9",), previous_group="silver", ref="accrual-id")
    effects = [Recorded(entry), PinFailure("terminal:T0000001", NOW)]
    assert _decode(journal.encode(effects)) == effects


def test_every_replayed_effect_has_a_kind_and_no_other_effect_has() -> None:
    declared = [value for value in vars(effect_classes).values() if isinstance(value, type)]
    replayed = {cls for cls in declared if issubclass(cls, Effect) and cls is not Effect and cls.replayed}
    assert set(journal.KINDS.values()) == replayed


def test_a_renamed_class_is_stored_under_its_kind_all_the_same() -> None:
    names = DailyUsage.__name__, DailyUsage.__qualname__
    DailyUsage.__name__ = DailyUsage.__qualname__ = "DayUsage"
    try:
        text = journal.encode([DailyUsage("a" * 32, "2031-03-01", 60_000, 1), Tombstone("k")])
    finally:
        DailyUsage.__name__, DailyUsage.__qualname__ = names
    assert [kind for kind, _ in json.loads(text)] == ["daily_usage", "tombstone"]
    assert _decode(text) == [DailyUsage("a" * 32, "2031-03-01", 60_000, 1), Tombstone("k")]


@pytest.mark.parametrize(("version", "text", "message"), [
    (journal.FORMAT_VERSION, '[["tombstone",{"key":"k"}],["teleported",{}]]',
     r"^it holds an effect of unknown kind 'teleported'$"),
    (1, '[{"type":"Tombstone","key":"k"}]', r"^it is in format version 1; this gateway reads version 2 only$"),
    (3, '[["tombstone",{"key":"k"}]]', r"^it is in format version 3; this gateway reads version 2 only$"),
])
def test_an_unknown_kind_or_version_is_refused(version: int, text: str, message: str) -> None:
    with pytest.raises(journal.FormatError, match=message):
        journal.decode(text, version, {}.get)
