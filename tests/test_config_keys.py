"""[keys]: where the key-encryption key is, and refusing one that others can read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from terminal_gateway.config import ConfigError, kek, load

from .test_config import EXAMPLE, write

KEK = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


def keys(tmp_path: Path, table: str) -> Path:
    return write(tmp_path, f"{EXAMPLE}\n[keys]\n{table}\n")


def test_a_kek_file_is_relative_to_the_configuration_and_readable_by_its_owner_only(tmp_path: Path) -> None:
    key_file = tmp_path / "kek"
    key_file.write_text(KEK + "\n")
    key_file.chmod(0o600)
    config = load(keys(tmp_path, 'kek_file = "kek"'))
    assert config.keys.kek_file == key_file and kek(config) == bytes.fromhex(KEK)
    key_file.chmod(0o640)
    with pytest.raises(ConfigError) as caught:
        kek(config)
    message = str(caught.value)
    assert "keys.kek_file" in message and "mode 0640" in message and "chmod 600" in message
    assert KEK not in message.lower()


def test_a_kek_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load(keys(tmp_path, 'kek_env = "GATEWAY_KEK"'))
    monkeypatch.setenv("GATEWAY_KEK", KEK.upper())
    assert kek(config) == bytes.fromhex(KEK)
    monkeypatch.setenv("GATEWAY_KEK", "not-a-key-at-all")
    with pytest.raises(ConfigError, match=r"GATEWAY_KEK to hold a KEK as 32 or 64 hex digits \(it holds 16 "
                                          r"characters\)") as caught:
        kek(config)
    assert "not-a-key" not in str(caught.value)
    monkeypatch.delenv("GATEWAY_KEK")
    with pytest.raises(ConfigError, match=r"\(it is not set\)"):
        kek(config)


@pytest.mark.parametrize(("table", "expected"), [
    ('kek_file = "kek"\nkek_env = "KEK"', "keys.kek_env: expected kek_file or kek_env, not both"),
    ('kek_env = "NOT A NAME"', "keys.kek_env: expected the name of an environment variable"),
    ('kek = "00112233445566778899aabbccddeeff"', "keys.kek: expected one of kek_env, kek_file (unknown key)"),
])
def test_keys_errors_name_the_key(tmp_path: Path, table: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)) as caught:
        load(keys(tmp_path, table))
    assert "00112233" not in str(caught.value)  # a key written into the file is not repeated


def test_without_keys_no_kek(tmp_path: Path) -> None:
    config = load(write(tmp_path, EXAMPLE))
    assert not config.keys.configured
    with pytest.raises(ConfigError, match="keys: expected kek_file or kek_env"):
        kek(config)
