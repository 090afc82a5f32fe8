"""The club program's effects written and loaded back: lots, points, accruals, account and
voucher updates, the voucher double-spend guard, and the program's change-feed kinds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import astuple
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Table, create_engine, func, insert, select, update

from terminal_gateway.rules.core import Record
from terminal_gateway.rules.effects import AccrualBooked, Effect, LotCreated, PointsMoved, Posting, Updated
from terminal_gateway.rules.ledger import Account, Accrual, Ledger, Voucher
from terminal_gateway.store import (
    AccountChange,
    ConversionChange,
    ReloadChange,
    Store,
    StoreError,
    VoucherChange,
    apply_change,
)
from terminal_gateway.store import changes as feed
from terminal_gateway.store.schema import accounts, accruals, conversions, lots, transactions, vouchers
from terminal_gateway.vocabulary import Code, Outcome

from ..support import BRANCH

NOW = datetime(2031, 3, 1, 8, 30, tzinfo=UTC)
TID = "T0000001"
REFERRER, FIRST, SECOND, GIFT = "referrer", "member-2", "member-1", "gift-1"  # FIRST joined before SECOND
LATER = NOW + timedelta(days=90)


@pytest.fixture
def db(store_url: str) -> Iterator[Any]:
    """A transaction on the store's database, as an operator's command would have."""

    @contextmanager
    def begin() -> Iterator[Connection]:
        with engine.begin() as conn:
            yield conn

    engine = create_engine(store_url)
    yield begin
    engine.dispose()


@pytest.fixture
def ledger(store: Store, db: Any) -> Ledger:
    """Accounts of a referrer, two members it referred, a gift card; four vouchers; loaded."""
    with db() as conn:
        conn.execute(insert(accounts), [
            _account(REFERRER, 30, phone="09120000001"),
            _account(FIRST, 20, referrer_id=REFERRER, points=40),
            _account(SECOND, 10, referrer_id=REFERRER, points=1_000, phone="09120000002"),
            _account(GIFT, 5, kind="gift", group="gift", gift_state="inactive"),
        ])
        conn.execute(insert(vouchers), [
            {"serial": serial, "batch": "B1", "pin_hash": f"hash-{serial}", "value": 100_000, "expires_at": LATER,
             "state": state, "created_at": NOW - timedelta(days=1)}
            for serial, state in (("V0", "generated"), ("V1", "active"), ("V2", "active"), ("V3", "active"))
        ])
    return _loaded(store)


def _account(account_id: str, days_ago: int, **values: Any) -> dict[str, Any]:
    return {"id": account_id, "group": "silver", "phone": None, "blocked": False, "referrer_id": None,
            "created_at": NOW - timedelta(days=days_ago), "kind": "member", "points": 0, "gift_state": None,
            **values}


def _loaded(store: Store) -> Ledger:
    ledger = Ledger()
    store.load(ledger, NOW, 30)
    return ledger


def _decided(ledger: Ledger, *effects: Effect, kind: str = "accrual", at: datetime = NOW) -> Record:
    """A record whose effects are applied to ``ledger``, as the rule core applies them."""
    for effect in effects:
        effect.apply(ledger)
    return Record(at, kind, TID, Outcome(Code.APPROVED), effects, branch=BRANCH)


def _state(ledger: Ledger) -> dict[str, Any]:
    """Everything the program's decisions depend on, in comparable form."""
    return {
        "accounts": {a.id: (a.group, a.phone, a.blocked, a.kind, a.points, a.referrer_id, a.joined_at, a.gift_state,
                            [lot.id for lot in a.lots], [accrual.id for accrual in a.accruals])
                     for a in ledger.accounts.values()},
        "phones": dict(ledger.phones),
        "lots": {lot.id: astuple(lot) for lot in ledger.lots.values()},
        "accruals": {accrual.id: astuple(accrual) for accrual in ledger.accruals_by_id.values()},
        "by_invoice": {key: accrual.id for key, accrual in ledger.accruals.items()},
        "referred": dict(ledger.referred),
        "vouchers": {v.serial: astuple(v) for v in ledger.vouchers_by_serial.values()},
        "by_pin": {pin_hash: v.serial for pin_hash, v in ledger.vouchers.items()},
    }


