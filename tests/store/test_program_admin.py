"""The operator's side of the club program, on SQLite and PostgreSQL: gift card ranges,
vouchers (generated, activated, voided; PINs kept only as keyed hashes), converting points to
credit and the reload announcement; each all or nothing, each seen by the change feed."""

from __future__ import annotations

import itertools
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text, update

from terminal_gateway.program import Group, Points
from terminal_gateway.rules.cards import luhn_valid, with_check_digit
from terminal_gateway.rules.vouchers import pin_hash
from terminal_gateway.store import Store, StoreError
from terminal_gateway.store import vouchers as voucher_store
from terminal_gateway.store.schema import accounts, cards, changes, conversions, lots, metadata, vouchers

from ..support import make_config
from .clinic import card_number

KEY = b"a voucher key of 32 bytes, test."
GIFT = with_check_digit("603799123456000")
SHORT, LAST = with_check_digit("60379912345"), with_check_digit("9" * 15)  # 12 digits; the last of 16
FUTURE = datetime.now(UTC) + timedelta(days=90)
GROUPS = make_config().groups | {
    "points10": Group("points10", points=Points(value=10), credit_expiry_months=6),
    "points3": Group("points3", points=Points(value=3), credit_expiry_days=30),
    "bigpoints": Group("bigpoints", points=Points(value=10**11)),
}


def rows(store_url: str, query) -> list:
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(query))
    finally:
        engine.dispose()


def execute(store_url: str, statement) -> None:
    engine = create_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(statement)
    finally:
        engine.dispose()


def feed(store_url: str, kind: str) -> list[str]:
    return [r.ref for r in rows(store_url, select(changes.c.ref).where(changes.c.kind == kind).order_by(changes.c.id))]


def masked(pan: str) -> str:
    return f"{pan[:6]}{'*' * (len(pan) - 10)}{pan[-4:]}"


# -- gift cards -------------------------------------------------------------------------------


def test_a_gift_range_is_consecutive_luhn_valid_and_inactive(store: Store, store_url: str) -> None:
    assert store.register_gift_cards(GIFT, 12) == 12
    registered = rows(store_url, select(cards.c.pan, cards.c.status, accounts.c.id, accounts.c.kind, accounts.c.group,
                                        accounts.c.gift_state, accounts.c.points)
                      .join(accounts, accounts.c.id == cards.c.account_id).order_by(cards.c.pan))
    pans = [r.pan for r in registered]
    assert pans[0] == GIFT and all(luhn_valid(pan) and len(pan) == 16 for pan in pans)
    assert [int(pan[:-1]) for pan in pans] == list(range(int(GIFT[:-1]), int(GIFT[:-1]) + 12))
    assert {(r.status, r.kind, r.group, r.gift_state, r.points) for r in registered} == {
        ("active", "gift", "", "inactive", 0)}
    assert len({r.id for r in registered}) == 12  # an account each
    assert sorted(feed(store_url, "account")) == sorted(r.id for r in registered)
    shown = store.member(pans[5])
    assert (shown["kind"], shown["gift_state"], shown["balance"], shown["group"]) == ("gift", "inactive", 0, "")


def test_a_range_keeps_its_length_and_leading_zeros(store: Store) -> None:
    first = with_check_digit("000000000009")  # 13 digits; the body carries from 9 to 10
    store.register_gift_cards(first, 3)
    assert [store.member(with_check_digit(f"{n:012d}"))["kind"] for n in (9, 10, 11)] == ["gift"] * 3


def test_a_range_is_registered_all_or_none(store: Store, store_url: str) -> None:
    member = with_check_digit(str(int(GIFT[:-1]) + 5))  # the 6th number of a range from GIFT
    store.add_member(member, "silver", GROUPS)
    before = rows(store_url, select(accounts.c.id))
    with pytest.raises(StoreError, match=rf"^card {re.escape(masked(member))} is already registered: nothing "):
        store.register_gift_cards(GIFT, 10)
    store.register_gift_cards(GIFT, 4)
    with pytest.raises(StoreError, match=rf"^card {re.escape(masked(GIFT))} is already registered \(and 3 more"):
        store.register_gift_cards(GIFT, 4)
    assert len(rows(store_url, select(accounts.c.id))) == len(before) + 4


