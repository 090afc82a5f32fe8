"""Redemptions per second and latency of the real daemon, against a bare echo server.

Starts ``terminal-gateway run`` on a fresh SQLite database (durable commits: WAL with
synchronous=FULL), enrols thousands of members and N terminals, and drives it with N
connections each keeping one Club-8583 redeem in flight. Then it runs the same frames
against a bare Twisted length-prefixed echo server: the most Python and this machine can
do for this traffic. Both runs use the same client, so the ratio is the gateway's cost.

    .venv/bin/python bench/bench.py [--terminals 64] [--seconds 10] [--store-url URL] [--mix clinic]

``--mix clinic`` replaces the stream of redeems with a clinic day's mix, in every ten
requests: five redeems, two accruals (each earning credit and points on a new invoice), two
balance inquiries and one voucher top-up (a PIN of a batch generated for the run).

``--tls`` then drives the same daemon, with the frames left over, through a second listener
speaking TLS with a client certificate per terminal; ``--mac`` through a ``club-t2-mac``
listener, every frame MAC'd with the terminal's key: the cost of each per answer, measured in
the same run against the plain listener.
"""

from __future__ import annotations

import argparse
import csv
import gc
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twisted.internet import defer, task
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.protocol import Protocol
from twisted.internet.ssl import Certificate, PrivateCertificate, optionsForClientTLS

from terminal_gateway import pki
from terminal_gateway.private import write_private
from terminal_gateway.protocols.club8583 import TerminalCodec, de48, load_profile
from terminal_gateway.protocols.framing import FrameBuffer
from terminal_gateway.simulators.local import free_port, mac_listener, tls_listener, wait_for_port, write_voucher_key
from terminal_gateway.simulators.population import BRANCH, card_number, terminal_id, write_members, write_terminals

ECHO_SERVER = """
import sys
from twisted.internet import reactor
from twisted.internet.protocol import Factory
from twisted.protocols.basic import Int16StringReceiver

class Echo(Int16StringReceiver):
    def stringReceived(self, data):
        self.sendString(data)

reactor.listenTCP(int(sys.argv[1]), Factory.forProtocol(Echo), interface="127.0.0.1")
reactor.run()
"""

CONFIG = """
[store]
url = "{url}"

[program]
currency = 364

[[branches]]
id = "{branch}"
timezone = "Asia/Tehran"

[[listeners]]
protocol = "club8583"
profile = "club-t2"
port = {port}

{tls_listener}
[groups.clinic]
default = true
daily_cap = 1000000000
invoice_cap = 1000000000
max_redemptions_per_day = 100000

[groups.clinic.earning]
percent = 5

[groups.clinic.points]
per_invoice = 10

[vouchers]
key_file = "{key_file}"

[limits]  # a load generator, not a clinic: its terminals accrue far faster than a counter can
terminal_accruals_per_hour = false
card_accruals_per_day = false
"""
MIX = ("redeem",) * 5 + ("accrual",) * 2 + ("balance",) * 2 + ("topup",)


def frames_for(terminal: int, count: int, members: int, pins: list[str] | None = None, profile: str = "club-t2",
               mac_key: bytes | None = None) -> list[bytes]:
    """Pre-encoded frames, so that the client spends its time on I/O, not encoding: redeems,
    or with ``pins`` the clinic mix (``MIX``), each top-up with the next of ``pins``; under a
    MAC ``profile`` each MAC'd with ``mac_key``."""
    codec = TerminalCodec(load_profile(profile))
    buffer = FrameBuffer(codec.profile.header)
    de7 = datetime.now(UTC).strftime("%m%d%H%M%S")
    sign_on = {"t": "0800", "7": de7, "11": "999999", "41": terminal_id(terminal), "70": "001"}
    frames = [buffer.frame(codec.encode(sign_on, mac_key))]
    unused = iter(pins or ())
    for n in range(count):
        card = card_number(1 + (terminal * 7919 + n) % members)
        fields = {"t": "0200", "2": card, "3": "000000", "4": "000000001000", "7": de7, "11": f"{n + 1:06d}",
                  "22": "021", "41": terminal_id(terminal), "42": BRANCH, "49": "364",
                  "48": de48.build({"IN": f"B{terminal}-{n}", "IT": "5000"})}
        kind = MIX[n % len(MIX)] if pins is not None else "redeem"
        if kind == "accrual":
            fields.update({"3": "220000", "4": "000000200000"})
        elif kind == "balance":
            fields["3"] = "310000"
            del fields["4"], fields["48"], fields["49"]
        elif kind == "topup":
            fields.update({"3": "210000", "48": de48.build({"VP": next(unused)})})
            del fields["4"], fields["49"]
        frames.append(buffer.frame(codec.encode(fields, mac_key)))
    return frames


