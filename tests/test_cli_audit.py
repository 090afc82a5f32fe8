"""The audit trail and the stations' credentials from the command line: every command that
changes value or keys leaves a row (who, what, on what, when, how it ended), card numbers
masked, never a token; a station's token is printed once and only its hash is kept."""

from __future__ import annotations

import hashlib
import os
import pwd
from datetime import UTC, datetime, timedelta

import pytest

from terminal_gateway.simulators.population import BRANCH

from .test_cli import Install, environment, fresh_card, fresh_tid, run

STATION = "CNTR0001"
STATIONS = f"""
[clubcard]
master_key_file = "club-master.key"

[[stations]]
driver = "pcsc"
reader = "Virtual PCD"
terminal = "{STATION}"
branch = "{BRANCH}"
"""


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Install:
    made = Install(tmp_path_factory.mktemp("audit"))
    with made.config.open("a") as f:
        f.write(STATIONS)
    made("init").ok()
    return made


def trail(install: Install) -> list[tuple[str, str, str, str]]:
    return [tuple(row) for row in install.rows("SELECT os_user, command, target, outcome FROM audit ORDER BY id")]


def everything(install: Install) -> str:
    """Every row of every table, as text: to look for what must never be stored."""
    tables = [name for (name,) in install.rows("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return repr([install.rows(f'SELECT * FROM "{table}"') for table in tables])


def test_changes_are_audited_with_the_user_the_command_and_the_masked_card(install: Install) -> None:
    card, tid = fresh_card(), fresh_tid()
    before = len(trail(install))
    install("terminal", "add", tid, "--branch", BRANCH).ok()
    install("member", "add", card).ok()
    install("credit", "grant", card, "5000").ok()
    install("member", "block", card).ok()
    install("member", "show", card).ok()  # reads change nothing: not audited
    install("report", "member", card).ok()
    masked = f"{card[:6]}{'*' * (len(card) - 10)}{card[-4:]}"
    user = pwd.getpwuid(os.geteuid()).pw_name
    assert trail(install)[before:] == [
        (user, "terminal add", f"terminal {tid} at branch {BRANCH}", "done"),
        (user, "member add", f"card {masked}", "done"),
        (user, "credit grant", f"card {masked}, amount 5000", "done"),
        (user, "member block", f"card {masked}", "done"),
    ]
    assert card not in everything(install).replace(f"'{card}'", "")  # only cards.pan holds it


def test_a_refused_change_is_audited_as_refused_and_changes_nothing_else(install: Install) -> None:
    card = fresh_card()
    before, rows = len(trail(install)), install.snapshot()
    install("credit", "grant", card, "5000").failed("is not enrolled")
    assert install.snapshot() == rows
    (row,) = trail(install)[before:]
    assert row[1] == "credit grant" and row[3].startswith("refused: card ") and row[3].endswith("is not enrolled")
    assert card not in row[2] + row[3]


def test_the_user_is_the_effective_one_and_who_became_it_through_sudo_is_named(install: Install) -> None:
    spoofed = environment(SUDO_USER="alice", USER="mallory", LOGNAME="mallory")  # $USER is the caller's to set
    result = run("--config", str(install.config), "reload", env=spoofed)
    result.ok()
    user, command, target, outcome = trail(install)[-1]
    assert user == f"{pwd.getpwuid(os.geteuid()).pw_name} (sudo by alice)" and (command, target, outcome) == (
        "reload", "the configuration", "done")


def test_a_station_token_is_printed_once_and_only_its_hash_is_kept(install: Install) -> None:
    first = install("station", "token", STATION).ok()
    token = first.out.strip()
    assert len(token) >= 43 and "shown this once" in first.err
    stored = install.rows("SELECT terminal, digest FROM station_tokens")
    assert stored == [(STATION, hashlib.sha256(token.encode()).hexdigest())]
    assert token not in everything(install)
    second = install("station", "token", STATION).ok().out.strip()
    assert second != token
    assert install.rows("SELECT digest FROM station_tokens") == [(hashlib.sha256(second.encode()).hexdigest(),)]
    assert "token revoked" in install("station", "revoke", STATION).ok().out
    assert install.rows("SELECT * FROM station_tokens") == []
    assert "had no token" in install("station", "revoke", STATION).ok().out
    install("station", "token", "CNTR9999").failed("no station acts as terminal 'CNTR9999'", "[[stations]]")
    assert [row[1:] for row in trail(install)[-4:]] == [
        ("station token", f"station {STATION}", "done"), ("station token", f"station {STATION}", "done"),
        ("station revoke", f"station {STATION}", "done"), ("station revoke", f"station {STATION}", "done")]
    assert token not in everything(install) and second not in everything(install)


def test_the_audit_command_prints_the_trail_since_a_day(install: Install) -> None:
    card = fresh_card()
    install("member", "add", card).ok()
    today = datetime.now(UTC).date()
    table = install("audit", "--since", today.isoformat()).ok().out
    assert table.splitlines()[0].startswith(f"audit trail since {today.isoformat()} (UTC): ")
    assert "member add" in table and f"card {card[:6]}" in table and card not in table
    csv_lines = install("audit", "--format", "csv").ok().out.splitlines()
    assert csv_lines[0] == "time_utc,os_user,command,target,outcome" and len(csv_lines) == len(trail(install)) + 1
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert install("audit", "--since", tomorrow).ok().out.splitlines() == [
        f"audit trail since {tomorrow} (UTC): 0 commands", "time_utc  os_user  command  target  outcome"]
    install("audit", "--since", "yesterday").failed("--since: expected a date as YYYY-MM-DD")
