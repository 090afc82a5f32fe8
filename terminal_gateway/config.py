"""The TOML configuration, validated into frozen dataclasses.

Every error names the file, the key and what was expected, because the operator reading it
is at a clinic with an installation script, not a debugger.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .program import (
    Caps,
    DiscountStep,
    Earning,
    GiftCards,
    IntervalRule,
    Points,
    Referral,
    Service,
    Upgrade,
    Vouchers,
)
from .protocols.club8583 import available_profiles

ENV_VAR = "TERMINAL_GATEWAY_CONFIG"
PROTOCOLS = ("club8583",)
ROOT_KEYS = ("store", "program", "branches", "listeners", "groups", "profiles_dirs")
MAX_AMOUNT = 999_999_999_999  # DE4 is n12


class ConfigError(Exception):
    """A configuration that cannot be used; the message is for the operator."""


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
    earning: Earning = Earning()
    points: Points = Points()
    upgrade: Upgrade | None = None
    referral: Referral | None = None
    credit_expiry_days: int | None = None
    credit_expiry_months: int | None = None

    @property
    def caps(self) -> Caps:
        return Caps(self.daily_cap, self.invoice_cap, self.invoice_cap_percent, self.max_redemptions_per_day)


@dataclass(frozen=True, slots=True)
class Branch:
    """A clinic: its business day, and its own caps for some groups (``caps[group]``: the
    keys set there replace the group's)."""

    id: str
    timezone: ZoneInfo
    day_cutoff_hour: int = 0
    caps: dict[str, Caps] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Listener:
    protocol: str
    profile: str
    host: str = "127.0.0.1"
    port: int = 8583


@dataclass(frozen=True, slots=True)
class Program:
    currency: int = 364
    hold_minutes: int = 15
    max_amount: int = MAX_AMOUNT
    replay_days: int = 30
    default_timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    phone_lookup: bool = False


@dataclass(frozen=True, slots=True)
class StoreSettings:
    url: str
    poll_seconds: float = 0.5


@dataclass(frozen=True, slots=True)
class Config:
    path: str
    store: StoreSettings
    program: Program
    branches: dict[str, Branch]
    listeners: tuple[Listener, ...]
    groups: dict[str, Group]
    profiles_dirs: tuple[Path, ...] = ()
    services: dict[str, Service] = field(default_factory=dict)
    interval_rules: tuple[IntervalRule, ...] = ()
    discount_scale: tuple[DiscountStep, ...] = ()  # ascending by from_paid
    gift_cards: GiftCards = GiftCards()
    vouchers: Vouchers = Vouchers()

    @property
    def default_group(self) -> Group:
        return next(g for g in self.groups.values() if g.default)


_NOUNS: dict[Any, str] = {
    str: "a string",
    int: "a whole number",
    bool: "true or false",
    dict: "a table",
    list: "an array",
    (int, float): "a number",
}


class _Section:
    """Reads one table of the file, checking names and types as it goes."""

    def __init__(self, path: str, where: str, table: Any):
        self.path, self.where = path, where
        if not isinstance(table, dict):
            self.fail("", "a table")
        self.table: dict[str, Any] = table
        self.used: set[str] = set()

    def fail(self, key: str, expected: str, got: Any = None) -> None:
        name = f"{self.where}.{key}" if key and self.where else (key or self.where)
        seen = "" if got is None else f", got {got!r}"
        raise ConfigError(f"{self.path}: {name}: expected {expected}{seen}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None, *, required: bool = False) -> Any:
        self.used.add(key)
        noun = _NOUNS.get(kind, "value")
        if key not in self.table:
            if required:
                self.fail(key, f"{noun} (this key is required)")
            return default
        value = self.table[key]
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            self.fail(key, noun, value)
        return value

    def amount(self, key: str, *, upper: int | None = None) -> int | None:
        value = self.get(key, int)
        if value is not None and (value < 0 or (upper is not None and value > upper)):
            bound = f"from 0 to {upper}" if upper is not None else "0 or more"
            self.fail(key, f"a whole number {bound}", value)
        return value

    def positive(self, key: str, default: float) -> float:
        """A number of milliseconds or seconds: finite and more than 0."""
        value = self.get(key, (int, float), default)
        if not (math.isfinite(value) and value > 0):
            self.fail(key, "a number more than 0", value)
        return float(value)

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            self.fail(unknown[0], "one of " + ", ".join(sorted(self.used)) + " (unknown key)")


def _zone(section: _Section, key: str, default: str) -> ZoneInfo:
    name = section.get(key, str, default)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder of zones, such as 'Asia'
        section.fail(key, "an IANA time zone such as 'Asia/Tehran'", name)
        raise AssertionError("unreachable") from None


def _program(path: str, table: Any) -> Program:
    s = _Section(path, "program", table)
    bounds = {"currency": 999, "hold_minutes": 7 * 24 * 60, "max_amount": MAX_AMOUNT, "replay_days": 3660}
    values = {key: s.amount(key, upper=upper) for key, upper in bounds.items()}
    for key in ("currency", "hold_minutes", "replay_days", "max_amount"):
        if values[key] == 0:
            s.fail(key, "more than 0", 0)
    program = Program(**{k: v for k, v in values.items() if v is not None},
                      default_timezone=_zone(s, "timezone", "UTC"),
                      phone_lookup=s.get("phone_lookup", bool, False))
    s.done()
    return program


def _store(path: str, table: Any) -> StoreSettings:
    s = _Section(path, "store", table)
    url = s.get("url", str, required=True)
    if not url.strip():
        s.fail("url", "a SQLAlchemy URL such as 'sqlite:///var/lib/terminal-gateway/gateway.db'", url)
    settings = StoreSettings(
        url=url,
        poll_seconds=s.positive("poll_seconds", 0.5),
    )
    s.done()
    return settings


def _branch(path: str, index: int, table: Any) -> Branch:
    s = _Section(path, f"branches[{index}]", table)
    branch_id = s.get("id", str, required=True)
    if not 1 <= len(branch_id) <= 15:
        s.fail("id", "1 to 15 characters (DE42)", branch_id)
    cutoff = s.amount("day_cutoff_hour", upper=23) or 0
    branch = Branch(branch_id, _zone(s, "timezone", "UTC"), cutoff)
    s.done()
    return branch


def _listener(path: str, index: int, table: Any, profiles: frozenset[str]) -> Listener:
    s = _Section(path, f"listeners[{index}]", table)
    protocol = s.get("protocol", str, required=True)
    if protocol not in PROTOCOLS:
        s.fail("protocol", "one of " + ", ".join(PROTOCOLS), protocol)
    profile = s.get("profile", str, required=True)
    if profile not in profiles:
        s.fail("profile", "a firmware profile: " + ", ".join(sorted(profiles)), profile)
    port = s.amount("port", upper=65535)
    listener = Listener(protocol, profile, s.get("host", str, "127.0.0.1"), 8583 if port is None else port)
    s.done()
    return listener


def _group(path: str, name: str, table: Any) -> Group:
    s = _Section(path, f"groups.{name}", table)
    group = Group(
        name=name,
        default=s.get("default", bool, False),
        daily_cap=s.amount("daily_cap"),
        invoice_cap=s.amount("invoice_cap"),
        invoice_cap_percent=s.amount("invoice_cap_percent", upper=100),
        max_redemptions_per_day=s.amount("max_redemptions_per_day"),
    )
    if group.invoice_cap is not None and group.invoice_cap_percent is not None:
        s.fail("invoice_cap_percent", "either invoice_cap or invoice_cap_percent, not both")
    s.done()
    return group


def _groups(path: str, table: Any) -> dict[str, Group]:
    s = _Section(path, "groups", table)
    groups = {name: _group(path, name, s.get(name, dict)) for name in list(s.table)}
    if not groups:
        s.fail("", "at least one group")
    defaults = [g.name for g in groups.values() if g.default]
    if len(defaults) != 1:
        found = f"{len(defaults)} ({', '.join(defaults)})" if defaults else "none"
        s.fail("", f"exactly one group with default = true, found {found}")
    return groups


def _profiles_dirs(root: _Section, base: Path) -> tuple[Path, ...]:
    """The configuration's own profile folders; a relative one is relative to the file's folder."""
    dirs = []
    for index, entry in enumerate(root.get("profiles_dirs", list, [])):
        if not isinstance(entry, str):
            root.fail(f"profiles_dirs[{index}]", "a string (a folder of firmware profiles)", entry)
        directory = base / entry
        if not directory.is_dir():
            root.fail(f"profiles_dirs[{index}]", f"a folder of firmware profiles ({directory} is not one)", entry)
        dirs.append(directory)
    return tuple(dirs)


def _unique(root: _Section, key: str, items: list[Any], identity: Callable[[Any], Any], what: str) -> None:
    """Fail on the first item of ``items`` whose identity an earlier one has; ``key`` names the field."""
    array, _, name = key.partition(".")
    seen: set[Any] = set()
    for index, item in enumerate(items):
        ident = identity(item)
        if ident is not None and ident in seen:
            root.fail(f"{array}[{index}].{name}", what, ident)
        seen.add(ident)


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate the file named by ``path`` or by ``$TERMINAL_GATEWAY_CONFIG``."""
    path = path or os.environ.get(ENV_VAR)
    if not path:
        raise ConfigError(f"no configuration: give --config FILE or set {ENV_VAR}")
    name = str(path)
    try:
        with open(name, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"{name}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{name}: not valid TOML: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{name}: not valid TOML: {e}") from None
    root = _Section(name, "", data)
    # A misspelt table ("[group.silver]") is named as unknown, not as "groups is required".
    root.used.update(ROOT_KEYS)
    root.done()
    dirs = _profiles_dirs(root, Path(name).resolve().parent)
    profiles = frozenset(available_profiles(dirs))
    branches = [_branch(name, i, t) for i, t in enumerate(root.get("branches", list, []))]
    _unique(root, "branches.id", branches, lambda b: b.id, "a branch id no other branch has")
    listeners = [_listener(name, i, t, profiles) for i, t in enumerate(root.get("listeners", list, []))]
    _unique(root, "listeners.port", listeners, lambda li: f"{li.host}:{li.port}" if li.port else None,
            "a host and port no other listener has")
    return Config(
        path=name,
        store=_store(name, root.get("store", dict, required=True)),
        program=_program(name, root.get("program", dict, {})),
        branches={b.id: b for b in branches},
        listeners=tuple(listeners),
        groups=_groups(name, root.get("groups", dict, required=True)),
        profiles_dirs=dirs,
    )
