"""A small club: one branch in Tehran, a capped silver group, one terminal, a few members."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from terminal_gateway.config import Config, StoreSettings
from terminal_gateway.program import Branch, Group, Program
from terminal_gateway.rules import Account, Card, Ledger, Lot, RuleCore, Terminal
from terminal_gateway.rules.cards import with_check_digit
from terminal_gateway.vocabulary import CardRef, TerminalFamily

BRANCH = "CLINIC000000001"
TID = "T0000001"
NOON = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)  # 12:00 in Tehran


def card_number(n: int) -> str:
    return with_check_digit(f"627412{n:09d}")


def club_config(**group: int | None) -> Config:
    caps = {"daily_cap": 200_000, "invoice_cap": 100_000, "max_redemptions_per_day": 5} | group
    return Config(
        path="test.toml",
        store=StoreSettings(url="sqlite://"),
        program=Program(currency=364, hold_minutes=15),
        branches={BRANCH: Branch(BRANCH, ZoneInfo("Asia/Tehran"), 4)},
        listeners=(),
        groups={"silver": Group("silver", default=True, **caps), "gold": Group("gold")},
        profiles_dirs=(Path("."),),
    )


class Club:
    """A rule core with helpers to enrol members and send requests at a moving clock."""

    def __init__(self, config: Config):
        self.core = RuleCore(config, Ledger())
        self.now = NOON
        self.stan = itertools.count(1)
        self.family = TerminalFamily(partial_approval=True, signon_required=False)
        self.core.ledger.terminals[TID] = Terminal(TID, BRANCH)

    def member(self, n: int, *lots: int, group: str = "silver", expires_in: timedelta | None = None) -> CardRef:
        pan = card_number(n)
        account = Account(f"acc{n}", group)
        self.core.ledger.add_account(account)
        self.core.ledger.cards[pan] = Card(pan, account.id)
        for i, amount in enumerate(lots):
            expires = self.now + expires_in if expires_in else None
            self.core.ledger.add_lot(Lot(f"lot{n}-{i}", account.id, amount, self.now - timedelta(days=10 - i), expires))
        return CardRef(pan=pan)

    def key(self) -> str:
        return f"{TID}:{next(self.stan):06d}:{self.now:%m%d%H%M%S}"

    def send(self, request_type, **fields):
        fields.setdefault("terminal", TID)
        if "key" not in fields:
            fields["key"] = self.key()
        return self.core.decide(request_type(**fields), self.now, self.family)

    def balance(self, card: CardRef) -> int:
        account_id = self.core.ledger.cards[card.pan].account_id
        return self.core.ledger.accounts[account_id].balance(self.now)


@pytest.fixture
def club() -> Club:
    return Club(club_config())
