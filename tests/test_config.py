"""``config.load`` as a clinic operator meets it: the documented example loads, and every mistake
stops with a ``ConfigError`` naming the file, the key and what was expected."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from terminal_gateway.config import ENV_VAR, ConfigError, load
from terminal_gateway.firmware import available_profiles
from terminal_gateway.protocols.club8583 import load_profile
from terminal_gateway.store import WriteTimeouts
from terminal_gateway.vocabulary import MAX_AMOUNT

REPO = Path(__file__).resolve().parents[1]

# The example of docs/operations.md ("Configuration"), as written there.
EXAMPLE = """\
[store]
url = "sqlite:///var/lib/terminal-gateway/gateway.db"   # any SQLAlchemy URL, PostgreSQL too

[program]
currency = 364          # ISO 4217 numeric code (DE49)
hold_minutes = 15       # lifetime of an authorization hold

[[branches]]
id = "CLINIC000000001"  # DE42
timezone = "Asia/Tehran"
day_cutoff_hour = 0     # the business day starts at this local hour

[[listeners]]
protocol = "club8583"
profile = "club-t2"     # a firmware profile from firmware_profiles/
host = "127.0.0.1"
port = 8583

[groups.silver]
default = true
daily_cap = 200000              # credit usable per business day
invoice_cap = 100000            # credit usable per invoice, fixed ...
# invoice_cap_percent = 30      # ... or as a percentage of the invoice total
max_redemptions_per_day = 5
"""

GOLD = """
[groups.gold]
invoice_cap_percent = 50
"""


def write(folder: Path, text: str, name: str = "gateway.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def edited(old: str, new: str) -> str:
    assert old in EXAMPLE, old
    return EXAMPLE.replace(old, new, 1)


def test_the_documented_example_loads_with_the_documented_values(tmp_path: Path) -> None:
    config = load(write(tmp_path, EXAMPLE))

    assert config.store.url == "sqlite:///var/lib/terminal-gateway/gateway.db"
    assert (config.program.currency, config.program.hold_minutes) == (364, 15)
    assert config.program.max_amount == MAX_AMOUNT  # what is not written keeps its default
    (branch,) = config.branches.values()
    assert (branch.id, branch.timezone.key, branch.day_cutoff_hour) == ("CLINIC000000001", "Asia/Tehran", 0)
    (listener,) = config.listeners
    assert (listener.protocol, listener.profile, listener.host, listener.port) == (
        "club8583", "club-t2", "127.0.0.1", 8583)
    silver = config.groups["silver"]
    assert config.default_group is silver
    assert (silver.daily_cap, silver.invoice_cap, silver.invoice_cap_percent, silver.max_redemptions_per_day) == (
        200_000, 100_000, None, 5)
    assert load_profile(listener.profile, config.profiles_dirs).name == "club-t2"
    assert config.program.phone_lookup is False, "a phone names a member only where the program says so"


def test_phone_lookup_is_switched_on_in_program(tmp_path: Path) -> None:
    assert load(write(tmp_path, edited("[program]\n", "[program]\nphone_lookup = true\n"))).program.phone_lookup


def test_the_production_example_of_the_systemd_folder_loads(tmp_path: Path) -> None:
    """systemd/gateway.toml.example, installed as /etc/terminal-gateway/gateway.toml next to
    the (empty) profiles folder it names."""
    (tmp_path / "profiles").mkdir()
    config = load(shutil.copy(REPO / "systemd" / "gateway.toml.example", tmp_path / "gateway.toml"))

    assert config.store.url == "sqlite:////var/lib/terminal-gateway/gateway.db"
    assert config.profiles_dirs == (tmp_path / "profiles",)
    assert config.default_group.name == "silver"
    assert config.groups["gold"].invoice_cap_percent == 50
    assert {listener.profile for listener in config.listeners} <= {"club-t1", "club-t2", "club-t3"}
    assert config.program.default_timezone.key == "Asia/Tehran"
    assert len(config.branches) == 2


# (the file's text, the key the message must name, what it must say was expected)
BROKEN = {
    "unknown key at the top level": ('colour = "blue"\n' + EXAMPLE, "colour", "unknown key"),
    "a misspelt table": (EXAMPLE.replace("[groups.silver]", "[group.silver]"), "group", "unknown key"),
    "unknown key in a table": (edited("max_redemptions_per_day = 5", "max_redemptions_per_day = 5\ndaly_cap = 1"),
                               "groups.silver.daly_cap", "unknown key"),
    "unknown key in an array of tables": (edited("day_cutoff_hour = 0", "day_cutoff = 0"),
                                          "branches[0].day_cutoff", "unknown key"),
    "unknown key in [store]": (edited("[store]\n", "[store]\npassword = 'x'\n"), "store.password", "unknown key"),
    "a string for a whole number": (edited("daily_cap = 200000", 'daily_cap = "200000"'),
                                    "groups.silver.daily_cap", "a whole number"),
    "true for a whole number": (edited("hold_minutes = 15", "hold_minutes = true"),
                                "program.hold_minutes", "a whole number"),
    "a fraction for a whole number": (edited("port = 8583", "port = 8583.0"), "listeners[0].port", "a whole number"),
    "a number for a string": (edited('id = "CLINIC000000001"', "id = 1"), "branches[0].id", "a string"),
    "a number for true or false": (edited("default = true", "default = 1"), "groups.silver.default",
                                   "true or false"),
    "a table where an array is expected": (edited("[[listeners]]", "[listeners]"), "listeners", "an array"),
    "unknown profile": (edited('profile = "club-t2"', 'profile = "club-t9"'), "listeners[0].profile",
                        "a club8583 firmware profile: club-t1, club-t2"),
    "unknown protocol": (edited('protocol = "club8583"', 'protocol = "iso8583"'), "listeners[0].protocol",
                         "one of club8583"),
    "a port out of range": (edited("port = 8583", "port = 70000"), "listeners[0].port", "from 0 to 65535"),
    "a misspelt time zone": (edited('timezone = "Asia/Tehran"', 'timezone = "Asia/Tehrn"'),
                             "branches[0].timezone", "an IANA time zone"),
    "a folder of time zones": (edited('timezone = "Asia/Tehran"', 'timezone = "Asia"'),
                               "branches[0].timezone", "an IANA time zone"),
    "a bad program time zone": (edited("hold_minutes = 15", 'hold_minutes = 15\ntimezone = "Tehran"'),
                                "program.timezone", "an IANA time zone"),
    "a cutoff hour past 23": (edited("day_cutoff_hour = 0", "day_cutoff_hour = 24"),
                              "branches[0].day_cutoff_hour", "from 0 to 23"),
    "a branch id longer than DE42": (edited('id = "CLINIC000000001"', 'id = "CLINIC0000000001"'),
                                     "branches[0].id", "1 to 15 characters"),
    "two branches with one id": (EXAMPLE + '\n[[branches]]\nid = "CLINIC000000001"\n', "branches[1].id",
                                 "a branch id no other branch has"),
    "two listeners on one port": (EXAMPLE + '\n[[listeners]]\nprotocol = "club8583"\nprofile = "club-t1"\n',
                                  "listeners[1].port", "a host and port no other listener has"),
    "no default group": (edited("default = true", "default = false"), "groups",
                         "exactly one group with default = true, found none"),
    "two default groups": (EXAMPLE + GOLD.replace("[groups.gold]\n", "[groups.gold]\ndefault = true\n"), "groups",
                           "exactly one group with default = true, found 2 (silver, gold)"),
    "no groups": (EXAMPLE.split("[groups.silver]")[0] + "[groups]\n", "groups", "at least one group"),
    "no [groups] table": (EXAMPLE.split("[groups.silver]")[0], "groups", "this key is required"),
    "a group that is not a table": (EXAMPLE + "\n[groups]\ngold = 5\n", "groups.gold", "a table"),
    "both invoice caps": (edited("# invoice_cap_percent = 30", "invoice_cap_percent = 30"),
                          "groups.silver.invoice_cap_percent", "either invoice_cap or invoice_cap_percent, not both"),
    "a negative amount": (edited("daily_cap = 200000", "daily_cap = -1"), "groups.silver.daily_cap",
                          "a whole number 0 or more"),
    "a percentage over 100": (EXAMPLE + GOLD.replace("50", "101"), "groups.gold.invoice_cap_percent",
                              "a whole number from 0 to 100"),
    "no hold at all": (edited("hold_minutes = 15", "hold_minutes = 0"), "program.hold_minutes", "more than 0"),
    "a currency past three digits": (edited("currency = 364", "currency = 1000"), "program.currency",
                                     "from 0 to 999"),
    "a max_amount past DE4": (edited("currency = 364", f"max_amount = {MAX_AMOUNT + 1}"), "program.max_amount",
                              f"from 0 to {MAX_AMOUNT}"),
    "no [store] url": (edited('url = "sqlite:///var/lib/terminal-gateway/gateway.db"', ""), "store.url",
                       "a string (this key is required)"),
    "an empty [store] url": (edited('url = "sqlite:///var/lib/terminal-gateway/gateway.db"', 'url = ""'),
                             "store.url", "a SQLAlchemy URL"),
    "phone lookup not a boolean": (edited("[program]\n", '[program]\nphone_lookup = "yes"\n'),
                                   "program.phone_lookup", "true or false"),
    "no [store] table": ("[program]" + EXAMPLE.split("[program]", 1)[1], "store", "a table (this key is required)"),
    "a poll interval of 0": (edited("[store]\n", "[store]\npoll_seconds = 0\n"), "store.poll_seconds",
                             "a number more than 0"),
    "a poll interval of nan": (edited("[store]\n", "[store]\npoll_seconds = nan\n"), "store.poll_seconds",
                               "a number more than 0"),
    "a lock timeout beyond the statement's": (
        edited("[store]\n", "[store]\nlock_timeout_seconds = 5\nstatement_timeout_seconds = 3\n"),
        "store.lock_timeout_seconds", "at most statement_timeout_seconds (3)"),
    "a commit timeout that leaves no room": (
        edited("[store]\n", "[store]\nstatement_timeout_seconds = 6\ncommit_timeout_seconds = 10\n"),
        "store.commit_timeout_seconds", "more than twice statement_timeout_seconds (6)"),
    "profiles_dirs not an array": ('profiles_dirs = "profiles"\n' + EXAMPLE, "profiles_dirs", "an array"),
    "profiles_dirs holding a number": ("profiles_dirs = [1]\n" + EXAMPLE, "profiles_dirs[0]", "a string"),
    "profiles_dirs naming no folder": ('profiles_dirs = ["no-such-folder"]\n' + EXAMPLE, "profiles_dirs[0]",
                                      "a folder of firmware profiles"),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_a_configuration_error_names_the_file_the_key_and_what_was_expected(tmp_path: Path, case: str) -> None:
    text, key, expected = BROKEN[case]
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}: expected "), message
    assert expected in message, message
    assert "\n" not in message


def test_unreadable_files_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError, match=f"^{re.escape(str(missing))}: cannot read: No such file or directory$"):
        load(missing)
    with pytest.raises(ConfigError, match=f"^{re.escape(str(tmp_path))}: cannot read: Is a directory$"):
        load(tmp_path)


def test_invalid_toml_is_named_with_its_place(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE.replace("[program]", "[program"))
    with pytest.raises(ConfigError, match=f"^{re.escape(str(path))}: not valid TOML: .*line 4"):
        load(path)


def test_a_file_that_is_not_utf8_is_invalid_toml_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_bytes(b"\xff\xfe" + EXAMPLE.encode("utf-16-le"))
    with pytest.raises(ConfigError, match=f"^{re.escape(str(path))}: not valid TOML: not UTF-8 text"):
        load(path)


def test_the_environment_variable_names_the_file_when_no_path_is_given(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, EXAMPLE)
    monkeypatch.setenv(ENV_VAR, str(path))
    assert load().path == str(path)
    assert load(None).groups.keys() == {"silver"}

    other = write(tmp_path, EXAMPLE + GOLD, "other.toml")
    assert load(other).groups.keys() == {"silver", "gold"}  # an explicit path wins

    monkeypatch.setenv(ENV_VAR, str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'gone.toml'}: cannot read")):
        load()


def test_no_path_and_no_environment_variable_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(ConfigError, match=f"give --config FILE or set {ENV_VAR}"):
        load()


def test_relative_profiles_dirs_are_relative_to_the_file_not_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    etc = tmp_path / "etc" / "terminal-gateway"
    (etc / "profiles").mkdir(parents=True)
    shutil.copy(REPO / "firmware_profiles" / "club-t2.toml", etc / "profiles" / "clinic-pos.toml")
    path = write(etc, 'profiles_dirs = ["profiles"]\n' + edited('profile = "club-t2"', 'profile = "clinic-pos"'))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    config = load(path)

    assert config.profiles_dirs == (etc / "profiles",)
    assert config.listeners[0].profile == "clinic-pos"
    assert load_profile("clinic-pos", config.profiles_dirs).name == "clinic-pos"
    # Loaded by a relative path, the folder is still found next to the file.
    monkeypatch.chdir(tmp_path)
    assert load(Path("etc/terminal-gateway/gateway.toml")).profiles_dirs[0].resolve() == etc / "profiles"


def test_a_profile_name_missing_from_every_folder_lists_the_ones_there_are(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "clinic-pos.toml").write_text("")
    path = write(tmp_path, 'profiles_dirs = ["profiles"]\n' + edited('profile = "club-t2"', 'profile = "pos"'))
    bundled = ", ".join(name for name, family in available_profiles().items() if family == "club8583")
    with pytest.raises(ConfigError, match=re.escape("listeners[0].profile: expected a club8583 firmware profile: "
                                                    f"clinic-pos, {bundled}, got 'pos'")):
        load(path)


SERIAL = """
profiles_dirs = ["profiles"]

