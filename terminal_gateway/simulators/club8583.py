"""Simulated Club-8583 terminals: what a clinic's counters send in a day, over real TCP.

Each terminal speaks a firmware profile through the same codec tables as the gateway,
keeps its own batch totals from the answers it gets (as a real terminal does, so that its
reconciliation means something), and prints every transaction as it happens.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twisted.internet import defer
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.protocol import Protocol
from twisted.internet.ssl import Certificate, PrivateCertificate, optionsForClientTLS

from terminal_gateway.protocols.club8583 import TerminalCodec, de48, load_profile
from terminal_gateway.protocols.club8583.mac import SESSION_KEY_BYTES, check_value, unwrap_key
from terminal_gateway.protocols.framing import FrameBuffer
from terminal_gateway.rules.cards import with_check_digit
from terminal_gateway.vocabulary import mask_pan

from .population import card_number, terminal_id

APPROVED = ("00", "10")


@dataclass(frozen=True)
class Reply:
    """A response as the terminal reads it; ``mac_problem``: why its MAC is not right under a
    MAC profile (``None``: it is, or the profile has none)."""

    fields: dict[str, str]
    mac_problem: str | None = None

    @property
    def code(self) -> str:
        return self.fields.get("39", "")

    @property
    def approved(self) -> bool:
        return self.code in APPROVED

    @property
    def amount(self) -> int:
        return int(self.fields.get("4", "0") or 0)

    @property
    def rrn(self) -> str:
        return self.fields.get("37", "")

    @property
    def tags(self) -> dict[str, str]:
        return de48.parse(self.fields["48"]) if self.fields.get("48") else {}

    def _number(self, tag: str) -> int | None:
        value = self.tags.get(tag)
        return int(value) if value else None

    @property
    def earned(self) -> int | None:
        """DE48 CE: credit an accrual earned (negative: what a return took back)."""
        return self._number("CE")

    @property
    def points_earned(self) -> int | None:
        """DE48 PE: points an accrual earned (negative: what a return took back)."""
        return self._number("PE")

    @property
    def points(self) -> int | None:
        """DE48 PT: the member's points balance."""
        return self._number("PT")

    @property
    def group(self) -> str | None:
        """DE48 TR: the member's group (tier)."""
        return self.tags.get("TR")

    @property
    def discount(self) -> int | None:
        """DE48 DP: the member's discount percentage."""
        return self._number("DP")

    @property
    def expires(self) -> str | None:
        """DE14, YYMM: an activated gift card's expiry."""
        return self.fields.get("14")


class TerminalLink(Protocol):
    """One TCP connection: requests framed out, responses matched back by DE41 + DE11."""

    def __init__(self, codec: TerminalCodec):
        self.codec = codec
        self.frames = FrameBuffer(codec.profile.header, codec.profile.max_frame)
        # (DE41, DE11) -> the answer's waiter and the key its MAC is checked with
        self.waiting: dict[tuple[str, str], tuple[defer.Deferred[Reply], bytes | None]] = {}

    def dataReceived(self, data: bytes) -> None:
        for body in self.frames.feed(data):
            fields = self.codec.decode(body)
            waiter, key = self.waiting.pop((fields.get("41", ""), fields.get("11", "")), (None, None))
            if waiter is not None:
                waiter.callback(Reply(fields, self.codec.problem(body, fields, key)))

    def connectionLost(self, reason: object = None) -> None:
        waiting, self.waiting = self.waiting, {}
        for waiter, _ in waiting.values():
            waiter.errback(ConnectionError("the gateway closed the connection"))

    def request(self, fields: dict[str, str], timeout: float, mac_key: bytes | None = None) -> defer.Deferred[Reply]:
        """Send ``fields``, MAC'd with ``mac_key`` under a MAC profile; the answer, its MAC checked."""
        return self.request_body(self.codec.encode(fields, mac_key), fields, timeout, mac_key)

    def request_body(self, body: bytes, fields: dict[str, str], timeout: float,
                     mac_key: bytes | None = None) -> defer.Deferred[Reply]:
        """Send a frame body as it is (a test's altered one); the answer to ``fields``' DE41 + DE11."""
        from twisted.internet import reactor

        answer: defer.Deferred[Reply] = defer.Deferred()
        self.waiting[(fields["41"], fields["11"])] = (answer, mac_key)
        self.transport.write(self.frames.frame(body))
        return answer.addTimeout(timeout, reactor)

    def send_raw(self, frame: bytes) -> None:
        self.transport.write(frame)