@pytest.mark.parametrize(("first", "count", "problem"), [
    (GIFT[:-1] + "0", 1, r"^card 603799\*{6}0000 fails the Luhn check$"),
    (SHORT, 1, rf"^gift card number '{re.escape(masked(SHORT))}' must be 13 to 19 digits$"),
    ("6" * 20, 1, r"must be 13 to 19 digits$"),
    ("60379912345600a1", 1, r"must be 13 to 19 digits$"),
    (GIFT, 0, r"^count 0 must be a whole number from 1 to 1000000$"),
    (GIFT, 1_000_001, r"^count 1000001 must be"),
    (LAST, 2, rf"^2 cards from {re.escape(masked(LAST))} run past the last 16-digit number$"),
])
def test_a_bad_range_is_refused(store: Store, store_url: str, first: str, count: int, problem: str) -> None:
    with pytest.raises(StoreError, match=problem):
        store.register_gift_cards(first, count)
    assert rows(store_url, select(cards.c.pan)) == []


def test_ten_thousand_gift_cards_take_a_moment(store: Store, store_url: str) -> None:
    started = time.monotonic()
    assert store.register_gift_cards(GIFT, 10_000) == 10_000
    assert time.monotonic() - started < 5
    assert len(feed(store_url, "account")) == 10_000


# -- vouchers ---------------------------------------------------------------------------------


def test_vouchers_are_generated_with_secret_pins_kept_only_as_hashes(store: Store, store_url: str) -> None:
    made = store.generate_vouchers(50, 5_000, FUTURE, KEY, batch="SPRING")
    assert [serial for serial, _ in made] == [f"SPRING-{n:06d}" for n in range(1, 51)]
    pins = [pin for _, pin in made]
    assert all(re.fullmatch(r"[0-9]{12}", pin) for pin in pins) and len(set(pins)) == 50
    stored = {r.serial: r for r in rows(store_url, select(vouchers))}
    for serial, pin in made:
        row = stored[serial]
        assert (row.batch, row.value, row.state, row.pin_hash) == ("SPRING", 5_000, "generated", pin_hash(KEY, pin))
        assert row.expires_at == FUTURE
    assert feed(store_url, "voucher") == []  # nothing to redeem before activation
    dump = "\n".join(repr(tuple(row)) for table in metadata.sorted_tables for row in rows(store_url, select(table)))
    assert not [pin for pin in pins if pin in dump]
    if store_url.startswith("sqlite"):  # the file itself, its WAL too
        path = store_url.removeprefix("sqlite:///")
        raw = b"".join(Path(name).read_bytes() for name in (path, path + "-wal") if Path(name).exists())
        assert not [pin for pin in pins if pin.encode() in raw]


def test_a_hundred_thousand_vouchers_take_seconds(store: Store, store_url: str) -> None:
    started = time.monotonic()
    made = store.generate_vouchers(100_000, 5_000, FUTURE, KEY, batch="BIG")
    took = time.monotonic() - started
    assert took < 10, f"100,000 vouchers took {took:.1f} s"  # about 1.5 s on a 2-core machine
    assert made[-1][0] == "BIG-100000" and len({pin for _, pin in made}) == 100_000
    stored = {r.serial: r.pin_hash for r in rows(store_url, select(vouchers.c.serial, vouchers.c.pin_hash))}
    assert stored == {serial: pin_hash(KEY, pin) for serial, pin in made}


def test_pins_have_the_configured_digits_and_a_default_batch(store: Store) -> None:
    made = store.generate_vouchers(3, 100, FUTURE, KEY, pin_digits=16)
    assert all(len(pin) == 16 and pin.isdigit() for _, pin in made)
    assert re.fullmatch(r"B[0-9]{12}-000001", made[0][0])


