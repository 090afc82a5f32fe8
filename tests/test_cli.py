"""The ``terminal-gateway`` command as an installation script runs it: a real process on a
temporary SQLite store, judged by its exit code, its stdout and its one line on stderr.

One initialised database serves the module; each test uses its own cards and terminal ids
(``fresh_card``, ``fresh_tid``), so the tests do not see each other's members.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from terminal_gateway.config import ENV_VAR
from terminal_gateway.rules.cards import with_check_digit
from terminal_gateway.simulators.local import clinic_config
from terminal_gateway.simulators.population import BRANCH, card_number, write_members, write_terminals


def config_text(db: Path) -> str:
    """The simulated clinic's configuration with its store at ``db``, one club-t2 listener."""
    return clinic_config(f"sqlite:///{db}", {"club-t2": 0})

_cards = itertools.count(1)
_tids = itertools.count(1)


def fresh_card() -> str:
    """A Luhn-valid card no other test uses (another prefix than the population's 627412)."""
    return with_check_digit(f"627499{next(_cards):09d}")


def fresh_tid() -> str:
    return f"C{next(_tids):07d}"


def luhn_broken(card: str) -> str:
    return card[:-1] + str((int(card[-1]) + 1) % 10)


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def ok(self) -> Result:
        assert self.code == 0, f"exit {self.code}: {self.err}"
        return self

    def failed(self, *fragments: str) -> str:
        """Assert a failure told in one line on stderr, holding every fragment; the line."""
        assert self.code != 0, f"exit 0, expected a failure: {self.out}"
        assert "Traceback" not in self.err, self.err
        lines = self.err.splitlines()
        assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{self.err}"
        for fragment in fragments:
            assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
        return lines[0]

    def json(self) -> dict:
        lines = self.ok().out.splitlines()
        assert len(lines) == 1, f"expected one JSON object on one line, got:\n{self.out}"
        value = json.loads(lines[0])
        assert isinstance(value, dict)
        return value


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    return env | extra


def run(*words: str, env: dict[str, str] | None = None, program: tuple[str, ...] | None = None) -> Result:
    command = [*(program or (sys.executable, "-m", "terminal_gateway.cli")), *words]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env or environment())
    return Result(done.returncode, done.stdout, done.stderr)


