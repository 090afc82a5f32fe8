"""Card keys: K_card = AES-CMAC(K_master, "CLUBKEY" + card number), and the card's answer to
a challenge, AES-CMAC(K_card, challenge)."""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.cmac import CMAC

KEY_SIZES = (16, 32)  # AES-128 or AES-256 master keys
DERIVATION_PREFIX = b"CLUBKEY"


def cmac(key: bytes, data: bytes) -> bytes:
    mac = CMAC(AES(key))
    mac.update(data)
    return mac.finalize()


def card_key(master_key: bytes, card_number: str) -> bytes:
    """The card's own key, derived from the issuer master key and its card number."""
    return cmac(master_key, DERIVATION_PREFIX + card_number.encode("ascii"))


def card_mac(card_key_: bytes, challenge: bytes) -> bytes:
    return cmac(card_key_, challenge)


def verify(master_key: bytes, card_number: str, challenge: bytes, answer: bytes) -> bool:
    """Whether ``answer`` is the genuine card's answer to ``challenge`` (constant time)."""
    return hmac.compare_digest(card_mac(card_key(master_key, card_number), challenge), answer)
