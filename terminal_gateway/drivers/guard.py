"""What one terminal link may do, whoever is at the other end of it.

A connection speaks for one terminal: the first it names. A request naming another (a
sign-on, sign-off or anything else) is refused 63 and journalled against the terminal the
connection belongs to, unless the connection comes from a configured concentrator, which
speaks for the terminals it names and only for them. A link that keeps sending what is
refused (30, 58, 63) is closed after ``max_bad_frames``: a flood costs the gateway a few
journal rows per connection, not one per frame.

These are the only identity checks a family without a MAC has on the wire: they stop a
host from hijacking another terminal's connection, not from opening its own connection as
that terminal (docs/threat-model.md says what each family can and cannot prevent).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..vocabulary import Code

__all__ = ["LinkGuard"]

REFUSED = frozenset({Code.FORMAT_ERROR, Code.NOT_PERMITTED_TERMINAL, Code.SECURITY_VIOLATION})


@dataclass(slots=True)
class LinkGuard:
    """``speaks_for``: the terminals the link may speak for, as ``bound_by`` says (a
    concentrator, a client certificate); ``None``: one terminal, the first the link names."""

    max_bad_frames: int
    source: str = ""  # the address the link comes from
    speaks_for: frozenset[str] | None = None
    bound_by: str = "this concentrator"
    terminal: str | None = None
    refused: int = 0
    answered: int = 0
    by_code: dict[str, int] = field(default_factory=dict)
    placed: set[str] = field(default_factory=set)  # terminals whose branch lets them speak from ``source``

    def trespass(self, terminal: str) -> str | None:
        """Why the link may not speak for ``terminal``; ``None`` where it may."""
        if not terminal:
            return None  # nobody named: the codec answers it as malformed
        if self.speaks_for is not None:
            return None if terminal in self.speaks_for else (
                f"terminal {terminal!r} is not one {self.bound_by} speaks for")
        if self.terminal is None:
            self.terminal = terminal
        return None if terminal == self.terminal else (
            f"this connection speaks for terminal {self.terminal}, not {terminal!r}")

    def bind(self, terminal: str, bound_by: str) -> None:
        """Let the link speak for ``terminal`` alone, whatever it names first."""
        self.speaks_for, self.bound_by, self.terminal = frozenset({terminal}), bound_by, terminal

    def count(self, code: Code) -> bool:
        """Count a request answered ``code``; whether the link has now sent too much that
        was refused."""
        self.answered += 1
        if code in REFUSED:
            self.refused += 1
            self.by_code[code.value] = self.by_code.get(code.value, 0) + 1
        return self.refused >= self.max_bad_frames
