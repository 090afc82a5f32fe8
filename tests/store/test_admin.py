"""The operator's commands: each checks its input, says what is wrong in one line, and changes
all or nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from terminal_gateway.store import Store, StoreError

from ..support import BRANCH, make_config
from .clinic import card_number

GROUPS = make_config().groups
NOW = datetime(2031, 3, 1, 8, 30, tzinfo=UTC)


def test_terminals_are_registered_once(store: Store) -> None:
    store.add_terminal("T0000001", BRANCH)
    with pytest.raises(StoreError, match=r"^terminal T0000001 is already registered$"):
        store.add_terminal("T0000001", BRANCH)


@pytest.mark.parametrize(("tid", "branch", "problem"), [
    ("", BRANCH, "terminal id '' must be 1 to 8"),
    ("T00000001", BRANCH, "terminal id 'T00000001' must be 1 to 8"),
    (" T1", BRANCH, "terminal id ' T1' must be 1 to 8"),
    ("T1", "CLINIC0000000001", "branch 'CLINIC0000000001' must be 1 to 15"),
    ("T1", "کلینیک", "branch 'کلینیک' must be 1 to 15 printable ASCII"),
])
def test_terminal_ids_and_branches_fit_their_fields(store: Store, tid: str, branch: str, problem: str) -> None:
    with pytest.raises(StoreError, match=rf"^{re.escape(problem)}"):
        store.add_terminal(tid, branch)


def test_a_member_is_enrolled_and_shown(store: Store) -> None:
    pan, referrer = card_number(1), card_number(2)
    store.add_member(referrer, "gold", GROUPS)
    account = store.add_member(pan, "silver", GROUPS, phone="+989121234567", referrer=referrer)
    assert store.member(pan) == {
        "card": pan, "account": account, "kind": "member", "group": "silver", "phone": "+989121234567",
        "blocked": False, "status": "active", "balance": 0, "points": 0, "lots": [],
        "cards": [{"card": "627412******" + pan[-4:], "status": "active"}],
    }


@pytest.mark.parametrize(("card", "group", "extra", "problem"), [
    ("6274120000000011", "silver", {}, r"^card 627412\*{6}0011 fails the Luhn check$"),
    (card_number(2), "platinum", {}, r"^unknown group 'platinum': the groups are gold, silver$"),
    (card_number(2), "silver", {"referrer": card_number(9)}, r"^referrer card 627412\*{6}\d{4} is not enrolled$"),
    (card_number(2), "silver", {"referrer": card_number(2)}, r"cannot refer itself$"),
    (card_number(2), "silver", {"phone": "0912-123"}, r"^phone '0912-123' must be 5 to 15 digits"),
    (card_number(2), "silver", {"phone": "09121234567"}, r"^phone 09121234567 already belongs to another member$"),
])
def test_a_bad_member_is_refused(store: Store, card: str, group: str, extra: dict, problem: str) -> None:
    store.add_member(card_number(1), "silver", GROUPS, phone="09121234567")
    with pytest.raises(StoreError, match=problem):
        store.add_member(card, group, GROUPS, **extra)
    if card != card_number(1):
        with pytest.raises(StoreError, match="is not enrolled"):
            store.member(card)


def test_a_card_is_enrolled_once(store: Store) -> None:
    store.add_member(card_number(1), "silver", GROUPS)
    with pytest.raises(StoreError, match=r"^card 627412\*{6}\d{4} is already enrolled$"):
        store.add_member(card_number(1), "gold", GROUPS)


def test_credit_is_granted_in_lots_that_expire(store: Store) -> None:
    pan = card_number(1)
    store.add_member(pan, "silver", GROUPS)
    tehran = ZoneInfo("Asia/Tehran")
    lapsed = store.grant_credit(pan, 30_000, datetime(2031, 2, 1, 12, 0, tzinfo=tehran))
    lasting = store.grant_credit(pan, 70_000)
    shown = store.member(pan, NOW)
    assert shown["balance"] == 70_000
    assert [(lot["id"], lot["remaining"], lot["expires_at"]) for lot in shown["lots"]] == [
        (lapsed, 30_000, "2031-02-01T08:30:00+00:00"), (lasting, 70_000, None)]
    assert store.member(pan, NOW - timedelta(days=60))["balance"] == 100_000


@pytest.mark.parametrize("amount", [0, -5, True, 1.5, 10**12])
def test_a_bad_amount_is_refused(store: Store, amount: object) -> None:
    store.add_member(card_number(1), "silver", GROUPS)
    with pytest.raises(StoreError, match=r"^amount .* must be a whole number of minor units from 1 to 999999999999$"):
        store.grant_credit(card_number(1), amount)  # type: ignore[arg-type]


def test_credit_for_an_unknown_card_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match=r"^card 627412\*{6}\d{4} is not enrolled$"):
        store.grant_credit(card_number(5), 1_000)
