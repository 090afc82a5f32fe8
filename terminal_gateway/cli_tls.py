"""The command line of terminal TLS: a clinic CA, the gateway's certificate, a terminal's
client certificate, and revoking a terminal's certificates.

    terminal-gateway tls ca DIR                        a new CA: DIR/ca.pem, DIR/ca.key
    terminal-gateway tls server HOST... --ca DIR --out DIR
    terminal-gateway terminal cert TID --ca DIR --out DIR
    terminal-gateway terminal revoke TID

Private keys are written 0600 and never printed.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import pki
from .private import write_private

__all__ = ["CertificateError", "add_tls_commands"]


class CertificateError(Exception):
    """A certificate that cannot be made; the message is the operator's one line."""


def _write(folder: Path, name: str, issued: pki.Issued) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    certificate = folder / f"{name}.pem"
    certificate.write_bytes(issued.certificate)
    return certificate, write_private(folder / f"{name}.key", issued.key)


def _authority(folder: str) -> pki.Issued:
    where = Path(folder)
    try:
        return pki.Issued((where / "ca.pem").read_bytes(), (where / "ca.key").read_bytes())
    except OSError as error:
        raise CertificateError(f"{where}: no CA there ({error.strerror}); "
                               "make one with 'terminal-gateway tls ca DIR'") from None


def _issue(ca: str, common_name: str, **details: Any) -> pki.Issued:
    try:
        return pki.issue(_authority(ca), common_name, **details)
    except ValueError as error:
        raise CertificateError(f"{ca}: {error}") from None


def cmd_tls_ca(config: Any, args: argparse.Namespace) -> None:
    certificate, key = _write(Path(args.dir), "ca", pki.authority(args.name))
    print(f"CA certificate {certificate} (give it to the gateway as tls_client_ca and to terminals); "
          f"CA key {key} (keep it off the gateway)")


def cmd_tls_server(config: Any, args: argparse.Namespace) -> None:
    issued = _issue(args.ca, args.hosts[0], client=False, hosts=tuple(args.hosts))
    certificate, key = _write(Path(args.out), "gateway", issued)
    print(f"gateway certificate {certificate}, key {key}: tls_certificate and tls_key of a listener")


def cmd_terminal_cert(config: Any, args: argparse.Namespace, with_store: Callable) -> None:
    """A client certificate for a registered terminal, valid from after its last revocation."""
    terminal = with_store(config, lambda store: store.terminal(args.tid))
    branch, revoked = terminal.branch, terminal.certificates_from
    start = datetime.fromtimestamp(math.ceil(max(time.time(), revoked.timestamp() if revoked else 0)), UTC)
    time.sleep(max(0.0, start.timestamp() - time.time()))  # a certificate is never valid before it is made
    issued = _issue(args.ca, args.tid, client=True, unit=branch, not_before=start, days=args.days)
    certificate, key = _write(Path(args.out), args.tid, issued)
    print(f"terminal {args.tid} of branch {branch}: certificate {certificate}, key {key}")


def cmd_terminal_revoke(config: Any, args: argparse.Namespace, with_store: Callable) -> None:
    at = with_store(config, lambda store: store.revoke_certificates(args.tid))
    print(f"every certificate of terminal {args.tid} issued until {at:%Y-%m-%d %H:%M:%S} UTC is refused "
          "from its next connection on")


def add_tls_commands(commands: Any, terminal: Any, with_store: Callable) -> None:
    """Add ``tls ca``, ``tls server``, ``terminal cert`` and ``terminal revoke``."""
    tls = commands.add_parser("tls", help="certificates for TLS listeners").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    ca = tls.add_parser("ca", help="make a clinic CA (ca.pem, ca.key) in DIR")
    ca.add_argument("dir")
    ca.add_argument("--name", default="terminal-gateway clinic CA")
    ca.set_defaults(func=cmd_tls_ca, needs_config=False)
    server = tls.add_parser("server", help="the gateway's certificate for HOST names or addresses")
    server.add_argument("hosts", nargs="+", metavar="HOST")
    server.add_argument("--ca", required=True, metavar="DIR", help="the folder of ca.pem and ca.key")
    server.add_argument("--out", required=True, metavar="DIR")
    server.set_defaults(func=cmd_tls_server, needs_config=False)

    cert = terminal.add_parser("cert", help="a client certificate for a registered terminal (CN = its id)")
    cert.add_argument("tid")
    cert.add_argument("--ca", required=True, metavar="DIR", help="the folder of ca.pem and ca.key")
    cert.add_argument("--out", required=True, metavar="DIR")
    cert.add_argument("--days", type=int, default=825)
    cert.set_defaults(func=lambda config, args: cmd_terminal_cert(config, args, with_store))
    revoke = terminal.add_parser("revoke", help="refuse every certificate of a terminal issued until now")
    revoke.add_argument("tid")
    revoke.set_defaults(func=lambda config, args: cmd_terminal_revoke(config, args, with_store))
