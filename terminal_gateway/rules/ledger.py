"""The in-memory state the rule core decides on.

The store is the truth; this is its working copy, rebuilt from it on start and changed only
through effects (``effects.py``), so that every change can be persisted and reverted.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from ..vocabulary import BatchTotals, Kind, Outcome
from .states import AccountKind, CardStatus, GiftState, HoldState, VoucherState

NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(slots=True)
class Lot:
    """One amount of credit the member received, spendable until it expires."""

    id: str
    account_id: str
    remaining: int
    created_at: datetime
    expires_at: datetime | None = None

    def usable(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at

    @property
    def spend_order(self) -> tuple[datetime, datetime, str]:
        """Soonest-expiring first, then the oldest."""
        return (self.expires_at or NEVER, self.created_at, self.id)


@dataclass(slots=True)
class Accrual:
    """What one paid invoice earned: for the one-accrual rule, the proportional take-back of
    a return, and the windows of upgrade conditions.

    ``credit`` lists every lot the accrual created, the member's and its referrers', as
    ``(account_id, lot_id, amount)``; ``returned`` is the money refunded since.
    """

    id: str
    account_id: str
    branch: str
    invoice: str
    at: datetime
    paid: int
    points: int = 0
    credit: tuple[tuple[str, str, int], ...] = ()
    returned: int = 0
    reversed: bool = False

    @property
    def counted(self) -> int:
        """The money paid that still counts: not refunded, not reversed."""
        return 0 if self.reversed else self.paid - self.returned


@dataclass(slots=True)
class Account:
    """A member's account, or a gift card's (``kind`` ``GIFT``, with a ``gift_state``)."""

    id: str
    group: str
    phone: str | None = None
    blocked: bool = False
    lots: list[Lot] = field(default_factory=list)
    kind: AccountKind = AccountKind.MEMBER
    points: int = 0
    referrer_id: str | None = None
    joined_at: datetime | None = None
    gift_state: GiftState | None = None
    accruals: list[Accrual] = field(default_factory=list)

    def balance(self, now: datetime) -> int:
        return sum(lot.remaining for lot in self.lots if lot.usable(now))

    def expired_credit(self, now: datetime) -> int:
        return sum(lot.remaining for lot in self.lots if not lot.usable(now))

    def paid(self, since: datetime | None = None) -> int:
        """Money paid on invoices (net of refunds), in all or since ``since``."""
        return sum(a.counted for a in self.accruals if since is None or a.at >= since)

    def visits(self, since: datetime | None = None) -> int:
        """Paid invoices not reversed, in all or since ``since``."""
        return sum(1 for a in self.accruals if not a.reversed and (since is None or a.at >= since))

    def points_earned(self, since: datetime) -> int:
        return sum(a.points for a in self.accruals if not a.reversed and a.at >= since)


@dataclass(slots=True)
class Voucher:
    """A printed top-up voucher, known by the keyed hash of its PIN, never the PIN."""

    serial: str
    pin_hash: str
    value: int
    expires_at: datetime | None
    state: VoucherState = VoucherState.GENERATED


@dataclass(slots=True)
class Card:
    pan: str
    account_id: str
    status: CardStatus = CardStatus.ACTIVE


@dataclass(slots=True)
class Terminal:
    """A registered terminal, its session and its open batch ``batch_seq``.

    ``counts`` holds the open batch as ``BatchTotals`` field names to numbers: a transaction
    adds to two of them, cheaper than building a new ``BatchTotals`` every time.
    """

    tid: str
    branch: str
    signed_on: bool = False
    batch_seq: int = 1
    counts: dict[str, int] = field(default_factory=dict)
    certificates_from: datetime | None = None  # its TLS client certificates issued before are revoked
    family: str | None = None  # the only family it may speak as (None: any, as registered before families)

    @property
    def batch(self) -> BatchTotals:
        return BatchTotals(**self.counts)

    def open_batch(self, seq: int, totals: BatchTotals) -> None:
        self.batch_seq, self.counts = seq, {name: n for name, n in asdict(totals).items() if n}


@dataclass(slots=True)
class Entry:
    """A decided request as the core remembers it: for repeats, reversals, refunds, holds.

    ``taken`` lists what the request debited from each lot, in order; ``given_back`` is how
    much of it went back since (hold released, refunded), returned from the end of ``taken``.
    ``ref`` names what the request acted on: the RRN of a hold or redemption, the id of an
    accrual, the serial of a voucher.
    """

    kind: Kind
    terminal: str
    outcome: Outcome
    key: str | None = None
    account_id: str | None = None
    branch: str | None = None
    day: str | None = None
    invoice: str | None = None
    batch_seq: int | None = None
    ref: str | None = None
    taken: tuple[tuple[str, int], ...] = ()
    given_back: int = 0
    refunded: int = 0
    reversed: bool = False
    hold_state: HoldState | None = None
    captured: int = 0
    expires_at: datetime | None = None
    created: tuple[str, ...] = ()  # lots the request created (top-up, gift activation)
    previous_group: str | None = None  # the member's group before an accrual upgraded it


@dataclass(slots=True)
class Ledger:
    """Every index the decisions need, each a plain dict so a lookup costs one hash."""

    terminals: dict[str, Terminal] = field(default_factory=dict)
    cards: dict[str, Card] = field(default_factory=dict)
    phones: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    lots: dict[str, Lot] = field(default_factory=dict)
    daily: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    invoices: dict[tuple[str, str], int] = field(default_factory=dict)
    by_key: dict[str, Entry] = field(default_factory=dict)
    by_rrn: dict[str, Entry] = field(default_factory=dict)
    reversed_keys: set[str] = field(default_factory=set)
    hold_deadlines: list[tuple[datetime, str]] = field(default_factory=list)
    last_rrn: int = 0
    accruals: dict[tuple[str, str], Accrual] = field(default_factory=dict)  # by (branch, invoice)
    accruals_by_id: dict[str, Accrual] = field(default_factory=dict)
    referred: dict[str, list[str]] = field(default_factory=dict)  # referrer id -> members, in join order
    vouchers: dict[str, Voucher] = field(default_factory=dict)  # by PIN hash
    vouchers_by_serial: dict[str, Voucher] = field(default_factory=dict)
    pin_failures: dict[str, list[datetime]] = field(default_factory=dict)  # by terminal, account or global
    velocity: dict[tuple[str, str], tuple[str, int, int]] = field(default_factory=dict)  # (rate, subject) ->
    # (window, requests, money) of the window counting now

    def add_account(self, account: Account) -> None:
        """Index a new account: its phone, and its place among its referrer's members."""
        self.accounts[account.id] = account
        if account.phone:
            self.phones[account.phone] = account.id
        if account.referrer_id:
            self.referred.setdefault(account.referrer_id, []).append(account.id)

    def add_accrual(self, accrual: Accrual) -> None:
        """Index an accrual; one not reversed is the one of its branch and invoice."""
        self.accruals_by_id[accrual.id] = accrual
        if not accrual.reversed:
            self.accruals[accrual.branch, accrual.invoice] = accrual
        self.accounts[accrual.account_id].accruals.append(accrual)

    def reindex_accrual(self, accrual: Accrual) -> None:
        """After ``reversed`` changed: a reversed accrual frees its invoice for a new one."""
        key = (accrual.branch, accrual.invoice)
        if accrual.reversed:
            if self.accruals.get(key) is accrual:
                del self.accruals[key]
        else:
            self.accruals[key] = accrual

    def remove_accrual(self, accrual: Accrual) -> None:
        del self.accruals_by_id[accrual.id]
        if self.accruals.get((accrual.branch, accrual.invoice)) is accrual:
            del self.accruals[accrual.branch, accrual.invoice]
        self.accounts[accrual.account_id].accruals.remove(accrual)

    def add_voucher(self, voucher: Voucher) -> None:
        self.vouchers[voucher.pin_hash] = voucher
        self.vouchers_by_serial[voucher.serial] = voucher

    def add_lot(self, lot: Lot) -> None:
        """Place a lot in its account's spend order."""
        self.lots[lot.id] = lot
        lots = self.accounts[lot.account_id].lots
        lots.append(lot)
        lots.sort(key=lambda each: each.spend_order)

    def remove_lot(self, lot_id: str) -> None:
        lot = self.lots.pop(lot_id)
        self.accounts[lot.account_id].lots.remove(lot)

    def daily_used(self, account_id: str, day: str) -> tuple[int, int]:
        used = self.daily.get((account_id, day))
        return (used[0], used[1]) if used else (0, 0)

    def watch_hold(self, entry: Entry) -> None:
        if entry.expires_at is not None and entry.outcome.rrn:
            heapq.heappush(self.hold_deadlines, (entry.expires_at, entry.outcome.rrn))

    def due_holds(self, now: datetime) -> list[Entry]:
        """Open holds whose lifetime ended at or before ``now``, oldest first."""
        due = []
        deadlines = self.hold_deadlines
        while deadlines and deadlines[0][0] <= now:
            _, rrn = heapq.heappop(deadlines)
            entry = self.by_rrn.get(rrn)
            if entry is not None and entry.hold_state == HoldState.OPEN:
                due.append(entry)
        return due


_ids = random.Random()  # seeded from the OS; ids need to be unique, not secret


def new_id(now: datetime) -> str:
    """32 hex digits for a row the gateway creates (a lot, an accrual): the time first, so
    that the store's index appends where the last one went instead of dirtying a random
    page of it, then 64 random bits, so that several gateways never pick the same."""
    return f"{int(now.timestamp() * 1_000_000):016x}{_ids.getrandbits(64):016x}"
