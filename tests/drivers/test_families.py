"""A new terminal family is one row of ``families.FAMILIES`` plus its codec and its driver:
here a made-up family of terminals that send their id on a line and get ``<id> <code>``
back, configured, validated, listened for and answered over real TCP with no other change."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.task import deferLater

from terminal_gateway import families, firmware
from terminal_gateway.config import Config, ConfigError, Listener, load
from terminal_gateway.drivers import Gateway, make_listener
from terminal_gateway.drivers.tcp import TCPListener, codec_listener
from terminal_gateway.families import Family, Transport
from terminal_gateway.protocols.events import Decide, Event, RemoteProtocolError
from terminal_gateway.simulators.local import free_port
from terminal_gateway.vocabulary import Code, Echo, Outcome

from ..test_config import EXAMPLE, write
from .fakes import FakeGateway

# -- the new family's codec (would live in protocols/lines/) ----------------------------------


@dataclass(frozen=True, slots=True)
class LinesProfile:
    name: str
    max_line: int
    partial_approval: bool = False
    signon_required: bool = False


def load_lines_profile(name: str, extra_dirs: Iterable[str | PathLike[str]] = ()) -> LinesProfile:
    return LinesProfile(name, **firmware.read_profile(name, "lines", extra_dirs))


class LinesConnection:
    def __init__(self, profile: LinesProfile) -> None:
        self.profile, self.buffer, self.events = profile, b"", deque[Event]()

    def receive_data(self, data: bytes) -> None:
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        if len(self.buffer) > self.profile.max_line:
            raise RemoteProtocolError("line too long")
        self.events.extend(Decide(Echo(terminal=line.decode("ascii"))) for line in lines)

    @property
    def partial(self) -> bool:
        return bool(self.buffer)

    def next_event(self) -> Event | None:
        return self.events.popleft() if self.events else None

    def send(self, event: Decide, outcome: Outcome) -> bytes:
        return f"{event.request.terminal} {outcome.code.value}\n".encode("ascii")


# -- its driver (would live in drivers/) ---------------------------------------------------------


def lines_listener(listener: Listener, profile: LinesProfile, config: Config, gateway: Gateway,
                   reactor: Any) -> TCPListener:
    return codec_listener(listener, profile, config, gateway, reactor, lambda: LinesConnection(profile))


# -- and its one row ------------------------------------------------------------------------------

ROW = Family("lines", Transport.TCP, f"{__name__}:lines_listener", load_lines_profile)


class Client(Protocol):
    def __init__(self) -> None:
        self.received, self.answered = b"", Deferred[bytes]()

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if self.received.endswith(b"\n"):
            self.answered.callback(self.received)


def configure(tmp_path: Path, port: int) -> Path:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "lines-v1.toml").write_text('family = "lines"\nmax_line = 16\n')
    listener = f'[[listeners]]\nprotocol = "lines"\nprofile = "lines-v1"\nport = {port}\n\n'
    text = 'profiles_dirs = ["profiles"]\n' + EXAMPLE.replace("[[listeners]]", listener + "[[listeners]]")
    return write(tmp_path, text)


def test_without_its_row_the_family_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"listeners\[0\]\.protocol: expected one of club8583, smartpos, cr200"):
        load(configure(tmp_path, free_port()))


@pytest_twisted.ensureDeferred
async def test_one_row_makes_a_family_that_is_configured_listened_for_and_answered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(families, "FAMILIES", (*families.FAMILIES, ROW))
    port = free_port()
    config = load(configure(tmp_path, port))
    gateway = FakeGateway()
    service = make_listener(config.listeners[0], config, gateway, reactor)
    service.startService()
    try:
        client = Client()
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
        client.transport.write(b"TERM0042\n")
        while not gateway.pending:
            await deferLater(reactor, 0.01)
        [(request, family, answer)] = gateway.pending
        assert request == Echo(terminal="TERM0042") and family.name == "lines-v1"
        answer.callback(Outcome(Code.APPROVED))
        assert await client.answered == b"TERM0042 00\n"
        client.transport.loseConnection()
    finally:
        service.disconnect()
        await service.stopService()