@dataclass
class Totals:
    """The terminal's own batch, counted from the answers it received."""

    counts: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, amount: int) -> None:
        self.counts[kind] += 1
        self.counts[kind + "_amount"] += amount

    def fields(self) -> dict[str, str]:
        c = self.counts
        return {
            "74": f"{c['credits']:010d}", "75": f"{c['credits_reversal']:010d}",
            "76": f"{c['debits']:010d}", "77": f"{c['debits_reversal']:010d}",
            "86": f"{c['credits_amount']:016d}", "87": f"{c['credits_reversal_amount']:016d}",
            "88": f"{c['debits_amount']:016d}", "89": f"{c['debits_reversal_amount']:016d}",
        }


Printer = Callable[[str], None]
# DE48 response tags printed after the code and amount, with their labels.
_SHOWN = (("AB", "balance"), ("CE", "earned"), ("PE", "points earned"), ("PT", "points"),
          ("TR", "group"), ("DP", "discount %"))


class SimulatedTerminal:
    """A counter terminal: builds the requests of docs/protocols/club8583.md and keeps its batch."""

    def __init__(self, tid: str, branch: str, link: TerminalLink, printer: Printer | None = None,
                 timeout: float = 10.0, stan: int = 0, master_key: bytes | None = None):
        self.tid, self.branch, self.link = tid, branch, link
        # Under a MAC profile: the master key, and the key requests are MAC'd with (the master
        # key until the first key change, then the session key).
        self.master_key = self.mac_key = master_key
        self.printer, self.timeout = printer, timeout
        self.stan = stan
        self.totals = Totals()
        self.batch_number = 1
        self.codes: Counter[str] = Counter()

    # -- building requests ---------------------------------------------------------------

    def fields(self, mti: str, processing: str | None = None, **elements: str) -> dict[str, str]:
        self.stan = self.stan % 999_999 + 1
        now = datetime.now(UTC)
        fields = {"t": mti, "7": now.strftime("%m%d%H%M%S"), "11": f"{self.stan:06d}",
                  "12": now.strftime("%H%M%S"), "13": now.strftime("%m%d"), "41": self.tid.ljust(8)}
        if mti[:2] != "08":
            fields["42"] = self.branch.ljust(15)
        if processing is not None:
            fields["3"] = processing + "0000"
        fields.update(elements)
        return fields

    @staticmethod
    def money(card: str, amount: int, **tags: str) -> dict[str, str]:
        elements = {"2": card, "4": f"{amount:012d}", "49": "364", "22": "021"}
        if tags:
            elements["48"] = de48.build(tags)
        return elements

    # -- sending ------------------------------------------------------------------------

    async def send(self, fields: dict[str, str], label: str, lose_answer: bool = False, forged: bool = False) -> Reply:
        """Send a request; with ``lose_answer``, act as if its response never came and send
        the repeat (last MTI digit 1), which must be answered the same; ``forged``: with the
        MAC of a made-up key, as someone without the terminal's key would."""
        if forged:
            body = self.link.codec.encode(fields, os.urandom(SESSION_KEY_BYTES))
            reply = await self.link.request_body(body, fields, self.timeout, self.mac_key)
        else:
            reply = await self.link.request(fields, self.timeout, self.mac_key)
        if lose_answer:
            repeat = dict(fields, t=fields["t"][:3] + "1")
            again = await self.link.request(repeat, self.timeout, self.mac_key)
            same = all(again.fields.get(de) == reply.fields.get(de) for de in ("4", "37", "38", "39"))
            label += " (answer lost; repeat " + ("replayed it" if same else "DIFFERED") + ")"
            if not same:
                self.codes["repeat-mismatch"] += 1
            reply = again
        self.codes[reply.code] += 1
        self._print(fields, reply, label)
        return reply

    def _print(self, fields: dict[str, str], reply: Reply, label: str) -> None:
        if self.printer is None:
            return
        tags = reply.tags
        card = mask_pan(fields.get("2")) or "-"
        asked = int(fields.get("4", "0") or 0)
        limit = f" {tags['RS']}" if "RS" in tags else ""
        shown = "".join(f" {name} {tags[tag]}" for tag, name in _SHOWN if tag in tags)
        expires = f" expires {reply.expires}" if reply.expires else ""
        self.printer(f"{datetime.now():%H:%M:%S} {self.tid} {label:<24} {card:<19} {asked:>9} -> "
                     f"{reply.code} {reply.amount:>9}{limit}{shown}{expires}")

    # -- the transactions ---------------------------------------------------------------

    async def sign_on(self) -> Reply:
        """Sign on; a terminal with a master key (a MAC profile) changes keys next."""
        reply = await self.send(self.fields("0800", **{"70": "001"}), "sign-on")
        if reply.approved and self.master_key is not None:
            await self.change_key()
        return reply

    async def change_key(self) -> Reply:
        """0800 DE70 101: on approval, unwrap the new session key (DE48 SK) with the master
        key, check it against KC, and MAC every later request with it."""
        reply = await self.send(self.fields("0800", **{"70": "101"}), "key change")
        if reply.approved and self.master_key is not None:
            session = unwrap_key(self.master_key, bytes.fromhex(reply.tags["SK"]))
            if check_value(session) != reply.tags["KC"]:
                raise ValueError(f"{self.tid}: the new session key does not match its check value")
            self.mac_key = session
        return reply

    async def echo(self) -> Reply:
        return await self.send(self.fields("0800", **{"70": "301"}), "echo")

    async def balance(self, card: str) -> Reply:
        return await self.send(self.fields("0200", "31", **{"2": card}), "balance")

    async def redeem(self, card: str, amount: int, invoice: str, total: int | None = None,
                     hold: bool = False, lose_answer: bool = False,
                     forged: bool = False) -> tuple[dict[str, str], Reply]:
        tags = {"IN": invoice} | ({"IT": str(total)} if total else {})
        request = self.fields("0100" if hold else "0200", "00", **self.money(card, amount, **tags))
        label = "forged MAC" if forged else "hold" if hold else "redeem"
        reply = await self.send(request, label, lose_answer, forged)
        if reply.approved and not hold:
            self.totals.add("debits", reply.amount)
        return request, reply

    async def complete(self, card: str, amount: int, rrn: str) -> Reply:
        request = self.fields("0220", "00", **self.money(card, amount), **{"37": rrn})
        reply = await self.send(request, "completion")
        if reply.approved:
            self.totals.add("debits", amount)
        return reply

    async def refund(self, card: str, amount: int, rrn: str) -> tuple[dict[str, str], Reply]:
        request = self.fields("0200", "20", **self.money(card, amount), **{"37": rrn})
        reply = await self.send(request, "refund")
        if reply.approved:
            self.totals.add("credits", amount)
        return request, reply

    async def accrue(self, card: str, amount: int, invoice: str,
                     lines: dict[str, int] | None = None) -> tuple[dict[str, str], Reply]:
        """The invoice was paid: ``amount`` is the money paid, ``lines`` its service lines."""
        tags = {"IN": invoice} | ({"SV": ";".join(f"{c}:{a}" for c, a in lines.items())} if lines else {})
        request = self.fields("0200", "22", **self.money(card, amount, **tags))
        return request, await self.send(request, "accrual")

    async def accrual_return(self, card: str, amount: int, invoice: str) -> tuple[dict[str, str], Reply]:
        """The paid invoice was refunded by ``amount``."""
        request = self.fields("0200", "23", **self.money(card, amount, IN=invoice))
        return request, await self.send(request, "accrual return")

    async def top_up(self, card: str, pin: str) -> tuple[dict[str, str], Reply]:
        """Redeem the voucher ``pin`` onto the card; the reply's amount is the voucher's value."""
        request = self.fields("0200", "21", **{"2": card, "22": "021", "48": de48.build({"VP": pin})})
        return request, await self.send(request, "top-up")

    async def activate_gift(self, card: str, amount: int) -> tuple[dict[str, str], Reply]:
        """Load ``amount`` onto an inactive gift card; the reply's ``expires`` is its expiry."""
        request = self.fields("0200", "72", **self.money(card, amount))
        return request, await self.send(request, "gift activation")

    async def reverse(self, original: dict[str, str], original_reply: Reply | None) -> Reply:
        """Cancel ``original``; a reversal of an approved debit or credit counts in the batch.
        A top-up names no amount, so its reversal names the one it was answered, if any."""
        elements = {de: original[de] for de in ("2", "3", "4", "49") if de in original}
        elements.setdefault("4", f"{original_reply.amount if original_reply else 0:012d}")
        elements["90"] = original["t"][:3] + "0" + original["11"] + original["7"] + "0" * 22
        reply = await self.send(self.fields("0400", **elements), "reversal")
        if reply.approved and original_reply is not None and original_reply.approved:
            kind = {"00": "debits_reversal", "20": "credits_reversal"}.get(original.get("3", "")[:2])
            if kind and original["t"][:2] == "02":
                self.totals.add(kind, original_reply.amount)
        return reply

    async def reconcile(self) -> Reply:
        fields = self.fields("0500", **self.totals.fields(), **{"48": de48.build({"BN": f"{self.batch_number:06d}"})})
        reply = await self.send(fields, "reconciliation")
        self.totals = Totals()
        self.batch_number += 1
        return reply