def voucher_pins(cli: list[str], folder: Path, count: int) -> list[str]:
    """``count`` PINs of a batch generated and activated for the run."""
    out = folder / "vouchers.csv"
    subprocess.run([*cli, "voucher", "generate", "--count", str(count), "--value", "1000", "--expires", "2099-12-31",
                    "--batch", "BENCH", "--out", str(out)], check=True, capture_output=True)
    subprocess.run([*cli, "voucher", "activate", "--batch", "BENCH"], check=True, capture_output=True)
    with out.open() as f:
        return [row["pin"] for row in csv.DictReader(f)]


@dataclass
class Client(Protocol):
    """One terminal: sends its next frame when the previous answer arrives."""

    frames: list[bytes]
    header: object
    interval: float = 0.0
    latencies: list[float] = field(default_factory=list)
    answers: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.buffer = FrameBuffer(self.header)
        self.next = 0
        self.sent_at = self.slot = 0.0
        self.recording = False
        self.done: defer.Deferred[None] = defer.Deferred()

    def connectionMade(self) -> None:
        self.send()

    def send(self) -> None:
        """The next frame: at once, or at this terminal's next slot of a fixed schedule
        (``interval`` apart), so that a late answer is caught up and the offered load holds."""
        if self.next >= len(self.frames) or self.done.called:
            return
        now = time.perf_counter()
        self.slot = max(self.slot + self.interval, now - self.interval) if self.interval else now
        if self.slot > now:
            from twisted.internet import reactor

            reactor.callLater(self.slot - now, self.send_now)
        else:
            self.send_now()

    def send_now(self) -> None:
        if self.done.called:
            return
        self.sent_at = time.perf_counter()
        self.transport.write(self.frames[self.next])
        self.next += 1

    def dataReceived(self, data: bytes) -> None:
        for body in self.buffer.feed(data):
            if self.recording:
                self.latencies.append(time.perf_counter() - self.sent_at)
                self.answers.append(body)
            self.send()


async def drive(port: int, frames: list[list[bytes]], warmup: float, seconds: float, server: int,
                rate: float = 0, tls: list[Any] | None = None) -> tuple[list[Client], float, float]:
    """Each terminal's frames, one in flight per terminal (over TLS with ``tls[terminal]``)."""
    from twisted.internet import reactor

    header = load_profile("club-t2").header
    interval = len(frames) / rate if rate else 0.0
    clients = [Client(f, header, interval) for f in frames]
    for index, client in enumerate(clients):
        endpoint: Any = TCP4ClientEndpoint(reactor, "127.0.0.1", port)
        if tls is not None:
            endpoint = wrapClientTLS(tls[index], endpoint)
        await connectProtocol(endpoint, client)
    await task.deferLater(reactor, warmup, lambda: None)
    for client in clients:
        client.recording = True
    started, cpu = time.perf_counter(), cpu_seconds(server)
    await task.deferLater(reactor, seconds, lambda: None)
    elapsed, cpu = time.perf_counter() - started, cpu_seconds(server) - cpu
    for client in clients:
        client.recording = False
        client.done.callback(None)
        client.transport.loseConnection()
    return clients, elapsed, cpu


