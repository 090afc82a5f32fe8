"""The simulator's command-line options, apart from the simulator, so that building the
operator's command line does not import Twisted."""

from __future__ import annotations

import argparse

from .population import BRANCH


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8583)
    p.add_argument("--profile", default="club-t2", help="firmware profile the terminals run")
    p.add_argument("--profiles-dir", action="append", default=[], metavar="DIR")
    p.add_argument("--terminals", type=int, default=4, metavar="N", help="simulated terminals (T0000001..)")
    p.add_argument("--first-terminal", type=int, default=1, metavar="I")
    p.add_argument("--branch", default=BRANCH)
    p.add_argument("--cards", type=int, default=100, metavar="N", help="cards 1..N of the population")
    p.add_argument("--scenario", choices=("day", "random", "club"), default="random",
                   help="day: one of every redemption transaction; random: a busy counter; club: earning, "
                        "returns, voucher top-ups and gift cards")
    p.add_argument("--vouchers", metavar="CSV", help="club scenario: voucher PINs to top up with (the CSV "
                                                     "'voucher generate' prints)")
    p.add_argument("--gift-card", metavar="CARD", help="club scenario: the first of a registered range of gift "
                                                       "cards, one per terminal")
    p.add_argument("--keys", metavar="CSV", help="a MAC profile's master keys: CSV tid,master_key (hex); "
                                               "terminals sign on, change keys, and MAC every request")
    p.add_argument("--transactions", type=int, default=20, metavar="N", help="per terminal, random scenario")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--quiet", action="store_true", help="print the summary only")
    p.add_argument("--tls-ca", metavar="PEM", help="speak TLS, trusting the gateway's certificate if this CA "
                                                   "signed it")
    p.add_argument("--tls-certs", metavar="DIR", help="with --tls-ca: each terminal's client certificate, "
                                                      "DIR/<tid>.pem and DIR/<tid>.key ('terminal cert' makes them)")
