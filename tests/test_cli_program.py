"""``giftcard register``, ``voucher generate/activate/void``, ``points convert`` and ``reload``
through the real command line, on a temporary SQLite store: what each prints, what the store
holds afterwards, and every refusal in one line with exit code 1."""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from terminal_gateway.config import load, voucher_key
from terminal_gateway.rules.calendar import add_months
from terminal_gateway.rules.cards import luhn_valid, with_check_digit
from terminal_gateway.rules.vouchers import pin_hash
from terminal_gateway.simulators.local import clinic_config, write_voucher_key

from .test_cli import Install, Result, fresh_card, luhn_broken, run
from .test_cli_members import masked  # every card here has 16 digits

_ranges = itertools.count(1)
_batches = itertools.count(1)


class ProgramInstall(Install):
    """The simulated clinic (its program: silver's points are worth something, gold's not)
    with a voucher key file."""

    def __init__(self, folder: Path):
        super().__init__(folder)
        self.key_file = write_voucher_key(folder / "voucher.key")
        self.config.write_text(clinic_config(f"sqlite:///{self.db}", {"club-t2": 0}, voucher_key_file=self.key_file))
        self.program = load(self.config)
        self.key = voucher_key(self.program)

    def changes(self) -> list[tuple[str, str]]:
        return self.rows("SELECT kind, ref FROM changes ORDER BY id")

    def execute(self, sql: str, *params: object) -> None:
        """Change the store as no command does (a terminal redeeming, an accrual earning points)."""
        with sqlite3.connect(self.db) as conn:
            conn.execute(sql, params)


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> ProgramInstall:
    installation = ProgramInstall(tmp_path_factory.mktemp("cli-program"))
    installation("init").ok()
    return installation


def gift_range() -> str:
    """The first number of a range of up to 1,000 gift cards no other test uses."""
    return with_check_digit(f"603799{next(_ranges):06d}000")


def batch() -> str:
    return f"T{next(_batches)}"


def vouchers_of(result: Result) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(result.out)))


def test_help_lists_the_program_commands(install: ProgramInstall) -> None:
    top, giftcard, voucher, points = install.many(("--help",), ("giftcard", "--help"), ("voucher", "--help"),
                                                  ("points", "--help"))
    for command in ("giftcard", "voucher", "points", "reload"):
        assert f"    {command} " in top.ok().out, top.out
    assert "    register " in giftcard.ok().out
    for action in ("generate", "activate", "void"):
        assert f"    {action} " in voucher.ok().out, voucher.out
    assert "    convert " in points.ok().out


# -- gift cards -------------------------------------------------------------------------------


def test_a_gift_range_is_registered_inactive(install: ProgramInstall) -> None:
    first = gift_range()
    third = with_check_digit(str(int(first[:-1]) + 2))
    done = install("giftcard", "register", first, "3").ok().out
    assert done.strip() == (f"3 gift cards registered, {masked(first)} to {masked(third)}, "
                            "inactive until a terminal activates them")
    assert first not in done
    shown = install("member", "show", third).json()
    assert (shown["kind"], shown["gift_state"], shown["group"], shown["balance"]) == ("gift", "inactive", "", 0)
    assert luhn_valid(third) and install.enrolled(first, third) == 2


def test_a_bad_gift_range_is_one_line_and_registers_nothing(install: ProgramInstall) -> None:
    taken, member = gift_range(), gift_range()
    install("giftcard", "register", taken, "2").ok()
    install("member", "add", with_check_digit(str(int(member[:-1]) + 1))).ok()
    before = install.snapshot()
    refusals = {
        ("giftcard", "register", taken, "5"): f"card {masked(taken)} is already registered (and 1 more of the range)",
        ("giftcard", "register", member, "3"): f"card {masked(with_check_digit(str(int(member[:-1]) + 1)))} is "
                                               "already registered: nothing registered",
        ("giftcard", "register", luhn_broken(member), "3"): "fails the Luhn check",
        ("giftcard", "register", member, "ten"): "count must be a whole number of cards, got 'ten'",
        ("giftcard", "register", member, "0"): "count 0 must be a whole number from 1 to 1000000",
    }
    for (words, reason), result in zip(refusals.items(), install.many(*refusals), strict=True):
        line = result.failed(reason)
        assert result.code == 1 and words[2] not in line, (words, line)
    assert install.snapshot() == before


# -- vouchers ---------------------------------------------------------------------------------


