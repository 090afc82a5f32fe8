"""``member block``/``member unblock`` and ``card replace`` through the real command line, on a
temporary SQLite store: what ``member show`` says afterwards, and every refusal in one line."""

from __future__ import annotations

import sqlite3

import pytest

from .test_cli import Install, fresh_card, luhn_broken


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Install:
    installation = Install(tmp_path_factory.mktemp("cli-members"))
    installation("init").ok()
    return installation


def masked(card: str) -> str:
    return f"{card[:6]}******{card[-4:]}"


def statuses(member: dict) -> dict[str, str]:
    return {c["card"]: c["status"] for c in member["cards"]}


def test_help_lists_block_unblock_and_replace(install: Install) -> None:
    member, card = install.many(("member", "--help"), ("card", "--help"))
    for action in ("block", "unblock"):
        assert f"    {action} " in member.ok().out, member.out
    assert "    replace " in card.ok().out, card.out


def test_block_and_unblock_show_in_member_show(install: Install) -> None:
    card = fresh_card()
    install("member", "add", card).ok()
    assert install("member", "show", card).json()["blocked"] is False

    blocked = install("member", "block", card).ok().out
    assert blocked.strip() == f"member with card {masked(card)} blocked" and card not in blocked
    assert install("member", "show", card).json()["blocked"] is True
    install("member", "block", card).ok()  # again: no error, still blocked
    assert install("member", "show", card).json()["blocked"] is True

    assert install("member", "unblock", card).ok().out.strip() == f"member with card {masked(card)} unblocked"
    member = install("member", "show", card).json()
    assert member["blocked"] is False and member["status"] == "active"


def test_block_covers_every_card_of_the_account(install: Install) -> None:
    old, new = fresh_card(), fresh_card()
    install("member", "add", old).ok()
    install("card", "replace", old, new).ok()
    install("member", "block", new).ok()
    assert install("member", "show", old).json()["blocked"] is True
    assert install("member", "show", new).json()["blocked"] is True


def test_replace_moves_the_member_to_the_new_card(install: Install) -> None:
    old, new = fresh_card(), fresh_card()
    install("member", "add", old, "--group", "gold", "--phone", f"+98912{old[-7:]}").ok()
    install("credit", "grant", old, "1500").ok()
    install("credit", "grant", old, "500", "--expires-in-days", "30").ok()
    before = install("member", "show", old).json()

    out = install("card", "replace", old, new).ok().out
    assert out.strip() == f"card {masked(old)} reported lost, replaced by {masked(new)}"
    assert old not in out and new not in out

    moved = install("member", "show", new).json()
    assert moved["status"] == "active"
    for key in ("account", "balance", "group", "phone", "lots", "blocked"):
        assert moved[key] == before[key], key
    assert moved["balance"] == 2000
    assert statuses(moved) == {masked(old): "lost", masked(new): "active"}
    lost = install("member", "show", old).json()
    assert lost["status"] == "lost" and lost["account"] == before["account"]

    install("credit", "grant", new, "100").ok()  # the account goes on, whichever card names it
    assert install("member", "show", old).json()["balance"] == 2100


def test_a_blocked_card_can_be_replaced(install: Install) -> None:
    old, new = fresh_card(), fresh_card()
    install("member", "add", old).ok()
    with sqlite3.connect(install.db) as conn:  # no command blocks a single card yet
        conn.execute("UPDATE cards SET status = 'blocked' WHERE pan = ?", (old,))
    install("card", "replace", old, new).ok()
    assert statuses(install("member", "show", new).json()) == {masked(old): "lost", masked(new): "active"}


def test_every_refusal_is_one_line_naming_the_card_masked_and_changes_nothing(install: Install) -> None:
    old, other, new, unknown = fresh_card(), fresh_card(), fresh_card(), fresh_card()
    for result in install.many(("member", "add", old), ("member", "add", other)):
        result.ok()
    before = install.snapshot()
    bad_new = luhn_broken(new)
    refusals = {
        ("member", "block", unknown): f"card {masked(unknown)} is not enrolled",
        ("member", "unblock", unknown): f"card {masked(unknown)} is not enrolled",
        ("card", "replace", unknown, new): f"card {masked(unknown)} is not enrolled",
        ("card", "replace", old, other): f"new card {masked(other)} is already enrolled",
        ("card", "replace", old, old): f"new card {masked(old)} is already enrolled",
        ("card", "replace", old, bad_new): f"new card {masked(bad_new)} fails the Luhn check",
    }
    results = install.many(*refusals)
    for (words, reason), result in zip(refusals.items(), results, strict=True):
        line = result.failed(reason)
        assert result.code == 1, (words, result)
        assert not any(len(word) > 12 and word in line for word in words[2:]), line
    assert install.snapshot() == before
    assert install.enrolled(new, bad_new) == 0


def test_a_lost_card_cannot_be_replaced_again(install: Install) -> None:
    old, new, newer = fresh_card(), fresh_card(), fresh_card()
    install("member", "add", old).ok()
    install("card", "replace", old, new).ok()
    line = install("card", "replace", old, newer).failed(f"card {masked(old)} is already lost")
    assert old not in line and newer not in line
    assert install.enrolled(newer) == 0
    install("card", "replace", new, newer).ok()  # the current card can be, in turn
    assert statuses(install("member", "show", newer).json()) == {
        masked(old): "lost", masked(new): "lost", masked(newer): "active"}
