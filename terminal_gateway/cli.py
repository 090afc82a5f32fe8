"""``terminal-gateway``: the operator's command line (every command in docs/operations.md).

Each command exits 0 on success, or non-zero with one line on stderr saying why: an
installation script reads it, so never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pwd
import re
import signal
import sys
from collections.abc import Callable, Sequence
from contextlib import suppress
from contextvars import ContextVar
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from . import families
from .cli_tls import CertificateError, add_tls_commands
from .config import ENV_VAR, Config, ConfigError, load
from .firmware import ProfileError
from .private import new_private, write_private
from .vocabulary import mask_pan

if TYPE_CHECKING:
    from .store import Audited

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
MAX_EXPIRY_DAYS = 100 * 366
MAX_REPORT_DAYS = 10 * 366
REPORT_FORMATS = ("table", "csv", "xlsx")


class CommandError(Exception):
    """A command that cannot be carried out; the message is the operator's one line."""


# Amounts and day counts are checked by the command, not by argparse, so that a bad one is the
# documented one line on stderr (exit 1), not a usage message.
def _positive_amount(text: str) -> int:
    value = _whole(text, f"amount must be a whole number of minor units, got {text!r}")
    if value <= 0:
        raise CommandError(f"amount must be more than zero, got {value}")
    return value


def _days(text: str) -> int:
    value = _whole(text, f"--expires-in-days: expected a whole number of days, got {text!r}")
    if not 0 < value <= MAX_EXPIRY_DAYS:
        raise CommandError(f"--expires-in-days: expected a number of days from 1 to {MAX_EXPIRY_DAYS}, got {value}")
    return value


def _whole(text: str, message: str) -> int:
    """``text`` in ASCII digits (not '1_000', not Arabic-Indic digits), or ``CommandError(message)``."""
    if not re.fullmatch(r"\s*[+-]?[0-9]{1,30}\s*", text):
        raise CommandError(message)
    return int(text)


def _store(config: Config):
    from .store import Store

    return Store(config.store.url, audited=_running.get())


def cmd_init(config: Config, args: argparse.Namespace) -> None:
    store = _store(config)
    try:
        store.init_schema()
    finally:
        store.close()
    print(f"schema of {_safe_url(config.store.url)} is up to date")


def cmd_run(config: Config, args: argparse.Namespace) -> int:
    from .daemon.run import run

    return run(config)


def cmd_terminal_add(config: Config, args: argparse.Namespace) -> None:
    with_store(config, lambda store: store.add_terminal(args.tid, args.branch, args.family, families.bindable()))
    bound = f", {args.family} only" if args.family else ""
    print(f"terminal {args.tid} added at branch {args.branch}{bound}")


def cmd_terminal_import(config: Config, args: argparse.Namespace) -> None:
    count = with_store(config, lambda store: store.import_terminals(args.file, families.bindable()))
    print(f"{count} terminals imported")


def cmd_terminal_key(config: Config, args: argparse.Namespace) -> None:
    from .config import kek, read_master_key
    from .protocols.club8583.mac import SESSION_KEY_BYTES, check_value
    from .store import keys

    if args.generate:
        master = os.urandom(SESSION_KEY_BYTES)
    else:
        try:
            master = read_master_key(args.from_file)
        except ConfigError as error:
            raise CommandError(f"--from-file {args.from_file}: {error}") from None
    wrapping = keys.Kek(kek(config))
    now = datetime.now(UTC)
    check = with_store(config, lambda store: store.terminal_keys(
        lambda conn: keys.load_master(conn, args.tid, master, wrapping, now), write=True))
    if args.generate:  # shown this once, for the terminal's key loading; never stored in the clear
        print(f"master key {master.hex().upper()} check value {check_value(master)}")
    print(f"terminal {args.tid}: master key loaded (check value {check}); it changes its session key next",
          file=sys.stderr)


def cmd_terminal_show(config: Config, args: argparse.Namespace) -> None:
    from .store import keys

    days = _whole(args.days, f"--days: expected a whole number of days, got {args.days!r}")
    if not 0 < days <= MAX_REPORT_DAYS:
        raise CommandError(f"--days: expected 1 to {MAX_REPORT_DAYS}, got {days}")
    now = datetime.now(UTC)
    shown = with_store(config, lambda store: store.terminal_keys(lambda conn: keys.show(conn, args.tid, now, days)))
    print(json.dumps(shown, sort_keys=True))


def cmd_keys_new_kek(config: Config | None, args: argparse.Namespace) -> None:
    from .protocols.club8583.mac import check_value

    key = os.urandom(32)
    try:
        out = new_private(args.file)
    except FileExistsError:
        raise CommandError(f"{args.file} already exists: a KEK is never written over a file") from None
    with out:
        out.write(key.hex() + "\n")
    print(f"new KEK in {args.file} (readable by you only), check value {check_value(key)}")