def test_vouchers_are_printed_once_as_csv_and_stored_as_hashes(install: ProgramInstall) -> None:
    name = batch()
    result = install("voucher", "generate", "--count", "5", "--value", "20000", "--expires", "2031-12-31",
                     "--batch", name).ok()
    assert result.out.splitlines()[0] == "serial,pin,value,expires"
    made = vouchers_of(result)
    assert [v["serial"] for v in made] == [f"{name}-{n:06d}" for n in range(1, 6)]
    assert all(re.fullmatch(r"[0-9]{12}", v["pin"]) and (v["value"], v["expires"]) == ("20000", "2031-12-31")
               for v in made)
    assert result.err.strip() == (f"5 vouchers of 20000 generated in batch {name}, {name}-000001 to {name}-000005, "
                                  "valid through 2031-12-31 (UTC), not yet active; PINs on stdout")
    stored = dict(install.rows("SELECT serial, pin_hash FROM vouchers WHERE batch = ?", name))
    assert stored == {v["serial"]: pin_hash(install.key, v["pin"]) for v in made}
    assert install.rows("SELECT DISTINCT state, expires_at FROM vouchers WHERE batch = ?", name) == [
        ("generated", "2032-01-01 00:00:00.000000")]  # valid through the whole of the last day (UTC)
    dump = repr(install.snapshot())
    assert not [v["pin"] for v in made if v["pin"] in dump]


def test_vouchers_go_to_a_new_private_file_never_over_one(install: ProgramInstall, tmp_path: Path) -> None:
    out, name = tmp_path / "spring.csv", batch()
    result = install("voucher", "generate", "--count", "3", "--value", "500", "--expires", "2031-06-30",
                     "--batch", name, "--out", str(out)).ok()
    assert result.out == "" and result.err.strip().endswith(f"PINs in {out}")
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    written = out.read_text()
    assert len(list(csv.DictReader(io.StringIO(written)))) == 3

    again = install("voucher", "generate", "--count", "3", "--value", "500", "--expires", "2031-06-30",
                    "--out", str(out))
    again.failed(f"--out: {out} already exists: PINs are never written over a file")
    assert out.read_text() == written
    assert install.rows("SELECT COUNT(*) FROM vouchers WHERE value = 500") == [(3,)]


def test_a_failed_generation_leaves_no_file(install: ProgramInstall, tmp_path: Path) -> None:
    name = batch()
    install("voucher", "generate", "--count", "1", "--value", "5", "--expires", "2031-06-30", "--batch", name).ok()
    out = tmp_path / "again.csv"
    install("voucher", "generate", "--count", "1", "--value", "5", "--expires", "2031-06-30", "--batch", name,
            "--out", str(out)).failed(f"batch {name} already exists: give another --batch")
    assert not out.exists()


def test_a_bad_generation_is_one_line(install: ProgramInstall) -> None:
    before = install.rows("SELECT COUNT(*) FROM vouchers")
    good = {"--count": "2", "--value": "100", "--expires": "2031-06-30"}
    refusals = {
        ("--count", "many"): "--count: expected a whole number of vouchers, got 'many'",
        ("--count", "0"): "count 0 must be a whole number from 1 to 999999",
        ("--value", "0"): "amount must be more than zero, got 0",
        ("--expires", "30/06/2031"): "--expires: expected a date as YYYY-MM-DD, got '30/06/2031'",
        ("--expires", "2031-02-30"): "--expires: expected a date as YYYY-MM-DD, got '2031-02-30'",
        ("--expires", "2020-01-01"): "expiry 2020-01-02 00:00 UTC is not in the future",
        ("--batch", "two words"): "batch name 'two words' must be 1 to 13 letters, digits or '_'",
    }
    calls = [("voucher", "generate", *itertools.chain(*(good | dict([words])).items())) for words in refusals]
    for reason, result in zip(refusals.values(), install.many(*calls), strict=True):
        assert result.code == 1
        result.failed(reason)
    keyless = install.folder / "keyless.toml"
    keyless.write_text(install.config.read_text().replace(str(install.key_file), str(install.folder / "missing.key")))
    no_key = run("--config", str(keyless), "voucher", "generate", *itertools.chain(*good.items()))
    no_key.failed(f"{keyless}: vouchers.key_file: expected a readable key file")
    assert install.rows("SELECT COUNT(*) FROM vouchers") == before


def generate(install: ProgramInstall, count: int) -> str:
    name = batch()
    install("voucher", "generate", "--count", str(count), "--value", "100", "--expires", "2031-06-30",
            "--batch", name).ok()
    return name


def test_vouchers_are_activated_and_voided(install: ProgramInstall) -> None:
    name = generate(install, 5)
    assert install("voucher", "activate", "--from", f"{name}-000002", "--to", f"{name}-000003").ok().out.strip() == (
        f"activated 2 vouchers from {name}-000002 to {name}-000003")
    assert install("voucher", "activate", "--batch", name).ok().out.strip() == f"activated 3 vouchers of batch {name}"
    install.execute("UPDATE vouchers SET state = 'redeemed' WHERE serial = ?", f"{name}-000001")
    assert install("voucher", "void", f"{name}-000005").ok().out.strip() == f"voided 1 voucher {name}-000005"
    assert install("voucher", "void", "--batch", name).ok().out.strip() == f"voided 3 vouchers of batch {name}"
    assert dict(install.rows("SELECT serial, state FROM vouchers WHERE batch = ?", name)) == {
        f"{name}-000001": "redeemed", **{f"{name}-00000{n}": "void" for n in range(2, 6)}}
    fed = [ref for kind, ref in install.changes() if kind == "voucher" and ref.startswith(f"{name}-")]
    assert fed == [f"{name}-00000{n}" for n in (2, 3, 1, 4, 5, 5, 2, 3, 4)]


