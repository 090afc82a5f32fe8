"""Profiles are data: they compile for every element, and a new family is a file only."""

from __future__ import annotations

from pathlib import Path

import pytest

from terminal_gateway.protocols.club8583 import (
    HostCodec,
    Profile,
    ProfileError,
    TerminalCodec,
    available_profiles,
    load_profile,
    profile_dirs,
)
from terminal_gateway.protocols.club8583.elements import ELEMENTS
from terminal_gateway.protocols.framing import FrameHeader
from terminal_gateway.vocabulary import CardRef, Code

from .messages import CASES, CURRENCY, ODD_PAN, PAN, case, exchange, without

CLONE = """
# club-t4: a club-t2 whose firmware packs LL/LLL lengths as BCD.
frame_header = "binary2"
tpdu = false
max_frame = 4096
signon_required = true
partial_approval = false

[encoding]
mti = "ascii"
bitmap = "hex"
numeric = "ascii"
lengths = "bcd"
binary = "hex"
"""


def _write(directory: Path, name: str, text: str) -> Path:
    (directory / f"{name}.toml").write_text(text, encoding="utf-8")
    return directory


def test_bundled_families() -> None:
    assert {"club-t1", "club-t2", "club-t3"} <= set(available_profiles())
    t1, t2, t3 = (load_profile(name) for name in ("club-t1", "club-t2", "club-t3"))
    assert (t1.header, t1.tpdu, t1.signon_required, t1.partial_approval) == (
        FrameHeader.BINARY2, True, True, True
    )
    assert (t2.header, t2.tpdu, t2.signon_required, t2.partial_approval) == (
        FrameHeader.BINARY2, False, True, True
    )
    assert (t3.header, t3.tpdu, t3.signon_required, t3.partial_approval) == (
        FrameHeader.ASCII4, False, False, False
    )


def test_spec_covers_every_element(profile: Profile) -> None:
    assert profile.max_frame == 4096
    assert {"h", "t", "p", "1"} | {str(de) for de in ELEMENTS} <= profile.spec.keys()


def test_expiry_date_is_n4_in_every_family(profile: Profile) -> None:
    """DE14 (YYMM, a gift card's expiry): two BCD bytes in club-t1, four digits elsewhere."""
    spec = profile.spec["14"]
    assert (spec["len_type"], spec["max_len"]) == (0, 4)
    packed = profile.name == "club-t1"
    assert (spec["data_enc"], spec.get("len_count", "bytes")) == (
        ("b", "nibbles") if packed else ("ascii", "bytes")
    )


def test_a_fourth_family_is_a_file(tmp_path: Path) -> None:
    profile = load_profile("club-t4", [_write(tmp_path, "club-t4", CLONE)])
    assert "club-t4" in available_profiles([tmp_path])
    host, terminal = HostCodec(profile, CURRENCY), TerminalCodec(profile)
    for row in CASES:
        decoded = exchange(host, terminal, row.fields)
        assert decoded.request == (None if isinstance(row.expect, Code) else row.expect)
        response = terminal.decode(host.encode(decoded.context, row.outcome))
        assert response["39"] == row.outcome.code.value
    redeem = terminal.encode(case("redeem").fields)
    assert b"\x16" + PAN.encode() in redeem  # BCD LL before ASCII digits


def test_caller_dirs_come_first(tmp_path: Path) -> None:
    _write(tmp_path, "club-t2", CLONE.replace('frame_header = "binary2"', 'frame_header = "ascii4"'))
    assert load_profile("club-t2", [tmp_path]).header is FrameHeader.ASCII4
    assert load_profile("club-t2").header is FrameHeader.BINARY2


def test_field_override(tmp_path: Path) -> None:
    """Some firmware pads odd track 2 on the right with F: one override, no code."""
    base = (profile_dirs()[-1] / "club-t1.toml").read_text(encoding="utf-8")
    override = '\n[fields.35]\nleft_pad = ""\nright_pad = "F"\n'
    profile = load_profile("club-t1f", [_write(tmp_path, "club-t1f", base + override)])
    terminal, host = TerminalCodec(profile), HostCodec(profile, CURRENCY)
    fields = without(case("balance").fields, "2")
    body = terminal.encode({**fields, "35": f"{ODD_PAN}=25121"})
    assert bytes.fromhex("21 378282246310005D25121F") in body
    decoded = host.decode(body)
    assert decoded.request is not None
    assert decoded.request.card == CardRef(pan=ODD_PAN)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("tpdu = false", "tpdu = false\ntdpu = true"), "unknown key 'tdpu'"),
        (('lengths = "bcd"', 'lengths = "ebcdic"'), "encoding.lengths must be one of"),
        (("max_frame = 4096\n", ""), "missing ['max_frame']"),
        (('frame_header = "binary2"', "frame_header = 2"), "frame_header must be a str"),
        (("max_frame = 4096", "max_frame = true"), "max_frame must be a int"),
        (('frame_header = "binary2"', 'frame_header = "binary4"'), "frame_header must be one of"),
        (("max_frame = 4096", "max_frame = 4096\nmax_frame = 1"), "Cannot overwrite a value"),
        (("max_frame = 4096", "max_frame = 70000"), "does not fit a binary2 header"),
        (("[encoding]", "[fields.35]\nleft_pad = 0\n[encoding]"), "left_pad must be a str"),
        (("[encoding]", "[fields.35]\npad = '0'\n[encoding]"), "unknown key 'pad'"),
        (("[encoding]", "[fields.43]\nmax_len = 25\n[encoding]"), "needs ['data_enc'"),
        (("[encoding]", "[fields.48]\ndata_enc = 'klingon'\n[encoding]"), "unknown data_enc"),
        (("[encoding]", "[fields.2]\nlen_count = 'bits'\n[encoding]"), "len_count must be"),
    ],
)
def test_bad_profiles_fail_at_load(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    _write(tmp_path, "bad", CLONE.replace(*change))
    with pytest.raises(ProfileError) as raised:
        load_profile("bad", [tmp_path])
    assert message in str(raised.value)


@pytest.mark.parametrize("name", ["../club-t1", "Club-T1", "club-t9"])
def test_unknown_or_unsafe_names(name: str) -> None:
    with pytest.raises(ProfileError):
        load_profile(name)
