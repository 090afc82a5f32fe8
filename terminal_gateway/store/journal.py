"""The journal codec: effects to JSON and back, so that loading can replay them.

A journal text is a JSON array of ``[kind, fields]`` pairs. ``kind`` is the effect's name in
``KINDS``, written out there and never derived from the class, so that renaming a class in
Python changes nothing stored. ``fields`` is generic over the effect dataclasses: values are
decoded by the fields' type hints, and a field left at its default is left out; so a new
field needs no code here, and a new replayed effect only its line in ``KINDS``. One
exception: ``Changed`` names the entry it changes by its key, because that entry is the one
an earlier ``Recorded`` put in the ledger; decoding resolves the key with a lookup (the
ledger's ``by_key.get``) and skips the effect when the entry is not there (it was recorded
before the replay window).

Each journal row stores the ``FORMAT_VERSION`` its text was written in, and decoding refuses
any other, and any kind it does not know, rather than guess: a change to this format (a
renamed kind or field) is a new version with a migration converting the rows. Version 1, up
to revision 0003, named each effect by its Python class, as ``{"type": name, **fields}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import MISSING, fields, is_dataclass
from datetime import date, datetime
from enum import Enum
from functools import cache
from operator import attrgetter
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from ..rules.effects import (
    BatchClosed,
    BatchItem,
    Changed,
    Counted,
    DailyUsage,
    Effect,
    InvoiceUsage,
    PinFailure,
    Recorded,
    Tombstone,
)
from ..rules.ledger import Entry

FORMAT_VERSION = 2

KINDS: dict[str, type[Effect]] = {  # the stored name of every replayed effect: once written, never changed
    "recorded": Recorded,
    "changed": Changed,
    "daily_usage": DailyUsage,
    "invoice_usage": InvoiceUsage,
    "tombstone": Tombstone,
    "batch_item": BatchItem,
    "batch_closed": BatchClosed,
    "pin_failure": PinFailure,
    "counted": Counted,
}
_KIND_OF = {cls: kind for kind, cls in KINDS.items()}

Lookup = Callable[[str], Entry | None]
Decoder = Callable[[Any], Any]
Encoder = Callable[[Any], Any]


class FormatError(ValueError):
    """A journal text this code does not read: another format version, or an unknown kind."""


def encode(effects: Iterable[Effect]) -> str:
    """``effects`` as one JSON array, in ``FORMAT_VERSION``."""
    return json.dumps([_encode_effect(effect) for effect in effects], separators=(",", ":"))


def decode(text: str, version: int, lookup: Lookup) -> list[Effect]:
    """The effects ``encode`` wrote in format ``version``, ``Changed`` ones bound to the entries
    ``lookup`` finds; ``FormatError`` if ``version`` or a kind is not this code's."""
    if version != FORMAT_VERSION:
        raise FormatError(f"it is in format version {version}; this gateway reads version {FORMAT_VERSION} only")
    effects = []
    for kind, item in json.loads(text):
        cls = KINDS.get(kind)
        if cls is None:
            raise FormatError(f"it holds an effect of unknown kind {kind!r}")
        if cls is Changed:
            entry = lookup(item["entry"]) if item["entry"] is not None else None
            if entry is not None:
                setter = _decoder(_hints(Entry)[item["field"]])
                effects.append(Changed(entry, item["field"], setter(item["old"]), setter(item["new"])))
        else:
            effects.append(_decoder(cls)(item))
    return effects


def _encode_effect(effect: Effect) -> list[Any]:
    kind = _KIND_OF[type(effect)]
    if isinstance(effect, Changed):
        return [kind, {"entry": effect.entry.key, "field": effect.field,
                       "old": _plain(effect.old), "new": _plain(effect.new)}]
    return [kind, _plain(effect)]


_AS_IS = frozenset({str, int, bool, float, NoneType})


def _plain(value: Any) -> Any:
    """``value`` as JSON types."""
    kind = type(value)
    return value if kind in _AS_IS else _encoder(kind)(value)


@cache
def _encoder(cls: type) -> Encoder:
    """A function from a ``cls`` value to JSON types; dataclasses become objects without the
    fields that are at their default."""
    if is_dataclass(cls):
        return _dataclass_encoder(cls)
    if issubclass(cls, Enum):
        return attrgetter("value")
    if issubclass(cls, date):  # datetime too
        return cls.isoformat
    if issubclass(cls, tuple | list):
        return lambda value: [_plain(each) for each in value]
    return _same


def _dataclass_encoder(cls: type) -> Encoder:
    """Generated straight-line code, one statement per field, as ``dataclasses`` generates
    ``__init__``: the journal is encoded for every decision, on the reactor thread.

    A field whose type hint admits only JSON types is copied as it is; any other goes
    through ``_plain``. A field with a default is left out while it has that default.
    """
    hints = _hints(cls)
    namespace: dict[str, Any] = {"_plain": _plain}
    lines = ["def encode(value):", "    plain = {}"]
    for f in fields(cls):
        plain = _hint_is_json(hints[f.name])
        lines.append(f"    x = value.{f.name}")
        store = f"plain[{f.name!r}] = " + ("x" if plain else "_plain(x)")
        if f.default is MISSING:
            lines.append(f"    {store}")
        else:
            namespace[f"default_{f.name}"] = f.default
            lines.append(f"    if x != default_{f.name}: {store}")
    lines.append("    return plain")
    exec("\n".join(lines), namespace)
    return namespace["encode"]


def _hint_is_json(hint: Any) -> bool:
    if get_origin(hint) in (Union, UnionType):
        return all(_hint_is_json(arg) for arg in get_args(hint))
    return hint in _AS_IS


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


@cache
def _decoder(hint: Any) -> Decoder:
    """A function from the JSON form of a ``hint`` value back to the value."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, UnionType):
        (inner,) = (_decoder(arg) for arg in args if arg is not NoneType)
        return _same if inner is _same else lambda value: None if value is None else inner(value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = _decoder(args[0])
            return lambda value: tuple(item(each) for each in value)
        items = tuple(_decoder(arg) for arg in args)
        return lambda value: tuple(item(each) for item, each in zip(items, value, strict=True))
    if is_dataclass(hint):
        return _dataclass_decoder(hint)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint
    if hint in (datetime, date):
        return hint.fromisoformat
    return _same


def _dataclass_decoder(cls: type) -> Decoder:
    """Only the fields that JSON cannot carry as they are (enums, dates, nested) are converted."""
    hints = _hints(cls)
    converted = [(f.name, decoder) for f in fields(cls) if (decoder := _decoder(hints[f.name])) is not _same]

    def decode_dataclass(value: dict[str, Any]) -> Any:
        for name, decoder in converted:
            if name in value:
                value[name] = decoder(value[name])
        return cls(**value)

    return decode_dataclass


def _same(value: Any) -> Any:
    return value
