"""Starting a daemon on this machine and waiting for it: shared by the demo, the tests and
the benchmark, which all run the real ``terminal-gateway run`` as a child process."""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from ..private import write_private
from .population import BRANCH


def free_port() -> int:
    """A TCP port on the loopback nobody listens on now."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` different free ports: all are held at once while they are chosen, since one
    released between choices may be chosen again."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for each in sockets:
            each.bind(("127.0.0.1", 0))
        return [each.getsockname()[1] for each in sockets]
    finally:
        for each in sockets:
            each.close()


def wait_for_port(port: int, process: subprocess.Popen, log: Path | None = None, seconds: float = 30) -> None:
    """Return once ``port`` accepts connections; fail, with the end of ``log``, if ``process``
    exits first or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text()[-3000:] if log else ""
            raise RuntimeError(f"the process exited with {process.returncode} during start-up\n{tail}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on port {port} within {seconds} s")


CLINIC = """\
# The simulated clinic: one branch in Tehran whose business day starts at 04:00, silver and
# gold members, one listener per firmware family named, and a club program: 5% cashback
# (7% for gold), points doubled on Saturdays, silver to gold at 10,000,000 paid, three
# referral levels, credit that expires after six months, a 0% check-up, gift cards.
[store]
url = "{url}"
{store_extra}
[program]
currency = 364
hold_minutes = 15

[[branches]]
id = "{branch}"
timezone = "Asia/Tehran"
day_cutoff_hour = 4
{listeners}
[groups.silver]
default = true
daily_cap = 200000
invoice_cap = 100000
max_redemptions_per_day = 5
credit_expiry_months = 6

[groups.silver.earning]
percent = 5

[groups.silver.points]
per_invoice = 10
step = {{ every = 100000, reward = 1 }}
weekday_multipliers = {{ saturday = 2 }}
value = 100

[groups.silver.upgrade]
to = "gold"
min_paid = 10000000

[groups.silver.referral]
percents = [5, 2, 1]

[groups.gold]
daily_cap = 1000000
invoice_cap_percent = 50
credit_expiry_months = 6

[groups.gold.earning]
percent = 7

[services.CHECKUP]
cashback_percent = 0

[services.IMPLANT]
line_cap = 500000

[[discount_scale]]
from = 30000000
percent = 5

[gift_cards]
validity_days = 365
{vouchers}"""

VOUCHERS = """
[vouchers]
key_file = "{key_file}"
"""


def clinic_config(url: str, ports: Mapping[str, int] | None = None, poll_seconds: float | None = None,
                  voucher_key_file: Path | None = None) -> str:
    """The TOML configuration of the simulated clinic, for the demo and the tests: the store at
    ``url``, a Club-8583 listener on each ``ports`` entry (profile name to port), vouchers
    keyed by ``voucher_key_file`` (see ``write_voucher_key``) if one is given."""
    listeners = "".join(f'\n[[listeners]]\nprotocol = "club8583"\nprofile = "{profile}"\nport = {port}\n'
                        for profile, port in (ports or {}).items())
    store_extra = f"poll_seconds = {poll_seconds}\n" if poll_seconds is not None else ""
    vouchers = VOUCHERS.format(key_file=voucher_key_file) if voucher_key_file else ""
    return CLINIC.format(url=url, store_extra=store_extra, branch=BRANCH, listeners=listeners, vouchers=vouchers)


def write_voucher_key(path: Path) -> Path:
    """A new random voucher PIN key at ``path``, readable by its owner only."""
    return write_private(path, secrets.token_hex(32) + "\n")


TLS_LISTENER = """
[[listeners]]             # club-t2 behind TLS, every terminal with a client certificate of ca.pem's CA
protocol = "club8583"
profile = "club-t2"
port = {port}
tls_certificate = "gateway.pem"
tls_key = "gateway.key"
tls_client_ca = "ca.pem"
"""

MAC_LISTENER = """
[[listeners]]             # club-t2-mac: every message MAC'd with the terminal's session key
protocol = "club8583"
profile = "club-t2-mac"
port = {port}

[keys]
kek_file = "kek.key"      # the key-encryption key: the terminal keys are stored wrapped under it
"""


def tls_listener(port: int) -> str:
    """A club-t2 listener on ``port`` over TLS with client certificates; its files (``gateway.pem``,
    ``gateway.key``, ``ca.pem``) beside the configuration."""
    return TLS_LISTENER.format(port=port)


def mac_listener(port: int) -> str:
    """A club-t2-mac listener on ``port``, and ``[keys]`` naming ``kek.key`` beside the configuration."""
    return MAC_LISTENER.format(port=port)
