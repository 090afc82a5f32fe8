"""CR-200 serial club card readers (docs/protocols/cr200.md), sans-I/O.

``link`` frames bytes (STX DATA ETX LRC, ACK/NAK, retransmission with explicit time);
``session`` turns one reader's requests into the vocabulary and outcomes into responses;
``profile`` reads the firmware profiles of family ``cr200``. The serial port itself is
``terminal_gateway.drivers.serial``.
"""

from .link import Delivered, GaveUp, Link, LinkError, Received, Refused, frame, lrc
from .profile import FAMILY, Profile, ProfileError, compile_profile, load_profile
from .session import Pending, ReaderSession, fields_of, join

__all__ = [
    "FAMILY",
    "Delivered",
    "GaveUp",
    "Link",
    "LinkError",
    "Pending",
    "Profile",
    "ProfileError",
    "ReaderSession",
    "Received",
    "Refused",
    "compile_profile",
    "fields_of",
    "frame",
    "join",
    "load_profile",
    "lrc",
]