[[listeners]]
protocol = "cr200"
profile = "reader-fw9"
device = "/dev/ttyUSB0"
terminal = "T0000009"
branch = "CLINIC000000001"
"""


def serial_install(tmp_path: Path, listener: str = SERIAL) -> Path:
    """A configuration with a serial reader whose profile (family cr200) is in its own folder."""
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "reader-fw9.toml").write_text('family = "cr200"\nbaudrate = 9600\n')
    return write(tmp_path, listener + EXAMPLE)


def test_a_serial_reader_is_a_listener_acting_as_a_terminal_of_a_branch(tmp_path: Path) -> None:
    config = load(serial_install(tmp_path, SERIAL.replace('branch = "', 'baudrate = 115200\nbranch = "')))
    reader = config.listeners[0]
    assert (reader.protocol, reader.profile, reader.device, reader.terminal, reader.branch, reader.baudrate) == (
        "cr200", "reader-fw9", "/dev/ttyUSB0", "T0000009", "CLINIC000000001", 115200)
    assert config.listeners[1].protocol == "club8583"


@pytest.mark.parametrize(("old", "new", "key", "expected"), [
    ('device = "/dev/ttyUSB0"\n', "", "listeners[0].device", "a string (this key is required)"),
    ('branch = "CLINIC000000001"', 'branch = "ELSEWHERE"', "listeners[0].branch", "the id of a configured"),
    ('terminal = "T0000009"', 'terminal = "T000000099"', "listeners[0].terminal", "1 to 8 characters"),
    ('profile = "reader-fw9"', 'profile = "club-t2"', "listeners[0].profile",
     "a cr200 firmware profile: cr200-fw2, cr200-fw3, reader-fw9"),
    ('protocol = "cr200"', 'protocol = "club8583"', "listeners[0].profile", "a club8583 firmware profile: club-t1"),
])
def test_a_listener_is_checked_against_its_protocol(tmp_path: Path, old: str, new: str, key: str,
                                                    expected: str) -> None:
    path = serial_install(tmp_path, SERIAL.replace(old, new))
    with pytest.raises(ConfigError, match=rf": {re.escape(key)}: expected {re.escape(expected)}"):
        load(path)


def test_the_store_bounds_its_waits_by_default_and_as_configured(tmp_path: Path) -> None:
    assert load(write(tmp_path, EXAMPLE)).store.timeouts == WriteTimeouts(2.0, 4.0, 10.0)
    text = edited("[store]\n", "[store]\nlock_timeout_seconds = 1\nstatement_timeout_seconds = 2.5\n"
                  "commit_timeout_seconds = 8\n")
    assert load(write(tmp_path, text)).store.timeouts == WriteTimeouts(1.0, 2.5, 8.0)


def test_a_branch_may_say_where_its_terminals_connect_from(tmp_path: Path) -> None:
    sources = 'allowed_sources = ["192.168.10.0/24", "10.0.0.7"]'
    text = EXAMPLE.replace('day_cutoff_hour = 0', 'day_cutoff_hour = 0\n' + sources)
    config = load(write(tmp_path, text))
    assert [str(network) for network in config.sources["CLINIC000000001"]] == ["192.168.10.0/24", "10.0.0.7/32"]
    bad = EXAMPLE.replace('day_cutoff_hour = 0', 'day_cutoff_hour = 0\nallowed_sources = ["the reception"]')
    with pytest.raises(ConfigError, match=r"branches\[0\]\.allowed_sources: expected an array of addresses"):
        load(write(tmp_path, bad))
