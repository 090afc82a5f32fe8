"""End to end, as an attacker on the clinic network would try it: the real daemon, real
sockets. A connection cannot speak for another terminal, a flood of junk costs a few rows
and closes its link, slow senders and crowds of connections from one host are turned away,
and honest terminals are answered throughout."""

from __future__ import annotations

import json
import socket
import time

import pytest_twisted

from terminal_gateway.simulators.population import BRANCH, card_number, terminal_id
from terminal_gateway.simulators.smartpos import connect

from .conftest import Gateway, journal


def balance(gateway: Gateway, index: int) -> int:
    return json.loads(gateway.cli("member", "show", card_number(index)).stdout)["balance"]


def tighten(gateway: Gateway, profile: str, **limits: float) -> None:
    """Set link limits on the listener of ``profile``."""
    port_line = f"port = {gateway.ports[profile]}\n"
    extra = "".join(f"{key} = {value}\n" for key, value in limits.items())
    gateway.config.write_text(gateway.config.read_text().replace(port_line, port_line + extra))


def closed_by_gateway(sock: socket.socket, within: float) -> bool:
    """Whether the gateway closes ``sock`` within ``within`` seconds (its answers read and
    dropped on the way)."""
    deadline = time.monotonic() + within
    try:
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if sock.recv(65536) == b"":
                return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return False


@pytest_twisted.ensureDeferred
async def test_a_connection_cannot_speak_for_another_terminal(gateway: Gateway) -> None:
    gateway.enrol(members=3)
    gateway.start()
    mine = await gateway.terminal(1)
    assert (await mine.sign_on()).code == "00"
    spoofed = mine.fields("0200", "00", **mine.money(card_number(2), 10_000, IN="INV-SPOOF"))
    spoofed["41"] = terminal_id(2).ljust(8)
    reply = await mine.send(spoofed, "redeem as another terminal")
    assert reply.code == "63"
    sign_off = mine.fields("0800", **{"70": "002"})
    sign_off["41"] = terminal_id(3).ljust(8)
    assert (await mine.send(sign_off, "sign another terminal off")).code == "63"
    assert balance(gateway, 2) == 500_000
    refused = [row for row in journal(gateway) if row[2] == "63"]
    assert len(refused) == 2 and all(row[1] == terminal_id(1) for row in refused), refused
    assert f"speaks for terminal {terminal_id(1)}" in refused[0][4]
    other = await gateway.terminal(2)  # its own connection is its own
    assert (await other.sign_on()).code == "00"
    honest = await other.send(other.fields("0200", "00", **other.money(card_number(2), 10_000, IN="INV-2")), "redeem")
    assert honest.code == "00" and balance(gateway, 2) == 490_000
    assert gateway.stop() == 0


@pytest_twisted.ensureDeferred
async def test_a_terminal_bound_to_its_family_is_refused_on_another_familys_port(gateway: Gateway) -> None:
    port = gateway.add_listener("smartpos", "smartpos-app")
    gateway.enrol(members=2)
    bound = "T0000020"
    gateway.cli("terminal", "add", bound, "--branch", BRANCH, "--family", "club8583")
    gateway.start()
    pos = await connect(port, bound, timeout=10)
    gateway.links.append(pos.link)
    _, refused = await pos.redeem(card_number(1), 5_000, "INV-FAMILY")
    assert refused.code == "58" and "registered for club8583, not smartpos" in refused.message
    assert balance(gateway, 1) == 500_000
    assert any(row[1] == bound and row[2] == "58" for row in journal(gateway))
    assert gateway.stop() == 0


@pytest_twisted.ensureDeferred
async def test_a_junk_flood_costs_a_few_rows_and_honest_terminals_are_answered(gateway: Gateway) -> None:
    port = gateway.add_listener("smartpos", "smartpos-app")
    gateway.enrol(members=2)
    gateway.start()
    rows_before = len(journal(gateway))
    flood = socket.create_connection(("127.0.0.1", port))
    flood.sendall(bytes(100 * 1024))  # 102,400 empty messages
    started = time.monotonic()
    pos = await connect(port, terminal_id(1), timeout=10)
    gateway.links.append(pos.link)
    assert (await pos.balance(card_number(1))).code == "00"
    assert time.monotonic() - started < 5
    assert closed_by_gateway(flood, 10)
    flood.close()
    junk = [row for row in journal(gateway)[rows_before:] if row[0] == "malformed"]
    assert len(junk) <= 10, f"{len(junk)} rows for one flood"
    nobody = await connect(port, "NOBODY01", timeout=10)
    gateway.links.append(nobody.link)
    assert (await nobody.balance(card_number(1))).code == "58"
    assert not [row for row in journal(gateway) if row[1] == "NOBODY01"], "nobody's requests are not journalled"
    assert gateway.stop() == 0


@pytest_twisted.ensureDeferred
async def test_slow_senders_and_crowds_from_one_host_are_turned_away(gateway: Gateway) -> None:
    tighten(gateway, "club-t2", frame_seconds=1, max_connections_per_address=8)
    gateway.enrol(members=2)
    gateway.start()
    port = gateway.ports["club-t2"]
    slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(6)]
    for sock in slow:
        sock.sendall(b"\x00")  # half of a length header, never the rest
    crowd = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
    assert sum(closed_by_gateway(sock, 1) for sock in crowd) >= 2, "past 8 connections from one host"
    assert all(closed_by_gateway(sock, 5) for sock in slow), "a partial frame waits at most frame_seconds"
    for sock in slow + crowd:
        sock.close()
    honest = await gateway.terminal(1)
    assert (await honest.sign_on()).code == "00"
    assert gateway.stop() == 0
