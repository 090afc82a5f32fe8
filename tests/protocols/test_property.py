"""Property: any valid redemption survives terminal -> gateway -> terminal, in every family."""

from __future__ import annotations

import string
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from terminal_gateway.protocols.club8583 import (
    HostCodec,
    TerminalCodec,
    available_profiles,
    de48,
    load_profile,
)
from terminal_gateway.vocabulary import (
    AccrualReturn,
    Accrue,
    CardRef,
    Code,
    Limit,
    Outcome,
    Redeem,
    ServiceLine,
)

from .messages import CURRENCY, card_request, common, exchange

# Every family in each example, rather than a parametrized fixture: pytest-twisted (loaded
# for the driver tests) re-wraps a @given test once per parametrization and breaks it.
CODECS = [
    (HostCodec(profile, CURRENCY), TerminalCodec(profile))
    for profile in map(load_profile, available_profiles())
]
MAX_N12 = 10**12 - 1


def digits(low: int, high: int) -> st.SearchStrategy[str]:
    return st.text(string.digits, min_size=low, max_size=high)


def ans(low: int, high: int, exclude: str = "") -> st.SearchStrategy[str]:
    """Printable ASCII, as Club-8583 ans elements carry."""
    alphabet = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in exclude)
    return st.text(alphabet, min_size=low, max_size=high)


def padded(size: int) -> st.SearchStrategy[str]:
    """A fixed ans element: a value that is not blank, right-padded with spaces."""
    return ans(1, size).filter(str.strip).map(lambda value: value.ljust(size))


@st.composite
def outcomes(draw: st.DrawFn, requested: int) -> Outcome:
    approved = draw(st.integers(0, requested))
    return Outcome(
        Code.PARTIAL if approved < requested else Code.APPROVED,
        amount=approved,
        balance=draw(st.integers(-MAX_N12, MAX_N12)),
        limit=draw(st.none() | st.sampled_from(Limit)),
        rrn=draw(ans(12, 12)),
        auth_code=draw(ans(6, 6)),
    )


@given(
    data=st.data(),
    mti=st.sampled_from(["0100", "0101", "0200", "0201"]),
    pan=digits(1, 19),
    amount=st.integers(0, MAX_N12),
    stan=digits(6, 6),
    sent=digits(10, 10),
    terminal_id=padded(8),
    branch=padded(15),
    invoice=ans(1, 32),
    invoice_total=st.none() | st.integers(0, MAX_N12),
    lines=st.lists(st.tuples(ans(1, 10, exclude=";"), st.integers(0, 10**9)), max_size=5),
    currency=digits(3, 3),
)
def test_any_redeem_round_trips(
    data: st.DataObject,
    mti: str,
    pan: str,
    amount: int,
    stan: str,
    sent: str,
    terminal_id: str,
    branch: str,
    invoice: str,
    invoice_total: int | None,
    lines: list[tuple[str, int]],
    currency: str,
) -> None:
    tags = {"IN": invoice}
    if invoice_total is not None:
        tags["IT"] = str(invoice_total)
    if lines:
        tags["SV"] = ";".join(f"{code}:{value}" for code, value in lines)
    fields = {
        "t": mti,
        "2": pan,
        "3": "000000",
        "4": f"{amount:012d}",
        "7": sent,
        "11": stan,
        "41": terminal_id,
        "42": branch,
        "48": de48.build(tags),
        "49": currency,
    }
    name = terminal_id.rstrip(" ")
    expected = Redeem(
        terminal=name,
        key=f"{name}:{stan}:{sent}",
        repeat=mti.endswith("1"),
        branch=branch.rstrip(" "),
        card=CardRef(pan=pan),
        amount=amount,
        invoice=invoice,
        invoice_total=invoice_total,
        lines=tuple(ServiceLine(code, value) for code, value in lines),
        currency=int(currency),
        hold=mti.startswith("01"),
    )
    outcome = data.draw(outcomes(amount))
    assert outcome.balance is not None
    sign = "D" if outcome.balance < 0 else "C"

    for host, terminal in CODECS:
        decoded = exchange(host, terminal, fields)
        assert decoded.request == expected

        response = terminal.decode(host.encode(decoded.context, outcome))
        assert response["t"] == mti[:2] + "10"
        assert (response["2"], response["11"], response["41"]) == (pan, stan, terminal_id)
        assert (response["4"], response["39"]) == (f"{outcome.amount:012d}", outcome.code)
        assert (response["37"], response["38"]) == (outcome.rrn, outcome.auth_code)
        answered = de48.parse(response["48"])
        assert (int(answered["AB"]), answered.get("RS")) == (outcome.balance, outcome.limit)
        assert response["54"] == f"0002{CURRENCY}{sign}{abs(outcome.balance):012d}"


@given(
    kind=st.sampled_from(["22", "23"]),
    repeat=st.booleans(),
    pan=digits(1, 19),
    amount=st.integers(0, MAX_N12),
    invoice=ans(1, 32),
    currency=st.none() | digits(3, 3),
    earned=st.integers(-MAX_N12, MAX_N12),
    points_earned=st.integers(-MAX_N12, MAX_N12),
    points=st.none() | st.integers(0, MAX_N12),
    group=st.none() | ans(0, 32),
    expires_on=st.none() | st.dates(date(2000, 1, 1), date(2099, 12, 31)),
)
def test_any_accrual_or_return_round_trips(
    kind: str,
    repeat: bool,
    pan: str,
    amount: int,
    invoice: str,
    currency: str | None,
    earned: int,
    points_earned: int,
    points: int | None,
    group: str | None,
    expires_on: date | None,
) -> None:
    """Types 22 and 23, and an outcome with every new field: earnings (signed), points,
    group and an expiry (DE14), in every family."""
    elements = {"2": pan, "4": f"{amount:012d}", "48": de48.build({"IN": invoice})}
    fields = card_request("0201" if repeat else "0200", kind, **elements)
    if currency is not None:
        fields["49"] = currency
    kind_of = Accrue if kind == "22" else AccrualReturn
    expected = kind_of(**common(repeat=repeat), card=CardRef(pan=pan), amount=amount, invoice=invoice,
                       currency=None if currency is None else int(currency))
    outcome = Outcome(Code.APPROVED, amount=amount, earned=earned, points_earned=points_earned,
                      points=points, group=group, expires_on=expires_on)

    for host, terminal in CODECS:
        decoded = exchange(host, terminal, fields)
        assert decoded.request == expected

        response = terminal.decode(host.encode(decoded.context, outcome))
        assert (response["t"], response["4"], response["39"]) == ("0210", fields["4"], "00")
        answered = de48.parse(response["48"])
        assert (int(answered["CE"]), int(answered["PE"])) == (earned, points_earned)
        assert (answered.get("PT"), answered.get("TR")) == (None if points is None else str(points), group)
        assert response.get("14") == (None if expires_on is None else f"{expires_on:%y%m}")
