"""The club program's sections of the configuration: a full program reads into exactly the
values of ``program``, every mistake is a ``ConfigError`` naming the file and the full key
path, and ``voucher_key`` finds the PIN hashing key without ever showing it."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from terminal_gateway.config import ConfigError, load, voucher_key
from terminal_gateway.private import write_private
from terminal_gateway.program import (
    Branch,
    Caps,
    DiscountStep,
    Earning,
    GiftCards,
    Group,
    IntervalRule,
    Limits,
    Points,
    Range,
    Referral,
    Reward,
    Service,
    Step,
    Upgrade,
    Vouchers,
)

from .test_config import write

REPO = Path(__file__).resolve().parents[1]

BASE = """\
[store]
url = "sqlite:///gateway.db"
"""

PROGRAM = """\
[groups.silver]
default = true
daily_cap = 200000
invoice_cap = 100000
max_redemptions_per_day = 5
credit_expiry_months = 6

[groups.silver.earning]
percent = 5
per_invoice = 0
step = { every = 100000, reward = 5000 }
min_invoice = 0

[groups.silver.points]
per_invoice = 1
step = { every = 10000, reward = 1 }
weekday_multipliers = { saturday = 2, monday = 0 }
value = 100

[groups.silver.upgrade]
to = "gold"
min_balance = 0
min_points = 0
min_visits = 3
min_paid = 10000000
window_days = 365

[groups.silver.referral]
percents = [5, 2.5, 0.25]
window_days = 365
max_referred = 10

[groups.gold]
invoice_cap_percent = 50
credit_expiry_days = 180

[groups.gold.earning]
percent = 7.5
per_invoice = 1000
min_invoice = 20000

[groups.gold.upgrade]
to = "platinum"
min_paid = 50000000

[groups.platinum]

[services.SCALING]
cashback_percent = 2
cashback = 500
points = 2
line_cap = 50000
groups = ["gold", "platinum"]

[services.WHITENING]
cashback = 0
line_cap_percent = 50

[services.CHECKUP]

[[interval_rules]]
name = "first visit bonus"
scope = "visit"
first_visit_only = true
ranges = [ { from = 5000, to = 10000, reward = 500 }, { from = 10001, percent = 5 } ]

[[interval_rules]]
name = "loyal patients"
scope = "cumulative"
active = false
ranges = [ { from = 0, to = 999999, percent = 1.5, reward = 100 } ]

[[discount_scale]]
from = 45000
percent = 10

[[discount_scale]]
from = 30000
percent = 5

[gift_cards]
validity_days = 180
caps = true

[vouchers]
key_file = "keys/voucher.key"
pin_digits = 14
max_wrong_pins = 3
window_minutes = 10
lockout_minutes = 30

[[branches]]
id = "CLINIC000000001"
timezone = "Asia/Tehran"

[branches.caps.silver]
daily_cap = 300000

