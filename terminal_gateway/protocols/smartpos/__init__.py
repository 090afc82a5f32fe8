"""SmartPOS, the Android smart-POS terminals' protobuf protocol (smartpos.proto), sans-I/O.

Varint-delimited ``Request`` and ``Response`` messages over TCP. ``HostConnection`` is what
the gateway runs (bytes to vocabulary requests, outcomes to bytes), ``TerminalConnection``
what simulators run. ``smartpos_pb2`` is generated: see ``regenerate.sh``.
"""

from . import smartpos_pb2
from .connection import HostConnection, Received, RemoteProtocolError, TerminalConnection
from .framing import MAX_MESSAGE, BadVarint, VarintFramer
from .profile import FAMILY, Profile, ProfileError, load_profile
from .requests import to_request
from .responses import to_response

__all__ = [
    "FAMILY",
    "MAX_MESSAGE",
    "BadVarint",
    "HostConnection",
    "Profile",
    "ProfileError",
    "Received",
    "RemoteProtocolError",
    "TerminalConnection",
    "VarintFramer",
    "load_profile",
    "smartpos_pb2",
    "to_request",
    "to_response",
]