def cmd_keys_rotate_kek(config: Config, args: argparse.Namespace) -> None:
    from .config import kek, read_kek_file
    from .store import keys

    try:
        new = keys.Kek(read_kek_file(args.new_file))
    except ConfigError as error:
        raise CommandError(f"--new-file {args.new_file}: {error}") from None
    old = keys.Kek(kek(config))
    if new.check == old.check:
        raise CommandError(f"--new-file {args.new_file} holds the KEK in use ({old.check})")
    now = datetime.now(UTC)
    count = with_store(config, lambda store: store.terminal_keys(lambda conn: keys.rotate(conn, old, new, now),
                                                                 write=True))
    where = config.keys.kek_file
    if where is not None:  # the running daemons read the KEK from here again when they meet the new one
        with open(args.new_file, "rb") as new_kek:
            os.replace(write_private(f"{where}.new", new_kek.read()), where)
        done = f"{where} now holds it"
    else:
        done = f"set {config.keys.kek_env} to it for the next start"
    print(f"the keys of {_plural(count, 'terminal')} re-wrapped from KEK {old.check} to {new.check}; {done}")


def cmd_member_add(config: Config, args: argparse.Namespace) -> None:
    group = args.group or config.default_group.name
    with_store(config, lambda store: store.add_member(args.card, group, config.groups, phone=args.phone,
                                                      referrer=args.referrer))
    print(f"member enrolled in group {group}")


def cmd_member_show(config: Config, args: argparse.Namespace) -> None:
    member = with_store(config, lambda store: store.member(args.card))
    print(json.dumps(member, sort_keys=True))


def cmd_member_import(config: Config, args: argparse.Namespace) -> None:
    count = with_store(config, lambda store: store.import_members(args.file, config.groups,
                                                                  config.default_group.name))
    print(f"{count} members imported")


def cmd_member_block(config: Config, args: argparse.Namespace) -> None:
    with_store(config, lambda store: store.block_member(args.card))
    print(f"member with card {mask_pan(args.card)} blocked")


def cmd_member_unblock(config: Config, args: argparse.Namespace) -> None:
    with_store(config, lambda store: store.unblock_member(args.card))
    print(f"member with card {mask_pan(args.card)} unblocked")


def cmd_card_replace(config: Config, args: argparse.Namespace) -> None:
    with_store(config, lambda store: store.replace_card(args.old, args.new))
    print(f"card {mask_pan(args.old)} reported lost, replaced by {mask_pan(args.new)}")


def cmd_credit_grant(config: Config, args: argparse.Namespace) -> None:
    amount = _positive_amount(args.amount)
    days = None if args.expires_in_days is None else _days(args.expires_in_days)
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    lot = with_store(config, lambda store: store.grant_credit(args.card, amount, expires_at=expires))
    print(f"granted {amount} as lot {lot}" + (f", expiring {expires:%Y-%m-%d %H:%M} UTC" if expires else ""))


def cmd_group_grant(config: Config, args: argparse.Namespace) -> None:
    amount = _positive_amount(args.amount)
    days = None if args.expires_in_days is None else _days(args.expires_in_days)
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    count = with_store(config, lambda store: store.grant_group(args.group, amount, config.groups, expires_at=expires))
    members = _plural(count, "member")
    expiry = f", expiring {expires:%Y-%m-%d %H:%M} UTC" if expires else ", without expiry"
    print(f"granted {amount} to {members} of {args.group}{expiry}"
          + (": the group has no members" if count == 0 else ""))


def _date(text: str, option: str = "--date") -> date:
    """``option``'s value as a ``date``: exactly YYYY-MM-DD, a real day."""
    problem = CommandError(f"{option}: expected a date as YYYY-MM-DD, got {text!r}")
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        raise problem
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise problem from None


def _calendar(config: Config, branch: str):
    """The branch's business days, as the rule core counts them."""
    from .store.reports import Calendar

    known = config.branches.get(branch)
    if known is None:
        return Calendar(config.program.default_timezone, 0)
    return Calendar(known.timezone, known.day_cutoff_hour)


def _report_days(text: str) -> int:
    days = _whole(text, f"--days: expected a whole number of days, got {text!r}")
    if not 0 < days <= MAX_REPORT_DAYS:
        raise CommandError(f"--days: expected a number of days from 1 to {MAX_REPORT_DAYS}, got {days}")
    return days


