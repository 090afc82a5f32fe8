"""Club-8583 profiles: the firmware profiles of family ``club8583`` (``firmware``), compiled.

A site can add or replace a family by dropping ``<name>.toml`` into a directory it names
in its configuration; no code changes, no reinstall.
"""

from __future__ import annotations

from collections.abc import Iterable
from os import PathLike

from ... import firmware
from ...firmware import profile_dirs
from .profile import Profile, ProfileError, compile_profile

__all__ = ["FAMILY", "available_profiles", "load_profile", "profile_dirs"]

FAMILY = "club8583"


def load_profile(name: str, extra_dirs: Iterable[str | PathLike[str]] = ()) -> Profile:
    """Load and compile the profile ``name`` (the file ``<name>.toml``) from the first dir holding it."""
    try:
        doc = firmware.read_profile(name, FAMILY, extra_dirs)
    except firmware.ProfileError as e:
        raise ProfileError(str(e)) from None
    return compile_profile(name, doc)


def available_profiles(extra_dirs: Iterable[str | PathLike[str]] = ()) -> list[str]:
    """The names of every Club-8583 profile that ``load_profile`` can find, sorted."""
    return [name for name, family in firmware.available_profiles(extra_dirs).items() if family == FAMILY]
