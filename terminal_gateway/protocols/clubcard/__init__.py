"""The club smart card (docs/protocols/counter-stations.md), sans-I/O: the applet's APDUs and status
words (``apdu``), the card keys and MACs (``keys``), and the read that turns a card on a
reader into a genuine card number, a UID tag or a counterfeit (``session``).

No reader, thread or reactor here: the drivers move the bytes, tests drive it with a
virtual card.
"""

from .apdu import AID, ApduError, Response, Status
from .keys import card_key, card_mac
from .session import Counterfeit, Genuine, ReadResult, UidTag, Unreadable, read_card

__all__ = ["AID", "ApduError", "Counterfeit", "Genuine", "ReadResult", "Response", "Status", "UidTag",
           "Unreadable", "card_key", "card_mac", "read_card"]