def _count(db: Any, table: Table) -> int:
    with db() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)))


def test_accounts_load_with_points_kind_and_referrals_in_join_order(ledger: Ledger) -> None:
    second, gift = ledger.accounts[SECOND], ledger.accounts[GIFT]
    assert (second.points, second.referrer_id, second.joined_at, second.kind) == (
        1_000, REFERRER, NOW - timedelta(days=10), "member")
    assert (gift.kind, gift.gift_state, gift.group) == ("gift", "inactive", "gift")
    assert ledger.referred == {REFERRER: [FIRST, SECOND]}  # join order, not id order
    assert ledger.vouchers["hash-V1"] is ledger.vouchers_by_serial["V1"]
    assert ledger.vouchers_by_serial["V1"] == Voucher("V1", "hash-V1", 100_000, LATER, "active")


def test_accruals_their_lots_points_returns_and_reversals_survive_a_restart(store: Store, ledger: Ledger,
                                                                           db: Any) -> None:
    paid = Accrual("acc-1", SECOND, BRANCH, "INV-1", NOW, 200_000, points=20,
                   credit=((SECOND, "lot-earned", 10_000), (REFERRER, "lot-referral", 2_000)))
    booked = _decided(ledger, LotCreated("lot-earned", SECOND, 10_000, NOW, LATER, "earned"),
                      LotCreated("lot-referral", REFERRER, 2_000, NOW, None, "referral"),
                      PointsMoved(SECOND, 20), AccrualBooked(paid))
    spent = _decided(ledger, Posting("lot-earned", SECOND, -4_000), kind="redeem")
    store.write([booked, spent])  # the lots go in before the posting that spends one
    returned = _decided(ledger, Updated("accrual", "acc-1", "returned", 0, 50_000), PointsMoved(SECOND, -5),
                        Posting("lot-earned", SECOND, -2_500), kind="return")
    first = Accrual("acc-2", FIRST, BRANCH, "INV-2", NOW, 80_000, points=8)
    again = Accrual("acc-3", FIRST, BRANCH, "INV-2", NOW + timedelta(hours=1), 70_000, points=7)
    group_commit = [
        returned,
        _decided(ledger, AccrualBooked(first), PointsMoved(FIRST, 8)),
        _decided(ledger, Updated("accrual", "acc-2", "reversed", False, True), PointsMoved(FIRST, -8),
                 kind="reverse"),
        _decided(ledger, AccrualBooked(again), PointsMoved(FIRST, 7), at=again.at),
    ]
    store.write_prepared([store.prepare([record]) for record in group_commit])

    reloaded = _loaded(store)
    assert _state(reloaded) == _state(ledger)
    assert reloaded.lots["lot-earned"].remaining == 10_000 - 4_000 - 2_500
    assert (reloaded.accounts[SECOND].points, reloaded.accounts[FIRST].points) == (1_015, 47)
    assert astuple(reloaded.accruals_by_id["acc-1"]) == astuple(paid)
    assert reloaded.accruals_by_id["acc-1"].returned == 50_000
    assert reloaded.accruals[BRANCH, "INV-2"].id == "acc-3" and reloaded.accruals_by_id["acc-2"].reversed
    assert [a.id for a in reloaded.accounts[FIRST].accruals] == ["acc-2", "acc-3"]
    with db() as conn:
        journal_ids = dict(conn.execute(select(accruals.c.id, accruals.c.transaction_id)).all())
        booking = conn.scalar(select(transactions.c.id).where(transactions.c.kind == "accrual")
                              .order_by(transactions.c.id))
    assert journal_ids["acc-1"] == booking


def test_an_accrual_is_written_as_it_was_when_its_record_was_prepared(store: Store, ledger: Ledger) -> None:
    booked = _decided(ledger, AccrualBooked(Accrual("acc-1", SECOND, BRANCH, "INV-1", NOW, 200_000, points=20)))
    prepared = store.prepare([booked])
    _decided(ledger, Updated("accrual", "acc-1", "returned", 0, 50_000), kind="return")  # not written (yet)
    store.write_prepared([prepared])
    assert _loaded(store).accruals_by_id["acc-1"].returned == 0


