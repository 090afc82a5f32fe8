"""Finding profile files: the caller's directories first, then the bundled profiles.

A site can add or replace a family by dropping ``<name>.toml`` into a directory it names
in its configuration; no code changes, no reinstall.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from importlib import resources
from importlib.resources.abc import Traversable
from os import PathLike
from pathlib import Path

from .profile import Profile, ProfileError, compile_profile

__all__ = ["available_profiles", "load_profile", "profile_dirs"]

BUNDLED_PACKAGE = "terminal_gateway.firmware_profiles"
# Before the package is installed, the profiles are the repository's firmware_profiles/.
_REPO_DIR = Path(__file__).resolve().parents[3] / "firmware_profiles"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
_SUFFIX = ".toml"


def profile_dirs(extra_dirs: Iterable[str | PathLike[str]] = ()) -> list[Traversable]:
    """Where profiles are looked for, in order."""
    dirs: list[Traversable] = [Path(d) for d in extra_dirs]
    try:
        dirs.append(resources.files(BUNDLED_PACKAGE))
    except ModuleNotFoundError:
        dirs.append(_REPO_DIR)
    return dirs


def load_profile(name: str, extra_dirs: Iterable[str | PathLike[str]] = ()) -> Profile:
    """Load and compile the profile ``name`` (the file ``<name>.toml``) from the first dir holding it."""
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
            return compile_profile(name, doc)
    raise ProfileError(f"no profile {name!r} in {[str(d) for d in dirs]}")


def available_profiles(extra_dirs: Iterable[str | PathLike[str]] = ()) -> list[str]:
    """The names of every profile that ``load_profile`` can find, sorted."""
    names = {
        entry.name.removesuffix(_SUFFIX)
        for directory in profile_dirs(extra_dirs)
        if directory.is_dir()
        for entry in directory.iterdir()
        if entry.name.endswith(_SUFFIX) and _NAME.fullmatch(entry.name.removesuffix(_SUFFIX))
    }
    return sorted(names)
