"""The club program's sections of the TOML file, read into the values of ``program``.

``config.load`` calls these with the ``_Section`` of the table they read; every error goes
through ``_Section.fail``, so it names the file, the full key path and what was expected, as
every other configuration error does. What a rule means is documented in docs/program.md;
here is only what a valid file looks like.
"""

from __future__ import annotations

import math
import os
from dataclasses import fields
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .program import (
    BASIS,
    WEEKDAYS,
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

if TYPE_CHECKING:
    from .config import _Section

SCOPES = ("visit", "cumulative")
MAX_REFERRAL_LEVELS = 3
MIN_PIN_DIGITS = 12
PERCENT = "a percentage from 0 to 100 with at most 2 decimals"


def _bp(s: _Section, key: str, value: Any) -> int:
    """``value`` (a percentage such as 5 or 2.5) in basis points (500, 250)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        s.fail(key, PERCENT, value)
    exact = Decimal(str(value)) * 100
    if not 0 <= exact <= BASIS or exact != exact.to_integral_value():
        s.fail(key, PERCENT, value)
    return int(exact)


def _percent(s: _Section, key: str) -> int | None:
    value = s.get(key, (int, float))
    return None if value is None else _bp(s, key, value)


def _one_of(s: _Section, first: str, second: str, values: dict[str, Any]) -> None:
    if values[first] is not None and values[second] is not None:
        s.fail(second, f"either {first} or {second}, not both")


def _close(s: _Section | None, value: Any) -> Any:
    """``value`` once the table it was read from has no unknown key left."""
    if s is not None:
        s.done()
    return value


def known_group(s: _Section, key: str, name: Any, groups: dict[str, Group]) -> str:
    """``name`` if it is a configured group, else an error at ``key`` listing the groups."""
    if name not in groups:
        s.fail(key, "a configured group: " + ", ".join(sorted(groups)), name)
    return name


def caps(s: _Section) -> Caps:
    """The four usable-credit caps of a group, or of a branch for a group."""
    values = {
        "daily_cap": s.amount("daily_cap"),
        "invoice_cap": s.amount("invoice_cap"),
        "invoice_cap_percent": s.amount("invoice_cap_percent", upper=100),
        "max_redemptions_per_day": s.amount("max_redemptions_per_day"),
    }
    _one_of(s, "invoice_cap", "invoice_cap_percent", values)
    return Caps(**values)


def _step(parent: _Section) -> Step | None:
    s = parent.sub("step")
    if s is None:
        return None
    step = Step(every=s.amount("every", lower=1, required=True), reward=s.amount("reward", required=True))
    return _close(s, step)


def _earning(s: _Section | None) -> Earning:
    if s is None:
        return Earning()
    earning = Earning(percent_bp=_percent(s, "percent") or 0, per_invoice=s.amount("per_invoice", default=0),
                      step=_step(s), min_invoice=s.amount("min_invoice", default=0))
    return _close(s, earning)


def _points(s: _Section | None) -> Points:
    if s is None:
        return Points()
    points = Points(per_invoice=s.amount("per_invoice", default=0), step=_step(s),
                    weekday_multipliers=_multipliers(s.sub("weekday_multipliers")), value=s.amount("value", default=0))
    return _close(s, points)


def _multipliers(s: _Section | None) -> dict[int, int]:
    """``{ saturday = 2 }`` as ``{5: 2}`` (0 is Monday, as ``date.weekday()``)."""
    if s is None:
        return {}
    found = {day: s.amount(name) for day, name in enumerate(WEEKDAYS)}
    return _close(s, {day: value for day, value in found.items() if value is not None})


def _upgrade(s: _Section | None) -> Upgrade | None:
    if s is None:
        return None
    conditions = ("min_balance", "min_points", "min_visits", "min_paid")
    upgrade = Upgrade(to=s.get("to", str, required=True), **{key: s.amount(key) for key in conditions},
                      window_days=s.amount("window_days", lower=1))
    if all(getattr(upgrade, key) is None for key in conditions):
        s.fail("", "at least one of " + ", ".join(conditions))
    return _close(s, upgrade)


def _referral(s: _Section | None) -> Referral | None:
    if s is None:
        return None
    percents = s.get("percents", list, required=True)
    if not 1 <= len(percents) <= MAX_REFERRAL_LEVELS:
        s.fail("percents", f"1 to {MAX_REFERRAL_LEVELS} percentages (one a level)", percents)
    referral = Referral(levels_bp=tuple(_bp(s, f"percents[{i}]", p) for i, p in enumerate(percents)),
                        window_days=s.amount("window_days", lower=1),
                        max_referred=s.amount("max_referred", lower=1))
    return _close(s, referral)


def group_rules(s: _Section) -> dict[str, Any]:
    """What a group table holds besides ``default`` and its caps, as ``Group`` fields."""
    expiry = {key: s.amount(key, lower=1) for key in ("credit_expiry_months", "credit_expiry_days")}
    _one_of(s, "credit_expiry_months", "credit_expiry_days", expiry)
    return {"earning": _earning(s.sub("earning")), "points": _points(s.sub("points")),
            "upgrade": _upgrade(s.sub("upgrade")), "referral": _referral(s.sub("referral")), **expiry}


def check_upgrades(s: _Section, groups: dict[str, Group]) -> None:
    """Every ``upgrade.to`` names another configured group, and no chain of upgrades loops."""
    targets = {name: group.upgrade.to for name, group in groups.items() if group.upgrade is not None}
    for name, target in targets.items():
        known_group(s, f"{name}.upgrade.to", target, groups)
        if target == name:
            s.fail(f"{name}.upgrade.to", f"a group other than {name} itself", target)
    for name in targets:
        chain = [name]
        while chain[-1] in targets:
            target = targets[chain[-1]]
            if target in chain:
                loop = [*chain[chain.index(target):], target]
                s.fail(f"{chain[-1]}.upgrade.to", "an upgrade chain that does not loop (" + " -> ".join(loop) + ")")
            chain.append(target)


def branch_caps(branch: _Section, groups: dict[str, Group]) -> dict[str, Caps]:
    """``[branches.caps.GROUP]``: a branch's own caps for some groups."""
    s = branch.sub("caps")
    if s is None:
        return {}
    found = {}
    for name in list(s.table):
        known_group(s, name, name, groups)
        table = s.sub(name)
        found[name] = _close(table, caps(table))
    return _close(s, found)


def _service(s: _Section, code: str, groups: dict[str, Group]) -> Service:
    if not code or ":" in code or ";" in code:
        s.fail("", "a service code (DE48 SV) without ':' or ';'", code)
    percent, fixed = _percent(s, "cashback_percent"), s.amount("cashback")
    cashback = None if percent is None and fixed is None else Reward(percent or 0, fixed or 0)
    limits = {"line_cap": s.amount("line_cap"), "line_cap_percent": s.amount("line_cap_percent", upper=100)}
    _one_of(s, "line_cap", "line_cap_percent", limits)
    names = s.get("groups", list)
    if names is not None and not names:
        s.fail("groups", "at least one group (line_cap = 0 keeps credit off this service for everyone)", names)
    allowed = None if names is None else frozenset(
        known_group(s, f"groups[{i}]", name, groups) for i, name in enumerate(names))
    service = Service(code=code, cashback=cashback, points=s.amount("points", default=0), groups=allowed, **limits)
    return _close(s, service)


def services(root: _Section, groups: dict[str, Group]) -> dict[str, Service]:
    s = root.sub("services")
    if s is None:
        return {}
    return {code: _service(s.sub(code), code, groups) for code in list(s.table)}


def _range(s: _Section) -> Range:
    low = s.amount("from", required=True)
    high = s.amount("to", lower=low)
    percent, fixed = _percent(s, "percent"), s.amount("reward")
    if percent is None and fixed is None:
        s.fail("", "reward (a fixed amount) or percent, or both")
    return _close(s, Range(low, high, Reward(percent or 0, fixed or 0)))


def _interval_rule(s: _Section) -> IntervalRule:
    name = s.get("name", str, required=True)
    scope = s.get("scope", str, required=True)
    if scope not in SCOPES:
        s.fail("scope", " or ".join(f'"{option}"' for option in SCOPES), scope)
    first_visit_only = s.get("first_visit_only", bool, False)
    if first_visit_only and scope != "visit":
        s.fail("first_visit_only", 'false with scope = "cumulative" (only a "visit" rule can be for first visits)',
               first_visit_only)
    s.get("ranges", list, required=True)
    ranges = tuple(_range(r) for r in s.each("ranges"))
    if not ranges:
        s.fail("ranges", "at least one range", [])
    rule = IntervalRule(name=name, scope=scope, ranges=ranges, first_visit_only=first_visit_only,
                        active=s.get("active", bool, True))
    return _close(s, rule)


def interval_rules(root: _Section) -> tuple[IntervalRule, ...]:
    """``[[interval_rules]]`` in file order; each name once."""
    rules = [_interval_rule(s) for s in root.each("interval_rules")]
    root.unique("interval_rules.name", rules, lambda rule: rule.name, "a name no other interval rule has")
    return tuple(rules)


def discount_scale(root: _Section) -> tuple[DiscountStep, ...]:
    """``[[discount_scale]]``, ascending by ``from`` whatever the file's order; each ``from`` once."""
    steps = [_close(s, DiscountStep(s.amount("from", required=True), s.amount("percent", upper=100, required=True)))
             for s in root.each("discount_scale")]
    root.unique("discount_scale.from", steps, lambda step: step.from_paid, "a from no other step has")
    return tuple(sorted(steps, key=lambda step: step.from_paid))


def gift_cards(root: _Section) -> GiftCards:
    s = root.sub("gift_cards")
    if s is None:
        return GiftCards()
    default = GiftCards()
    cards = GiftCards(validity_days=s.amount("validity_days", lower=1, default=default.validity_days),
                      caps=s.get("caps", bool, default.caps))
    return _close(s, cards)


def vouchers(root: _Section, base: Path) -> Vouchers:
    """``[vouchers]``; a relative ``key_file`` is made absolute against ``base``, the folder of
    the configuration file. The key itself is read by ``config.voucher_key`` when needed."""
    s = root.sub("vouchers")
    if s is None:
        return Vouchers()
    where = {key: s.get(key, str) for key in ("key_file", "key_env")}
    _one_of(s, "key_file", "key_env", where)
    for key, value in where.items():
        if value is not None and not value.strip():
            s.fail(key, "a file name" if key == "key_file" else "an environment variable's name", value)
    if where["key_file"] is not None:
        where["key_file"] = os.path.normpath(base / where["key_file"])
    default = Vouchers()
    counts = {key: s.amount(key, lower=lower, default=getattr(default, key))
              for key, lower in (("pin_digits", MIN_PIN_DIGITS), ("max_wrong_pins", 1), ("window_minutes", 1),
                                 ("lockout_minutes", 1), ("global_max_wrong_pins", 1),
                                 ("global_window_minutes", 1), ("global_lockout_minutes", 1))}
    return _close(s, Vouchers(**where, **counts))


LIMIT_KEYS = tuple(f.name for f in fields(Limits))


def _limits(s: _Section, base: Limits) -> Limits:
    """The keys of ``[limits]`` (or a branch's ``limits``) in place of ``base``'s; each a
    whole number of 1 or more, or ``false``: no limit of that kind."""
    values = {}
    for key in LIMIT_KEYS:
        if s.table.get(key) is False:
            s.used.add(key)
            values[key] = None
        else:
            values[key] = s.amount(key, lower=1, default=getattr(base, key))
    return _close(s, Limits(**values))


def limits(root: _Section) -> Limits:
    """``[limits]``: the program-wide maxima and velocity limits."""
    s = root.sub("limits")
    return Limits() if s is None else _limits(s, Limits())


def branch_limits(branch: _Section, program: Limits) -> Limits | None:
    """``[branches.limits]``: a branch's own limits, the program's where a key is not set."""
    s = branch.sub("limits")
    return None if s is None else _limits(s, program)