def summarize(name: str, clients: list[Client], elapsed: float, cpu: float,
              approved: int | None = None) -> dict[str, float]:
    latencies = sorted(x for c in clients for x in c.latencies)
    count = len(latencies) if approved is None else approved
    p99 = latencies[int(len(latencies) * 0.99)] if latencies else float("nan")
    row = {"rate": count / elapsed, "p50": statistics.median(latencies) * 1000, "p99": p99 * 1000,
           "answers": len(latencies)}
    print(f"{name:<38} {row['rate']:>6.0f}/s   p50 {row['p50']:6.2f} ms   p99 {row['p99']:6.2f} ms   "
          f"server CPU {cpu / max(len(latencies), 1) * 1e6:4.0f} us/answer   "
          f"({len(latencies)} answers, {elapsed:.1f} s)")
    return row


def count_approved(clients: list[Client], profile: str = "club-t2") -> int:
    codec = TerminalCodec(load_profile(profile))
    codes = [codec.decode(body)["39"] for c in clients for body in c.answers]
    if any(code != "00" for code in codes):
        print(f"  not all approved: {sorted(set(codes))}")
    return sum(code == "00" for code in codes)


def master_keys(cli: list[str], folder: Path, terminals: int) -> list[bytes]:
    """A master key loaded for each terminal (``terminal key``); the keys."""
    keys = []
    for t in range(1, terminals + 1):
        key = secrets.token_bytes(16)
        write_private(folder / "master.key", key.hex().encode())
        subprocess.run([*cli, "terminal", "key", terminal_id(t), "--from-file", str(folder / "master.key")],
                       check=True, capture_output=True)
        keys.append(key)
    return keys


