"""DE48 sub-elements: ``TT`` tag, 3-digit length, value; ``IN008INV-0042IT006450000``.

Errors name the offset and the tag but never quote a value: DE48 may carry a voucher PIN.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["DE48Error", "build", "parse"]

_HEAD = 5  # tag (2) + length (3)
_MAX_VALUE = 999


class DE48Error(ValueError):
    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(f"{reason} at offset {offset}")
        self.offset = offset


def _is_tag(tag: str) -> bool:
    return len(tag) == 2 and tag.isascii() and tag.isalpha() and tag.isupper()


def parse(text: str) -> dict[str, str]:
    """Split DE48 into ``{tag: value}``; unknown tags are kept, the caller ignores them."""
    tags: dict[str, str] = {}
    pos = 0
    end = len(text)
    while pos < end:
        if end - pos < _HEAD:
            raise DE48Error("truncated sub-element", pos)
        tag = text[pos : pos + 2]
        if not _is_tag(tag):
            raise DE48Error("tag is not two capital letters", pos)
        digits = text[pos + 2 : pos + _HEAD]
        if not (digits.isascii() and digits.isdigit()):
            raise DE48Error(f"{tag}: length is not 3 digits", pos)
        stop = pos + _HEAD + int(digits)
        if stop > end:
            raise DE48Error(f"{tag}: length {int(digits)} runs past the end", pos)
        if tag in tags:
            raise DE48Error(f"{tag}: repeated", pos)
        tags[tag] = text[pos + _HEAD : stop]
        pos = stop
    return tags


def build(tags: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """Join sub-elements in the order given."""
    pairs = tags.items() if isinstance(tags, Mapping) else tags
    parts = []
    for tag, value in pairs:
        if not _is_tag(tag) or len(value) > _MAX_VALUE:
            raise ValueError(f"DE48: cannot encode sub-element {tag!r} of {len(value)} chars")
        parts.append(f"{tag}{len(value):03d}{value}")
    return "".join(parts)
