"""Element dicts to frame bodies and back under one profile; both sides of the link use it.

pyiso8583 does the work, and decides what is valid; a fast path compiled from the same spec
(``fastwire``) takes the plainly well-formed messages first. The one thing pyiso8583 cannot
express is track 2 packed as BCD, where the separator ``=`` travels as the nibble ``D``.
"""

from __future__ import annotations

from collections.abc import Mapping

import iso8583

from .fastwire import Miss, compile_fast
from .profile import Profile

__all__ = ["Wire"]

_TRACK2 = "35"


class Wire:
    __slots__ = ("_fast", "_packed_track2", "_spec")

    def __init__(self, profile: Profile) -> None:
        self._spec = profile.spec
        self._fast = compile_fast(profile.spec)
        self._packed_track2 = profile.spec[_TRACK2]["data_enc"] == "b"

    def pack(self, fields: Mapping[str, str]) -> bytes:
        """Encode element strings (pyiso8583's dict: "h", "t", "2", ...); ``fields`` is not changed."""
        doc = dict(fields)  # pyiso8583 adds the bitmaps to the dict it is given
        if self._packed_track2 and _TRACK2 in doc:
            doc[_TRACK2] = doc[_TRACK2].replace("=", "D")
        if self._fast is not None:
            try:
                return self._fast.pack(doc)
            except Miss:
                pass
        return bytes(iso8583.encode(doc, self._spec)[0])

    def unpack(self, body: bytes) -> dict[str, str]:
        """Decode a frame body; raises ``iso8583.DecodeError`` (field, position) if malformed."""
        try:
            if self._fast is None:
                raise Miss("no fast path for this profile")
            doc = self._fast.unpack(body)
        except Miss:
            doc = iso8583.decode(body, self._spec)[0]
        if self._packed_track2 and _TRACK2 in doc:
            doc[_TRACK2] = doc[_TRACK2].replace("D", "=")
        return doc