def run_many(*calls: tuple[str, ...], env: dict[str, str] | None = None) -> list[Result]:
    """Independent commands at once (each is mostly interpreter start-up): their results in order."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda words: run(*words, env=env), calls))


class Install:
    """A configuration file and its SQLite store in a folder of their own."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.db = folder / "state" / "gateway.db"  # no 'state' folder yet: the store makes it
        self.config = folder / "gateway.toml"
        self.config.write_text(config_text(self.db))

    def __call__(self, *words: str) -> Result:
        return run("--config", str(self.config), *words)

    def many(self, *calls: tuple[str, ...]) -> list[Result]:
        return run_many(*(("--config", str(self.config), *words) for words in calls))

    def rows(self, sql: str, *params: object) -> list[tuple]:
        with sqlite3.connect(self.db) as conn:
            return conn.execute(sql, params).fetchall()

    def snapshot(self) -> dict[str, object]:
        """The schema, its revision and every table's rows, to see that nothing changed; the
        audit trail aside, which records a refusal too."""
        schema = self.rows("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
        tables = [name for kind, name, _, _ in schema if kind == "table" and name != "audit"]
        return {"schema": schema, **{t: sorted(self.rows(f'SELECT * FROM "{t}"'), key=repr) for t in tables}}

    def enrolled(self, *cards: str) -> int:
        return len(self.rows(f"SELECT pan FROM cards WHERE pan IN ({','.join('?' * len(cards))})", *cards))


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Install:
    install = Install(tmp_path_factory.mktemp("cli"))
    assert "up to date" in install("init").ok().out
    return install


@pytest.fixture(scope="module")
def uninitialised(tmp_path_factory: pytest.TempPathFactory) -> Install:
    return Install(tmp_path_factory.mktemp("cli-uninitialised"))


def write_csv(path: Path, rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


# -- the command itself -------------------------------------------------------------------------


def test_help_lists_the_commands() -> None:
    installed = Path(sys.executable).with_name("terminal-gateway")  # the console script of the venv
    program = (str(installed),) if installed.exists() else None
    text = run("--help", program=program).ok().out
    for command in ("init", "run", "terminal", "member", "credit"):
        assert f"    {command} " in text, text
    actions = {"member": ("add", "show", "import"), "terminal": ("add", "import"), "credit": ("grant",)}
    for names, result in zip(actions.values(), run_many(*((c, "--help") for c in actions)), strict=True):
        for action in names:
            assert f"    {action} " in result.ok().out, result.out


def test_init_twice_exits_0_and_the_second_changes_nothing(tmp_path: Path) -> None:
    install = Install(tmp_path)
    install("init").ok()
    card = fresh_card()
    install("member", "add", card).ok()
    before = install.snapshot()
    assert before["alembic_version"] and install.enrolled(card) == 1

    assert "up to date" in install("init").ok().out

    assert install.snapshot() == before


def test_commands_before_init_say_to_run_init(uninitialised: Install, tmp_path: Path) -> None:
    card = fresh_card()
    members = write_members(tmp_path / "members.csv", 3, credit=100)
    calls = [("member", "show", card), ("member", "add", card), ("credit", "grant", card, "100"),
             ("terminal", "add", "C9999999", "--branch", BRANCH), ("member", "import", str(members)), ("run",)]
    for words, result in zip(calls, uninitialised.many(*calls), strict=True):
        line = result.failed("the database schema is not initialised: run 'terminal-gateway init'")
        assert line.startswith("terminal-gateway: "), (words, line)


def test_the_environment_variable_names_the_configuration(gateway: Install) -> None:
    card = fresh_card()
    gateway("member", "add", card, "--group", "gold").ok()
    member = run("member", "show", card, env=environment(**{ENV_VAR: str(gateway.config)})).json()
    assert member["group"] == "gold"

    run("member", "show", card).failed(f"give --config FILE or set {ENV_VAR}")


# -- failures: one line, never a traceback ------------------------------------------------------


def test_an_unreadable_configuration_is_one_line(tmp_path: Path) -> None:
    missing, broken, wrong = tmp_path / "missing.toml", tmp_path / "broken.toml", tmp_path / "wrong.toml"
    broken.write_text("[store\n")
    wrong.write_text(config_text(tmp_path / "g.db").replace("daily_cap", "daly_cap"))
    results = run_many(("--config", str(missing), "init"), ("--config", str(tmp_path), "member", "show", "1"),
                       ("--config", str(broken), "init"), ("--config", str(wrong), "member", "add", fresh_card()))
    results[0].failed(f"terminal-gateway: {missing}: cannot read: No such file or directory")
    results[1].failed(f"terminal-gateway: {tmp_path}: cannot read: Is a directory")
    results[2].failed(f"terminal-gateway: {broken}: not valid TOML")
    results[3].failed(f"terminal-gateway: {wrong}: groups.silver.daly_cap: expected ", "unknown key")
    assert not (tmp_path / "g.db").exists()


def test_an_unusable_store_is_one_line(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    under_a_file, no_driver = tmp_path / "under.toml", tmp_path / "driver.toml"
    under_a_file.write_text(config_text(a_file / "gateway.db"))
    no_driver.write_text(clinic_config("nosuchdb://x/y", {"club-t2": 0}))
    folder, driver = run_many(("--config", str(under_a_file), "init"), ("--config", str(no_driver), "init"))
    folder.failed(f"terminal-gateway: cannot create the database folder {a_file}: ")
    driver.failed("terminal-gateway: the store URL is not usable")


def test_an_unknown_card_is_named_masked(gateway: Install) -> None:
    card = fresh_card()
    masked = f"{card[:6]}******{card[-4:]}"
    show, grant = gateway.many(("member", "show", card), ("credit", "grant", card, "100"))
    assert card not in show.failed(f"card {masked} is not enrolled")
    assert card not in grant.failed(f"card {masked} is not enrolled")


def test_a_duplicate_card_is_refused(gateway: Install) -> None:
    card = fresh_card()
    gateway("member", "add", card).ok()
    gateway("member", "add", card, "--group", "gold").failed("is already enrolled")
    assert gateway("member", "show", card).json()["group"] == "silver"


def test_a_card_failing_luhn_is_refused(gateway: Install) -> None:
    card = luhn_broken(fresh_card())
    gateway("member", "add", card).failed("fails the Luhn check")
    assert gateway.enrolled(card) == 0


def test_an_unknown_group_is_refused_naming_the_groups(gateway: Install) -> None:
    card = fresh_card()
    gateway("member", "add", card, "--group", "platinum").failed("unknown group 'platinum'", "gold, silver")
    assert gateway.enrolled(card) == 0


BAD_AMOUNTS = {
    ("abc",): "amount must be a whole number of minor units, got 'abc'",
    ("0",): "amount must be more than zero, got 0",
    ("-5",): "amount must be more than zero, got -5",
    ("1.5",): "amount must be a whole number of minor units, got '1.5'",
    ("1000000000000",): "amount 1000000000000 must be a whole number of minor units from 1 to 999999999999",
    ("100", "--expires-in-days", "0"): "--expires-in-days: expected a number of days from 1 to",
    ("100", "--expires-in-days", "99999999999"): "--expires-in-days: expected a number of days from 1 to",
    ("100", "--expires-in-days", "soon"): "--expires-in-days: expected a whole number of days, got 'soon'",
}


def test_a_bad_amount_is_refused_and_grants_nothing(gateway: Install) -> None:
    card = fresh_card()
    gateway("member", "add", card).ok()
    results = gateway.many(*(("credit", "grant", card, *words) for words in BAD_AMOUNTS))
    for (words, reason), result in zip(BAD_AMOUNTS.items(), results, strict=True):
        assert result.code == 1, (words, result)
        result.failed(f"terminal-gateway: {reason}")
    assert gateway.rows("SELECT count(*) FROM lots JOIN cards USING (account_id) WHERE pan = ?", card) == [(0,)]


# -- what the commands do -----------------------------------------------------------------------


def test_member_show_is_one_json_object_whose_balance_follows_the_grants(gateway: Install) -> None:
    card = fresh_card()
    gateway("member", "add", card).ok()
    member = gateway("member", "show", card).json()
    assert (member["balance"], member["points"], member["group"]) == (0, 0, "silver")

    gateway("credit", "grant", card, "1500").ok()
    assert gateway("member", "show", card).json()["balance"] == 1500

    before = datetime.now(UTC)
    assert "expiring" in gateway("credit", "grant", card, "500", "--expires-in-days", "30").ok().out
    member = gateway("member", "show", card).json()
    assert member["balance"] == 2000
    (expiring,) = [lot for lot in member["lots"] if lot["expires_at"]]
    expires = datetime.fromisoformat(expiring["expires_at"])
    assert before + timedelta(days=30) <= expires <= datetime.now(UTC) + timedelta(days=30)


BAD_MEMBER_ROWS = {
    "luhn": (lambda cards: [luhn_broken(cards[2]), "", "", "", ""], "fails the Luhn check"),
    "unknown-group": (lambda cards: [cards[2], "platinum", "", "", ""], "unknown group 'platinum'"),
    "bad-credit": (lambda cards: [cards[2], "", "", "", "12.50"], "credit '12.50' is not a whole number"),
    "duplicate-card": (lambda cards: [cards[0], "", "", "", ""], "is already enrolled"),
    "missing-cells": (lambda cards: [cards[2], ""], "expected 5 cells"),
}


def test_member_import_with_a_bad_row_names_its_line_and_imports_nothing(gateway: Install, tmp_path: Path) -> None:
    files, cards = [], []
    for name, (bad_row, _) in BAD_MEMBER_ROWS.items():
        own = [fresh_card() for _ in range(4)]
        files.append(write_csv(tmp_path / f"{name}.csv", [
            ["card", "group", "phone", "referrer", "credit"],
            [own[0], "", "", "", "1000"],
            [own[1], "gold", "", own[0], ""],
            bad_row(own),
            [own[3], "", "", "", "5"],
        ]))
        cards += own
    results = gateway.many(*(("member", "import", str(path)) for path in files))
    for path, (_, reason), result in zip(files, BAD_MEMBER_ROWS.values(), results, strict=True):
        result.failed(f"{path} line 4: ", reason)
    assert gateway.enrolled(*cards) == 0


def test_after_a_failed_member_import_member_show_does_not_know_row_2(gateway: Install, tmp_path: Path) -> None:
    good, bad = fresh_card(), luhn_broken(fresh_card())
    path = write_csv(tmp_path / "members.csv", [
        ["card", "group", "phone", "referrer", "credit"], [good, "", "", "", "1000"], [fresh_card(), "", "", "", ""],
        [bad, "", "", "", ""]])
    gateway("member", "import", str(path)).failed("line 4")
    gateway("member", "show", good).failed("is not enrolled")


def test_member_import_of_2000_rows_takes_seconds(gateway: Install, tmp_path: Path) -> None:
    path = write_members(tmp_path / "members.csv", 2000, credit=70_000, group="gold")
    started = time.monotonic()
    assert gateway("member", "import", str(path)).ok().out.startswith("2000 members imported")
    assert time.monotonic() - started < 5, "a few seconds, start-up included"
    member = gateway("member", "show", card_number(2000)).json()
    assert (member["balance"], member["group"]) == (70_000, "gold")
    gateway("member", "import", str(path)).failed("line 2: ", "is already enrolled")  # all or none, again


BAD_TERMINAL_ROWS = {
    "duplicate-terminal": (lambda tids: [tids[0], BRANCH], "is already registered"),
    "terminal-id-too-long": (lambda tids: ["TOOLONG123", BRANCH], "terminal id 'TOOLONG123' must be 1 to 8"),
    "no-branch": (lambda tids: [tids[2], ""], "branch '' must be 1 to 15"),
    "missing-cell": (lambda tids: [tids[2]], "expected 2 cells"),
}


def test_terminal_import_with_a_bad_row_names_its_line_and_imports_nothing(gateway: Install, tmp_path: Path) -> None:
    files, tids = [], []
    for name, (bad_row, _) in BAD_TERMINAL_ROWS.items():
        own = [fresh_tid() for _ in range(4)]
        files.append(write_csv(tmp_path / f"{name}.csv", [
            ["tid", "branch"], [own[0], BRANCH], [own[1], BRANCH], bad_row(own), [own[3], BRANCH]]))
        tids += own
    results = gateway.many(*(("terminal", "import", str(path)) for path in files))
    for path, (_, reason), result in zip(files, BAD_TERMINAL_ROWS.values(), results, strict=True):
        result.failed(f"{path} line 4: ", reason)
    assert gateway.rows(f"SELECT tid FROM terminals WHERE tid IN ({','.join('?' * len(tids))})", *tids) == []
    gateway("terminal", "add", tids[0], "--branch", BRANCH).ok()  # row 2's terminal was not registered


def test_terminal_import_of_2000_rows_and_then_terminal_add_sees_them(gateway: Install, tmp_path: Path) -> None:
    path = write_terminals(tmp_path / "terminals.csv", 2000)
    started = time.monotonic()
    assert gateway("terminal", "import", str(path)).ok().out.startswith("2000 terminals imported")
    assert time.monotonic() - started < 5, "a few seconds, start-up included"
    gateway("terminal", "add", "T0002000", "--branch", BRANCH).failed("terminal T0002000 is already registered")


def test_imports_of_missing_or_misshapen_files_are_one_line(gateway: Install, tmp_path: Path) -> None:
    shifted = write_csv(tmp_path / "shifted.csv", [["card", "credit"], [fresh_card(), "5"]])
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"tid,branch\n\xff\xfe\n")
    missing, header, encoding = gateway.many(("member", "import", str(tmp_path / "none.csv")),
                                             ("member", "import", str(shifted)), ("terminal", "import", str(binary)))
    missing.failed("none.csv: cannot read: No such file or directory")
    header.failed(f"{shifted} line 1: expected the header 'card,group,phone,referrer,credit'")
    encoding.failed(f"{binary}: not a UTF-8 CSV file")
