from __future__ import annotations

import pytest

from terminal_gateway.protocols.club8583 import (
    HostCodec,
    Profile,
    TerminalCodec,
    available_profiles,
    load_profile,
)

from .messages import CURRENCY


# Session scope: profiles and codecs hold no per-message state (and hypothesis reuses them).
@pytest.fixture(scope="session", params=available_profiles())
def profile(request: pytest.FixtureRequest) -> Profile:
    """Every bundled profile, so a new family file is tested without a new test."""
    return load_profile(request.param)


@pytest.fixture(scope="session")
def host(profile: Profile) -> HostCodec:
    return HostCodec(profile, CURRENCY)


@pytest.fixture(scope="session")
def terminal(profile: Profile) -> TerminalCodec:
    return TerminalCodec(profile)
