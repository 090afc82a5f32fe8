"""The terminal side of Club-8583, for simulators and tests: element dicts to bodies and back.

It speaks the same profiles as the gateway through the same ``Wire``, so a simulator
exercises exactly the encodings the gateway will meet in the field.
"""

from __future__ import annotations

from collections.abc import Mapping

from .mac import Authenticator
from .profile import Profile
from .wire import Wire

__all__ = ["DEFAULT_TPDU", "TerminalCodec"]

DEFAULT_TPDU = "6000010000"  # 60, destination 0001, source 0000


class TerminalCodec:
    """Requests out, responses in, as pyiso8583-style dicts: ``{"t": "0200", "2": ...}``.

    Track 2 (DE35) is written with ``=`` in every profile. Under a TPDU profile the
    request's ``"h"`` is the TPDU as hex (``DEFAULT_TPDU`` when absent). Under a MAC
    profile a request is MAC'd when a key is given, and ``problem`` checks an answer's MAC.
    """

    __slots__ = ("_wire", "authenticator", "profile")

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self._wire = Wire(profile)
        self.authenticator = Authenticator(profile) if profile.mac else None

    def encode(self, fields: Mapping[str, str], mac_key: bytes | None = None) -> bytes:
        """The request's frame body, MAC'd with ``mac_key``; ``fields`` is left as it was."""
        if self.profile.tpdu and "h" not in fields:
            fields = {"h": DEFAULT_TPDU, **fields}
        if self.authenticator is None or mac_key is None:
            return self._wire.pack(fields)
        return self.authenticator.pack(self._wire.pack, fields, mac_key)

    def problem(self, body: bytes, fields: Mapping[str, str], mac_key: bytes | None) -> str | None:
        """Why an answer's MAC is not right (``None``: it is, or the profile has no MAC)."""
        return None if self.authenticator is None else self.authenticator.problem(body, fields, mac_key)

    def decode(self, body: bytes) -> dict[str, str]:
        """The response's elements as strings ("h", "t", "p" included)."""
        return self._wire.unpack(body)
