"""DE48 sub-elements: the tagged format, and errors that point without quoting."""

from __future__ import annotations

import pytest

from terminal_gateway.protocols.club8583 import DE48Error, de48


def test_round_trip_keeps_order_and_unknown_tags() -> None:
    text = de48.build([("IN", "INV-0042"), ("ZZ", ""), ("IT", "450000")])
    assert text == "IN008INV-0042ZZ000IT006450000"
    assert list(de48.parse(text).items()) == [("IN", "INV-0042"), ("ZZ", ""), ("IT", "450000")]
    assert de48.build({"BN": "000007"}) == "BN006000007"
    assert de48.parse("") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("IN008INV", "IN: length 8 runs past the end at offset 0"),
        ("IN003abcVP0", "truncated sub-element at offset 8"),
        ("in003abc", "tag is not two capital letters at offset 0"),
        ("IN0x3abc", "IN: length is not 3 digits at offset 0"),
        ("VP0041234VP0041234", "VP: repeated at offset 9"),
    ],
)
def test_malformed(text: str, message: str) -> None:
    with pytest.raises(DE48Error, match=f"^{message}$") as raised:
        de48.parse(text)
    assert "1234" not in str(raised.value)


@pytest.mark.parametrize("pairs", [[("I", "x")], [("IN", "x" * 1000)], [("I1", "x")]])
def test_build_refuses_what_cannot_be_parsed(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(ValueError):
        de48.build(pairs)