# -- scenarios --------------------------------------------------------------------------------

async def scripted_day(terminal: SimulatedTerminal, cards: list[str], rng: random.Random) -> None:
    """One of everything, in the order a counter meets it."""
    card = rng.choice(cards)
    await terminal.sign_on()
    await terminal.echo()
    await terminal.balance(card)
    invoice = f"INV-{terminal.tid}-{rng.randrange(10**6):06d}"
    request, sale = await terminal.redeem(card, 150_000, invoice, total=900_000)
    if sale.approved:
        await terminal.refund(card, min(20_000, sale.amount), sale.rrn)
    _, hold = await terminal.redeem(card, 40_000, invoice + "-H", hold=True)
    if hold.approved:
        await terminal.complete(card, hold.amount // 2, hold.rrn)
    request, sale = await terminal.redeem(card, 30_000, invoice + "-R", lose_answer=True)
    await terminal.reverse(request, sale)
    if terminal.master_key is not None:  # a MAC profile: what a forger without the key gets (63)
        await terminal.redeem(card, 99_000, invoice + "-F", forged=True)
    await terminal.reconcile()


async def random_day(terminal: SimulatedTerminal, cards: list[str], rng: random.Random, count: int) -> None:
    """``count`` transactions of a busy counter, in a random but realistic mix."""
    await terminal.sign_on()
    sales: list[tuple[str, dict[str, str], Reply]] = []
    for n in range(count):
        card, roll = rng.choice(cards), rng.random()
        invoice = f"INV-{terminal.tid}-{n:05d}"
        amount = rng.randrange(5, 160) * 1_000
        if roll < 0.15:
            await terminal.balance(card)
        elif roll < 0.55:
            request, reply = await terminal.redeem(card, amount, invoice, total=amount * 3)
            sales.append((card, request, reply))
            await terminal.accrue(card, amount * 3 - reply.amount, invoice)  # the rest, paid in money
        elif roll < 0.70:
            _, hold = await terminal.redeem(card, amount, invoice, hold=True)
            if hold.approved:
                await terminal.complete(card, hold.amount * rng.randrange(5, 11) // 10, hold.rrn)
        elif roll < 0.80 and sales:
            card, _, sale = rng.choice(sales)
            if sale.approved:
                await terminal.refund(card, max(sale.amount // 4, 1), sale.rrn)
        elif roll < 0.90 and sales:
            _, request, sale = sales.pop(rng.randrange(len(sales)))
            await terminal.reverse(request, sale)
        else:
            request, reply = await terminal.redeem(card, amount, invoice, lose_answer=True)
            sales.append((card, request, reply))
    await terminal.reconcile()


async def club_day(terminal: SimulatedTerminal, cards: list[str], rng: random.Random, pin: str | None,
                   gift: str | None) -> None:
    """The club program at a counter: pay partly with credit, accrue on the money paid,
    a partial return, a voucher top-up and a wrong PIN, a gift card activated and spent."""
    await terminal.sign_on()
    card = rng.choice(cards)
    invoice = f"INV-{terminal.tid}-{rng.randrange(10**6):06d}"
    _, sale = await terminal.redeem(card, 50_000, invoice, total=400_000)
    paid = 400_000 - sale.amount
    await terminal.accrue(card, paid, invoice, lines={"FILLING": 300_000, "CHECKUP": 100_000})
    await terminal.accrual_return(card, paid // 4, invoice)
    await terminal.balance(card)
    if pin:
        await terminal.top_up(card, pin)
        await terminal.top_up(card, "000000000000")  # a wrong PIN: 55
    if gift:
        await terminal.activate_gift(gift, 300_000)
        await terminal.activate_gift(gift, 300_000)
        await terminal.redeem(gift, 120_000, invoice + "-G")
        await terminal.balance(gift)
    await terminal.reconcile()


def _gift_cards(first: str | None, count: int) -> list[str | None]:
    """``count`` consecutive gift card numbers from ``first`` (as ``giftcard register`` makes them)."""
    if first is None:
        return [None] * count
    body = int(first[:-1])
    return [with_check_digit(f"{body + n:0{len(first) - 1}d}") for n in range(count)]


# -- the command --------------------------------------------------------------------------------

async def simulate(args: argparse.Namespace, printer: Printer | None) -> Counter[str]:
    from twisted.internet import reactor

    profile = load_profile(args.profile, args.profiles_dir)
    rng = random.Random(args.seed)
    cards = [card_number(i) for i in range(1, args.cards + 1)]
    runs, terminals = [], []
    pins = _read_pins(args.vouchers) if args.scenario == "club" and args.vouchers else []
    gifts = _gift_cards(args.gift_card, args.terminals)
    master_keys = _read_master_keys(args.keys) if args.keys else {}
    for index in range(args.first_terminal, args.first_terminal + args.terminals):
        tid = terminal_id(index)
        endpoint = TCP4ClientEndpoint(reactor, args.host, args.port)
        if args.tls_ca:
            endpoint = wrapClientTLS(client_tls(args.host, args.tls_ca, args.tls_certs, tid), endpoint)
        link = await connectProtocol(endpoint, TerminalLink(TerminalCodec(profile)))
        terminal = SimulatedTerminal(tid, args.branch, link, printer, stan=rng.randrange(999_000),
                                     master_key=master_keys.get(tid))
        terminals.append(terminal)
        own = random.Random(rng.random())
        if args.scenario == "club":
            pin = pins[index - 1] if index - 1 < len(pins) else None  # terminal N tops up with PIN N
            scenario = club_day(terminal, cards, own, pin, gifts[index - args.first_terminal])
        elif args.scenario == "day":
            scenario = scripted_day(terminal, cards, own)
        else:
            scenario = random_day(terminal, cards, own, args.transactions)
        runs.append(defer.ensureDeferred(scenario))
    results = await defer.DeferredList(runs, consumeErrors=True)
    codes: Counter[str] = Counter()
    for terminal, (ok, failure) in zip(terminals, results, strict=True):
        codes.update(terminal.codes)
        terminal.link.transport.loseConnection()
        if not ok:
            codes["failed"] += 1
            print(f"{terminal.tid}: {failure.getErrorMessage()}", file=sys.stderr)
    return codes


def client_tls(host: str, ca: str, certificates: str | None, tid: str) -> Any:
    """TLS options of terminal ``tid``: trust the CA in ``ca``; present ``certificates/<tid>``."""
    own = None
    if certificates:
        folder = Path(certificates)
        own = PrivateCertificate.loadPEM((folder / f"{tid}.pem").read_text() + (folder / f"{tid}.key").read_text())
    return optionsForClientTLS(host, trustRoot=Certificate.loadPEM(Path(ca).read_bytes()), clientCertificate=own)


def _read_master_keys(path: str) -> dict[str, bytes]:
    """A MAC profile's master keys, by terminal: a CSV ``tid,master_key`` (hex)."""
    with open(path, newline="") as f:
        return {row["tid"]: bytes.fromhex(row["master_key"]) for row in csv.DictReader(f)}


def _read_pins(path: str) -> list[str]:
    with open(path, newline="") as f:
        return [row["pin"] for row in csv.DictReader(f)]


def main(args: argparse.Namespace) -> int:
    """Run the simulation and exit: 0 when every request got an answer and every repeat
    matched, 1 otherwise."""
    from twisted.internet import task

    async def run(_reactor: object) -> None:
        codes = await simulate(args, None if args.quiet else lambda line: print(line, flush=True))
        summary = ", ".join(f"{code}: {count}" for code, count in sorted(codes.items()))
        print(f"summary: {sum(codes.values())} answers ({summary})", flush=True)
        if codes["failed"] or codes["repeat-mismatch"]:
            raise SystemExit(1)

    task.react(lambda reactor: defer.ensureDeferred(run(reactor)))
    return 0
