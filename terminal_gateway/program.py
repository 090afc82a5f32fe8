"""The club program's rules as configured: the program's settings, groups and branches, what
a group earns, what a service carries, interval rules, the discount scale, gift cards and
vouchers.

Plain frozen values read from the TOML file by ``config``; the rule core (``rules/``) reads
them, through ``ClubRules``, and nothing else, so that it never imports the module that reads
files and the environment. Rates are basis points (1/100 of a percent) so that 2.5% is exact
and all money arithmetic stays in integers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

from .vocabulary import MAX_AMOUNT

BASIS = 10_000  # basis points in 100%

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True, slots=True)
class Reward:
    """``percent_bp`` of an amount plus ``fixed``: the shape of every cashback."""

    percent_bp: int = 0
    fixed: int = 0

    def of(self, amount: int) -> int:
        return amount * self.percent_bp // BASIS + self.fixed


@dataclass(frozen=True, slots=True)
class Step:
    """``reward`` for each full ``every`` of money paid (5,000 per each 100,000)."""

    every: int
    reward: int

    def of(self, amount: int) -> int:
        return amount // self.every * self.reward


@dataclass(frozen=True, slots=True)
class Caps:
    """Usable-credit caps; ``None``: no limit of that kind."""

    daily_cap: int | None = None
    invoice_cap: int | None = None
    invoice_cap_percent: int | None = None
    max_redemptions_per_day: int | None = None


@dataclass(frozen=True, slots=True)
class Earning:
    """Credit earned on the money paid of an invoice; the parts add up.

    ``percent_bp`` is the cashback (replaced per line by a service's own, and as a whole by
    active interval rules); ``per_invoice`` and ``step`` always apply. Nothing is earned
    below ``min_invoice``.
    """

    percent_bp: int = 0
    per_invoice: int = 0
    step: Step | None = None
    min_invoice: int = 0


@dataclass(frozen=True, slots=True)
class Points:
    """Points earned per invoice and per step of money paid, times the multiplier of the
    branch's local weekday (0 = Monday); ``value``: credit per point when converted."""

    per_invoice: int = 0
    step: Step | None = None
    weekday_multipliers: dict[int, int] = field(default_factory=dict)
    value: int = 0


@dataclass(frozen=True, slots=True)
class Upgrade:
    """Move to group ``to`` once every condition set holds; ``window_days`` counts points,
    visits and money paid over that rolling window instead of the member's lifetime."""

    to: str
    min_balance: int | None = None
    min_points: int | None = None
    min_visits: int | None = None
    min_paid: int | None = None
    window_days: int | None = None


@dataclass(frozen=True, slots=True)
class Referral:
    """What referrers earn when a member they brought pays: ``levels_bp[0]`` of the money
    paid for the referrer, ``[1]`` for the referrer's referrer, ``[2]`` one level up.

    ``window_days``: only while the paying member joined less than this long ago;
    ``max_referred``: a referrer earns from its first this many referred members only.
    """

    levels_bp: tuple[int, ...]
    window_days: int | None = None
    max_referred: int | None = None


@dataclass(frozen=True, slots=True)
class Service:
    """An invoice line's service (DE48 SV code) with its own rules.

    ``cashback`` replaces the group's percentage on this line (0 earns nothing); ``points``
    are added per line; ``line_cap``/``line_cap_percent`` bound the credit that may pay the
    line; ``groups``: only members of these groups may pay it with credit.
    """

    code: str
    cashback: Reward | None = None
    points: int = 0
    line_cap: int | None = None
    line_cap_percent: int | None = None
    groups: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Range:
    """Money from ``low`` to ``high`` (both included; ``None``: no upper end) earns ``reward``."""

    low: int
    high: int | None
    reward: Reward

    def holds(self, amount: int) -> bool:
        return self.low <= amount and (self.high is None or amount <= self.high)


@dataclass(frozen=True, slots=True)
class IntervalRule:
    """A reward by ranges of money. ``scope`` ``visit``: the range is chosen by this
    invoice's money paid (``first_visit_only``: on a member's first invoice only);
    ``cumulative``: by the member's lifetime money paid before this invoice. The reward's
    percentage is of this invoice's money paid. The first range that holds applies."""

    name: str
    scope: str  # "visit" or "cumulative"
    ranges: tuple[Range, ...]
    first_visit_only: bool = False
    active: bool = True


@dataclass(frozen=True, slots=True)
class DiscountStep:
    """From ``from_paid`` lifetime money paid on, the member's discount is ``percent``."""

    from_paid: int
    percent: int


@dataclass(frozen=True, slots=True)
class GiftCards:
    """Gift cards expire ``validity_days`` after activation; ``caps``: the club's caps of
    the default group apply to them too."""

    validity_days: int = 365
    caps: bool = False


