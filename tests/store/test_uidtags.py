"""UID tags: issued to a member's card, resolved to it (or to its replacement) when read."""

from __future__ import annotations

import pytest

from terminal_gateway.store import Store, StoreError
from terminal_gateway.store.uidtags import issue_tag, normalise_uid, tag_card

from ..support import make_config
from .clinic import card_number

GROUPS = make_config().groups


def test_a_tag_resolves_to_its_card_and_follows_a_replacement(store: Store) -> None:
    card, new = card_number(1), card_number(2)
    store.add_member(card, "silver", GROUPS)
    assert issue_tag(store, "04:a1:b2:c3:d4:e5:f6", card) == "04A1B2C3D4E5F6"
    assert tag_card(store, "04A1B2C3D4E5F6") == card
    assert tag_card(store, "04A1B2C3") is None
    store.replace_card(card, new)
    assert tag_card(store, "04A1B2C3D4E5F6") == new


@pytest.mark.parametrize(("uid", "card", "message"), [
    ("04A1B2", 1, "UID '04A1B2' must be 4, 7 or 10 bytes in hex"),
    ("04A1B2ZZ", 1, "must be 4, 7 or 10 bytes in hex"),
    ("04A1B2C3", 9, "is not a club card"),
    ("04A1B2C4", 1, "UID tag 04A1B2C4 is already issued (to card"),
])
def test_what_cannot_be_issued_says_why(store: Store, uid: str, card: int, message: str) -> None:
    store.add_member(card_number(1), "silver", GROUPS)
    issue_tag(store, "04a1b2c4", card_number(1))
    with pytest.raises(StoreError, match=message.replace("(", r"\(")):
        issue_tag(store, uid, card_number(card))


def test_uids_are_normalised() -> None:
    assert normalise_uid(" 04 a1 b2 c3 ") == "04A1B2C3"
    assert len(normalise_uid("00" * 10)) == 20