[branches.caps.gold]
invoice_cap = 70000
max_redemptions_per_day = 2
"""

FULL = BASE + PROGRAM


def edited(old: str, new: str) -> str:
    assert FULL.count(old) == 1, old
    return FULL.replace(old, new)


def test_a_full_program_reads_into_exactly_the_program_values(tmp_path: Path) -> None:
    config = load(write(tmp_path, FULL))

    assert config.groups == {
        "silver": Group(
            name="silver", default=True, daily_cap=200_000, invoice_cap=100_000, max_redemptions_per_day=5,
            earning=Earning(percent_bp=500, per_invoice=0, step=Step(100_000, 5_000), min_invoice=0),
            points=Points(per_invoice=1, step=Step(10_000, 1), weekday_multipliers={5: 2, 0: 0}, value=100),
            upgrade=Upgrade("gold", min_balance=0, min_points=0, min_visits=3, min_paid=10_000_000, window_days=365),
            referral=Referral((500, 250, 25), window_days=365, max_referred=10),
            credit_expiry_months=6),
        "gold": Group(
            name="gold", invoice_cap_percent=50, credit_expiry_days=180,
            earning=Earning(percent_bp=750, per_invoice=1_000, min_invoice=20_000),
            upgrade=Upgrade("platinum", min_paid=50_000_000)),
        "platinum": Group("platinum"),
    }
    assert config.services == {
        "SCALING": Service("SCALING", cashback=Reward(percent_bp=200, fixed=500), points=2, line_cap=50_000,
                           groups=frozenset({"gold", "platinum"})),
        "WHITENING": Service("WHITENING", cashback=Reward(0, 0), line_cap_percent=50),
        "CHECKUP": Service("CHECKUP"),
    }
    assert config.interval_rules == (
        IntervalRule("first visit bonus", "visit", (Range(5_000, 10_000, Reward(fixed=500)),
                                                    Range(10_001, None, Reward(percent_bp=500))),
                     first_visit_only=True, active=True),
        IntervalRule("loyal patients", "cumulative", (Range(0, 999_999, Reward(150, 100)),), active=False),
    )
    assert config.discount_scale == (DiscountStep(30_000, 5), DiscountStep(45_000, 10))
    assert config.gift_cards == GiftCards(validity_days=180, caps=True)
    assert config.vouchers == Vouchers(key_file=str(tmp_path / "keys" / "voucher.key"), pin_digits=14,
                                       max_wrong_pins=3, window_minutes=10, lockout_minutes=30)
    assert config.branches == {"CLINIC000000001": Branch(
        "CLINIC000000001", ZoneInfo("Asia/Tehran"),
        caps={"silver": Caps(daily_cap=300_000), "gold": Caps(invoice_cap=70_000, max_redemptions_per_day=2)})}


def test_a_file_without_a_program_keeps_every_default(tmp_path: Path) -> None:
    config = load(write(tmp_path, BASE + "[groups.silver]\ndefault = true\n"))

    assert config.groups == {"silver": Group("silver", default=True)}
    assert (config.services, config.interval_rules, config.discount_scale) == ({}, (), ())
    assert (config.gift_cards, config.vouchers) == (GiftCards(), Vouchers())
    assert config.groups["silver"].earning == Earning() and config.groups["silver"].points == Points()


def test_a_relative_key_file_is_relative_to_the_configuration_not_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    write(etc, edited('key_file = "keys/voucher.key"', 'key_file = "../secrets/./voucher.key"'))
    monkeypatch.chdir(tmp_path)
    assert load(Path("etc/gateway.toml")).vouchers.key_file == str(tmp_path / "secrets" / "voucher.key")
    write(etc, edited('key_file = "keys/voucher.key"', 'key_file = "/run/keys/voucher.key"'))
    assert load(etc / "gateway.toml").vouchers.key_file == "/run/keys/voucher.key"


def test_the_voucher_key_may_come_from_the_environment(tmp_path: Path) -> None:
    config = load(write(tmp_path, edited('key_file = "keys/voucher.key"', 'key_env = "TG_VOUCHER_KEY"')))
    assert config.vouchers.key_env == "TG_VOUCHER_KEY" and config.vouchers.key_file is None


SILVER = "[groups.silver]\ndefault = true\n"


# (the file's text, the key the message must name, what it must say was expected)
BROKEN = {
    # groups: credit expiry, earning, points
    "both expiries": (edited("credit_expiry_months = 6", "credit_expiry_months = 6\ncredit_expiry_days = 180"),
                      "groups.silver.credit_expiry_days", "either credit_expiry_months or credit_expiry_days"),
    "an expiry of 0 months": (edited("credit_expiry_months = 6", "credit_expiry_months = 0"),
                              "groups.silver.credit_expiry_months", "a whole number 1 or more"),
    "an unknown earning key": (edited("min_invoice = 0", "min_invoice = 0\nmax_invoice = 9"),
                               "groups.silver.earning.max_invoice", "unknown key"),
    "earning not a table": (edited("credit_expiry_months = 6", "credit_expiry_months = 6\nearning = 5")
                            .replace("[groups.silver.earning]\n", "[groups.silver.nothing]\n"),
                            "groups.silver.earning", "a table"),
    "a percent with 3 decimals": (edited("earning]\npercent = 5", "earning]\npercent = 2.125"),
                                  "groups.silver.earning.percent", "with at most 2 decimals"),
    "a percent over 100": (edited("percent = 7.5", "percent = 100.01"), "groups.gold.earning.percent",
                           "a percentage from 0 to 100"),
    "a negative percent": (edited("percent = 7.5", "percent = -1"), "groups.gold.earning.percent",
                           "a percentage from 0 to 100"),
    "a percent of nan": (edited("percent = 7.5", "percent = nan"), "groups.gold.earning.percent",
                         "a percentage from 0 to 100"),
    "a percent as a string": (edited("percent = 7.5", 'percent = "7.5"'), "groups.gold.earning.percent",
                              "a number"),
    "a percent as true": (edited("percent = 7.5", "percent = true"), "groups.gold.earning.percent", "a number"),
    "a negative per_invoice": (edited("per_invoice = 1000", "per_invoice = -1"), "groups.gold.earning.per_invoice",
                               "a whole number 0 or more"),
    "a fractional min_invoice": (edited("min_invoice = 20000", "min_invoice = 200.5"),
                                 "groups.gold.earning.min_invoice", "a whole number"),
    "a step of every 0": (edited("every = 100000", "every = 0"), "groups.silver.earning.step.every",
                          "a whole number 1 or more"),
    "a step without its reward": (edited("every = 10000, reward = 1", "every = 10000"),
                                  "groups.silver.points.step.reward", "this key is required"),
    "a step with an unknown key": (edited("reward = 5000 }", "reward = 5000, cap = 9 }"),
                                   "groups.silver.earning.step.cap", "unknown key"),
    "a step not a table": (edited("step = { every = 100000, reward = 5000 }", "step = 5000"),
                           "groups.silver.earning.step", "a table"),
    "a misspelt weekday": (edited("saturday = 2", "saturdy = 2"), "groups.silver.points.weekday_multipliers.saturdy",
                           "one of friday, monday, saturday, sunday, thursday, tuesday, wednesday (unknown key)"),
    "a negative multiplier": (edited("saturday = 2", "saturday = -2"),
                              "groups.silver.points.weekday_multipliers.saturday", "a whole number 0 or more"),
    "a fractional multiplier": (edited("saturday = 2", "saturday = 1.5"),
                                "groups.silver.points.weekday_multipliers.saturday", "a whole number"),
    "an unknown points key": (edited("value = 100", "value = 100\nexpiry = 1"), "groups.silver.points.expiry",
                              "unknown key"),
    # groups: upgrade and referral
    "an upgrade without a target": (edited('to = "gold"\n', ""), "groups.silver.upgrade.to",
                                    "a string (this key is required)"),
    "an upgrade to an unknown group": (edited('to = "gold"', 'to = "diamond"'), "groups.silver.upgrade.to",
                                       "a configured group: gold, platinum, silver, got 'diamond'"),
    "an upgrade to the group itself": (edited('to = "gold"', 'to = "silver"'), "groups.silver.upgrade.to",
                                       "a group other than silver itself"),
    "an upgrade loop of two": (edited('to = "platinum"', 'to = "silver"'), "groups.gold.upgrade.to",
                               "an upgrade chain that does not loop (silver -> gold -> silver)"),
    "an upgrade loop of three": (edited("[groups.platinum]\n", '[groups.platinum.upgrade]\nto = "silver"\n'
                                                               "min_visits = 1\n"),
                                 "groups.platinum.upgrade.to",
                                 "an upgrade chain that does not loop (silver -> gold -> platinum -> silver)"),
    "an upgrade without a condition": (edited("min_paid = 50000000\n", ""), "groups.gold.upgrade",
                                       "at least one of min_balance, min_points, min_visits, min_paid"),
    "an upgrade window of 0 days": (edited("min_paid = 10000000\nwindow_days = 365", "window_days = 0"),
                                    "groups.silver.upgrade.window_days", "a whole number 1 or more"),
    "a negative min_visits": (edited("min_visits = 3", "min_visits = -3"), "groups.silver.upgrade.min_visits",
                              "a whole number 0 or more"),
    "a referral without percents": (edited("percents = [5, 2.5, 0.25]\n", ""), "groups.silver.referral.percents",
                                    "an array (this key is required)"),
    "four referral levels": (edited("percents = [5, 2.5, 0.25]", "percents = [5, 2, 1, 1]"),
                             "groups.silver.referral.percents", "1 to 3 percentages"),
    "no referral level": (edited("percents = [5, 2.5, 0.25]", "percents = []"), "groups.silver.referral.percents",
                          "1 to 3 percentages"),
    "a referral percent as a string": (edited("percents = [5, 2.5, 0.25]", 'percents = [5, "2"]'),
                                       "groups.silver.referral.percents[1]", "a percentage"),
    "a referral percent with 3 decimals": (edited("percents = [5, 2.5, 0.25]", "percents = [5, 2.5, 0.125]"),
                                           "groups.silver.referral.percents[2]", "at most 2 decimals"),
    "a max_referred of 0": (edited("max_referred = 10", "max_referred = 0"), "groups.silver.referral.max_referred",
                            "a whole number 1 or more"),
    # services
    "a service not a table": (edited("[services.CHECKUP]\n", "[services]\nCHECKUP = 1\n"), "services.CHECKUP",
                              "a table"),
    "a service code with a colon": (edited("[services.CHECKUP]", '[services."CHECK:UP"]'), "services.CHECK:UP",
                                    "a service code (DE48 SV) without ':' or ';'"),
    "an unknown service key": (edited("points = 2\n", "point = 2\n"), "services.SCALING.point", "unknown key"),
    "a negative fixed cashback": (edited("cashback = 0", "cashback = -5"), "services.WHITENING.cashback",
                                  "a whole number 0 or more"),
    "a cashback percent with 3 decimals": (edited("cashback_percent = 2", "cashback_percent = 0.001"),
                                           "services.SCALING.cashback_percent", "at most 2 decimals"),
    "both line caps": (edited("line_cap = 50000", "line_cap = 50000\nline_cap_percent = 50"),
                       "services.SCALING.line_cap_percent", "either line_cap or line_cap_percent, not both"),
    "a line cap percent over 100": (edited("line_cap_percent = 50", "line_cap_percent = 150"),
                                    "services.WHITENING.line_cap_percent", "a whole number from 0 to 100"),
    "a service for an unknown group": (edited('groups = ["gold", "platinum"]', 'groups = ["gold", "bronze"]'),
                                       "services.SCALING.groups[1]", "a configured group: gold, platinum, silver"),
    "a service for no group": (edited('groups = ["gold", "platinum"]', "groups = []"), "services.SCALING.groups",
                               "at least one group"),
    "service groups as a string": (edited('groups = ["gold", "platinum"]', 'groups = "gold"'),
                                   "services.SCALING.groups", "an array"),
    # interval rules
    "an interval rule without a name": (edited('name = "loyal patients"\n', ""), "interval_rules[1].name",
                                        "a string (this key is required)"),
    "two interval rules with one name": (edited('name = "loyal patients"', 'name = "first visit bonus"'),
                                         "interval_rules[1].name", "a name no other interval rule has"),
    "an interval rule without a scope": (edited('scope = "cumulative"\n', ""), "interval_rules[1].scope",
                                         "this key is required"),
    "an unknown scope": (edited('scope = "cumulative"', 'scope = "lifetime"'), "interval_rules[1].scope",
                         '"visit" or "cumulative"'),
    "first visits of a cumulative rule": (edited('scope = "cumulative"', 'scope = "cumulative"\n'
                                                                         "first_visit_only = true"),
                                          "interval_rules[1].first_visit_only", 'false with scope = "cumulative"'),
    "an interval rule without ranges": (edited("ranges = [ { from = 0, to = 999999, percent = 1.5, reward = 100 } ]",
                                               ""), "interval_rules[1].ranges", "an array (this key is required)"),
    "an interval rule with no range": (edited("ranges = [ { from = 0, to = 999999, percent = 1.5, reward = 100 } ]",
                                              "ranges = []"), "interval_rules[1].ranges", "at least one range"),
    "a range that is not a table": (edited("ranges = [ { from = 0, to = 999999, percent = 1.5, reward = 100 } ]",
                                           "ranges = [ 5 ]"), "interval_rules[1].ranges[0]", "a table"),
    "a range without from": (edited("{ from = 10001, percent = 5 }", "{ percent = 5 }"),
                             "interval_rules[0].ranges[1].from", "a whole number (this key is required)"),
    "a range that ends before it starts": (edited("{ from = 5000, to = 10000, reward = 500 }",
                                                  "{ from = 5000, to = 4999, reward = 500 }"),
                                           "interval_rules[0].ranges[0].to", "a whole number 5000 or more"),
    "a range without a reward": (edited("{ from = 10001, percent = 5 }", "{ from = 10001 }"),
                                 "interval_rules[0].ranges[1]", "reward (a fixed amount) or percent, or both"),
    "a range with an unknown key": (edited("{ from = 10001, percent = 5 }", "{ from = 10001, percent = 5, x = 1 }"),
                                    "interval_rules[0].ranges[1].x", "unknown key"),
    "a negative range reward": (edited("reward = 500 }", "reward = -500 }"), "interval_rules[0].ranges[0].reward",
                                "a whole number 0 or more"),
    "interval_rules as a table": (BASE + SILVER + '[interval_rules]\nname = "x"\n', "interval_rules", "an array"),
    # discount scale
    "two discount steps from one amount": (edited("from = 45000", "from = 30000"), "discount_scale[1].from",
                                           "a from no other step has"),
    "a discount step without a percent": (edited("percent = 10\n", ""), "discount_scale[0].percent",
                                          "this key is required"),
    "a fractional discount": (edited("percent = 10\n", "percent = 7.5\n"), "discount_scale[0].percent",
                              "a whole number"),
    "a discount over 100": (edited("percent = 10\n", "percent = 101\n"), "discount_scale[0].percent",
                            "a whole number from 0 to 100"),
    # gift cards, vouchers
    "gift cards valid 0 days": (edited("validity_days = 180", "validity_days = 0"), "gift_cards.validity_days",
                                "a whole number 1 or more"),
    "gift card caps not a boolean": (edited("caps = true", "caps = 1"), "gift_cards.caps", "true or false"),
    "an unknown gift card key": (edited("caps = true", "caps = true\nprefix = '6037'"), "gift_cards.prefix",
                                 "unknown key"),
    "both voucher keys": (edited('key_file = "keys/voucher.key"', 'key_file = "k"\nkey_env = "K"'), "vouchers.key_env",
                          "either key_file or key_env, not both"),
    "an empty key file name": (edited('key_file = "keys/voucher.key"', 'key_file = ""'), "vouchers.key_file",
                               "a file name"),
    "an empty key variable name": (edited('key_file = "keys/voucher.key"', 'key_env = " "'), "vouchers.key_env",
                                   "an environment variable's name"),
    "a PIN of 11 digits": (edited("pin_digits = 14", "pin_digits = 11"), "vouchers.pin_digits",
                           "a whole number 12 or more"),
    "no wrong PIN allowed": (edited("max_wrong_pins = 3", "max_wrong_pins = 0"), "vouchers.max_wrong_pins",
                             "a whole number 1 or more"),
    "a lockout of 0 minutes": (edited("lockout_minutes = 30", "lockout_minutes = 0"), "vouchers.lockout_minutes",
                               "a whole number 1 or more"),
    "an unknown voucher key": (edited("pin_digits = 14", "pin_length = 14"), "vouchers.pin_length", "unknown key"),
    # branch caps
    "branch caps for an unknown group": (edited("[branches.caps.gold]", "[branches.caps.bronze]"),
                                         "branches[0].caps.bronze", "a configured group: gold, platinum, silver"),
    "a branch cap of the wrong type": (edited("daily_cap = 300000", 'daily_cap = "300000"'),
                                       "branches[0].caps.silver.daily_cap", "a whole number"),
    "a negative branch cap": (edited("daily_cap = 300000", "daily_cap = -1"), "branches[0].caps.silver.daily_cap",
                              "a whole number 0 or more"),
    "both invoice caps at a branch": (edited("invoice_cap = 70000", "invoice_cap = 70000\ninvoice_cap_percent = 5"),
                                      "branches[0].caps.gold.invoice_cap_percent",
                                      "either invoice_cap or invoice_cap_percent, not both"),
    "an unknown branch cap": (edited("daily_cap = 300000", "weekly_cap = 300000"),
                              "branches[0].caps.silver.weekly_cap", "unknown key"),
    "branch caps not a table": (edited("[branches.caps.silver]\ndaily_cap = 300000\n\n[branches.caps.gold]\n"
                                       "invoice_cap = 70000\nmax_redemptions_per_day = 2\n", "caps = 5\n"),
                                "branches[0].caps", "a table"),
}


def config_error(path: Path, key: str, expected: str, call: Callable[[], object]) -> str:
    """The message of the ``ConfigError`` that ``call`` raises, checked to name ``path``, ``key``
    and ``expected`` on one line."""
    with pytest.raises(ConfigError) as caught:
        call()
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}: expected ") and expected in message, message
    assert "\n" not in message
    return message


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_a_program_error_names_the_file_the_key_and_what_was_expected(tmp_path: Path, case: str) -> None:
    text, key, expected = BROKEN[case]
    path = write(tmp_path, text)
    config_error(path, key, expected, lambda: load(path))


KEY = "k3y-0f-the-cl1n1c-vouchers"  # 26 bytes


def vouchers_config(tmp_path: Path, section: str) -> Path:
    return write(tmp_path, BASE + SILVER + section)


def test_the_voucher_key_is_the_files_bytes_without_the_trailing_newline(tmp_path: Path) -> None:
    write_private(tmp_path / "voucher.key", KEY.encode() + b"\n")
    config = load(vouchers_config(tmp_path, '[vouchers]\nkey_file = "voucher.key"\n'))
    assert voucher_key(config) == KEY.encode()
    write_private(tmp_path / "voucher.key", b"\x00\xff" * 8 + b" \r\n\t")
    assert voucher_key(config) == b"\x00\xff" * 8, "any bytes, only trailing white space stripped"


def test_the_voucher_key_is_the_environment_variables_utf8_value(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_TEST_VOUCHER_KEY", "کلید-باشگاه-دندان")
    config = load(vouchers_config(tmp_path, '[vouchers]\nkey_env = "TG_TEST_VOUCHER_KEY"\n'))
    assert voucher_key(config) == "کلید-باشگاه-دندان".encode()


# (the [vouchers] section, the key file's bytes or None, the variable's value or None, key named, what it says)
NO_KEY = {
    "neither configured": ("", None, None, "vouchers", "[vouchers] key_file or key_env"),
    "no [vouchers] at all": (None, None, None, "vouchers", "[vouchers] key_file or key_env"),
    "a missing key file": ('key_file = "voucher.key"', None, None, "vouchers.key_file",
                           "voucher.key: No such file or directory"),
    "a key file that is a folder": ('key_file = "."', None, None, "vouchers.key_file", "Is a directory"),
    "a short key file": ('key_file = "voucher.key"', KEY[:15].encode(), None, "vouchers.key_file",
                         "a key of at least 16 bytes"),
    "a key file short once stripped": ('key_file = "voucher.key"', KEY[:15].encode() + b"   \n", None,
                                       "vouchers.key_file", "holds 15)"),
    "an unset variable": ('key_env = "TG_TEST_VOUCHER_KEY"', None, None, "vouchers.key_env", "(it is not set)"),
    "a short variable": ('key_env = "TG_TEST_VOUCHER_KEY"', None, KEY[:15], "vouchers.key_env",
                         "the environment variable TG_TEST_VOUCHER_KEY holds 15"),
    "an empty variable": ('key_env = "TG_TEST_VOUCHER_KEY"', None, "", "vouchers.key_env", "holds 0"),
}


@pytest.mark.parametrize("case", NO_KEY, ids=list(NO_KEY))
def test_a_voucher_key_that_cannot_be_used_is_named_and_never_shown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    section, file_bytes, variable, key, expected = NO_KEY[case]
    if file_bytes is not None:
        write_private(tmp_path / "voucher.key", file_bytes)
    monkeypatch.delenv("TG_TEST_VOUCHER_KEY", raising=False)
    if variable is not None:
        monkeypatch.setenv("TG_TEST_VOUCHER_KEY", variable)
    path = vouchers_config(tmp_path, "" if section is None else f"[vouchers]\n{section}\n")
    config = load(path)
    message = config_error(path, key, expected, lambda: voucher_key(config))
    assert KEY[:6] not in message and (variable is None or variable == "" or variable not in message)


def test_the_production_example_holds_a_whole_program(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    config = load(shutil.copy(REPO / "systemd" / "gateway.toml.example", tmp_path / "gateway.toml"))

    assert config.groups["silver"].upgrade == Upgrade("gold", min_paid=10_000_000, window_days=365)
    assert config.groups["silver"].earning.percent_bp > 0 and config.groups["silver"].referral is not None
    assert config.services and config.interval_rules and config.discount_scale
    assert config.vouchers.key_file == str(tmp_path / "voucher.key")
    assert any(branch.caps for branch in config.branches.values())


@pytest.mark.parametrize("name", ["زرین", "gold plus", "x" * 33])
def test_group_names_are_what_a_terminal_can_show(tmp_path: Path, name: str) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(f'[store]\nurl = "sqlite://"\n[groups."{name}"]\ndefault = true\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"groups\..*: expected a group name of up to 32 ASCII letters"):
        load(path)


def test_a_voucher_key_file_others_can_read_is_refused_naming_the_file_and_the_fix(tmp_path: Path) -> None:
    key_file = write_private(tmp_path / "voucher.key", KEY.encode() + b"\n")
    key_file.chmod(0o644)
    config = load(vouchers_config(tmp_path, '[vouchers]\nkey_file = "voucher.key"\n'))
    with pytest.raises(ConfigError, match=re.escape(f"{key_file}: a key file must be readable by its owner only, "
                                                    f"but its mode is 0644: run 'chmod 600 {key_file}'")) as e:
        voucher_key(config)
    assert KEY not in str(e.value)


LIMITS = """
[limits]
max_invoice = 500000000
max_accrual = 500000000
max_gift_activation = 20000000
max_top_up = 10000000
terminal_accrued_per_day = 5000000000
card_accruals_per_day = false