def test_group_gift_activation_and_voucher_states_survive_a_restart(store: Store, ledger: Ledger) -> None:
    group_commit = [
        _decided(ledger, Updated("account", SECOND, "group", "silver", "gold")),
        _decided(ledger, Updated("account", SECOND, "group", "gold", "platinum")),  # the last one wins
        _decided(ledger, Updated("account", GIFT, "gift_state", "inactive", "active"),
                 LotCreated("lot-gift", GIFT, 500_000, NOW, LATER, "gift"), kind="gift_activation"),
        _decided(ledger, Updated("voucher", "V1", "state", "active", "redeemed"),
                 LotCreated("lot-v1", SECOND, 100_000, NOW, LATER, "voucher"), kind="topup"),
        _decided(ledger, Updated("voucher", "V2", "state", "active", "redeemed"),
                 LotCreated("lot-v2", FIRST, 100_000, NOW, LATER, "voucher"), kind="topup"),
        _decided(ledger, Updated("voucher", "V2", "state", "redeemed", "active"),
                 Posting("lot-v2", FIRST, -100_000), kind="reverse"),
    ]
    store.write_prepared([store.prepare(group_commit[:3]), store.prepare(group_commit[3:])])

    reloaded = _loaded(store)
    assert _state(reloaded) == _state(ledger)
    assert (reloaded.accounts[SECOND].group, reloaded.accounts[GIFT].gift_state) == ("platinum", "active")
    assert {serial: v.state for serial, v in reloaded.vouchers_by_serial.items()} == {
        "V0": "generated", "V1": "redeemed", "V2": "active", "V3": "active"}
    assert reloaded.accounts[GIFT].balance(NOW) == 500_000


def test_a_voucher_redeemed_elsewhere_fails_the_whole_group_commit(store: Store, ledger: Ledger, db: Any) -> None:
    with db() as conn:  # another gateway node redeemed V1 meanwhile
        conn.execute(update(vouchers).where(vouchers.c.serial == "V1").values(state="redeemed"))
    before = _state(_loaded(store)), _count(db, transactions)
    good = _decided(ledger, LotCreated("lot-earned", SECOND, 10_000, NOW, LATER, "earned"), PointsMoved(SECOND, 20),
                    AccrualBooked(Accrual("acc-1", SECOND, BRANCH, "INV-1", NOW, 200_000, points=20)),
                    Updated("account", SECOND, "group", "silver", "gold"))
    topup = _decided(ledger, Updated("voucher", "V1", "state", "active", "redeemed"),
                     LotCreated("lot-v1", SECOND, 100_000, NOW, LATER, "voucher"), kind="topup")
    with pytest.raises(StoreError, match=r"^cannot write the journal: the state of voucher V1 changed meanwhile"):
        store.write_prepared([store.prepare([good]), store.prepare([topup])])
    assert (_state(_loaded(store)), _count(db, transactions)) == before

    store.write([good])  # the group commit without the double spend goes through
    assert _loaded(store).accruals_by_id["acc-1"].paid == 200_000


def test_an_update_of_a_field_no_table_keeps_is_refused(store: Store, ledger: Ledger) -> None:
    with pytest.raises(StoreError, match="account 'points' is not a field an effect may update"):
        store.write([_decided(ledger, Updated("account", SECOND, "points", 1_000, 0))])


