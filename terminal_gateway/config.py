"""The TOML configuration, validated into frozen dataclasses.

Every error names the file, the key and what was expected, because the operator reading it
is at a clinic with an installation script, not a debugger.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from twisted.internet.endpoints import serverFromString

from . import config_program as rules
from . import families
from .families import Transport
from .firmware import available_profiles
from .program import (
    Branch,
    DiscountStep,
    GiftCards,
    Group,
    IntervalRule,
    Limits,
    Program,
    Service,
    Vouchers,
)
from .store.engine import WriteTimeouts
from .vocabulary import MAX_AMOUNT

ENV_VAR = "TERMINAL_GATEWAY_CONFIG"
ROOT_KEYS = ("store", "program", "branches", "listeners", "groups", "profiles_dirs",
             "services", "interval_rules", "discount_scale", "gift_cards", "vouchers",
             "stations", "clubcard", "counter", "limits")
MASTER_KEY_SIZES = (16, 32)  # bytes of the club card issuer master key (AES-128 or AES-256)
MIN_VOUCHER_KEY = 16  # bytes of the PIN hashing key
DEFAULT_TIMEOUTS = WriteTimeouts(lock=2.0, statement=4.0, commit=10.0)  # seconds; docs/operations.md says why


class ConfigError(Exception):
    """A configuration that cannot be used; the message is for the operator."""


@dataclass(frozen=True, slots=True)
class Listener:
    """Where terminals of one protocol and firmware profile reach the gateway: a TCP
    ``endpoint`` (a Twisted server endpoint description, from ``host``/``port`` unless the
    file gives one), or a serial ``device`` with the ``terminal`` and ``branch`` the reader
    on it acts as (``baudrate``: the profile's unless set)."""

    protocol: str
    profile: str
    host: str = "127.0.0.1"
    port: int = 8583
    device: str | None = None
    terminal: str | None = None
    branch: str | None = None
    baudrate: int | None = None
    description: str | None = None  # the file's ``endpoint``, in place of host and port

    @property
    def endpoint(self) -> str:
        return self.description or tcp_endpoint(self.host, self.port)


@dataclass(frozen=True, slots=True)
class Station:
    """A counter station: a card ``reader`` (a PC/SC reader name, matched as a substring, or
    an nfcpy device path) driven by ``driver``, acting as ``terminal`` (DE41) of ``branch``."""

    driver: str
    reader: str
    terminal: str
    branch: str


@dataclass(frozen=True, slots=True)
class ClubCardSettings:
    """The club smart cards: where the issuer master key is (``None``: not configured), and
    whether UID tags may redeem credit (otherwise they only earn)."""

    master_key_file: Path | None = None
    uid_tags_redeem: bool = False


@dataclass(frozen=True, slots=True)
class CounterSettings:
    """The local HTTP interface the counter software asks the stations through."""

    host: str = "127.0.0.1"
    port: int = 8600
    description: str | None = None  # the file's ``endpoint``, in place of host and port

    @property
    def endpoint(self) -> str:
        return self.description or tcp_endpoint(self.host, self.port)


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """The store's URL, how often the daemon reads its change feed, and how long the writer
    may wait on the database (a decision not durable within ``timeouts.commit`` is 96)."""

    url: str
    poll_seconds: float = 0.5
    timeouts: WriteTimeouts = DEFAULT_TIMEOUTS


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
    gift_cards: GiftCards = field(default_factory=GiftCards)
    vouchers: Vouchers = field(default_factory=Vouchers)
    limits: Limits = field(default_factory=Limits)
    stations: tuple[Station, ...] = ()
    clubcard: ClubCardSettings = field(default_factory=ClubCardSettings)
    counter: CounterSettings = field(default_factory=CounterSettings)

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

    def name(self, key: str) -> str:
        """The full key path of ``key`` in this table (``groups.silver.daily_cap``)."""
        return f"{self.where}.{key}" if key and self.where else (key or self.where)

    def fail(self, key: str, expected: str, got: Any = None) -> NoReturn:
        seen = "" if got is None else f", got {got!r}"
        raise ConfigError(f"{self.path}: {self.name(key)}: expected {expected}{seen}")

    def sub(self, key: str) -> _Section | None:
        """The table under ``key``, read the same way; ``None`` when it is not there."""
        table = self.get(key, dict)
        return None if table is None else _Section(self.path, self.name(key), table)

    def each(self, key: str) -> list[_Section]:
        """The tables of the array of tables under ``key`` (``interval_rules[0]``, ...)."""
        return [_Section(self.path, f"{self.name(key)}[{i}]", t) for i, t in enumerate(self.get(key, list, []))]

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

    def amount(self, key: str, *, upper: int | None = None, lower: int = 0, default: int | None = None,
               required: bool = False) -> int | None:
        """A whole number from ``lower`` (an amount: 0) up to ``upper`` (``None``: no end)."""
        value = self.get(key, int, default, required=required)
        if value is not None and (value < lower or (upper is not None and value > upper)):
            bound = f"from {lower} to {upper}" if upper is not None else f"{lower} or more"
            self.fail(key, f"a whole number {bound}", value)
        return value

    def positive(self, key: str, default: float) -> float:
        """A number of milliseconds or seconds: finite and more than 0."""
        value = self.get(key, (int, float), default)
        if not (math.isfinite(value) and value > 0):
            self.fail(key, "a number more than 0", value)
        return float(value)

    def unique(self, key: str, items: list[Any], identity: Callable[[Any], Any], what: str) -> None:
        """Fail on the first item of ``items`` whose identity an earlier one has; ``key``
        (``branches.id``) names the array and the field."""
        array, _, name = key.partition(".")
        seen: set[Any] = set()
        for index, item in enumerate(items):
            ident = identity(item)
            if ident is not None and ident in seen:
                self.fail(f"{array}[{index}].{name}", what, ident)
            seen.add(ident)

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
    default = StoreSettings(url).timeouts
    timeouts = WriteTimeouts(*(s.positive(f"{name}_timeout_seconds", getattr(default, name))
                               for name in ("lock", "statement", "commit")))
    if timeouts.lock > timeouts.statement:
        s.fail("lock_timeout_seconds", f"at most statement_timeout_seconds ({timeouts.statement:g})", timeouts.lock)
    if timeouts.commit <= 2 * timeouts.statement:
        s.fail("commit_timeout_seconds", "more than twice statement_timeout_seconds "
               f"({timeouts.statement:g}): a commit must begin and end within it", timeouts.commit)
    settings = StoreSettings(url=url, poll_seconds=s.positive("poll_seconds", 0.5), timeouts=timeouts)
    s.done()
    return settings


def _branch(s: _Section, groups: dict[str, Group], limits: Limits) -> Branch:
    branch_id = s.get("id", str, required=True)
    if not 1 <= len(branch_id) <= 15:
        s.fail("id", "1 to 15 characters (DE42)", branch_id)
    cutoff = s.amount("day_cutoff_hour", upper=23) or 0
    branch = Branch(branch_id, _zone(s, "timezone", "UTC"), cutoff, rules.branch_caps(s, groups),
                    rules.branch_limits(s, limits))
    s.done()
    return branch


def tcp_endpoint(host: str, port: int) -> str:
    """The Twisted server endpoint description of ``host`` and ``port`` (an IPv6 address's
    colons escaped)."""
    interface = host.replace("\\", "\\\\").replace(":", "\\:")
    return f"tcp:port={port}:interface={interface}"


def _endpoint(s: _Section, default_port: int, lowest_port: int = 0) -> tuple[str, int, str | None]:
    """``host``, ``port`` and ``endpoint`` of a TCP listener: an ``endpoint`` (a Twisted server
    endpoint description: ``tcp:...``, ``ssl:...``) says all, or ``host`` and ``port`` do."""
    description = s.get("endpoint", str)
    if description is None:
        port = s.amount("port", upper=65535, lower=lowest_port)
        return s.get("host", str, "127.0.0.1"), default_port if port is None else port, None
    for key in ("host", "port"):
        if key in s.table:
            s.fail(key, "no host or port where an endpoint is given (the endpoint says both)")
    try:
        serverFromString(None, description)  # only parsed here; the daemon listens on it
    except (ValueError, TypeError, KeyError) as error:
        s.fail("endpoint", f"a Twisted server endpoint description such as 'tcp:8583:interface=127.0.0.1' ({error})",
               description)
    return "", 0, description


def _listener(path: str, index: int, table: Any, profiles: dict[str, str], branches: dict[str, Branch]) -> Listener:
    s = _Section(path, f"listeners[{index}]", table)
    protocol = s.get("protocol", str, required=True)
    protocols = families.names(Transport.TCP, Transport.SERIAL)
    if protocol not in protocols:
        s.fail("protocol", "one of " + ", ".join(protocols), protocol)
    profile = s.get("profile", str, required=True)
    if profiles.get(profile) != protocol:
        own = sorted(name for name, family in profiles.items() if family == protocol)
        s.fail("profile", f"a {protocol} firmware profile: " + (", ".join(own) or "none found"), profile)
    if families.family(protocol).transport is Transport.TCP:
        host, port, description = _endpoint(s, 8583)
        listener = Listener(protocol, profile, host, port, description=description)
    else:
        terminal = s.get("terminal", str, required=True)
        if not 1 <= len(terminal) <= 8:
            s.fail("terminal", "1 to 8 characters (DE41)", terminal)
        branch = s.get("branch", str, required=True)
        if branch not in branches:
            s.fail("branch", "the id of a configured [[branches]] entry", branch)
        listener = Listener(protocol, profile, port=0, device=s.get("device", str, required=True),
                            terminal=terminal, branch=branch, baudrate=s.amount("baudrate", lower=50))
    s.done()
    return listener


def _station(s: _Section, branches: dict[str, Branch]) -> Station:
    driver = s.get("driver", str, required=True)
    drivers = families.names(Transport.CARD_READER)
    if driver not in drivers:
        s.fail("driver", "one of " + ", ".join(drivers), driver)
    reader = s.get("reader", str, required=True)
    if not reader.strip():
        s.fail("reader", "a PC/SC reader name (or part of it) or an nfcpy device such as 'usb:054c:06c1'", reader)
    terminal = s.get("terminal", str, required=True)
    if not 1 <= len(terminal) <= 8:
        s.fail("terminal", "1 to 8 characters (DE41)", terminal)
    branch = s.get("branch", str, required=True)
    if branch not in branches:
        s.fail("branch", "the id of a configured [[branches]] entry", branch)
    s.done()
    return Station(driver, reader, terminal, branch)


def _clubcard(root: _Section, base: Path, stations: list[Station]) -> ClubCardSettings:
    s = root.sub("clubcard") or _Section(root.path, "clubcard", {})
    key_file = s.get("master_key_file", str)
    if key_file is None and stations:
        s.fail("master_key_file", "the issuer master key file (stations read club cards with it)")
    if key_file is not None and not key_file.strip():
        s.fail("master_key_file", "a file name, relative to the configuration file's folder", key_file)
    settings = ClubCardSettings(None if key_file is None else base / key_file,
                                s.get("uid_tags_redeem", bool, False))
    s.done()
    return settings


def _counter(root: _Section) -> CounterSettings:
    s = root.sub("counter") or _Section(root.path, "counter", {})
    counter = CounterSettings(*_endpoint(s, 8600, lowest_port=1))
    s.done()
    return counter


def _group(path: str, name: str, table: Any) -> Group:
    s = _Section(path, f"groups.{name}", table)
    if not (name.isascii() and name.replace("-", "").replace("_", "").isalnum() and len(name) <= 32):
        s.fail("", "a group name of up to 32 ASCII letters, digits, '-' or '_' (terminals show it, DE48 TR)")
    group = Group(name=name, default=s.get("default", bool, False), **asdict(rules.caps(s)), **rules.group_rules(s))
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
    rules.check_upgrades(s, groups)
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
    base = Path(name).resolve().parent
    dirs = _profiles_dirs(root, base)
    profiles = available_profiles(dirs)
    store = _store(name, root.get("store", dict, required=True))
    program = _program(name, root.get("program", dict, {}))
    groups = _groups(name, root.get("groups", dict, required=True))
    limits = rules.limits(root)
    branches = [_branch(s, groups, limits) for s in root.each("branches")]
    root.unique("branches.id", branches, lambda b: b.id, "a branch id no other branch has")
    by_id = {b.id: b for b in branches}
    listeners = [_listener(name, i, t, profiles, by_id) for i, t in enumerate(root.get("listeners", list, []))]
    root.unique("listeners.port", listeners, lambda li: li.endpoint if li.description or li.port else None,
                "a host and port no other listener has")
    root.unique("listeners.device", listeners, lambda li: li.device, "a device no other listener has")
    root.unique("listeners.terminal", listeners, lambda li: li.terminal, "a terminal no other reader acts as")
    stations = [_station(s, by_id) for s in root.each("stations")]
    root.unique("stations.reader", stations, lambda st: st.reader, "a reader no other station drives")
    serial = {li.terminal for li in listeners if li.terminal}
    root.unique("stations.terminal", stations, lambda st: st.terminal, "a terminal no other station acts as")
    for index, station in enumerate(stations):
        if station.terminal in serial:
            root.fail(f"stations[{index}].terminal", "a terminal no serial listener acts as", station.terminal)
    return Config(
        path=name,
        store=store,
        program=program,
        branches=by_id,
        listeners=tuple(listeners),
        groups=groups,
        profiles_dirs=dirs,
        services=rules.services(root, groups),
        interval_rules=rules.interval_rules(root),
        discount_scale=rules.discount_scale(root),
        gift_cards=rules.gift_cards(root),
        vouchers=rules.vouchers(root, base),
        limits=limits,
        stations=tuple(stations),
        clubcard=_clubcard(root, base, stations),
        counter=_counter(root),
    )


def voucher_key(config: Config) -> bytes:
    """The key that hashes voucher PINs, from ``vouchers.key_file`` (its bytes, without trailing
    white space) or ``vouchers.key_env`` (its UTF-8 value); at least 16 bytes.

    A message never holds any of the key, only where it was looked for and what was wrong.
    """
    vouchers, s = config.vouchers, _Section(config.path, "vouchers", {})
    if vouchers.key_file is not None:
        key_name, where = "key_file", vouchers.key_file
        try:
            with open(where, "rb") as f:
                key = f.read().rstrip()
        except OSError as e:
            s.fail(key_name, f"a readable key file of at least {MIN_VOUCHER_KEY} bytes "
                             f"({where}: {e.strerror or type(e).__name__})")
    elif vouchers.key_env is not None:
        key_name, where = "key_env", f"the environment variable {vouchers.key_env}"
        value = os.environ.get(vouchers.key_env)
        if value is None:
            s.fail(key_name, f"{where} to hold a key of at least {MIN_VOUCHER_KEY} bytes (it is not set)")
        key = value.encode("utf-8", "surrogateescape")
    else:
        s.fail("", "[vouchers] key_file or key_env: the key that hashes voucher PINs is needed")
    if len(key) < MIN_VOUCHER_KEY:
        s.fail(key_name, f"a key of at least {MIN_VOUCHER_KEY} bytes ({where} holds {len(key)})")
    return key


def read_master_key(path: str | os.PathLike[str]) -> bytes:
    """The club card issuer master key from ``path``: 16 or 32 bytes, raw or as hex (white
    space around it ignored). Errors say where and what was wrong, never any of the key."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror or type(e).__name__}") from None
    text = data.strip()
    if len(text) in (2 * n for n in MASTER_KEY_SIZES) and all(c in b"0123456789abcdefABCDEF" for c in text):
        return bytes.fromhex(text.decode("ascii"))
    if len(data) not in MASTER_KEY_SIZES:
        raise ConfigError(f"holds {len(data)} bytes: expected 16 or 32 bytes, raw or as 32 or 64 hex digits")
    return data


def master_key(config: Config) -> bytes:
    """The issuer master key of ``[clubcard] master_key_file``."""
    where = config.clubcard.master_key_file
    s = _Section(config.path, "clubcard", {})
    if where is None:
        s.fail("master_key_file", "the issuer master key file (stations read club cards with it)")
    try:
        return read_master_key(where)
    except ConfigError as error:
        s.fail("master_key_file", f"a key file of 16 or 32 bytes, raw or hex ({where}: {error})")
