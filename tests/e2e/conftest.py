"""The real daemon, started from its command line, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, wrapClientTLS

from terminal_gateway.protocols.club8583 import TerminalCodec, load_profile
from terminal_gateway.simulators.club8583 import Reply, SimulatedTerminal, TerminalLink
from terminal_gateway.simulators.local import clinic_config, free_port, free_ports, wait_for_port, write_voucher_key
from terminal_gateway.simulators.population import BRANCH, card_number, terminal_id, write_members, write_terminals

from ..support import FIRMWARE_PROFILES, pg_database


class Gateway:
    """One gateway installation in a temporary folder, driven as an operator would."""

    def __init__(self, folder: Path, url: str, profiles: tuple[str, ...] = ("club-t1", "club-t2", "club-t3")):
        self.folder, self.url = folder, url
        self.ports = dict(zip(profiles, free_ports(len(profiles)), strict=True))
        self.config = folder / "gateway.toml"
        key = write_voucher_key(folder / "voucher.key")
        self.config.write_text(clinic_config(url, self.ports, poll_seconds=0.2, voucher_key_file=key))
        self.process: subprocess.Popen | None = None
        self.log = folder / "gateway.log"
        self.links: list[TerminalLink] = []
        self.terminals_made = 0

    def keyed(self, kek_file: str = "kek") -> Path:
        """Terminal keys for MAC profiles: a new KEK (``keys new-kek``) named by ``[keys]``; its path."""
        kek = self.folder / kek_file
        self.cli("keys", "new-kek", str(kek))
        text = self.config.read_text()
        self.config.write_text(f"profiles_dirs = [{str(FIRMWARE_PROFILES)!r}]\n{text}\n[keys]\n"
                               f"kek_file = {kek_file!r}\n")
        return kek

    def add_listener(self, protocol: str, profile: str) -> int:
        """A listener of ``protocol`` and ``profile`` on a free port, which ``start`` waits for; its port."""
        port = free_port()
        with self.config.open("a") as config:
            config.write(f'\n[[listeners]]\nprotocol = "{protocol}"\nprofile = "{profile}"\nport = {port}\n')
        self.ports[profile] = port
        return port

    def cli(self, *words: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, "-m", "terminal_gateway.cli", "--config", str(self.config), *words],
                                capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"terminal-gateway {' '.join(words)} failed: {result.stderr}")
        return result

    def enrol(self, members: int = 50, terminals: int = 8, credit: int = 500_000) -> None:
        self.cli("init")
        self.cli("terminal", "import", str(write_terminals(self.folder / "terminals.csv", terminals)))
        self.cli("member", "import", str(write_members(self.folder / "members.csv", members, credit)))

    def start(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "terminal_gateway.cli", "--config", str(self.config), "run"],
                stderr=log, stdout=log, env=os.environ | {"PYTHONUNBUFFERED": "1"})
        for port in self.ports.values():
            wait_for_port(port, self.process, self.log)

    def stop(self) -> int:
        """SIGTERM, as systemd would; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(30)
        self.process = None
        return code

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(30)
        self.process = None

    async def terminal(self, index: int = 1, profile: str = "club-t2", master_key: bytes | None = None,
                       tls: Any = None) -> SimulatedTerminal:
        """A simulated terminal on a new connection (over TLS with the client options ``tls``,
        where given); under a MAC profile it MACs with ``master_key`` until its first key change."""
        from twisted.internet import reactor

        endpoint: Any = TCP4ClientEndpoint(reactor, "127.0.0.1", self.ports[profile])
        if tls is not None:
            endpoint = wrapClientTLS(tls, endpoint)
        link = await connectProtocol(endpoint, TerminalLink(TerminalCodec(load_profile(profile, [FIRMWARE_PROFILES]))))
        self.links.append(link)
        # Each simulated terminal counts its STANs from its own start: the same terminal
        # connected again within one DE7 second (after a restart) must not repeat a key (94).
        self.terminals_made += 1
        return SimulatedTerminal(terminal_id(index), BRANCH, link, timeout=10, stan=self.terminals_made * 50_000,
                                 master_key=master_key)

    def close_links(self) -> None:
        for link in self.links:
            if link.transport is not None:
                link.transport.loseConnection()
        self.links.clear()


Sent = list[tuple[dict[str, str], Reply | None]]


def journal(gateway: Gateway) -> list[tuple[Any, ...]]:
    """(kind, terminal, code, approved, message) of every journal row, in order."""
    engine = create_engine(gateway.url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT kind, terminal, code, approved, message FROM transactions ORDER BY id"))
            return [tuple(row) for row in rows]
    finally:
        engine.dispose()


async def until_answered(sent: Sent, count: int, limit: float = 60.0) -> None:
    """Wait until ``count`` requests of the streams got an approval: a count, not a time, so
    that a busy machine holds a test as well as an idle one (bounded by ``limit`` seconds)."""
    from twisted.internet import reactor, task

    for _ in range(int(limit / 0.05)):
        if sum(1 for _, reply in sent if reply is not None and reply.approved) >= count:
            return
        await task.deferLater(reactor, 0.05, lambda: None)
    raise AssertionError(f"fewer than {count} approvals in {limit:g} s")


async def stream_redemptions(terminal: SimulatedTerminal, cards: int, amount: int, sent: Sent) -> None:
    """Sign on, then redeem ``amount`` on cards 1..``cards`` in turn until the connection
    ends, recording each request with its reply (``None``: it got none)."""
    await terminal.sign_on()
    offset = int(terminal.tid[1:])
    for n in range(100_000):
        card = card_number(1 + (n + offset) % cards)
        request = terminal.fields("0200", "00", **terminal.money(card, amount, IN=f"INV-{terminal.tid}-{n}"))
        try:
            reply = await terminal.send(request, "redeem")
        except Exception:  # the connection ended: the gateway stopped or was killed
            sent.append((request, None))
            return
        sent.append((request, reply))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gateway.db'}"
    else:
        with pg_database() as url:
            yield url


@pytest.fixture
def gateway(tmp_path: Path, store_url: str) -> Iterator[Gateway]:
    installation = Gateway(tmp_path, store_url)
    yield installation
    installation.close_links()
    if installation.process is not None:
        installation.kill()