def test_a_voucher_command_that_changes_nothing_is_one_line(install: ProgramInstall) -> None:
    name = generate(install, 2)
    install("voucher", "activate", "--batch", name).ok()
    before = install.snapshot()
    refusals = {
        ("activate", "--batch", name): f"none of the 2 vouchers of batch {name} can be activated: 2 active",
        ("activate", "--batch", "NOPE"): "no vouchers of batch NOPE",
        ("activate", "--from", f"{name}-000001"): "--from and --to go together: give both",
        ("activate",): "name the vouchers: --batch B, or --from SERIAL --to SERIAL",
        ("void", "--batch", name, f"{name}-000001"): "name the vouchers: --batch B, or --from SERIAL --to SERIAL, "
                                                     "or one SERIAL",
        ("void", "NOPE-000001"): "no voucher NOPE-000001",
        ("void", "--from", f"{name}-000002", "--to", f"{name}-000001"): f"serial {name}-000002 comes after",
        ("void", "--from", f"{name}-000001", "--to", "OTHER-000002"): "are of two batches",
        ("void", "12345"): "serial '12345' is not a voucher serial (BATCH-NNNNNN)",
    }
    for reason, result in zip(refusals.values(), install.many(*(("voucher", *words) for words in refusals)),
                              strict=True):
        assert result.code == 1
        result.failed(reason)
    assert install.snapshot() == before


# -- points -----------------------------------------------------------------------------------


def member_with_points(install: ProgramInstall, group: str, points: int) -> str:
    card = fresh_card()
    install("member", "add", card, "--group", group).ok()
    install.execute("UPDATE accounts SET points = ? WHERE id = (SELECT account_id FROM cards WHERE pan = ?)",
                    points, card)
    return card


def test_points_are_converted_to_a_credit_lot(install: ProgramInstall) -> None:
    silver = install.program.groups["silver"]
    value, months = silver.points.value, silver.credit_expiry_months
    assert value and months, "the simulated clinic's silver points are worth credit that expires in months"
    card = member_with_points(install, "silver", 40)
    before = datetime.now(UTC)
    done = install("points", "convert", card, "15").json()
    assert (done["card"], done["points"], done["credit"], done["points_left"]) == (card, 15, 15 * value, 25)
    expires = datetime.fromisoformat(done["expires_at"])
    assert add_months(before, months) <= expires <= add_months(datetime.now(UTC), months)
    shown = install("member", "show", card).json()
    assert (shown["points"], shown["balance"], shown["kind"]) == (25, 15 * value, "member")
    assert [lot["id"] for lot in shown["lots"]] == [done["lot"]]
    assert ("conversion", done["lot"]) in install.changes()


def test_a_conversion_that_cannot_be_is_one_line(install: ProgramInstall) -> None:
    worthless = next(name for name, group in install.program.groups.items() if group.points.value == 0)
    member, other = member_with_points(install, "silver", 10), member_with_points(install, worthless, 10)
    gift = gift_range()
    install("giftcard", "register", gift, "1").ok()
    before = install.snapshot()
    refusals = {
        ("points", "convert", member, "11"): f"card {masked(member)} has only 10 points, not 11",
        ("points", "convert", member, "0"): "points 0 must be a whole number from 1 to 999999999999",
        ("points", "convert", member, "lots"): "points must be a whole number, got 'lots'",
        ("points", "convert", other, "5"): f"points cannot be converted in group {worthless}: its points.value is 0",
        ("points", "convert", gift, "5"): f"card {masked(gift)} is a gift card: gift cards have no points",
        ("points", "convert", luhn_broken(member), "5"): f"card {masked(luhn_broken(member))} is not enrolled",
    }
    for reason, result in zip(refusals.values(), install.many(*refusals), strict=True):
        assert result.code == 1
        result.failed(reason)
    assert install.snapshot() == before


# -- reload -----------------------------------------------------------------------------------


def test_reload_checks_the_configuration_and_tells_the_gateways(install: ProgramInstall, tmp_path: Path) -> None:
    out = install("reload").ok().out
    assert out.strip() == f"configuration {install.config} is valid; running gateways reload it within poll_seconds"
    assert install.changes()[-1] == ("reload", "")

    broken = tmp_path / "broken.toml"
    broken.write_text(install.config.read_text() + "\n[mystery]\nanswer = 42\n")
    before = install.changes()
    result = run("--config", str(broken), "reload")
    assert result.code == 1
    result.failed(f"{broken}: mystery: expected one of ", "(unknown key)")
    assert install.changes() == before
