"""Files only their owner may read: keys, PINs, the KEK. Created 0600 from their first byte,
so there is never a moment when another user could open one."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["new_private", "write_private"]


def write_private(path: str | os.PathLike[str], content: str | bytes) -> Path:
    """Write ``content`` to ``path``, readable by its owner only (an existing file is
    replaced, and loses any wider mode it had); flushed to the disk."""
    data = content.encode() if isinstance(content, str) else content
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(path, 0o600)  # O_CREAT keeps the mode of a file that was there
    return Path(path)


def new_private(path: str | os.PathLike[str]):
    """``path`` created for writing text, readable by its owner only; ``FileExistsError`` if
    it exists (what was there is never written over)."""
    return open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", newline="", encoding="ascii")