def _report_out(args: argparse.Namespace) -> None:
    """``--format xlsx`` needs ``--out``, and ``--out`` is a new file: checked before reading."""
    if args.format == "xlsx" and args.out is None:
        raise CommandError("--format xlsx needs --out FILE")
    if args.out is not None and os.path.lexists(args.out):
        raise CommandError(f"--out: {args.out} already exists: a report is never written over a file")


def _report_options(report: argparse.ArgumentParser) -> None:
    report.add_argument("--format", choices=REPORT_FORMATS, default="table",
                        help="an aligned table (default), CSV, or XLSX (needs --out)")
    report.add_argument("--out", metavar="FILE", help="write to FILE, a new file, not to stdout")


def cmd_report_daily(config: Config, args: argparse.Namespace) -> None:
    from .store import StoreError, reports
    from .store.report_output import daily_sheet, emit

    day = _date(args.date)
    _report_out(args)

    def read(conn):
        if args.branch not in config.branches and not reports.branch_exists(conn, args.branch):
            raise StoreError(f"unknown branch {args.branch!r}: not configured and no terminal registered there")
        return reports.daily(conn, args.branch, day, _calendar(config, args.branch),
                             replay_days=config.program.replay_days, hold_minutes=config.program.hold_minutes)

    report = with_store(config, lambda store: store.report(read))
    emit(daily_sheet(report), args.format, args.out)


def cmd_report_terminal(config: Config, args: argparse.Namespace) -> None:
    from .store import reports
    from .store.report_output import daily_sheet, emit

    day = _date(args.date)
    _report_out(args)

    def read(conn):
        branch = reports.terminal_branch(conn, args.tid)
        return reports.daily(conn, branch, day, _calendar(config, branch), replay_days=config.program.replay_days,
                             hold_minutes=config.program.hold_minutes, terminal=args.tid)

    report = with_store(config, lambda store: store.report(read))
    emit(daily_sheet(report), args.format, args.out)


def cmd_report_member(config: Config, args: argparse.Namespace) -> None:
    from .store import reports
    from .store.report_output import emit, member_sheet

    days = _report_days(args.days)
    _report_out(args)
    now = datetime.now(UTC)
    report = with_store(config, lambda store: store.report(
        lambda conn: reports.member(conn, args.card, now - timedelta(days=days), now)))
    emit(member_sheet(report), args.format, args.out)


def cmd_report_security(config: Config, args: argparse.Namespace) -> None:
    from .store.report_output import emit, security_sheet
    from .store.security import security

    days = _report_days(args.days)
    _report_out(args)
    since = datetime.now(UTC) - timedelta(days=days)
    suspects = with_store(config, lambda store: store.report(lambda conn: security(conn, since)))
    emit(security_sheet(suspects, days), args.format, args.out)


def cmd_report_expired(config: Config, args: argparse.Namespace) -> None:
    from .store import reports
    from .store.report_output import emit, expired_sheet

    last = _date(args.date)
    days = _report_days(args.days)
    _report_out(args)
    first, now = last - timedelta(days=days - 1), datetime.now(UTC)
    report = with_store(config, lambda store: store.report(lambda conn: reports.expired(conn, first, last, now)))
    emit(expired_sheet(report), args.format, args.out)


def cmd_giftcard_register(config: Config, args: argparse.Namespace) -> None:
    from .store.giftcards import card_range

    count = _whole(args.count, f"count must be a whole number of cards, got {args.count!r}")
    done = with_store(config, lambda store: store.register_gift_cards(args.from_card, count))
    last = card_range(args.from_card, count)[-1]
    print(f"{_plural(done, 'gift card')} registered, {mask_pan(args.from_card)} to {mask_pan(last)}, "
          "inactive until a terminal activates them")


def cmd_card_issue(config: Config, args: argparse.Namespace) -> None:
    from .store.uidtags import issue_tag

    uid = with_store(config, lambda store: issue_tag(store, args.uid, args.card))
    print(f"UID tag {uid} issued to the member holding card {mask_pan(args.card)}"
          + ("" if config.clubcard.uid_tags_redeem else "; it may earn, not redeem ([clubcard] uid_tags_redeem)"))


