"""The TOML configuration, validated into frozen dataclasses.

Every error names the file, the key and what was expected, because the operator reading it
is at a clinic with an installation script, not a debugger.
"""

from __future__ import annotations

import math
import os
import re
import stat
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
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

IPNetwork = IPv4Network | IPv6Network
ENV_VAR = "TERMINAL_GATEWAY_CONFIG"
ROOT_KEYS = ("store", "program", "branches", "listeners", "groups", "profiles_dirs",
             "services", "interval_rules", "discount_scale", "gift_cards", "vouchers",
             "stations", "clubcard", "counter", "concentrators", "keys", "limits")
MASTER_KEY_SIZES = (16, 32)  # bytes of the club card issuer master key (AES-128 or AES-256)
MIN_VOUCHER_KEY = 16  # bytes of the PIN hashing key
DEFAULT_TIMEOUTS = WriteTimeouts(lock=2.0, statement=4.0, commit=10.0)  # seconds; docs/operations.md says why


class ConfigError(Exception):
    """A configuration that cannot be used; the message is for the operator."""


@dataclass(frozen=True, slots=True)
class LinkLimits:
    """What a TCP listener bears of one connection, and of one address, before it closes them.

    The defaults are far beyond what an honest terminal does (it sends a whole frame at once,
    answers nothing wrongly ten times, and a branch has a few dozen terminals behind one
    address at most) and well short of what lets one host tie the gateway up."""

    idle_seconds: float = 300.0  # no byte at all for this long: closed
    frame_seconds: float = 10.0  # part of a frame waiting for the rest this long: closed
    max_bad_frames: int = 10  # frames answered 30, 58 or 63 on one connection: then closed
    max_connections_per_address: int = 64


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """A TCP listener's TLS: the gateway's certificate and key (PEM files), and the CA whose
    client certificates terminals must present (``None``: no client certificates asked)."""

    certificate: Path
    key: Path
    client_ca: Path | None = None


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
    limits: LinkLimits = field(default_factory=LinkLimits)
    tls: TlsFiles | None = None

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
    """The local HTTP interface the counter software asks the stations through; besides the
    listener's own address, a request's ``Host`` may name one of ``host_names``, and a request
    with an ``Origin`` must come from one of ``allowed_origins`` (none by default)."""

    host: str = "127.0.0.1"
    port: int = 8600
    description: str | None = None  # the file's ``endpoint``, in place of host and port
    allowed_origins: tuple[str, ...] = ()
    host_names: tuple[str, ...] = ()

    @property
    def endpoint(self) -> str:
        return self.description or tcp_endpoint(self.host, self.port)


@dataclass(frozen=True, slots=True)
class KeySettings:
    """Where the key-encryption key (KEK) is: a file readable by the service user only, or an
    environment variable; never the configuration file itself. ``None`` and ``None``: no KEK
    (no terminal keys, so no listener of a MAC profile)."""

    kek_file: Path | None = None
    kek_env: str | None = None

    @property
    def configured(self) -> bool:
        return self.kek_file is not None or self.kek_env is not None


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
    concentrators: dict[str, frozenset[str]] = field(default_factory=dict)  # source address -> terminals
    sources: dict[str, tuple[IPNetwork, ...]] = field(default_factory=dict)  # branch -> where its terminals may be
    keys: KeySettings = field(default_factory=KeySettings)

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


def _branch(s: _Section, groups: dict[str, Group], limits: Limits, sources: dict[str, tuple[IPNetwork, ...]]) -> Branch:
    """A ``[[branches]]`` entry; its ``allowed_sources`` go into ``sources``."""
    branch_id = s.get("id", str, required=True)
    if not 1 <= len(branch_id) <= 15:
        s.fail("id", "1 to 15 characters (DE42)", branch_id)
    cutoff = s.amount("day_cutoff_hour", upper=23) or 0
    branch = Branch(branch_id, _zone(s, "timezone", "UTC"), cutoff, rules.branch_caps(s, groups),
                    rules.branch_limits(s, limits))
    allowed = s.get("allowed_sources", list)
    if allowed is not None:
        try:
            sources[branch_id] = tuple(ip_network(each) for each in allowed)
        except (TypeError, ValueError):
            s.fail("allowed_sources", "an array of addresses or networks such as \"192.168.10.0/24\"", allowed)
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
        usual = LinkLimits()
        limits = LinkLimits(
            idle_seconds=s.positive("idle_seconds", usual.idle_seconds),
            frame_seconds=s.positive("frame_seconds", usual.frame_seconds),
            max_bad_frames=s.amount("max_bad_frames", lower=1, default=usual.max_bad_frames) or 0,
            max_connections_per_address=s.amount("max_connections_per_address", lower=1,
                                                 default=usual.max_connections_per_address) or 0,
        )
        listener = Listener(protocol, profile, host, port, description=description, limits=limits,
                            tls=_tls(s, Path(path).resolve().parent))
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


def _tls(s: _Section, base: Path) -> TlsFiles | None:
    """``tls_certificate`` and ``tls_key`` (both or neither) and ``tls_client_ca``: PEM files,
    relative to the configuration file's folder, that must exist."""
    names = {key: s.get(key, str) for key in ("tls_certificate", "tls_key", "tls_client_ca")}
    if names["tls_certificate"] is None and names["tls_key"] is None:
        if names["tls_client_ca"] is not None:
            s.fail("tls_client_ca", "tls_certificate and tls_key too (client certificates need TLS)")
        return None
    files: dict[str, Path | None] = {}
    for key, name in names.items():
        if name is None:
            if key != "tls_client_ca":
                s.fail(key, "a PEM file (tls_certificate and tls_key go together)")
            files[key] = None
            continue
        files[key] = base / name
        if not files[key].is_file():
            s.fail(key, f"a PEM file ({files[key]} is not one)", name)
    certificate, key, client_ca = files["tls_certificate"], files["tls_key"], files["tls_client_ca"]
    assert certificate is not None and key is not None
    return TlsFiles(certificate, key, client_ca)