def test_a_pin_whose_hash_is_taken_is_drawn_again(store: Store, store_url: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # 2 is taken by the first batch; drawn twice more it is skipped both times, then 4 and 5 come.
    draws = itertools.chain([1, 2, 3], [2, 4, 2, 5, 6])
    monkeypatch.setattr(voucher_store.secrets, "randbelow", lambda _: next(draws))
    store.generate_vouchers(3, 100, FUTURE, KEY, batch="A")
    made = store.generate_vouchers(3, 100, FUTURE, KEY, batch="B")
    assert dict(made) == {"B-000001": "000000000005", "B-000002": "000000000004", "B-000003": "000000000006"}
    hashes = [r.pin_hash for r in rows(store_url, select(vouchers.c.pin_hash))]
    assert len(hashes) == len(set(hashes)) == 6
    assert {pin_hash(KEY, pin) for _, pin in made} <= set(hashes)


@pytest.mark.parametrize(("change", "problem"), [
    ({"count": 0}, r"^count 0 must be a whole number from 1 to 999999$"),
    ({"count": 1_000_000}, r"^count 1000000 must be"),
    ({"value": 0}, r"^value 0 must be a whole number of minor units from 1 to 999999999999$"),
    ({"expires_at": datetime(2020, 1, 1, tzinfo=UTC)}, r"^expiry 2020-01-01 00:00 UTC is not in the future$"),
    ({"batch": "SPRING-24"}, r"^batch name 'SPRING-24' must be 1 to 13 letters, digits or '_'"),
    ({"batch": "ABCDEFGHIJKLMN"}, r"^batch name 'ABCDEFGHIJKLMN' must be"),
    ({"batch": "EXISTS"}, r"^batch EXISTS already exists: give another --batch$"),
    ({"pin_digits": 11}, r"^PINs must have 12 to 32 digits, not 11$"),
])
def test_a_bad_generation_is_refused(store: Store, store_url: str, change: dict, problem: str) -> None:
    store.generate_vouchers(1, 100, FUTURE, KEY, batch="EXISTS")
    arguments = {"count": 2, "value": 100, "expires_at": FUTURE, "key": KEY, "batch": "NEW"} | change
    with pytest.raises(StoreError, match=problem):
        store.generate_vouchers(**arguments)
    assert len(rows(store_url, select(vouchers.c.serial))) == 1


def states(store_url: str) -> dict[str, str]:
    return {r.serial: r.state for r in rows(store_url, select(vouchers.c.serial, vouchers.c.state))}


def test_vouchers_are_activated_and_voided_by_batch_and_range(store: Store, store_url: str) -> None:
    store.generate_vouchers(6, 1_000, FUTURE, KEY, batch="V")
    store.generate_vouchers(2, 1_000, FUTURE, KEY, batch="W")
    assert store.activate_vouchers(first="V-000002", last="V-000003") == 2
    assert feed(store_url, "voucher") == ["V-000002", "V-000003"]
    assert store.activate_vouchers(batch="V") == 4  # the rest of the batch
    with pytest.raises(StoreError, match=r"^none of the 6 vouchers of batch V can be activated: 6 active$"):
        store.activate_vouchers(batch="V")
    execute(store_url, update(vouchers).where(vouchers.c.serial == "V-000001").values(state="redeemed"))

    assert store.void_vouchers(first="V-000004") == 1
    assert store.void_vouchers(batch="V") == 4  # never the redeemed one
    assert states(store_url) == {"V-000001": "redeemed", **{f"V-00000{n}": "void" for n in range(2, 7)},
                                 "W-000001": "generated", "W-000002": "generated"}
    with pytest.raises(StoreError, match=r"^voucher V-000001 cannot be voided: it is redeemed$"):
        store.void_vouchers(first="V-000001")
    with pytest.raises(StoreError, match=r"^none of the 6 vouchers of batch V can be activated: 1 redeemed, 5 void$"):
        store.activate_vouchers(batch="V")
    assert store.void_vouchers(first="W-000001", last="W-000002") == 2  # generated ones may be voided too
    assert feed(store_url, "voucher")[-3:] == ["V-000006", "W-000001", "W-000002"]


def test_an_expired_voucher_is_not_activated(store: Store, store_url: str) -> None:
    store.generate_vouchers(3, 1_000, FUTURE, KEY, batch="X")
    execute(store_url, update(vouchers).where(vouchers.c.serial == "X-000003")
            .values(expires_at=datetime(2020, 1, 1, tzinfo=UTC)))
    assert store.activate_vouchers(batch="X") == 2
    with pytest.raises(StoreError, match=r"^voucher X-000003 cannot be activated: it is expired$"):
        store.activate_vouchers(first="X-000003", last="X-000003")
    assert store.void_vouchers(first="X-000003") == 1


@pytest.mark.parametrize(("selection", "problem"), [
    ({"batch": "NOPE"}, r"^no vouchers of batch NOPE$"),
    ({"first": "Y-000009"}, r"^no voucher Y-000009$"),
    ({"first": "Y-000007", "last": "Y-000009"}, r"^no vouchers from Y-000007 to Y-000009$"),
    ({"first": "Y-000002", "last": "Z-000003"}, r"^serials Y-000002 and Z-000003 are of two batches \(Y, Z\)"),
    ({"first": "Y-000003", "last": "Y-000001"}, r"^serial Y-000003 comes after Y-000001"),
    ({"first": "Y-1"}, r"^serial 'Y-1' is not a voucher serial \(BATCH-NNNNNN\)$"),
    ({"batch": "Y", "first": "Y-000001"}, r"^name a batch or a range of serials, not both$"),
    ({}, r"^name a batch or a range of serials$"),
])
def test_a_selection_that_names_nothing_is_refused(store: Store, store_url: str, selection: dict,
                                                   problem: str) -> None:
    store.generate_vouchers(3, 1_000, FUTURE, KEY, batch="Y")
    for act in (store.activate_vouchers, store.void_vouchers):
        with pytest.raises(StoreError, match=problem):
            act(**selection)
    assert set(states(store_url).values()) == {"generated"} and feed(store_url, "voucher") == []


# -- points -----------------------------------------------------------------------------------


def member_with_points(store: Store, store_url: str, n: int, group: str, points: int) -> tuple[str, str]:
    card = card_number(n)
    account = store.add_member(card, group, GROUPS)
    execute(store_url, update(accounts).where(accounts.c.id == account).values(points=points))
    return card, account


def test_points_become_a_lot_expiring_in_calendar_months(store: Store, store_url: str) -> None:
    card, account = member_with_points(store, store_url, 1, "points10", 100)
    at = datetime(2031, 8, 31, 10, 0, tzinfo=UTC)
    done = store.convert_points(card, 30, GROUPS, now=at)
    assert (done.points, done.credit, done.points_left, done.account_id) == (30, 300, 70, account)
    assert done.expires_at == datetime(2032, 2, 29, 10, 0, tzinfo=UTC)  # 31 August + 6 months, clamped
    lot = rows(store_url, select(lots).where(lots.c.id == done.lot_id))[0]
    assert (lot.account_id, lot.amount, lot.source, lot.expires_at) == (account, 300, "points", done.expires_at)
    assert [tuple(r) for r in rows(store_url, select(conversions))] == [(done.lot_id, account, 30, at)]
    assert feed(store_url, "conversion") == [done.lot_id]
    shown = store.member(card, at)
    assert (shown["points"], shown["balance"], shown["kind"]) == (70, 300, "member")

    with pytest.raises(StoreError, match=rf"^card {re.escape(masked(card))} has only 70 points, not 71$"):
        store.convert_points(card, 71, GROUPS, now=at)
    store.convert_points(card, 70, GROUPS, now=at)
    assert store.member(card, at)["points"] == 0


def test_points_expire_in_days_where_the_group_says_so(store: Store, store_url: str) -> None:
    card, _ = member_with_points(store, store_url, 1, "points3", 10)
    at = datetime(2031, 3, 1, tzinfo=UTC)
    done = store.convert_points(card, 10, GROUPS, now=at)
    assert (done.credit, done.expires_at) == (30, at + timedelta(days=30))


@pytest.mark.parametrize(("group", "points", "problem"), [
    ("silver", 5, r"^points cannot be converted in group silver: its points.value is 0$"),
    ("points10", 0, r"^points 0 must be a whole number from 1 to 999999999999$"),
    ("points10", True, r"^points True must be a whole number"),
    ("bigpoints", 10, r"^10 points of group bigpoints are too much at once: credit 1000000000000 must be"),
])
def test_a_bad_conversion_is_refused(store: Store, store_url: str, group: str, points: int, problem: str) -> None:
    card, account = member_with_points(store, store_url, 1, group, 100)
    with pytest.raises(StoreError, match=problem):
        store.convert_points(card, points, GROUPS)
    assert rows(store_url, select(accounts.c.points).where(accounts.c.id == account))[0].points == 100
    assert rows(store_url, select(lots.c.id)) == [] and feed(store_url, "conversion") == []


def test_only_an_active_member_card_converts(store: Store, store_url: str) -> None:
    card, _ = member_with_points(store, store_url, 1, "points10", 100)
    store.replace_card(card, card_number(2))
    store.register_gift_cards(GIFT, 1)
    for pan, problem in ((card, f"card {masked(card)} is lost: convert on the member's active card"),
                         (GIFT, f"card {masked(GIFT)} is a gift card: gift cards have no points"),
                         (card_number(3), f"card {masked(card_number(3))} is not enrolled")):
        with pytest.raises(StoreError, match=f"^{re.escape(problem)}$"):
            store.convert_points(pan, 1, GROUPS)
    with pytest.raises(StoreError, match=r"^the member's group 'points10' is not configured$"):
        store.convert_points(card_number(2), 1, make_config().groups)
    assert store.convert_points(card_number(2), 1, GROUPS).credit == 10


# -- reload -----------------------------------------------------------------------------------


def test_a_reload_is_announced_on_the_feed(store: Store, store_url: str) -> None:
    store.announce_reload()
    assert [(r.kind, r.ref) for r in rows(store_url, text("SELECT kind, ref FROM changes"))] == [("reload", "")]
