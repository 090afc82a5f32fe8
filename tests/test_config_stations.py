"""Counter stations, the club card master key and the counter's HTTP interface in the
configuration: every mistake names its key; the key itself is never in a message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from terminal_gateway.config import ConfigError, CounterSettings, Station, load, master_key, read_master_key
from terminal_gateway.private import write_private

from .test_config import EXAMPLE, write

STATIONS = """
[clubcard]
master_key_file = "club-master.key"
uid_tags_redeem = true

[counter]
host = "127.0.0.1"
port = 8700

[[stations]]
driver = "pcsc"
reader = "Virtual PCD"
terminal = "CNTR0001"
branch = "CLINIC000000001"
"""
KEY = bytes(range(16))


def test_stations_clubcard_and_counter_load(tmp_path: Path) -> None:
    write_private(tmp_path / "club-master.key", KEY.hex() + "\n")
    config = load(write(tmp_path, EXAMPLE + STATIONS))
    assert config.stations == (Station("pcsc", "Virtual PCD", "CNTR0001", "CLINIC000000001"),)
    assert config.clubcard.master_key_file == tmp_path / "club-master.key"
    assert config.clubcard.uid_tags_redeem is True
    assert config.counter == CounterSettings("127.0.0.1", 8700)
    assert master_key(config) == KEY


def test_without_stations_nothing_is_needed(tmp_path: Path) -> None:
    config = load(write(tmp_path, EXAMPLE))
    assert config.stations == () and config.clubcard.master_key_file is None
    assert config.clubcard.uid_tags_redeem is False and config.counter == CounterSettings("127.0.0.1", 8600)


@pytest.mark.parametrize(("old", "new", "message"), [
    ('driver = "pcsc"', 'driver = "usb"', "stations[0].driver: expected one of pcsc, nfc, got 'usb'"),
    ('driver = "pcsc"\n', "", "stations[0].driver: expected a string (this key is required)"),
    ('reader = "Virtual PCD"', 'reader = " "', "stations[0].reader: expected a PC/SC reader name"),
    ('terminal = "CNTR0001"', 'terminal = "CNTR00012"', "stations[0].terminal: expected 1 to 8 characters (DE41)"),
    ('branch = "CLINIC000000001"', 'branch = "ELSEWHERE"',
     "stations[0].branch: expected the id of a configured [[branches]] entry, got 'ELSEWHERE'"),
    ('branch = "CLINIC000000001"', 'branch = "CLINIC000000001"\nbaud = 9600', "stations[0].baud: expected one of"),
    ('master_key_file = "club-master.key"\n', "", "clubcard.master_key_file: expected the issuer master key file"),
    ("uid_tags_redeem = true", 'uid_tags_redeem = "yes"', "clubcard.uid_tags_redeem: expected true or false"),
    ("uid_tags_redeem = true", "uid_tag_redeem = true", "clubcard.uid_tag_redeem: expected one of"),
    ("port = 8700", "port = 70000", "counter.port: expected a whole number from 1 to 65535, got 70000"),
    ('host = "127.0.0.1"', "host = 1", "counter.host: expected a string, got 1"),
])
def test_each_mistake_names_its_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in STATIONS, old
    path = write(tmp_path, EXAMPLE + STATIONS.replace(old, new, 1))
    with pytest.raises(ConfigError, match=re.escape(f"{path}: {message}")):
        load(path)


def test_two_stations_may_not_share_a_terminal_or_a_reader(tmp_path: Path) -> None:
    second = STATIONS[STATIONS.index("[[stations]]"):]
    path = write(tmp_path, EXAMPLE + STATIONS + second.replace("Virtual PCD", "Other"))
    with pytest.raises(ConfigError, match=re.escape("stations[1].terminal: expected a terminal no other station")):
        load(path)
    path = write(tmp_path, EXAMPLE + STATIONS + second.replace("CNTR0001", "CNTR0002"))
    with pytest.raises(ConfigError, match=re.escape("stations[1].reader: expected a reader no other station")):
        load(path)


@pytest.mark.parametrize("content", [KEY, KEY.hex().encode(), KEY.hex().upper().encode() + b"\n",
                                     bytes(range(32)), bytes(range(32)).hex().encode() + b"\r\n"])
def test_master_keys_raw_or_hex(tmp_path: Path, content: bytes) -> None:
    write_private(tmp_path / "k", content)
    assert read_master_key(tmp_path / "k") in (KEY, bytes(range(32)))


@pytest.mark.parametrize(("content", "why"), [(b"", "holds 0 bytes"), (KEY[:15], "holds 15 bytes"),
                                              (b"zz" * 16 + b"\n", "holds 33 bytes"), (None, "cannot read")])
def test_a_bad_master_key_file_names_the_key_and_not_its_bytes(tmp_path: Path, content: bytes | None,
                                                               why: str) -> None:
    if content is not None:
        write_private(tmp_path / "club-master.key", content)
    config = load(write(tmp_path, EXAMPLE + STATIONS))
    with pytest.raises(ConfigError, match=re.escape("clubcard.master_key_file: expected a key file of 16 or 32")) as e:
        master_key(config)
    assert why in str(e.value)
    if content:
        assert content.hex() not in str(e.value) and repr(content) not in str(e.value)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_key_file_others_can_read_is_refused_naming_the_file_and_the_fix(tmp_path: Path, mode: int) -> None:
    key_file = write_private(tmp_path / "club-master.key", KEY.hex() + "\n")
    key_file.chmod(mode)
    config = load(write(tmp_path, EXAMPLE + STATIONS))
    with pytest.raises(ConfigError) as refused:
        master_key(config)
    assert str(refused.value) == (f"{key_file}: a key file must be readable by its owner only, but its mode is "
                                  f"0{mode:o}: run 'chmod 600 {key_file}'")
    key_file.chmod(0o400)
    assert master_key(config) == KEY


def test_the_counters_origins_and_host_names(tmp_path: Path) -> None:
    text = STATIONS.replace('port = 8700\n', 'port = 8700\nallowed_origins = ["https://Counter.Clinic.example:8443"]\n'
                                             'host_names = ["counter.clinic.example", "[::1]"]\n')
    config = load(write(tmp_path, EXAMPLE + text))
    assert config.counter.allowed_origins == ("https://counter.clinic.example:8443",)
    assert config.counter.host_names == ("counter.clinic.example", "[::1]")
    for bad in ('allowed_origins = ["https://x.example/page"]', 'allowed_origins = "https://x.example"',
                'host_names = ["x.example:8600"]', 'host_names = [""]'):
        key = bad.partition(" ")[0]
        with pytest.raises(ConfigError, match=re.escape(f"counter.{key}: expected a")):
            load(write(tmp_path, EXAMPLE + STATIONS.replace("port = 8700\n", f"port = 8700\n{bad}\n")))