def test_a_conversion_reaches_the_ledger_once_and_vouchers_follow_the_operator(store: Store, ledger: Ledger,
                                                                               db: Any) -> None:
    cursor = store.changes_since(0)[0]
    _decided(ledger, Updated("voucher", "V3", "state", "active", "redeemed"), kind="topup")  # not committed yet
    with db() as conn:  # what ``points convert``, ``voucher ...`` and ``reload`` commit
        conn.execute(insert(lots), {"id": "lot-points", "account_id": SECOND, "amount": 30_000, "created_at": NOW,
                                    "expires_at": LATER, "source": "points"})
        conn.execute(insert(conversions), {"lot_id": "lot-points", "account_id": SECOND, "points": 300, "at": NOW})
        conn.execute(update(accounts).where(accounts.c.id == SECOND).values(points=accounts.c.points - 300))
        feed.append(conn, "conversion", ["lot-points"], NOW)
        conn.execute(insert(vouchers), {"serial": "V9", "batch": "B2", "pin_hash": "hash-V9", "value": 50_000,
                                        "expires_at": None, "state": "generated", "created_at": NOW})
        conn.execute(update(vouchers).where(vouchers.c.serial.in_(["V1", "V3"])).values(state="void"))
        feed.append(conn, "voucher", ["V9", "V1", "V3"], NOW)
        feed.append(conn, "reload", [""], NOW)

    cursor, got = store.changes_since(cursor)
    assert [type(change) for change in got] == [ConversionChange, VoucherChange, VoucherChange, VoucherChange,
                                                ReloadChange]
    assert (got[0].lot.id, got[0].lot.remaining, got[0].points) == ("lot-points", 30_000, 300)
    for change in got + got:  # twice: a conversion is applied once
        apply_change(ledger, change)
    assert ledger.accounts[SECOND].points == 700
    assert ledger.accounts[SECOND].balance(NOW) == 30_000
    assert {serial: v.state for serial, v in ledger.vouchers_by_serial.items()} == {
        "V0": "generated", "V1": "void", "V2": "active", "V3": "redeemed", "V9": "generated"}
    assert ledger.vouchers["hash-V9"].value == 50_000
    fresh, merged = _state(_loaded(store)), _state(ledger)
    assert (fresh["accounts"], fresh["lots"]) == (merged["accounts"], merged["lots"])
    assert store.changes_since(cursor) == (cursor, [])


def test_a_reload_request_changes_nothing_in_the_ledger(store: Store, ledger: Ledger, db: Any) -> None:
    with db() as conn:
        feed.append(conn, "reload", [""], NOW)
        feed.append(conn, "reload", [""], NOW)
    before = _state(ledger)
    _, got = store.changes_since(0)
    assert got == [ReloadChange()]  # once, however often asked
    apply_change(ledger, got[0])
    assert _state(ledger) == before


def test_a_changed_account_keeps_what_the_gateway_keeps(store: Store, ledger: Ledger, db: Any) -> None:
    _decided(ledger, LotCreated("lot-earned", SECOND, 10_000, NOW, LATER, "earned"), PointsMoved(SECOND, 20),
             AccrualBooked(Accrual("acc-1", SECOND, BRANCH, "INV-1", NOW, 200_000, points=20)),
             Updated("account", GIFT, "gift_state", "inactive", "active"))  # decided, not yet committed
    with db() as conn:
        conn.execute(update(accounts).where(accounts.c.id == SECOND)
                     .values(group="gold", phone="09120000009", blocked=True, points=0))
        conn.execute(insert(accounts), [
            _account("gift-2", 0, kind="gift", group="gift", gift_state="inactive"),
            _account("member-3", 0, referrer_id=REFERRER, points=5),
        ])
        feed.append(conn, "account", [SECOND, GIFT, "gift-2", "member-3"], NOW)

    _, got = store.changes_since(0)
    assert [type(change) for change in got] == [AccountChange] * 4
    for change in got:
        apply_change(ledger, change)
    second = ledger.accounts[SECOND]
    assert (second.group, second.phone, second.blocked) == ("gold", "09120000009", True)
    assert (second.points, [lot.id for lot in second.lots], [a.id for a in second.accruals]) == (
        1_020, ["lot-earned"], ["acc-1"])
    assert ledger.phones == {"09120000001": REFERRER, "09120000009": SECOND}
    assert ledger.accounts[GIFT].gift_state == "active"  # the gateway's activation wins
    added = ledger.accounts["gift-2"], ledger.accounts["member-3"]
    assert [(a.kind, a.gift_state, a.points, a.joined_at) for a in added] == [
        ("gift", "inactive", 0, NOW), ("member", None, 5, NOW)]
    assert ledger.referred == {REFERRER: [FIRST, SECOND, "member-3"]}


def test_a_gift_card_activated_elsewhere_is_active_here_too(ledger: Ledger) -> None:
    apply_change(ledger, AccountChange(Account(GIFT, "gift", kind="gift", gift_state="active"), ()))
    assert ledger.accounts[GIFT].gift_state == "active"
