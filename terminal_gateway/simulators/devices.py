"""The demo's terminals beyond Club-8583, all against the same gateway: a SmartPOS terminal
over TCP, a CR-200 reader on a pseudo-terminal pair (socat), and two counter stations with
virtual club cards: one a PC/SC reader (vpcd, through pcscd), one an NFC reader (nfcpy's UDP
device). Where this machine cannot run one, the demo leaves it out and says why.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from ..private import write_private
from .clubcard import VPCD_READER, VirtualClubCard, VpcdCard, vpcd_problem
from .cr200 import PtyPair, socat_available
from .local import free_ports, wait_for_port
from .population import BRANCH, card_number, terminal_id

SMARTPOS_TERMINAL = 10
CR200_TERMINAL = 11
MASTER_KEY = bytes(range(16))  # the demo's club card issuer key; a real one is secret


@dataclass(frozen=True)
class Station:
    """A counter station of the demo: its driver and reader, how a card is put on it, and
    why it cannot run here (``None``: it can)."""

    terminal: str
    driver: str
    reader: str
    present: Callable[[VirtualClubCard], AbstractContextManager[object]]
    problem: str | None


def _nfc_problem() -> str | None:
    try:
        import nfc  # noqa: F401
    except ImportError as error:
        return f"nfcpy is not installed ({error}): pip install -e '.[nfc]'"
    return None


class Devices:
    """What the demo adds to the clinic: its configuration, its terminals, and a run of each."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.smartpos_port, self.counter_port = free_ports(2)
        self.pty = PtyPair(folder / "cr200-gateway", folder / "cr200-reader") if socat_available() else None
        (udp,) = free_ports(1)

        def on_nfc(card: VirtualClubCard) -> AbstractContextManager[object]:
            from .nfc_card import NfcCard

            return NfcCard(card, port=udp)

        self.stations = [Station("CNTR0001", "pcsc", VPCD_READER, VpcdCard, vpcd_problem()),
                         Station("CNTR0002", "nfc", f"udp:127.0.0.1:{udp}", on_nfc, _nfc_problem())]
        self.usable = [station for station in self.stations if station.problem is None]
        self.tokens: dict[str, str] = {}

    def config(self) -> str:
        """TOML to append to the clinic's configuration."""
        text = (f'\n[[listeners]]\nprotocol = "smartpos"\nprofile = "smartpos-app"\nport = {self.smartpos_port}\n')
        if self.pty is not None:
            text += (f'\n[[listeners]]\nprotocol = "cr200"\nprofile = "cr200-fw2"\ndevice = "{self.pty.gateway_end}"\n'
                     f'terminal = "{terminal_id(CR200_TERMINAL)}"\nbranch = "{BRANCH}"\n')
        if self.usable:
            write_private(self.folder / "club-master.key", MASTER_KEY.hex() + "\n")
            text += f'\n[clubcard]\nmaster_key_file = "club-master.key"\n\n[counter]\nport = {self.counter_port}\n'
        for station in self.usable:
            text += (f'\n[[stations]]\ndriver = "{station.driver}"\nreader = "{station.reader}"\n'
                     f'terminal = "{station.terminal}"\nbranch = "{BRANCH}"\n')
        return text

    def terminals(self) -> list[str]:
        """The terminal ids to register besides the Club-8583 ones."""
        return [terminal_id(SMARTPOS_TERMINAL), terminal_id(CR200_TERMINAL), *(s.terminal for s in self.stations)]

    def issue_tokens(self, cli: list[str]) -> None:
        """Each usable station's bearer token for the counter API, kept for the requests below
        (as the counter software keeps it), not printed."""
        for station in self.usable:
            print(f"$ terminal-gateway station token {station.terminal}    (the token goes to the counter software)",
                  flush=True)
            issued = subprocess.run([*cli, "station", "token", station.terminal], check=True, capture_output=True,
                                    text=True)
            self.tokens[station.terminal] = issued.stdout.strip()

    def start(self) -> None:
        """Before the gateway: plug the reader's line in."""
        if self.pty is not None:
            self.pty.start()

    def wait(self, daemon: subprocess.Popen, log: Path) -> None:
        wait_for_port(self.smartpos_port, daemon, log)
        if self.usable:
            wait_for_port(self.counter_port, daemon, log)

    def run(self) -> None:
        print("\n--- a SmartPOS terminal (protobuf over TCP) ---", flush=True)
        subprocess.run([sys.executable, "-m", "terminal_gateway.simulators.smartpos", "--port", str(self.smartpos_port),
                        "--terminal", str(SMARTPOS_TERMINAL), "--card", "7"], check=True)
        print("\n--- a CR-200 reader on a serial line (a socat pty pair) ---", flush=True)
        if self.pty is None:
            print("left out: socat is not installed (apt-get install socat)")
        else:
            subprocess.run([sys.executable, "-m", "terminal_gateway.simulators.cr200", "--device",
                            str(self.pty.reader_end), "--card", card_number(8), "--pay", "30000"], check=True)
        for n, station in enumerate(self.stations):
            print(f"\n--- counter station {station.terminal}: a {station.driver} reader with a virtual club card ---",
                  flush=True)
            if station.problem is not None:
                print(f"left out: {station.problem}")
                continue
            card = card_number(20 + n)
            with station.present(VirtualClubCard(card, MASTER_KEY)):
                print(json.dumps(self._operate(station, token="", kind="redeem", amount=150_000,
                                               invoice=f"INV-COUNTER-{n}", timeout=10)))  # no token: refused 401
                print(json.dumps(self._operate(station, kind="redeem", amount=150_000, invoice=f"INV-COUNTER-{n}",
                                               timeout=10)))
            with station.present(VirtualClubCard(card, bytes(16))):  # a copied number, the wrong key
                print(json.dumps(self._operate(station, kind="balance", timeout=10)))

    def stop(self) -> None:
        if self.pty is not None:
            self.pty.stop()

    def _operate(self, station: Station, token: str | None = None, **body: object) -> dict[str, object]:
        """POST an operation with the station's token (``token``: another one, ``""``: none)."""
        path = f"/stations/{station.terminal}/operations"
        token = self.tokens[station.terminal] if token is None else token
        headers = {"content-type": "application/json"} | ({"authorization": f"Bearer {token}"} if token else {})
        request = urllib.request.Request(f"http://127.0.0.1:{self.counter_port}{path}", data=json.dumps(body).encode(),
                                         method="POST", headers=headers)
        print(f"POST {path} {json.dumps(body)}" + ("" if token else " without a token"), flush=True)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return json.loads(error.read())