def cmd_voucher_generate(config: Config, args: argparse.Namespace) -> None:
    from .config import voucher_key

    count = _whole(args.count, f"--count: expected a whole number of vouchers, got {args.count!r}")
    value = _positive_amount(args.value)
    last_day = _date(args.expires, "--expires")
    expires_at = datetime.combine(last_day + timedelta(days=1), time(0), UTC)  # valid through the whole day
    key = voucher_key(config)
    out = _new_private_file(args.out) if args.out else sys.stdout
    try:
        made = with_store(config, lambda store: store.generate_vouchers(
            count, value, expires_at, key, args.batch, pin_digits=config.vouchers.pin_digits))
    except BaseException:
        if args.out:
            out.close()
            os.unlink(args.out)
        raise
    batch = made[0][0].rpartition("-")[0]
    try:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("serial", "pin", "value", "expires"))
        writer.writerows((serial, pin, value, last_day.isoformat()) for serial, pin in made)
        out.flush()
        if args.out:
            os.fsync(out.fileno())
            out.close()
    except OSError as e:
        raise CommandError(f"batch {batch} was generated but its PINs could not be written ({e.strerror or e}): "
                           f"void it with 'terminal-gateway voucher void --batch {batch}'") from None
    where = f"PINs in {args.out}" if args.out else "PINs on stdout"
    print(f"{_plural(len(made), 'voucher')} of {value} generated in batch {batch}, {made[0][0]} to {made[-1][0]}, "
          f"valid through {last_day.isoformat()} (UTC), not yet active; {where}", file=sys.stderr)


def _new_private_file(path: str):
    """``path`` created for writing, readable by its owner only; never an existing file."""
    try:
        return new_private(path)
    except FileExistsError:
        raise CommandError(f"--out: {path} already exists: PINs are never written over a file") from None


def cmd_voucher_activate(config: Config, args: argparse.Namespace) -> None:
    _move_vouchers(config, args, "activated", lambda store: store.activate_vouchers)


def cmd_voucher_void(config: Config, args: argparse.Namespace) -> None:
    _move_vouchers(config, args, "voided", lambda store: store.void_vouchers)


def _move_vouchers(config: Config, args: argparse.Namespace, verb: str, method: Callable) -> None:
    from .store.vouchers import Selection

    first, last = (args.serial, args.serial) if getattr(args, "serial", None) else (args.first, args.last)
    named = [bool(args.batch), bool(args.first or args.last), bool(getattr(args, "serial", None))]
    if sum(named) != 1:
        raise CommandError("name the vouchers: --batch B, or --from SERIAL --to SERIAL"
                           + (", or one SERIAL" if hasattr(args, "serial") else ""))
    if bool(first) != bool(last):
        raise CommandError("--from and --to go together: give both")
    selection = Selection.named(args.batch, first, last)
    changed = with_store(config, lambda store: method(store)(args.batch, first, last))
    print(f"{verb} {_plural(changed, 'voucher')} {selection}")


def cmd_points_convert(config: Config, args: argparse.Namespace) -> None:
    points = _whole(args.points, f"points must be a whole number, got {args.points!r}")
    done = with_store(config, lambda store: store.convert_points(args.card, points, config.groups))
    print(json.dumps({"card": args.card, "account": done.account_id, "points": done.points, "credit": done.credit,
                      "lot": done.lot_id, "expires_at": done.expires_at.isoformat() if done.expires_at else None,
                      "points_left": done.points_left}, sort_keys=True))


def cmd_reload(config: Config, args: argparse.Namespace) -> None:
    with_store(config, lambda store: store.announce_reload())
    print(f"configuration {config.path} is valid; running gateways reload it within poll_seconds")


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def cmd_simulate(config: Config | None, args: argparse.Namespace) -> int:
    from .simulators.club8583 import main as simulate

    return simulate(args)


def with_store(config: Config, action: Callable):
    from .store import StoreError

    store = _store(config)
    try:
        store.check_schema()
        return action(store)
    except StoreError as refused:
        with suppress(StoreError):  # a trail that cannot be written must not hide why the change was refused
            store.audit_refused(str(refused))
        raise
    finally:
        store.close()


