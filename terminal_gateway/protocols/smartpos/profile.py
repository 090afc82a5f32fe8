"""SmartPOS firmware profiles: files of family ``smartpos`` (``firmware``), checked at load.

Keys (all required; an unknown key is an error, so a misspelt one fails the start-up):

max_message       the longest message accepted, in bytes, at most 65536 (smartpos.proto's
                  64 KiB); a longer one closes the connection.
partial_approval  true: a partly covered redemption is approved with 10; false: declined
                  with the code of the binding limit.
signon_required   must be false: SmartPOS has no sign-on message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from os import PathLike
from typing import Any

from ... import firmware
from .framing import MAX_MESSAGE

__all__ = ["FAMILY", "Profile", "ProfileError", "load_profile"]

FAMILY = "smartpos"
_KEYS: dict[str, type] = {"max_message": int, "partial_approval": bool, "signon_required": bool}


class ProfileError(firmware.ProfileError, ValueError):
    """A SmartPOS profile that cannot be used; the message names the profile and key."""


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    max_message: int
    partial_approval: bool

    @property
    def signon_required(self) -> bool:
        """SmartPOS has no sign-on message (a profile saying otherwise is refused)."""
        return False


def load_profile(name: str, extra_dirs: Iterable[str | PathLike[str]] = ()) -> Profile:
    """Read and check the SmartPOS profile ``name`` (``<name>.toml``)."""
    try:
        doc = firmware.read_profile(name, FAMILY, extra_dirs)
    except firmware.ProfileError as e:
        raise ProfileError(str(e)) from None
    return compile_profile(name, doc)


def compile_profile(name: str, doc: dict[str, Any]) -> Profile:
    for key, value in doc.items():
        if key not in _KEYS:
            raise ProfileError(f"{name}: unknown key {key!r}")
        if not isinstance(value, _KEYS[key]) or (_KEYS[key] is int and isinstance(value, bool)):
            raise ProfileError(f"{name}: {key} must be a {_KEYS[key].__name__}")
    missing = [key for key in _KEYS if key not in doc]
    if missing:
        raise ProfileError(f"{name}: missing {missing}")
    if not 0 < doc["max_message"] <= MAX_MESSAGE:
        raise ProfileError(f"{name}: max_message must be 1 to {MAX_MESSAGE}")
    if doc["signon_required"]:
        raise ProfileError(f"{name}: signon_required must be false: SmartPOS has no sign-on message")
    return Profile(name, doc["max_message"], doc["partial_approval"])
