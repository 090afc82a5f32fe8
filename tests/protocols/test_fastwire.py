"""The compiled fast path against pyiso8583, the authority: same bytes, same dicts, and never
an answer where pyiso8583 would have raised."""

from __future__ import annotations

import string
from datetime import date

import iso8583
from hypothesis import given, settings
from hypothesis import strategies as st

from terminal_gateway.protocols.club8583 import ResponseContext, available_profiles, load_profile
from terminal_gateway.protocols.club8583.elements import ELEMENTS
from terminal_gateway.protocols.club8583.fastwire import Miss, compile_fast
from terminal_gateway.protocols.club8583.responses import ECHOED, response_fields
from terminal_gateway.vocabulary import Code, Limit, Outcome

PROFILES = [load_profile(name) for name in available_profiles()]
PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))


def value_of(number: int, packed: bool) -> st.SearchStrategy[str]:
    """A valid value for element ``number`` as pyiso8583's dict holds it."""
    element = ELEMENTS[number]
    low = element.length if element.prefix == 0 else 0
    if element.kind == "n":
        return st.text(string.digits, min_size=low, max_size=element.length)
    if element.kind == "z":
        return st.text(string.digits + ("D" if packed else "="), min_size=low, max_size=element.length)
    if element.kind == "b":
        return st.binary(min_size=element.length, max_size=element.length).map(lambda b: b.hex().upper())
    return st.text(PRINTABLE, min_size=low, max_size=element.length)


@st.composite
def messages(draw: st.DrawFn, profile) -> dict[str, str]:
    packed = profile.spec["2"]["data_enc"] == "b"
    numbers = draw(st.sets(st.sampled_from(sorted(ELEMENTS)), max_size=12))
    doc = {"t": draw(st.text(string.digits, min_size=4, max_size=4))}
    if profile.tpdu:
        doc["h"] = draw(st.binary(min_size=5, max_size=5)).hex().upper()
    for number in numbers:
        doc[str(number)] = draw(value_of(number, packed))
    return doc


def amounts(signed: bool = False) -> st.SearchStrategy[int | None]:
    top = 10**12 - 1
    return st.none() | st.integers(-top if signed else 0, top)


@st.composite
def responses(draw: st.DrawFn, profile) -> dict[str, str]:
    """What the gateway sends: elements built from an ``Outcome`` with every optional field
    (DE14 from an expiry, DE48 with signed CE/PE, PT, TR, DP), as the codec builds them."""
    packed = profile.spec["2"]["data_enc"] == "b"
    echoed = draw(st.sets(st.sampled_from(ECHOED)))
    context = ResponseContext(
        mti=draw(st.sampled_from(["0100", "0200", "0201", "0220", "0400", "0421", "0500", "0800"])),
        echo={de: draw(value_of(int(de), packed)) for de in echoed},
        tpdu=draw(st.binary(min_size=5, max_size=5)).hex().upper() if profile.tpdu else None,
        batch=draw(st.none() | st.text(string.digits, min_size=6, max_size=6)),
        has_amount=draw(st.booleans()),
    )
    outcome = Outcome(
        draw(st.sampled_from(Code)),
        amount=draw(st.integers(0, 10**12 - 1)),
        balance=draw(amounts(signed=True)),
        daily_remaining=draw(amounts()),
        limit=draw(st.none() | st.sampled_from(Limit)),
        rrn=draw(st.none() | st.text(string.digits, min_size=12, max_size=12)),
        auth_code=draw(st.none() | st.text(string.ascii_uppercase + string.digits, min_size=6, max_size=6)),
        earned=draw(amounts(signed=True)),
        points_earned=draw(amounts(signed=True)),
        points=draw(amounts()),
        group=draw(st.none() | st.text(PRINTABLE, max_size=32)),
        discount=draw(st.none() | st.integers(0, 100)),
        expires_on=draw(st.none() | st.dates(date(2000, 1, 1), date(2099, 12, 31))),
    )
    return response_fields(context, outcome, 978)


def reference_decode(body: bytes, spec) -> dict[str, str] | None:
    try:
        return iso8583.decode(body, spec)[0]
    except iso8583.DecodeError:
        return None


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_valid_messages_encode_and_decode_exactly_as_pyiso8583(data: st.DataObject) -> None:
    for profile in PROFILES:
        fast = compile_fast(profile.spec)
        assert fast is not None, f"{profile.name}: the bundled profiles all have a fast path"
        doc = data.draw(messages(profile) | responses(profile))
        expected = bytes(iso8583.encode(dict(doc), profile.spec)[0])
        assert fast.pack(doc) == expected
        assert fast.unpack(expected) == iso8583.decode(expected, profile.spec)[0]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_damaged_messages_are_never_accepted_where_pyiso8583_refuses(data: st.DataObject) -> None:
    for profile in PROFILES:
        fast = compile_fast(profile.spec)
        doc = data.draw(messages(profile) | responses(profile))
        body = bytearray(iso8583.encode(dict(doc), profile.spec)[0])
        for _ in range(data.draw(st.integers(1, 3))):
            position = data.draw(st.integers(0, len(body)))
            action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
            if action == "flip" and position < len(body):
                body[position] = data.draw(st.integers(0, 255))
            elif action == "cut":
                del body[position:]
            else:
                body[position:position] = data.draw(st.binary(min_size=1, max_size=3))
        try:
            decoded = fast.unpack(bytes(body))
        except Miss:
            continue
        assert decoded == reference_decode(bytes(body), profile.spec)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_invalid_values_make_the_fast_path_give_way(data: st.DataObject) -> None:
    for profile in PROFILES:
        fast = compile_fast(profile.spec)
        doc = data.draw(messages(profile))
        number = str(data.draw(st.sampled_from(sorted(ELEMENTS))))
        doc[number] = data.draw(st.text(PRINTABLE + "é", max_size=1000))
        try:
            expected = bytes(iso8583.encode(dict(doc), profile.spec)[0])
        except iso8583.EncodeError:
            expected = None
        try:
            packed = fast.pack(doc)
        except Miss:
            continue
        assert packed == expected


def test_an_element_longer_than_its_maximum_is_left_to_pyiso8583() -> None:
    """Each variable element, one unit over its maximum: pyiso8583 refuses it, so must we."""
    for profile in PROFILES:
        fast = compile_fast(profile.spec)
        for number, element in ELEMENTS.items():
            if element.prefix == 0:
                continue
            key = str(number)
            wider = dict(profile.spec) | {key: dict(profile.spec[key], max_len=profile.spec[key]["max_len"] + 1)}
            value = "1" * wider[key]["max_len"] if element.kind in "nz" or profile.spec[key]["data_enc"] != "b" else ""
            doc = {"t": "0200", key: value} | ({"h": "6000010000"} if profile.tpdu else {})
            try:
                body = bytes(iso8583.encode(doc, wider)[0])
            except iso8583.EncodeError:  # one more does not fit the length prefix (LLL 999)
                continue
            assert reference_decode(body, profile.spec) is None
            try:
                fast.unpack(body)
            except Miss:
                continue
            raise AssertionError(f"{profile.name} DE{number}: accepted {len(value)} over a maximum of "
                                 f"{profile.spec[key]['max_len']}")
