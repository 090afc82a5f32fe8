"""The journal codec: effects to JSON and back, so that loading can replay them.

Generic over the effect dataclasses: an effect is its class name and its fields, values are
decoded by the fields' type hints, and a field left at its default is left out. So a new
effect or field needs no code here. One exception: ``Changed`` names the entry it changes by
its key, because that entry is the one an earlier ``Recorded`` put in the ledger; decoding
resolves the key with a lookup (the ledger's ``by_key.get``) and skips the effect when the
entry is not there (it was recorded before the replay window).
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

from ..rules.effects import Changed, Effect
from ..rules.ledger import Entry

EFFECTS: dict[str, type[Effect]] = {cls.__name__: cls for cls in Effect.__subclasses__()}

Lookup = Callable[[str], Entry | None]
Decoder = Callable[[Any], Any]
Encoder = Callable[[Any], Any]


def encode(effects: Iterable[Effect]) -> str:
    """``effects`` as one JSON array."""
    return json.dumps([_encode_effect(effect) for effect in effects], separators=(",", ":"))


def decode(text: str, lookup: Lookup) -> list[Effect]:
    """The effects ``encode`` wrote, ``Changed`` ones bound to the entries ``lookup`` finds."""
    effects = []
    for item in json.loads(text):
        cls = EFFECTS[item.pop("type")]
        if cls is Changed:
            entry = lookup(item["entry"]) if item["entry"] is not None else None
            if entry is not None:
                setter = _decoder(_hints(Entry)[item["field"]])
                effects.append(Changed(entry, item["field"], setter(item["old"]), setter(item["new"])))
        else:
            effects.append(_decoder(cls)(item))
    return effects


def _encode_effect(effect: Effect) -> dict[str, Any]:
    if isinstance(effect, Changed):
        return {"type": "Changed", "entry": effect.entry.key, "field": effect.field,
                "old": _plain(effect.old), "new": _plain(effect.new)}
    return {"type": type(effect).__name__, **_plain(effect)}


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
