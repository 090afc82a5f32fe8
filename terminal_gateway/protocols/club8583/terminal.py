"""The terminal side of Club-8583, for simulators and tests: element dicts to bodies and back.

It speaks the same profiles as the gateway through the same ``Wire``, so a simulator
exercises exactly the encodings the gateway will meet in the field.
"""

from __future__ import annotations

from collections.abc import Mapping

from .profile import Profile
from .wire import Wire

__all__ = ["DEFAULT_TPDU", "TerminalCodec"]

DEFAULT_TPDU = "6000010000"  # 60, destination 0001, source 0000


class TerminalCodec:
    """Requests out, responses in, as pyiso8583-style dicts: ``{"t": "0200", "2": ...}``.

    Track 2 (DE35) is written with ``=`` in every profile. Under a TPDU profile the
    request's ``"h"`` is the TPDU as hex (``DEFAULT_TPDU`` when absent).
    """

    __slots__ = ("_wire", "profile")

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self._wire = Wire(profile)

    def encode(self, fields: Mapping[str, str]) -> bytes:
        """The request's frame body; ``fields`` is left as it was."""
        if self.profile.tpdu and "h" not in fields:
            fields = {"h": DEFAULT_TPDU, **fields}
        return self._wire.pack(fields)

    def decode(self, body: bytes) -> dict[str, str]:
        """The response's elements as strings ("h", "t", "p" included)."""
        return self._wire.unpack(body)
