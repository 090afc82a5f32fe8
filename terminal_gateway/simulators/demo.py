"""The README's first command: a demo clinic on SQLite, the real daemon, live terminals.

It does what an installer would, through the real command line: write a configuration,
``init``, import terminals and members, register gift cards, generate and sell vouchers,
start ``terminal-gateway run``, then let simulated terminals of every firmware family work
a clinic day against it (redemptions, then a random day, then the club program: accrual,
return, top-up, gift cards), then a SmartPOS terminal, a CR-200 reader on a serial line and
a counter station's PC/SC reader with a virtual club card (``devices``), a terminal with a
client certificate over TLS and one without (turned away), and stop it cleanly.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from ..private import write_private
from ..rules.cards import with_check_digit
from .devices import Devices
from .local import clinic_config, free_ports, mac_listener, tls_listener, wait_for_port, write_voucher_key
from .population import BRANCH, card_number, terminal_id, write_members, write_terminals

GIFT_BODY = 60379900000000  # the demo's nine gift cards: this number and the eight after, with check digits


def gift_card(n: int) -> str:
    return with_check_digit(str(GIFT_BODY + n))


def secure_counter(cli: list[str], port: int, folder: Path) -> None:
    """A terminal with its client certificate works a day over TLS; one without is turned away."""
    tls = ["--port", str(port), "--profile", "club-t2", "--terminals", "1", "--cards", "200",
           "--tls-ca", str(folder / "ca.pem")]
    print("\n--- a club-t2 terminal over TLS with its client certificate ---", flush=True)
    subprocess.run([*cli, "simulate", *tls, "--tls-certs", str(folder / "certs"), "--scenario", "day"], check=True)
    print("\n--- a terminal with no client certificate on the same listener ---", flush=True)
    refused = subprocess.run([*cli, "simulate", *tls, "--first-terminal", "2", "--scenario", "day", "--quiet"],
                             capture_output=True, text=True)
    print("turned away: no session without a certificate of the clinic's CA" if refused.returncode else
          "UNEXPECTED: it was served", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dir", default="demo-data", help="where the demo keeps its database and logs")
    p.add_argument("--transactions", type=int, default=15, help="per terminal in the random day")
    args = p.parse_args(argv)

    folder = Path(args.dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("gateway.db*"):
        old.unlink()
    ports = free_ports(3)
    secure_port, mac_port = free_ports(2)
    config = folder / "gateway.toml"
    profiles = ("club-t1", "club-t2", "club-t3")
    key = write_voucher_key(folder / "voucher.key")
    devices = Devices(folder)
    config.write_text(clinic_config(f"sqlite:///{folder / 'gateway.db'}", dict(zip(profiles, ports, strict=True)),
                                    voucher_key_file=key) + devices.config() + tls_listener(secure_port)
                      + mac_listener(mac_port))
    cli = [sys.executable, "-m", "terminal_gateway.cli", "--config", str(config)]

    def step(*words: str) -> None:
        print("$ terminal-gateway " + " ".join(words), flush=True)
        subprocess.run([*cli, *words], check=True)

    (folder / "kek.key").unlink(missing_ok=True)
    step("keys", "new-kek", str(folder / "kek.key"))
    step("tls", "ca", str(folder / "ca"))
    step("tls", "server", "127.0.0.1", "localhost", "--ca", str(folder / "ca"), "--out", str(folder))
    (folder / "ca.pem").write_bytes((folder / "ca" / "ca.pem").read_bytes())  # the gateway needs only this
    step("init")
    step("terminal", "import", str(write_terminals(folder / "terminals.csv", 9)))
    for tid in devices.terminals():
        step("terminal", "add", tid, "--branch", BRANCH)
    devices.issue_tokens(cli)
    step("member", "import", str(write_members(folder / "members.csv", 200, credit=500_000)))
    step("member", "add", card_number(1000), "--group", "gold")
    step("credit", "grant", card_number(1000), "2000000", "--expires-in-days", "180")
    step("member", "add", card_number(1001), "--referrer", card_number(1))
    step("giftcard", "register", gift_card(0), "9")
    vouchers = folder / "vouchers.csv"
    vouchers.unlink(missing_ok=True)
    step("voucher", "generate", "--count", "20", "--value", "50000", "--expires", "2099-12-31", "--batch", "DEMO",
         "--out", str(vouchers))
    step("voucher", "activate", "--batch", "DEMO")
    step("terminal", "cert", terminal_id(1), "--ca", str(folder / "ca"), "--out", str(folder / "certs"))
    master = secrets.token_hex(16)
    write_private(folder / "master.key", master.encode())
    step("terminal", "key", terminal_id(1), "--from-file", str(folder / "master.key"))
    (folder / "master-keys.csv").write_text(f"tid,master_key\n{terminal_id(1)},{master}\n")
    (folder / "master-keys.csv").chmod(0o600)

    log_path = folder / "gateway.log"
    print(f"$ terminal-gateway run    (its decision log: {log_path})", flush=True)
    devices.start()
    with log_path.open("w") as log:
        daemon = subprocess.Popen([*cli, "run"], stderr=log, env=os.environ | {"PYTHONUNBUFFERED": "1"})
        try:
            try:
                for port in (*ports, secure_port, mac_port):
                    wait_for_port(port, daemon, log_path)
                devices.wait(daemon, log_path)
            except RuntimeError as e:
                raise SystemExit(f"the gateway did not start: {e}") from None
            for n, (profile, port) in enumerate(zip(profiles, ports, strict=True)):
                for scenario in ("day", "random", "club"):
                    print(f"\n--- three {profile} terminals, scenario: {scenario} ---", flush=True)
                    club = ["--vouchers", str(vouchers), "--gift-card", gift_card(3 * n)] if scenario == "club" else []
                    subprocess.run([*cli, "simulate", "--port", str(port), "--profile", profile,
                                    "--terminals", "3", "--first-terminal", str(1 + 3 * n), "--cards", "200",
                                    "--scenario", scenario, "--transactions", str(args.transactions), *club],
                                   check=True)
            secure_counter(cli, secure_port, folder)
            print("\n--- a club-t2-mac terminal: key change, every request MAC'd, one forged MAC (63) ---", flush=True)
            subprocess.run([*cli, "simulate", "--port", str(mac_port), "--profile", "club-t2-mac", "--terminals", "1",
                            "--cards", "200", "--keys", str(folder / "master-keys.csv"), "--scenario", "day"],
                           check=True)
            devices.run()
        finally:
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(30)
            devices.stop()
    print(f"\nthe gateway stopped with exit code {code}; the last lines of its log:")
    print("".join(log_path.read_text().splitlines(keepends=True)[-5:]))
    step("member", "show", card_number(1))
    return code


if __name__ == "__main__":
    sys.exit(main())