[[branches]]
id = "CLINIC000000001"
[branches.limits]
max_accrual = 900000000

[[branches]]
id = "CLINIC000000002"
"""


def test_limits_have_program_defaults_and_branch_overrides(tmp_path: Path) -> None:
    config = load(write(tmp_path, BASE + LIMITS + SILVER))
    program = Limits(max_invoice=500_000_000, max_accrual=500_000_000, max_gift_activation=20_000_000,
                     max_top_up=10_000_000, terminal_accrued_per_day=5_000_000_000, card_accruals_per_day=None)
    assert config.limits == program
    assert config.branches["CLINIC000000001"].limits == replace(program, max_accrual=900_000_000)
    assert config.branches["CLINIC000000002"].limits is None
    assert load(write(tmp_path, BASE + SILVER)).limits == Limits()


@pytest.mark.parametrize(("text", "key"), [
    ("[limits]\nmax_invoice = 0\n", "limits.max_invoice"),
    ("[limits]\nterminal_accruals_per_hour = true\n", "limits.terminal_accruals_per_hour"),
    ("[limits]\nmax_vouchers = 3\n", "limits.max_vouchers"),
    ('[[branches]]\nid = "B1"\n[branches.limits]\nmax_accrual = -1\n', "branches[0].limits.max_accrual"),
])
def test_a_bad_limit_names_its_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load(write(tmp_path, BASE + text + SILVER))
