"""Club-8583, the loyalty terminals' ISO 8583 dialect: profiles, host codec, terminal codec.

A family of terminals is a firmware profile (a TOML file, see ``firmware_profiles/``);
``HostConnection`` (frames and ``HostCodec``) is what the gateway runs, ``TerminalCodec`` what simulators run.
"""

from . import de48
from .codec import Decoded, HostCodec, Undecodable
from .connection import HostConnection, Received
from .de48 import DE48Error
from .loader import FAMILY, available_profiles, load_profile, profile_dirs
from .profile import Profile, ProfileError, compile_profile
from .responses import ResponseContext
from .terminal import DEFAULT_TPDU, TerminalCodec

__all__ = [
    "DEFAULT_TPDU",
    "FAMILY",
    "DE48Error",
    "Decoded",
    "HostCodec",
    "HostConnection",
    "Profile",
    "ProfileError",
    "Received",
    "ResponseContext",
    "TerminalCodec",
    "Undecodable",
    "available_profiles",
    "compile_profile",
    "de48",
    "load_profile",
    "profile_dirs",
]
