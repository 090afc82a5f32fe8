"""The change feed: the running daemon sees what operators changed, without a restart."""

from __future__ import annotations

from datetime import UTC, datetime

from terminal_gateway.rules import Account, Card, Ledger, Lot, Terminal
from terminal_gateway.store import AccountChange, LotChange, Store, TerminalChange, apply_change
from terminal_gateway.vocabulary import BatchTotals

from ..support import BRANCH, make_config
from .clinic import card_number

NOW = datetime(2031, 3, 1, 8, 30, tzinfo=UTC)


def test_a_member_enrolled_after_the_load_reaches_the_ledger(store: Store) -> None:
    store.add_terminal("T0000001", BRANCH)
    ledger = Ledger()
    cursor = store.load(ledger, NOW, 30)
    assert cursor == 1 and "T0000001" in ledger.terminals
    pan = card_number(1)
    account = store.add_member(pan, "silver", make_config().groups, phone="09121234567")
    lot = store.grant_credit(pan, 40_000)
    store.add_terminal("T0000002", BRANCH)

    cursor, changes = store.changes_since(cursor)
    assert [type(change) for change in changes] == [AccountChange, LotChange, TerminalChange]
    for change in changes:
        apply_change(ledger, change)
    assert ledger.cards[pan].account_id == account
    assert ledger.phones["09121234567"] == account
    assert [each.id for each in ledger.accounts[account].lots] == [lot]
    assert ledger.accounts[account].balance(NOW) == 40_000
    assert ledger.terminals["T0000002"].branch == BRANCH
    assert store.changes_since(cursor) == (cursor, [])


def test_a_changed_terminal_keeps_its_session_and_batch() -> None:
    ledger = Ledger()
    ledger.terminals["T1"] = Terminal("T1", "OLD", signed_on=True, batch_seq=4, counts={"debits": 2})
    apply_change(ledger, TerminalChange(Terminal("T1", "NEW")))
    terminal = ledger.terminals["T1"]
    assert (terminal.branch, terminal.signed_on, terminal.batch_seq, terminal.batch) == (
        "NEW", True, 4, BatchTotals(debits=2))


def test_a_changed_account_keeps_its_lots_and_moves_its_phone() -> None:
    ledger = Ledger()
    ledger.add_account(Account("a", "silver", phone="0911"))
    ledger.add_lot(Lot("lot", "a", 5_000, NOW))
    ledger.cards["1"] = Card("1", "a")
    apply_change(ledger, AccountChange(Account("a", "gold", phone="0912", blocked=True),
                                       (Card("1", "a", "lost"), Card("2", "a"))))
    account = ledger.accounts["a"]
    assert (account.group, account.phone, account.blocked, account.balance(NOW)) == ("gold", "0912", True, 5_000)
    assert ledger.phones == {"0912": "a"}
    assert {pan: card.status for pan, card in ledger.cards.items()} == {"1": "lost", "2": "active"}


def test_a_known_lot_is_not_replaced() -> None:
    ledger = Ledger()
    ledger.add_account(Account("a", "silver"))
    ledger.add_lot(Lot("lot", "a", 5_000, NOW))
    apply_change(ledger, LotChange(Lot("lot", "a", 9_000, NOW)))
    assert ledger.lots["lot"].remaining == 5_000 and len(ledger.accounts["a"].lots) == 1