def client_certificates(folder: Path, terminals: int) -> list[Any]:
    """The gateway's TLS files in ``folder``, and each terminal's client TLS options."""
    ca = pki.authority("bench CA")
    server = pki.issue(ca, "localhost", client=False, hosts=("localhost", "127.0.0.1"))
    for name, data in (("ca.pem", ca.certificate), ("gateway.pem", server.certificate), ("gateway.key", server.key)):
        (folder / name).write_bytes(data)
    trust = Certificate.loadPEM(ca.certificate)
    options = []
    for t in range(1, terminals + 1):
        own = pki.issue(ca, terminal_id(t), client=True)
        options.append(optionsForClientTLS("localhost", trustRoot=trust,
                                           clientCertificate=PrivateCertificate.loadPEM(own.certificate + own.key)))
    return options


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process and its children (the gateway's writer process)
    have used so far."""
    total = 0.0
    for each in [pid, *_children(pid)]:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _children(pid: int) -> list[int]:
    return [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def main(reactor: object, args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tg-bench-"))
    url = args.store_url or f"sqlite:///{folder / 'bench.db'}"
    port = free_port()
    config = folder / "gateway.toml"
    key_file = write_voucher_key(folder / "voucher.key")
    tls_port = free_port()
    tls = client_certificates(folder, args.terminals) if args.tls else None
    mac_port = free_port()
    if args.mac:
        write_private(folder / "kek.key", secrets.token_hex(32).encode())
    extra = (tls_listener(tls_port) if args.tls else "") + (mac_listener(mac_port) if args.mac else "")
    config.write_text(CONFIG.format(url=url, branch=BRANCH, port=port, key_file=key_file, tls_listener=extra))
    cli = [sys.executable, "-m", "terminal_gateway.cli", "--config", str(config)]
    subprocess.run([*cli, "init"], check=True, capture_output=True)
    subprocess.run([*cli, "terminal", "import", str(write_terminals(folder / "t.csv", args.terminals))],
                   check=True, capture_output=True)
    subprocess.run([*cli, "member", "import", str(write_members(folder / "m.csv", args.members, 10**11))],
                   check=True, capture_output=True)
    per_terminal = int(args.seconds * 12_000 / args.terminals) * 2 + 2_000
    pins: list[list[str] | None] = [None] * args.terminals
    if args.mix == "clinic":
        each = per_terminal // len(MIX) + 1
        batch = voucher_pins(cli, folder, each * args.terminals)
        pins = [batch[t * each:(t + 1) * each] for t in range(args.terminals)]
    frames = [frames_for(t, per_terminal, args.members, pins[t - 1]) for t in range(1, args.terminals + 1)]
    mac_frames = [frames_for(t, per_terminal // 2, args.members, None, "club-t2-mac", key)
                  for t, key in enumerate(master_keys(cli, folder, args.terminals), 1)] if args.mac else []
    gc.freeze()  # the client's garbage collector must not scan a third of a million frames mid-run
    what = "one redeem" if args.mix == "redeem" else "one request of the clinic mix"
    print(f"{args.terminals} terminals, {what} in flight each, {args.members} members, "
          f"{args.seconds:.0f} s measured after {args.warmup:.0f} s warm-up; store {url.split(':')[0]}")

    log = folder / "gateway.log"
    with log.open("w") as out:
        gateway = subprocess.Popen([*cli, "run"], stderr=out, env=os.environ | {"PYTHONUNBUFFERED": "1"})
    wait_for_port(port, gateway, log)
    rss_before = rss_mib(gateway.pid)
    unsent = frames
    if args.rate:
        paced, paced_elapsed, paced_cpu = await drive(port, frames, args.warmup, args.seconds, gateway.pid, args.rate)
        summarize(f"terminal-gateway paced at {args.rate:.0f}/s", paced, paced_elapsed, paced_cpu)
        unsent = [f[c.next:] for f, c in zip(frames, paced, strict=True)]
    clients, elapsed, cpu = await drive(port, unsent, args.warmup, args.seconds, gateway.pid)
    approved = count_approved(clients)
    result = summarize(f"terminal-gateway (approved, {args.mix})", clients, elapsed, cpu, approved)
    if tls is not None:
        wait_for_port(tls_port, gateway, log)
        left = [f[c.next:] for f, c in zip(unsent, clients, strict=True)]
        secured, secured_elapsed, secured_cpu = await drive(tls_port, left, args.warmup, args.seconds, gateway.pid,
                                                             tls=tls)
        secure = summarize("the same over TLS, client certificates", secured, secured_elapsed, secured_cpu,
                           count_approved(secured))
        print(f"  TLS: {secure['rate'] / result['rate']:.2f} of the plain rate")
    if mac_frames:
        wait_for_port(mac_port, gateway, log)
        maced, maced_elapsed, maced_cpu = await drive(mac_port, mac_frames, args.warmup, args.seconds, gateway.pid)
        mac = summarize("the same MAC'd (club-t2-mac)", maced, maced_elapsed, maced_cpu,
                        count_approved(maced, "club-t2-mac"))
        print(f"  MAC: {mac['rate'] / result['rate']:.2f} of the plain rate")
    rss_after = rss_mib(gateway.pid)
    gateway.send_signal(signal.SIGTERM)
    stop_code = gateway.wait(60)
    print(f"  gateway memory: {rss_before:.0f} MiB after start, {rss_after:.0f} MiB after the run; "
          f"clean stop exit code {stop_code}")

    echo_port = free_port()
    echo_log = folder / "echo.log"
    with echo_log.open("w") as out:
        echo = subprocess.Popen([sys.executable, "-c", ECHO_SERVER, str(echo_port)], stderr=out)
    wait_for_port(echo_port, echo, echo_log)
    clients, elapsed, cpu = await drive(echo_port, frames, args.warmup, args.seconds, echo.pid)
    echo.terminate()
    echo.wait(10)
    baseline = summarize("bare Twisted echo server (same frames)", clients, elapsed, cpu)
    print(f"ratio gateway/echo: {result['rate'] / baseline['rate']:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--terminals", type=int, default=64)
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--store-url", help="a PostgreSQL URL to measure that store instead of SQLite")
    parser.add_argument("--mix", choices=("redeem", "clinic"), default="redeem",
                        help="redeems only, or a clinic day's mix of redeem, accrual, inquiry and top-up")
    parser.add_argument("--rate", type=float, default=5000,
                        help="first a run paced at this many requests a second in all (0: skip it)")
    parser.add_argument("--mac", action="store_true",
                        help="then the same MAC'd, through a club-t2-mac listener")
    parser.add_argument("--tls", action="store_true",
                        help="then the same through a TLS listener with client certificates")
    options = parser.parse_args()
    task.react(lambda reactor: defer.ensureDeferred(main(reactor, options)))