def _safe_url(url: str) -> str:
    """The store URL without its password, fit for a log or a message."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the configured store"


# -- counter stations' credentials --------------------------------------------------------

def cmd_station_token(config: Config, args: argparse.Namespace) -> None:
    _configured_station(config, args.tid)
    token = with_store(config, lambda store: store.issue_station_token(args.tid))
    print(token)
    print(f"station {args.tid}: a new bearer token for the counter API (above, shown this once; only its hash is "
          "kept; any earlier token of the station no longer works)", file=sys.stderr)


def cmd_station_revoke(config: Config, args: argparse.Namespace) -> None:
    had = with_store(config, lambda store: store.revoke_station_token(args.tid))
    print(f"station {args.tid}: token revoked, the counter API refuses it from now on" if had
          else f"station {args.tid} had no token; nothing changed")


def _configured_station(config: Config, tid: str) -> None:
    if tid not in {station.terminal for station in config.stations}:
        raise CommandError(f"no station acts as terminal {tid!r} in {config.path}: configure it in [[stations]] first")


# -- the audit trail ---------------------------------------------------------------------
# Every command that changes value or keys is audited: the store it opens writes a row (the
# operating-system user, the command, its target, the time, the outcome) in the transaction
# of its change, or one saying why it was refused. Targets mask card numbers and never hold a
# key, a PIN or a token.

_running: ContextVar[Audited | None] = ContextVar("the audited command being run", default=None)


def _card(args: argparse.Namespace) -> str:
    return f"card {mask_pan(args.card)}"


def _vouchers(args: argparse.Namespace) -> str:
    serial = getattr(args, "serial", None)
    return (f"batch {args.batch}" if args.batch else f"voucher {serial}" if serial
            else f"vouchers {args.first} to {args.last}")


AUDITED: dict[tuple[str, str | None], Callable[[argparse.Namespace], str]] = {
    ("terminal", "add"): lambda a: f"terminal {a.tid} at branch {a.branch}",
    ("terminal", "import"): lambda a: f"terminals of {a.file}",
    ("member", "add"): _card,
    ("member", "import"): lambda a: f"members of {a.file}",
    ("member", "block"): _card,
    ("member", "unblock"): _card,
    ("card", "replace"): lambda a: f"card {mask_pan(a.old)} lost, replaced by {mask_pan(a.new)}",
    ("card", "issue"): lambda a: f"UID tag {a.uid} for card {mask_pan(a.card)}",
    ("credit", "grant"): lambda a: f"card {mask_pan(a.card)}, amount {a.amount}",
    ("group", "grant"): lambda a: f"group {a.group}, amount {a.amount} each",
    ("giftcard", "register"): lambda a: f"{a.count} gift cards from {mask_pan(a.from_card)}",
    ("voucher", "generate"): lambda a: f"{a.count} vouchers of {a.value}" + (f" in batch {a.batch}" if a.batch else ""),
    ("voucher", "activate"): _vouchers,
    ("voucher", "void"): _vouchers,
    ("points", "convert"): lambda a: f"card {mask_pan(a.card)}, {a.points} points",
    ("reload", None): lambda a: "the configuration",
    ("station", "token"): lambda a: f"station {a.tid}",
    ("station", "revoke"): lambda a: f"station {a.tid}",
    ("terminal", "key"): lambda a: f"terminal {a.tid} master key " + ("generated" if a.generate else "loaded"),
    ("keys", "rotate-kek"): lambda a: "every terminal key, re-wrapped under a new KEK",
    ("terminal", "revoke"): lambda a: f"terminal {a.tid} client certificates",
}


def _audited(args: argparse.Namespace) -> Audited | None:
    """What the audit trail says of this command, or ``None`` when it changes nothing."""
    words = (args.command, getattr(args, "action", None))
    target = AUDITED.get(words)
    if target is None:
        return None
    from .store import Audited

    return Audited(_os_user(), " ".join(word for word in words if word), target(args))


def _os_user() -> str:
    """Who runs the command: the effective user's name (from the password database, not from
    $USER, which the caller sets), and who became it through sudo."""
    try:
        user = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # no password entry for the uid (a container)
        user = f"uid {os.geteuid()}"
    sudo = os.environ.get("SUDO_USER")
    return f"{user} (sudo by {sudo})" if sudo and sudo != user else user


def cmd_audit(config: Config, args: argparse.Namespace) -> None:
    from .store.report_output import Sheet, emit

    start = None if args.since is None else datetime.combine(_date(args.since, "--since"), time(0), UTC)
    _report_out(args)
    trail = with_store(config, lambda store: store.audit_trail(start))
    rows = [[row.at.strftime("%Y-%m-%d %H:%M:%S"), row.os_user, row.command, row.target, row.outcome]
            for row in trail]
    since = f" since {args.since} (UTC)" if args.since else ""
    emit(Sheet("audit", f"audit trail{since}: {_plural(len(rows), 'command')}",
               ["time_utc", "os_user", "command", "target", "outcome"], rows), args.format, args.out)


def _station_parsers(commands: Any) -> None:
    station = _actions(commands, "station", "counter stations' credentials for the counter API")
    token = station.add_parser(
        "token", help="issue a station's bearer token and print it once",
        description="Generate a new bearer token for the counter station acting as TID (configured in [[stations]]) "
                    "and print it on stdout, this once: the store keeps only its SHA-256. The counter software sends "
                    "it as 'Authorization: Bearer <token>'. A station's earlier token stops working at once.")
    token.add_argument("tid", metavar="TID")
    token.set_defaults(func=cmd_station_token)
    revoke = station.add_parser("revoke", help="withdraw a station's token: the counter API refuses it at once")
    revoke.add_argument("tid", metavar="TID")
    revoke.set_defaults(func=cmd_station_revoke)
    audit = commands.add_parser(
        "audit", help="who changed value or keys from the command line, and when",
        description="The audit trail, oldest first: time (UTC), operating-system user, command, target (card "
                    "numbers masked) and outcome ('done', or 'refused:' and why) of every command that changes "
                    "value or keys.")
    audit.add_argument("--since", metavar="YYYY-MM-DD", help="from this UTC date on (default: all)")
    _report_options(audit)
    audit.set_defaults(func=cmd_audit)


def _actions(commands: Any, name: str, what: str) -> Any:
    """The sub-commands (actions) of a command such as ``member``."""
    return commands.add_parser(name, help=what).add_subparsers(dest="action", required=True, metavar="ACTION")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="terminal-gateway", description="Club card transaction gateway for clinics.")
    p.add_argument("--config", metavar="FILE", help=f"configuration file (default: ${ENV_VAR})")
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("init", help="create or upgrade the database schema").set_defaults(func=cmd_init)
    commands.add_parser("run", help="run the gateway until SIGTERM or SIGINT").set_defaults(func=cmd_run)

    terminal = _actions(commands, "terminal", "register terminals, load their keys, show them")
    add = terminal.add_parser("add", help="register a terminal (DE41) at a branch (DE42)")
    add.add_argument("tid")
    add.add_argument("--branch", required=True)
    add.add_argument("--family", choices=families.bindable(),
                     help="the only family of terminals it may speak as (default: any)")
    add.set_defaults(func=cmd_terminal_add)
    imp = terminal.add_parser("import", help="register terminals from a CSV file: tid,branch or tid,branch,family")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_terminal_import)
    add_tls_commands(commands, terminal, with_store)
    key = terminal.add_parser("key", help="load or generate a terminal's master key (MAC profiles)",
                              description="Store the terminal's master key, wrapped under the KEK of [keys]. "
                                          "--generate prints the new key once, with its check value.")
    key.add_argument("tid")
    source = key.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-file", metavar="FILE", help="16 or 32 bytes, raw or hex")
    source.add_argument("--generate", action="store_true")
    key.set_defaults(func=cmd_terminal_key)
    show = terminal.add_parser("show", help="print a terminal as JSON: key check values, security events (63)")
    show.add_argument("tid")
    show.add_argument("--days", default="7", help="count security events of the last DAYS days (default 7)")
    show.set_defaults(func=cmd_terminal_show)

    kek = _actions(commands, "keys", "the key-encryption key (KEK) that wraps the terminal keys")
    new_kek = kek.add_parser("new-kek", help="write a new random KEK to FILE, readable by you only")
    new_kek.add_argument("file")
    new_kek.set_defaults(func=cmd_keys_new_kek, needs_config=False)
    rotate = kek.add_parser("rotate-kek", help="re-wrap every stored key under a new KEK, in one transaction",
                            description="Re-wrap every terminal key under the KEK in FILE, all or nothing; then "
                                        "[keys] kek_file is replaced by FILE's key, and running daemons take it "
                                        "up at their next poll. With kek_env, set the variable for the next start.")
    rotate.add_argument("--new-file", metavar="FILE", required=True)
    rotate.set_defaults(func=cmd_keys_rotate_kek)

    member = _actions(commands, "member", "enrol and inspect members")
    add = member.add_parser("add", help="enrol a member with a club card")
    add.add_argument("card")
    add.add_argument("--group")
    add.add_argument("--phone")
    add.add_argument("--referrer", metavar="CARD")
    add.set_defaults(func=cmd_member_add)
    show = member.add_parser("show", help="print a member as JSON")
    show.add_argument("card")
    show.set_defaults(func=cmd_member_show)
    imp = member.add_parser("import", help="enrol members from a CSV file: card,group,phone,referrer,credit")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_member_import)
    block = member.add_parser("block", help="block a member: every card of the account is declined (05)")
    block.add_argument("card")
    block.set_defaults(func=cmd_member_block)
    unblock = member.add_parser("unblock", help="lift a member's block")
    unblock.add_argument("card")
    unblock.set_defaults(func=cmd_member_unblock)

    card = _actions(commands, "card", "replace lost cards, issue UID tags")
    replace = card.add_parser("replace", help="report a card lost (41) and move its account to a new card")
    replace.add_argument("old")
    replace.add_argument("new")
    replace.set_defaults(func=cmd_card_replace)
    issue = card.add_parser(
        "issue", help="register a UID tag as an alias of a member's card",
        description="Register the NFC tag or fob with UID (4, 7 or 10 bytes in hex, colons allowed) to the member "
                    "holding CARD: a counter station that reads the tag decides as for the card. UID tags may "
                    "earn; they redeem only where [clubcard] uid_tags_redeem = true.")
    issue.add_argument("uid", metavar="UID")
    issue.add_argument("card", metavar="CARD")
    issue.set_defaults(func=cmd_card_issue)

    credit = _actions(commands, "credit", "give members credit")
    grant = credit.add_parser("grant", help="add a credit lot to a member's account")
    grant.add_argument("card")
    grant.add_argument("amount", help="minor units, more than 0")
    grant.add_argument("--expires-in-days", metavar="N")
    grant.set_defaults(func=cmd_credit_grant)

    group = _actions(commands, "group", "act on every member of a group")
    grant = group.add_parser(
        "grant", help="add a credit lot to every member of a group (blocked members too)",
        description="Add a credit lot of the amount to every member of the group, blocked members included (a block "
                    "stops spending, not owning), in one transaction. The club's program grants group credit "
                    "with an expiry: give --expires-in-days; without it the lots never expire.")
    grant.add_argument("group")
    grant.add_argument("amount", help="minor units, more than 0")
    grant.add_argument("--expires-in-days", metavar="N", help="the lots expire N days from now (give one)")
    grant.set_defaults(func=cmd_group_grant)

    giftcard = _actions(commands, "giftcard", "register gift cards")
    register = giftcard.add_parser(
        "register", help="register a range of gift card numbers, inactive",
        description="Register COUNT consecutive gift card numbers from FROM_CARD (13 to 19 digits, Luhn-valid; "
                    "each next number is the one before without its check digit plus one, with its own check "
                    "digit). Each is a gift card account of its own, inactive until a terminal activates it with "
                    "an amount. All or none: a number already registered fails the whole range.")
    register.add_argument("from_card", metavar="FROM_CARD")
    register.add_argument("count", metavar="COUNT")
    register.set_defaults(func=cmd_giftcard_register)

    voucher = _actions(commands, "voucher", "generate, activate and void top-up vouchers")
    generate = voucher.add_parser(
        "generate", help="generate a batch of vouchers and print their PINs once, as CSV",
        description="Generate N vouchers of VALUE in a new batch, state 'generated' (not yet redeemable: activate "
                    "them when sold). Prints CSV serial,pin,value,expires on stdout, or writes it to --out FILE "
                    "(created readable by its owner only; never an existing file). The PINs are shown this once: "
                    "the store keeps only their keyed hash ([vouchers] key_file or key_env).")
    generate.add_argument("--count", required=True, metavar="N")
    generate.add_argument("--value", required=True, metavar="V", help="minor units, more than 0")
    generate.add_argument("--expires", required=True, metavar="YYYY-MM-DD", help="the last day (UTC) it is valid")
    generate.add_argument("--batch", metavar="NAME", help="up to 13 letters, digits or '_' (default: B and the time)")
    generate.add_argument("--out", metavar="FILE", help="write the CSV to this new file instead of stdout")
    generate.set_defaults(func=cmd_voucher_generate)
    for action, func, what in (("activate", cmd_voucher_activate, "activate (sell) generated vouchers"),
                               ("void", cmd_voucher_void, "void generated or active vouchers (never redeemed ones)")):
        one = ", or the one SERIAL" if action == "void" else ""
        move = voucher.add_parser(action, help=what, description=f"{what[0].upper()}{what[1:]}: a whole batch, or "
                                  f"the serials from --from to --to of one batch{one}. Prints how many changed.")
        move.add_argument("--batch", metavar="B")
        move.add_argument("--from", dest="first", metavar="SERIAL")
        move.add_argument("--to", dest="last", metavar="SERIAL")
        if action == "void":
            move.add_argument("serial", nargs="?", metavar="SERIAL", help="one voucher")
        move.set_defaults(func=func)

    points = _actions(commands, "points", "convert members' points to credit")
    convert = points.add_parser(
        "convert", help="turn a member's points into a credit lot",
        description="Take POINTS of the member's points and add a credit lot worth the group's points.value each, "
                    "expiring as the group's credit does (credit_expiry_months or credit_expiry_days). Prints "
                    "the result as JSON.")
    convert.add_argument("card")
    convert.add_argument("points")
    convert.set_defaults(func=cmd_points_convert)

    commands.add_parser(
        "reload", help="check the configuration and make running gateways reload it",
        description="Load the configuration file (which validates it) and, if it is valid, tell every running "
                    "gateway of this store to reload its program (through the change feed).",
    ).set_defaults(func=cmd_reload)

    report = commands.add_parser("report", help="reports from the journal and credit lots (read-only)").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    daily = report.add_parser(
        "daily", help="one branch's figures for one business day, per terminal and in total",
        description="Approved redemptions (redeem 00/10 and complete), refunds, reversals, open and expired holds, "
                    "accruals (money paid, credit and points earned), accrual returns (money refunded, credit "
                    "taken back), voucher top-ups, gift card activations, "
                    "and declines by response code and binding limit, per terminal of the branch and in total, "
                    "for one business day (the branch's local date from its cut-off hour, as the caps count it). "
                    "Amounts in minor units. A day without transactions is a report of zeros.")
    daily.add_argument("--branch", required=True)
    daily.add_argument("--date", required=True, metavar="YYYY-MM-DD", help="the business day")
    _report_options(daily)
    daily.set_defaults(func=cmd_report_daily)
    term = report.add_parser("terminal", help="one terminal's figures for one business day",
                             description="The figures of 'report daily' for one registered terminal, at the branch "
                                         "it is registered at.")
    term.add_argument("tid")
    term.add_argument("--date", required=True, metavar="YYYY-MM-DD", help="the business day")
    _report_options(term)
    term.set_defaults(func=cmd_report_terminal)
    mem = report.add_parser(
        "member", help="a member's journal rows of the last days, newest first",
        description="The journal rows of the member's account (any of its cards), newest first: time (UTC), "
                    "terminal, kind, requested, approved, code, binding limit, RRN. The journal is not indexed by "
                    "member, so this scans the journal of the last --days days (indexed by time): keep it short. "
                    "Requests whose card was not resolved to a member (unknown or lost card) are not shown. The "
                    "table's first line gives the credit left in the member's expired lots.")
    mem.add_argument("card")
    mem.add_argument("--days", default="30", metavar="N",
                     help="scan the journal of the last N days (default 30); a larger N scans more of it")
    _report_options(mem)
    mem.set_defaults(func=cmd_report_member)
    sec = report.add_parser(
        "security", help="wrong voucher PINs, locked top-ups and limit declines, by terminal and card",
        description="Per terminal and per member account (shown by a masked card), over the last --days days: "
                    "wrong voucher PINs (55), top-ups refused while locked (75), and declines by the limits "
                    "against a dishonest counter (a branch maximum, 13; a velocity limit, 61 or 65). The most "
                    "wrong PINs first. No PIN is ever in the journal.")
    sec.add_argument("--days", default="1", metavar="N", help="the journal of the last N days (default 1)")
    _report_options(sec)
    sec.set_defaults(func=cmd_report_security)
    expired = report.add_parser(
        "expired", help="credit that expired, per UTC date and lot source (program-wide)",
        description="The credit lots that expired on each UTC date of the --days days ending with --date (a lot "
                    "expiring later today has not yet), per source (grant, group, accrual, referral, voucher, "
                    "gift, points, import ...): how many, how many had credit left, and that credit, in minor "
                    "units. Lots belong to members, not branches: the report is program-wide.")
    expired.add_argument("--date", required=True, metavar="YYYY-MM-DD", help="the last UTC date")
    expired.add_argument("--days", default="1", metavar="N", help="the N dates ending with --date (default 1)")
    _report_options(expired)
    expired.set_defaults(func=cmd_report_expired)

    _station_parsers(commands)

    from .simulators.options import add_arguments

    simulate = commands.add_parser("simulate", help="run simulated Club-8583 terminals against a gateway")
    add_arguments(simulate)
    simulate.set_defaults(func=cmd_simulate, needs_config=False)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        config = load(args.config) if getattr(args, "needs_config", True) else None
        running = _running.set(_audited(args))
        try:
            result = args.func(config, args)
        finally:
            _running.reset(running)
    except (ConfigError, ProfileError, CommandError, CertificateError) as e:
        return _failed(str(e))
    except KeyboardInterrupt:
        return _failed("interrupted", EXIT_INTERRUPTED)
    except OSError as e:  # e.g. the SQLite file's folder cannot be created
        return _failed(f"{e.filename}: {e.strerror}" if e.filename and e.strerror else str(e) or type(e).__name__)
    except Exception as e:
        from .store import StoreError

        if isinstance(e, StoreError):
            return _failed(str(e))
        # Still one line, as promised to installation scripts: name the error, not its stack.
        return _failed(f"unexpected error: {type(e).__name__}: {e}")
    return result if isinstance(result, int) else 0


def _failed(reason: str, code: int = EXIT_FAILURE) -> int:
    """Print ``reason`` as the one line on stderr; the exit code."""
    line = " ".join(part.strip() for part in reason.splitlines() if part.strip())
    print(f"terminal-gateway: {line}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
