"""End to end under the MAC profile (club-t2-mac): the real daemon, real TCP, attacked.

Every forged, missing, stale or altered MAC is answered 63 (MAC'd with the terminal's key)
and moves nothing; a replay moves nothing twice; a key change survives a KEK rotation and a
restart; and no key is found in the log or the database afterwards.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_twisted
from sqlalchemy import MetaData, create_engine, select

from terminal_gateway.private import write_private
from terminal_gateway.protocols.club8583.mac import check_value
from terminal_gateway.simulators.club8583 import Reply, SimulatedTerminal
from terminal_gateway.simulators.population import card_number, terminal_id

from .conftest import Gateway

PROFILE = "club-t2-mac"


@pytest.fixture
def gateway(tmp_path: Path, store_url: str) -> Iterator[Gateway]:
    installation = Gateway(tmp_path, store_url, profiles=(PROFILE,))
    yield installation
    installation.close_links()
    if installation.process is not None:
        installation.kill()


def balance(gateway: Gateway, index: int) -> int:
    return json.loads(gateway.cli("member", "show", card_number(index)).stdout)["balance"]


def generated_master_key(gateway: Gateway, index: int) -> bytes:
    out = gateway.cli("terminal", "key", terminal_id(index), "--generate").stdout
    match = re.fullmatch(r"master key ([0-9A-F]{32}) check value ([0-9A-F]{6})\n", out)
    assert match is not None, out
    key = bytes.fromhex(match[1])
    assert check_value(key) == match[2]
    return key


async def sent_as(terminal: SimulatedTerminal, body: bytes, fields: dict[str, str]) -> Reply:
    """``body`` sent for ``fields``, the answer's MAC checked with the terminal's own key."""
    return await terminal.link.request_body(body, fields, terminal.timeout, terminal.mac_key)


async def signed_on_within_a_poll(terminal: SimulatedTerminal, limit: float = 10.0) -> bool:
    from twisted.internet import reactor, task

    for _ in range(int(limit / 0.1)):
        if (await terminal.sign_on()).code == "00":
            return True
        await task.deferLater(reactor, 0.1, lambda: None)
    return False


def secrets_found(gateway: Gateway, secrets: list[bytes]) -> list[str]:
    """Where any of ``secrets`` (raw, or as hex in either case) shows: the log, a table, a
    SQLite file."""
    needles = [form for secret in secrets for form in (secret, secret.hex().encode(), secret.hex().upper().encode())]
    places = {"the log": gateway.log.read_bytes()}
    places |= {path.name: path.read_bytes() for path in gateway.folder.glob("gateway.db*")}
    engine = create_engine(gateway.url)
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            places[f"table {table.name}"] = b"\n".join(b"|".join(
                value if isinstance(value, bytes) else str(value).encode() for value in row)
                for row in conn.execute(select(table)))
    engine.dispose()
    return sorted(where for where, data in places.items() if any(needle in data for needle in needles))


@pytest_twisted.ensureDeferred
async def test_forged_mac_attacks_move_nothing_and_keys_survive_rotation_and_restart(gateway: Gateway) -> None:
    kek = gateway.keyed()
    gateway.enrol(members=3, terminals=2)
    master = generated_master_key(gateway, 1)
    gateway.start()
    terminal = await gateway.terminal(1, PROFILE, master)
    assert (await terminal.sign_on()).code == "00"  # MAC'd with the master key: no session key yet
    first = await terminal.change_key()
    assert (first.code, first.mac_problem) == ("00", None)  # the 0810 carries the master key's MAC
    previous = terminal.mac_key
    second = await terminal.change_key()
    assert (second.code, second.mac_problem) == ("00", None)
    session = terminal.mac_key
    assert session not in (previous, master)

    card, before = card_number(1), balance(gateway, 1)
    codec = terminal.link.codec

    def redemption(invoice: str) -> dict[str, str]:
        return terminal.fields("0200", "00", **terminal.money(card, 1000, IN=invoice))

    attacks = {}
    fields = redemption("INV-WRONG")
    attacks["wrong"] = await sent_as(terminal, codec.encode(fields, os.urandom(16)), fields)
    fields = redemption("INV-MISSING")
    attacks["missing"] = await sent_as(terminal, codec.encode(fields), fields)
    fields = redemption("INV-PREVIOUS")
    attacks["previous key"] = await sent_as(terminal, codec.encode(fields, previous), fields)
    fields = redemption("INV-AMOUNT")
    body = codec.encode(fields, session)
    attacks["other amount"] = await sent_as(terminal, body.replace(b"000000001000", b"000000090000"), fields)
    for name, reply in attacks.items():
        assert (reply.code, reply.amount, reply.mac_problem) == ("63", 0, None), name
    assert balance(gateway, 1) == before

    fields = redemption("INV-REPLAYED")
    body = codec.encode(fields, session)
    sale = await sent_as(terminal, body, fields)
    assert (sale.code, sale.mac_problem) == ("00", None)
    replayed = await sent_as(terminal, body, fields)  # captured and sent again, MAC and all
    assert (replayed.code, replayed.mac_problem) == ("94", None)
    repeat = dict(fields, t="0201")
    again = await sent_as(terminal, codec.encode(repeat, session), repeat)
    assert (again.code, again.rrn, again.mac_problem) == ("00", sale.rrn, None)
    assert balance(gateway, 1) == before - 1000  # once

    stranger = await gateway.terminal(2, PROFILE, os.urandom(16))  # registered, but no key loaded
    refused = await stranger.balance(card)
    assert refused.code == "63" and "64" not in refused.fields  # no key: no MAC to give
    key_file = write_private(gateway.folder / "t2.key", stranger.master_key.hex())
    gateway.cli("terminal", "key", terminal_id(2), "--from-file", str(key_file))
    assert await signed_on_within_a_poll(stranger), "a key loaded while the daemon runs is in force within a poll"
    assert stranger.mac_key != stranger.master_key  # and the key change after the sign-on worked

    shown = json.loads(gateway.cli("terminal", "show", terminal_id(1)).stdout)
    assert shown["security_events"]["count"] == 4
    assert shown["security_events"]["by_reason"] == {"MAC (DE64) wrong": 3, "MAC missing (DE64)": 1}
    assert shown["keys"]["master_check"] == check_value(master)
    assert shown["keys"]["session_check"] == check_value(session)
    assert shown["keys"]["last_key_change"] is not None

    # The KEK rotated under the running daemon: it keeps its keys and takes the new KEK up.
    old_kek = bytes.fromhex(kek.read_text())
    new_kek = gateway.folder / "kek.new"
    gateway.cli("keys", "new-kek", str(new_kek))
    new_kek_key = bytes.fromhex(new_kek.read_text())
    gateway.cli("keys", "rotate-kek", "--new-file", str(new_kek))
    assert bytes.fromhex(kek.read_text()) == new_kek_key and kek.stat().st_mode & 0o077 == 0
    assert (await terminal.balance(card)).code == "00"
    third = await terminal.change_key()
    assert (third.code, third.mac_problem) == ("00", None)
    assert gateway.stop() == 0

    gateway.start()  # the session key was durable, wrapped under the new KEK
    restarted = await gateway.terminal(1, PROFILE, master)
    restarted.mac_key = terminal.mac_key
    _, after = await restarted.redeem(card, 1000, "INV-AFTER-RESTART")
    assert (after.code, after.mac_problem) == ("00", None)
    assert balance(gateway, 1) == before - 2000
    assert gateway.stop() == 0

    keys = [master, previous, session, terminal.mac_key, stranger.master_key, stranger.mac_key, old_kek, new_kek_key]
    assert secrets_found(gateway, keys) == []


def test_a_kek_file_others_can_read_is_refused(gateway: Gateway) -> None:
    kek = gateway.keyed()
    gateway.enrol(members=1, terminals=1)
    kek.chmod(0o640)
    failed = gateway.cli("terminal", "key", terminal_id(1), "--generate", check=False)
    assert failed.returncode == 1 and "group or others may read it (mode 0640)" in failed.stderr
    assert failed.stdout == ""
    kek.chmod(0o600)
    generated_master_key(gateway, 1)
    kek.chmod(0o604)
    started = gateway.cli("run", check=False)
    assert started.returncode == 1 and "chmod 600" in started.stderr
