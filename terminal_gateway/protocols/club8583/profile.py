"""Firmware profiles: a family's wire choices, compiled once into a pyiso8583 spec.

The families differ only in framing and encoding, so a profile is a handful of choices
(``[encoding]``) applied to the shared element table, plus optional per-element overrides
in pyiso8583's own terms. Everything is checked here, at load, so a typo in a profile
fails the start-up rather than the first transaction.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ... import firmware
from ..framing import FrameHeader
from .elements import ELEMENTS, Element

__all__ = ["Profile", "ProfileError", "Spec", "compile_profile"]

FieldSpec = dict[str, Any]


class ProfileError(firmware.ProfileError, ValueError):
    """A profile file that does not describe a usable family."""


class Spec(dict[str, FieldSpec]):
    """A pyiso8583 spec that turns an element it does not know into a DecodeError.

    pyiso8583 looks fields up with ``spec[field]``; a plain dict would raise KeyError and
    lose the partly decoded message. This fixed field of length -1 can never be satisfied,
    so decoding stops there with the field and position, like any other malformed field.
    """

    def __missing__(self, key: str) -> FieldSpec:
        return UNKNOWN_FIELD


UNKNOWN_FIELD: FieldSpec = {
    "data_enc": "ascii",
    "len_enc": "ascii",
    "len_type": 0,
    "max_len": -1,
    "desc": "not a Club-8583 data element",
}


@dataclass(frozen=True, slots=True)
class Profile:
    """One terminal family: framing, session rules and the compiled element spec."""

    name: str
    header: FrameHeader
    tpdu: bool
    signon_required: bool
    partial_approval: bool
    max_frame: int
    spec: Spec = field(repr=False, compare=False)
    mac: bool = False  # every request and answer carries an AES-CMAC (DE64/DE128)


# The choices of [encoding], each with its allowed values.
_CHOICES: dict[str, tuple[str, ...]] = {
    "mti": ("bcd", "ascii"),
    "bitmap": ("binary", "hex"),
    "numeric": ("bcd", "ascii"),
    "lengths": ("bcd", "ascii", "binary"),
    "binary": ("raw", "hex"),
}
# lengths choice -> (pyiso8583 len_enc, {prefix digits: len_type in bytes})
_LENGTHS: dict[str, tuple[str, dict[int, int]]] = {
    "bcd": ("bcd", {2: 1, 3: 2}),
    "ascii": ("ascii", {2: 2, 3: 3}),
    "binary": ("b", {2: 1, 3: 2}),
}
_TOP: dict[str, type] = {
    "frame_header": str,
    "tpdu": bool,
    "max_frame": int,
    "signon_required": bool,
    "partial_approval": bool,
    "encoding": dict,
    "fields": dict,
    "mac": str,
}
_MACS = ("none", "aes-cmac")
_FIELD_KEYS: dict[str, type] = {
    "data_enc": str,
    "len_enc": str,
    "len_type": int,
    "max_len": int,
    "len_count": str,
    "left_pad": str,
    "right_pad": str,
    "desc": str,
}
_REQUIRED_FIELD_KEYS = ("data_enc", "len_enc", "len_type", "max_len")
_TPDU_BYTES = 5


def compile_profile(name: str, doc: Mapping[str, Any]) -> Profile:
    """Check a parsed profile file and build its ``Profile``; ``ProfileError`` names the key."""
    _check_keys(name, doc, _TOP, required=_TOP.keys() - {"fields", "mac"})
    if doc.get("mac", "none") not in _MACS:
        raise ProfileError(f"{name}: mac must be one of {_MACS}")
    encoding = doc["encoding"]
    _check_keys(f"{name} [encoding]", encoding, dict.fromkeys(_CHOICES, str), required=_CHOICES)
    for key, allowed in _CHOICES.items():
        if encoding[key] not in allowed:
            raise ProfileError(f"{name}: encoding.{key} must be one of {allowed}")
    try:
        header = FrameHeader(doc["frame_header"])
    except ValueError:
        choices = [h.value for h in FrameHeader]
        raise ProfileError(f"{name}: frame_header must be one of {choices}") from None
    if not 0 < doc["max_frame"] <= header.capacity:
        raise ProfileError(f"{name}: max_frame {doc['max_frame']} does not fit a {header} header")

    spec = Spec(_framing_spec(encoding, doc["tpdu"]))
    spec.update((str(n), _element_spec(e, encoding)) for n, e in ELEMENTS.items())
    for key, override in doc.get("fields", {}).items():
        spec[key] = _override(f"{name} [fields.{key}]", spec.get(key, {}), override)
    return Profile(
        name=name,
        header=header,
        tpdu=doc["tpdu"],
        signon_required=doc["signon_required"],
        partial_approval=doc["partial_approval"],
        max_frame=doc["max_frame"],
        spec=spec,
        mac=doc.get("mac", "none") == "aes-cmac",
    )


def _framing_spec(encoding: Mapping[str, str], tpdu: bool) -> dict[str, FieldSpec]:
    """TPDU ("h"), MTI ("t") and bitmaps ("p", "1"): the parts before the elements."""
    binary_bitmap = encoding["bitmap"] == "binary"
    bitmap = _fixed("b" if binary_bitmap else "ascii", 8 if binary_bitmap else 16, "bitmap")
    return {
        "h": _fixed("b", _TPDU_BYTES if tpdu else 0, "TPDU"),
        "t": _fixed("b" if encoding["mti"] == "bcd" else "ascii", 4, "MTI"),
        "p": bitmap,
        "1": {**bitmap, "desc": "secondary bitmap"},
    }


def _element_spec(element: Element, encoding: Mapping[str, str]) -> FieldSpec:
    len_enc, len_types = _LENGTHS[encoding["lengths"]]
    spec: FieldSpec = {
        "len_enc": len_enc,
        "len_type": len_types[element.prefix] if element.prefix else 0,
        "desc": element.name,
    }
    if element.kind in ("n", "z") and encoding["numeric"] == "bcd":
        # Packed digits; a variable length counts digits, an odd count gets a 0 nibble first.
        spec |= {"data_enc": "b", "max_len": element.length, "len_count": "nibbles", "left_pad": "0"}
    elif element.kind == "b" and encoding["binary"] == "hex":
        spec |= {"data_enc": "ascii", "max_len": 2 * element.length}
    elif element.kind == "b":
        spec |= {"data_enc": "b", "max_len": element.length}
    else:
        spec |= {"data_enc": "ascii", "max_len": element.length}
    return spec


def _fixed(data_enc: str, length: int, desc: str) -> FieldSpec:
    return {"data_enc": data_enc, "len_enc": "ascii", "len_type": 0, "max_len": length, "desc": desc}


def _override(where: str, base: FieldSpec, override: Any) -> FieldSpec:
    _check_keys(where, override, _FIELD_KEYS)
    merged = {**base, **override}
    missing = [key for key in _REQUIRED_FIELD_KEYS if key not in merged]
    if missing:
        raise ProfileError(f"{where}: not in the element table, so it needs {missing}")
    for key in ("data_enc", "len_enc"):
        if merged[key] not in ("b", "bcd"):
            try:
                codecs.lookup(merged[key])
            except LookupError:
                raise ProfileError(f"{where}: unknown {key} {merged[key]!r}") from None
    if merged.get("len_count", "bytes") not in ("bytes", "nibbles"):
        raise ProfileError(f"{where}: len_count must be 'bytes' or 'nibbles'")
    return merged


def _check_keys(
    where: str, table: Any, types: Mapping[str, type], required: Iterable[str] = ()
) -> None:
    """Unknown keys and wrong types are errors: a misspelt key must not be ignored."""
    if not isinstance(table, dict):
        raise ProfileError(f"{where}: must be a table")
    for key, value in table.items():
        if key not in types:
            raise ProfileError(f"{where}: unknown key {key!r}")
        # bool is an int in Python; a profile saying max_frame = true is still wrong.
        if not isinstance(value, types[key]) or (types[key] is int and isinstance(value, bool)):
            raise ProfileError(f"{where}: {key} must be a {types[key].__name__}")
    missing = [key for key in required if key not in table]
    if missing:
        raise ProfileError(f"{where}: missing {missing}")