def _concentrators(root: _Section) -> dict[str, frozenset[str]]:
    """``[[concentrators]]``: a source address whose connections speak for the terminals it names
    (a concentrator relaying several terminals over one connection)."""
    found: dict[str, frozenset[str]] = {}
    for s in root.each("concentrators"):
        source = s.get("source", str, required=True)
        try:
            address = str(ip_address(source))
        except ValueError:
            s.fail("source", "an IP address", source)
        if address in found:
            s.fail("source", "an address no other concentrator has", source)
        terminals = s.get("terminals", list, required=True)
        if not terminals or not all(isinstance(t, str) and 1 <= len(t) <= 8 for t in terminals):
            s.fail("terminals", "an array of terminal ids (1 to 8 characters each)", terminals)
        found[address] = frozenset(terminals)
        s.done()
    return found


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
    counter = CounterSettings(*_endpoint(s, 8600, lowest_port=1),
                              allowed_origins=_words(s, "allowed_origins", r"https?://[^/\s]+",
                                                     "origins such as 'https://counter.clinic.example' (no path)"),
                              host_names=_words(s, "host_names", r"[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]",
                                                "host names or addresses such as 'counter.clinic.example' (no port)"))
    s.done()
    return counter


def _keys(root: _Section, base: Path) -> KeySettings:
    s = root.sub("keys") or _Section(root.path, "keys", {})
    kek_file, kek_env = s.get("kek_file", str), s.get("kek_env", str)
    if kek_file is not None and kek_env is not None:
        s.fail("kek_env", "kek_file or kek_env, not both")
    if kek_file is not None and not kek_file.strip():
        s.fail("kek_file", "a file name, relative to the configuration file's folder", kek_file)
    if kek_env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", kek_env):
        s.fail("kek_env", "the name of an environment variable", kek_env)
    s.done()
    return KeySettings(None if kek_file is None else base / kek_file, kek_env)


def _words(s: _Section, key: str, pattern: str, expected: str) -> tuple[str, ...]:
    """A list of strings each matching ``pattern``, compared case-insensitively: kept in lower case."""
    values = s.get(key, list, [])
    for value in values:
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            s.fail(key, f"a list of {expected}", value)
    return tuple(value.lower() for value in values)


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
    sources: dict[str, tuple[IPNetwork, ...]] = {}
    branches = [_branch(s, groups, limits, sources) for s in root.each("branches")]
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
        concentrators=_concentrators(root),
        sources=sources,
        keys=_keys(root, base),
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
            key = read_private(where).rstrip()
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


class KeyFileExposed(ConfigError):
    """A key file that others than its owner may read or change."""


def read_private(path: str | os.PathLike[str]) -> bytes:
    """The bytes of the key file at ``path``, refused (``KeyFileExposed``) when its group or
    others have any access to it: whoever reads a key can mint what it protects."""
    with open(path, "rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        if mode & 0o077:
            raise KeyFileExposed(f"{path}: a key file must be readable by its owner only, but its mode is "
                                 f"{mode & 0o777:04o}: run 'chmod 600 {path}'")
        return f.read()


def read_master_key(path: str | os.PathLike[str]) -> bytes:
    """The club card issuer master key from ``path``: 16 or 32 bytes, raw or as hex (white
    space around it ignored). Errors say where and what was wrong, never any of the key."""
    try:
        data = read_private(path)
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
    except KeyFileExposed:
        raise
    except ConfigError as error:
        s.fail("master_key_file", f"a key file of 16 or 32 bytes, raw or hex ({where}: {error})")


def kek(config: Config) -> bytes:
    """The key-encryption key of ``[keys]``: 16 or 32 bytes, raw or hex, from ``kek_file``
    (refused when its group or others may read it) or ``kek_env``. A message says where and
    what was wrong, never any of the key."""
    settings, s = config.keys, _Section(config.path, "keys", {})
    if settings.kek_file is not None:
        try:
            return read_kek_file(settings.kek_file)
        except ConfigError as error:
            s.fail("kek_file", f"a KEK file of 16 or 32 bytes, raw or hex ({settings.kek_file}: {error})")
    if settings.kek_env is None:
        s.fail("", "kek_file or kek_env: terminal keys are stored wrapped under a key-encryption key")
    value = os.environ.get(settings.kek_env, "").strip()
    if len(value) not in (2 * n for n in MASTER_KEY_SIZES) or not re.fullmatch(r"[0-9A-Fa-f]+", value):
        s.fail("kek_env", f"the environment variable {settings.kek_env} to hold a KEK as 32 or 64 hex digits "
                          f"({'it is not set' if not value else f'it holds {len(value)} characters'})")
    return bytes.fromhex(value)


def read_kek_file(path: str | os.PathLike[str]) -> bytes:
    """A KEK file's key, refused (``ConfigError``) when the file's group or others may read it."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror or type(e).__name__}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"group or others may read it (mode {stat.S_IMODE(mode):04o}): "
                          "make it readable by the service user only (chmod 600)")
    return read_master_key(path)
