"""The host side of Club-8583: frame bodies to vocabulary requests, outcomes to bodies.

The contract's rule for bad input decides the shape of ``decode``: a frame whose MTI, DE11
and DE41 can be read is always answered (30 or 12 when it cannot be processed); one
where they cannot gets no answer, and ``Undecodable`` says why and where for the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import iso8583

from ...vocabulary import Code, Outcome, Request
from . import de48
from .mac import Authenticator
from .profile import UNKNOWN_FIELD, Profile
from .requests import Rejected, to_request
from .responses import ECHOED, ResponseContext, response_fields
from .wire import Wire

__all__ = ["Decoded", "HostCodec", "Undecodable"]

_LABELS = {"h": "TPDU", "t": "MTI", "p": "bitmap", "1": "secondary bitmap"}


class Undecodable(Exception):
    """Not even MTI, DE11 and DE41 could be read: nothing to answer, only to log.

    ``position`` is the byte offset in the frame body where decoding stopped, if known.
    """

    def __init__(self, reason: str, position: int | None = None) -> None:
        super().__init__(reason if position is None else f"{reason} at byte {position}")
        self.reason = reason
        self.position = position


@dataclass(frozen=True, slots=True)
class Decoded:
    """A request to decide, or (``request`` None) the ``error`` code to answer at once.
    ``fields``: the elements as decoded, for the MAC check (they may hold a PAN: no repr)."""

    request: Request | None
    context: ResponseContext
    error: Code | None = None
    reason: str = ""
    fields: Mapping[str, str] = field(default_factory=dict, repr=False)


class HostCodec:
    """Decodes terminal requests and encodes the gateway's responses under one profile."""

    __slots__ = ("_wire", "authenticator", "currency", "profile")

    def __init__(self, profile: Profile, currency: int) -> None:
        self.profile = profile
        self.currency = currency  # the program's: DE54 balances are in it
        self._wire = Wire(profile)
        self.authenticator = Authenticator(profile) if profile.mac else None

    def decode(self, body: bytes) -> Decoded:
        failure: iso8583.DecodeError | None = None
        try:
            doc = self._wire.unpack(body)
        except iso8583.DecodeError as e:
            failure = e
            doc = e.doc_dec
            doc.pop(e.field, None)  # what pyiso8583 left there is not a value
        mti = doc.get("t", "")
        if not (_is_request(mti) and doc.get("11") and doc.get("41")):
            raise _undecodable(mti, doc, failure, self.profile)
        context = ResponseContext(
            mti=mti,
            echo={de: doc[de] for de in ECHOED if de in doc},
            tpdu=_swap(doc["h"]) if "h" in doc else None,
            batch=_batch(doc) if mti[:3] == "050" else None,
            has_amount="4" in doc,
        )
        if failure is not None:
            reason = f"{_describe(failure, self.profile)} at byte {failure.pos}"
            return Decoded(None, context, Code.FORMAT_ERROR, reason, doc)
        try:
            return Decoded(to_request(mti, doc, key_change=self.profile.mac), context, fields=doc)
        except Rejected as e:
            return Decoded(None, context, e.code, e.reason, doc)

    def encode(self, context: ResponseContext, outcome: Outcome, mac_key: bytes | None = None) -> bytes:
        """The response's frame body (with the swapped TPDU where the profile has one), MAC'd
        with ``mac_key`` under a MAC profile.

        An outcome that does not fit its elements (an RRN that is not 12 characters, an
        amount over 12 digits) raises ``iso8583.EncodeError``: a bug upstream, not input.
        """
        fields = response_fields(context, outcome, self.currency)
        if self.authenticator is None or mac_key is None:
            return self._wire.pack(fields)
        return self.authenticator.pack(self._wire.pack, fields, mac_key)


def _is_request(mti: str) -> bool:
    """Four digits with an even function digit: requests and advices, never responses."""
    return len(mti) == 4 and mti.isascii() and mti.isdigit() and int(mti[2]) % 2 == 0


def _swap(tpdu: str) -> str:
    """TPDU ``60 DDDD SSSS`` (hex) answered as ``60 SSSS DDDD``."""
    return tpdu[:2] + tpdu[6:10] + tpdu[2:6]


def _batch(doc: dict[str, str]) -> str | None:
    """DE48 BN of a 0500, echoed in the 0510 even when the rest of the request is bad."""
    try:
        return de48.parse(doc.get("48", "")).get("BN")
    except de48.DE48Error:
        return None


def _describe(failure: iso8583.DecodeError, profile: Profile) -> str:
    """pyiso8583's field and position, worded for the log (its messages hold no values)."""
    field = failure.field
    if profile.spec[field] is UNKNOWN_FIELD:
        return f"DE{field}: not a Club-8583 data element"
    return f"{_LABELS.get(field, f'DE{field}')}: {failure.msg}"


def _undecodable(
    mti: str, doc: dict[str, str], failure: iso8583.DecodeError | None, profile: Profile
) -> Undecodable:
    if failure is not None:
        return Undecodable(_describe(failure, profile), failure.pos)
    if not _is_request(mti):
        return Undecodable(f"MTI {mti!r}: not a request")
    return Undecodable(f"DE{'11' if not doc.get('11') else '41'}: missing")
