"""CR-200 firmware profiles: the files of family ``cr200`` (``firmware``), validated.

A profile names the line settings and the protocol's limits of one firmware generation;
every key is checked here, so a misspelt key fails the start-up, not a transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from os import PathLike
from typing import Any

from ... import firmware
from .link import ACK_TIMEOUT, MAX_DATA, MAX_SENDS

__all__ = ["FAMILY", "Profile", "ProfileError", "compile_profile", "load_profile"]

FAMILY = "cr200"
PARITIES = ("N", "E", "O")


class ProfileError(firmware.ProfileError, ValueError):
    """A CR-200 profile that cannot be used; the message names the profile and the key."""


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    firmware: str
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1
    ack_timeout_ms: int = round(ACK_TIMEOUT * 1000)
    max_sends: int = MAX_SENDS
    max_data: int = MAX_DATA
    display_width: int = 16
    history: int = 10  # transactions a cancel (X) may name
    partial_approval: bool = True
    reopen_seconds: float = 1.0  # how often a missing device is looked for

    @property
    def signon_required(self) -> bool:
        """A reader has no sign-on: it is configured as its terminal."""
        return False

    @property
    def ack_timeout(self) -> float:
        return self.ack_timeout_ms / 1000


# key -> (type, lower bound, upper bound); bounds None: not a number
_KEYS: dict[str, tuple[type | tuple[type, ...], float | None, float | None]] = {
    "firmware": (str, None, None),
    "baudrate": (int, 50, 4_000_000),
    "bytesize": (int, 5, 8),
    "parity": (str, None, None),
    "stopbits": (int, 1, 2),
    "ack_timeout_ms": (int, 1, 60_000),
    "max_sends": (int, 1, 10),
    "max_data": (int, 1, MAX_DATA),
    "display_width": (int, 1, 80),
    "history": (int, 1, 1000),
    "partial_approval": (bool, None, None),
    "reopen_seconds": ((int, float), 0.01, 3600),
}


def compile_profile(name: str, doc: dict[str, Any]) -> Profile:
    """Check every key of ``doc`` (a profile file without its ``family``) and build the profile."""
    unknown = sorted(set(doc) - set(_KEYS))
    if unknown:
        raise ProfileError(f"{name}: {unknown[0]}: unknown key (expected one of {', '.join(_KEYS)})")
    if "firmware" not in doc:
        raise ProfileError(f"{name}: firmware: required (the firmware version this profile is for)")
    values: dict[str, Any] = {}
    for key, value in doc.items():
        kind, lower, upper = _KEYS[key]
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            raise ProfileError(f"{name}: {key}: expected {_noun(kind)}, got {value!r}")
        if lower is not None and upper is not None and not lower <= value <= upper:
            raise ProfileError(f"{name}: {key}: expected from {lower} to {upper}, got {value!r}")
        values[key] = value
    if values.get("parity", "N") not in PARITIES:
        raise ProfileError(f"{name}: parity: expected one of {', '.join(PARITIES)}, got {values['parity']!r}")
    if "reopen_seconds" in values:
        values["reopen_seconds"] = float(values["reopen_seconds"])
    return Profile(name=name, **values)


def _noun(kind: type | tuple[type, ...]) -> str:
    return {str: "a string", int: "a whole number", bool: "true or false"}.get(kind, "a number")  # type: ignore[call-overload]


def load_profile(name: str, extra_dirs: Iterable[str | PathLike[str]] = ()) -> Profile:
    """The CR-200 profile ``name`` (``<name>.toml``) from the first folder holding it."""
    try:
        doc = firmware.read_profile(name, FAMILY, extra_dirs)
    except firmware.ProfileError as e:
        raise ProfileError(str(e)) from None
    return compile_profile(name, doc)