@dataclass(frozen=True, slots=True)
class Lockout:
    """``count`` wrong PINs within ``window_minutes`` lock top-ups for ``lockout_minutes``
    from the last of them."""

    count: int
    window_minutes: int
    lockout_minutes: int


@dataclass(frozen=True, slots=True)
class Vouchers:
    """Where the PIN hashing key lives (a file, or an environment variable: never the
    database) and how PIN guessing is stopped: ``max_wrong_pins`` within ``window_minutes``
    from one terminal or against one card locks top-ups there for ``lockout_minutes``;
    ``global_max_wrong_pins`` within ``global_window_minutes`` over every terminal and card
    together locks every top-up for ``global_lockout_minutes``, so that a guesser who
    rotates terminals and cards is bounded too."""

    key_file: str | None = None
    key_env: str | None = None
    pin_digits: int = 12
    max_wrong_pins: int = 5
    window_minutes: int = 15
    lockout_minutes: int = 15
    global_max_wrong_pins: int = 100
    global_window_minutes: int = 60
    global_lockout_minutes: int = 30

    @property
    def local(self) -> Lockout:
        """The lockout of one terminal or one member account."""
        return Lockout(self.max_wrong_pins, self.window_minutes, self.lockout_minutes)

    @property
    def overall(self) -> Lockout:
        """The lockout of every top-up, counted over all terminals and cards."""
        return Lockout(self.global_max_wrong_pins, self.global_window_minutes, self.global_lockout_minutes)


@dataclass(frozen=True, slots=True)
class Limits:
    """What one terminal may send, against a dishonest counter: the largest amounts of one
    request and how many requests (or how much money) a terminal or a card may send in a
    window. ``None``: no limit of that kind (the program's ``max_amount`` still holds).

    Maxima: ``max_invoice`` bounds a redemption's amount and invoice total, ``max_accrual``
    an accrual's money paid, ``max_gift_activation`` a gift card's load, ``max_top_up`` the
    value of a voucher redeemed. Velocity: counted in fixed windows (a UTC clock minute or
    hour, the branch's business day), approved requests only.
    """

    max_invoice: int | None = None
    max_accrual: int | None = None
    max_gift_activation: int | None = None
    max_top_up: int | None = None
    terminal_accruals_per_hour: int | None = 120
    terminal_accrued_per_day: int | None = None
    card_accruals_per_day: int | None = 10
    terminal_redemptions_per_minute: int | None = None


@dataclass(frozen=True, slots=True)
class Group:
    """A tier: its caps, what its members earn, when they move up, what referrers earn.

    Credit its members earn expires ``credit_expiry_months`` (calendar months) or
    ``credit_expiry_days`` after it was earned; neither set: never.
    """

    name: str
    default: bool = False
    daily_cap: int | None = None
    invoice_cap: int | None = None
    invoice_cap_percent: int | None = None
    max_redemptions_per_day: int | None = None
    earning: Earning = field(default_factory=Earning)
    points: Points = field(default_factory=Points)
    upgrade: Upgrade | None = None
    referral: Referral | None = None
    credit_expiry_days: int | None = None
    credit_expiry_months: int | None = None

    @property
    def caps(self) -> Caps:
        return Caps(self.daily_cap, self.invoice_cap, self.invoice_cap_percent, self.max_redemptions_per_day)


@dataclass(frozen=True, slots=True)
class Branch:
    """A clinic: its business day, its own caps for some groups (``caps[group]``: the keys
    set there replace the group's) and its own limits (``None``: the program's)."""

    id: str
    timezone: ZoneInfo
    day_cutoff_hour: int = 0
    caps: dict[str, Caps] = field(default_factory=dict)
    limits: Limits | None = None  # the program's limits with this branch's keys in place


@dataclass(frozen=True, slots=True)
class Program:
    """The ``[program]`` settings: the currency (ISO 4217 numeric), how long a hold lives,
    the largest amount, how many days of the journal a start replays, the time zone of a
    branch not configured, and whether a phone may name the member."""

    currency: int = 364
    hold_minutes: int = 15
    max_amount: int = MAX_AMOUNT
    replay_days: int = 30
    default_timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    phone_lookup: bool = False


class ClubRules(Protocol):
    """What the rule core reads of the configuration: the program, and nothing of where it
    came from. ``config.Config`` is one."""

    @property
    def program(self) -> Program: ...

    @property
    def branches(self) -> dict[str, Branch]: ...

    @property
    def groups(self) -> dict[str, Group]: ...

    @property
    def services(self) -> dict[str, Service]: ...

    @property
    def interval_rules(self) -> tuple[IntervalRule, ...]: ...

    @property
    def discount_scale(self) -> tuple[DiscountStep, ...]: ...

    @property
    def gift_cards(self) -> GiftCards: ...

    @property
    def vouchers(self) -> Vouchers: ...

    @property
    def limits(self) -> Limits: ...

    @property
    def default_group(self) -> Group: ...
