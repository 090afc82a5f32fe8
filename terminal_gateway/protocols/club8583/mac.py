"""Message authentication under a MAC profile (``club-t2-mac``) and the key change's crypto.

The MAC is AES-CMAC with the terminal's key over the frame body after the TPDU, up to but
not including the MAC's own bytes, truncated to 8 bytes; it travels in DE64, or in DE128
when the secondary bitmap is present, so it is always the body's last element. Both sides
of the link use ``Authenticator``: the gateway to check requests and seal answers, the
simulators to seal requests and check answers.

Nothing here logs or raises with a key or a MAC input in it: a problem is a short sentence
naming what was wrong.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Mapping
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.cmac import CMAC
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from .profile import Profile

__all__ = ["MAC_BYTES", "SESSION_KEY_BYTES", "Authenticator", "InvalidUnwrap", "TerminalKeys", "check_value",
           "cmac", "new_session_key", "unwrap_key", "wrap_key"]

MAC_BYTES = 8
SESSION_KEY_BYTES = 16  # AES-128
_PLACEHOLDER = "0" * (2 * MAC_BYTES)
_TPDU_BYTES = 5


class TerminalKeys(Protocol):
    """The gateway's keys of its terminals, as the codec needs them (no store behind it here)."""

    def mac_key(self, terminal: str) -> bytes | None:
        """The key ``terminal`` MACs with: its session key, or its master key before its first
        key change; ``None`` when it has no key at all."""

    def master_key(self, terminal: str) -> bytes | None:
        """``terminal``'s master key, under which a new session key is wrapped."""


def cmac(key: bytes, data: bytes) -> bytes:
    """The full 16-byte AES-CMAC of ``data``."""
    signer = CMAC(AES(key))
    signer.update(data)
    return signer.finalize()


def check_value(key: bytes) -> str:
    """A key's check value: hex of the first 3 bytes of AES-CMAC(key, 16 zero bytes).
    It identifies a key without revealing it."""
    return cmac(key, bytes(16))[:3].hex().upper()


def new_session_key() -> bytes:
    return os.urandom(SESSION_KEY_BYTES)


def wrap_key(wrapping_key: bytes, key: bytes) -> bytes:
    """RFC 3394 AES key wrap."""
    return aes_key_wrap(wrapping_key, key)


def unwrap_key(wrapping_key: bytes, wrapped: bytes) -> bytes:
    """RFC 3394 AES key unwrap; ``InvalidUnwrap`` when ``wrapped`` was not made with this key."""
    return aes_key_unwrap(wrapping_key, wrapped)


class Authenticator:
    """The MAC of one profile's frame bodies: where it sits and how wide it is on the wire."""

    __slots__ = ("_hex", "_offset", "_width")

    def __init__(self, profile: Profile) -> None:
        self._offset = _TPDU_BYTES if profile.tpdu else 0
        self._hex = profile.spec["64"]["data_enc"] != "b"  # "hex" profiles: 16 ASCII hex characters
        self._width = 2 * MAC_BYTES if self._hex else MAC_BYTES

    @staticmethod
    def element(fields: Mapping[str, str]) -> str:
        """"128" when the message has an element above 64 (a secondary bitmap), else "64"."""
        return "128" if any(k.isdigit() and 64 < int(k) < 128 for k in fields) else "64"

    def pack(self, pack: Callable[[Mapping[str, str]], bytes], fields: Mapping[str, str], key: bytes) -> bytes:
        """``fields`` packed by ``pack`` with a zero MAC in its element, then the MAC written
        over the zeros (the MAC's own bytes are not part of its input)."""
        placed = {k: v for k, v in fields.items() if k not in ("64", "128")}
        placed[self.element(fields)] = _PLACEHOLDER
        body = pack(placed)
        mac = self._mac(body, key)
        return body[: -self._width] + (mac.hex().upper().encode("ascii") if self._hex else mac)

    def problem(self, body: bytes, fields: Mapping[str, str], key: bytes | None) -> str | None:
        """Why ``body`` (decoded into ``fields``) is not authentic, or ``None`` when it is."""
        element = self.element(fields)
        if "64" in fields and element == "128":
            return "MAC in DE64 of a message with a secondary bitmap"
        received = fields.get(element)
        if received is None:
            return f"MAC missing (DE{element})"
        if key is None:
            return "no key for this terminal"
        tail = body[-self._width:]
        if (tail.decode("ascii", "replace") if self._hex else tail.hex()).upper() != received.upper():
            return f"MAC (DE{element}) is not the last element"
        if not hmac.compare_digest(received.upper(), self._mac(body, key).hex().upper()):
            return f"MAC (DE{element}) wrong"
        return None

    def _mac(self, body: bytes, key: bytes) -> bytes:
        return cmac(key, body[self._offset: len(body) - self._width])[:MAC_BYTES]
