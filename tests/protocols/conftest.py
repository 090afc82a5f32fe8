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
# MAC profiles are the same wire with a MAC and a key change: test_mac.py tests them with keys.
@pytest.fixture(scope="session", params=[name for name in available_profiles() if not load_profile(name).mac])
def profile(request: pytest.FixtureRequest) -> Profile:
    """Every bundled profile without a MAC, so a new family file is tested without a new test."""
    return load_profile(request.param)


@pytest.fixture(scope="session")
def host(profile: Profile) -> HostCodec:
    return HostCodec(profile, CURRENCY)


@pytest.fixture(scope="session")
def terminal(profile: Profile) -> TerminalCodec:
    return TerminalCodec(profile)
