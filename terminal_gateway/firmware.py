"""Firmware profiles of every terminal family: TOML files, found by name.

A file ``<name>.toml`` in a directory the configuration names, or among the bundled
``firmware_profiles/``, is one profile. Its ``family`` key says which protocol reads it
(``club8583`` where it is left out); each protocol compiles its own profiles from the
document this module reads, so a new terminal of a known family is a new file, not code.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from importlib import resources
from importlib.resources.abc import Traversable
from os import PathLike
from pathlib import Path
from typing import Any

BUNDLED_PACKAGE = "terminal_gateway.firmware_profiles"
# Before the package is installed, the profiles are the repository's firmware_profiles/.
_REPO_DIR = Path(__file__).resolve().parents[1] / "firmware_profiles"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
_SUFFIX = ".toml"
DEFAULT_FAMILY = "club8583"


class ProfileError(Exception):
    """A profile that cannot be found or read; the message names it."""


def profile_dirs(extra_dirs: Iterable[str | PathLike[str]] = ()) -> list[Traversable]:
    """Where profiles are looked for, in order: the configuration's folders, then the bundled."""
    dirs: list[Traversable] = [Path(d) for d in extra_dirs]
    try:
        dirs.append(resources.files(BUNDLED_PACKAGE))
    except ModuleNotFoundError:
        dirs.append(_REPO_DIR)
    return dirs


def read_profile(name: str, family: str, extra_dirs: Iterable[str | PathLike[str]] = ()) -> dict[str, Any]:
    """The document of profile ``name`` (without its ``family`` key), which must be of
    ``family``; from the first folder holding it."""
    if not _NAME.fullmatch(name):
        raise ProfileError(f"{name!r} is not a profile name")
    dirs = profile_dirs(extra_dirs)
    for directory in dirs:
        path = directory / (name + _SUFFIX)
        if path.is_file():
            try:
                doc = tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as e:
                raise ProfileError(f"{name}: {path}: {e}") from None
            found = doc.pop("family", DEFAULT_FAMILY)
            if found != family:
                raise ProfileError(f"{name}: a {found} profile, not a {family} one")
            return doc
    raise ProfileError(f"no profile {name!r} in {[str(d) for d in dirs]}")


def available_profiles(extra_dirs: Iterable[str | PathLike[str]] = ()) -> dict[str, str]:
    """Every profile name that can be found, with its family; the first folder wins."""
    found: dict[str, str] = {}
    for directory in profile_dirs(extra_dirs):
        if not directory.is_dir():
            continue
        for entry in sorted(directory.iterdir(), key=lambda each: each.name):
            name = entry.name.removesuffix(_SUFFIX)
            if entry.name.endswith(_SUFFIX) and _NAME.fullmatch(name) and name not in found:
                found[name] = _family(entry)
    return dict(sorted(found.items()))


def _family(entry: Traversable) -> str:
    try:
        family = tomllib.loads(entry.read_text(encoding="utf-8")).get("family", DEFAULT_FAMILY)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return DEFAULT_FAMILY  # reading it as that family will say what is wrong with it
    return family if isinstance(family, str) else DEFAULT_FAMILY
