"""The key change (0800, DE70 = 101) under a MAC profile: a request only the gateway's key
handling answers, never the rule core (it moves no value and needs no decision)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...vocabulary import Request

__all__ = ["KeyChange"]


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyChange(Request):
    """Install ``session_key`` as ``terminal``'s session key, durably, then answer; the
    answer carries it wrapped under the terminal's master key (DE48 SK, KC)."""

    session_key: bytes = field(default=b"", repr=False)
