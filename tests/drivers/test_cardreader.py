"""Card readers of counter stations: a missing driver library named, the NFC driver's reads."""

from __future__ import annotations

from threading import Event
from typing import Any

import pytest

from terminal_gateway.config import Station
from terminal_gateway.drivers.cardreader import CardRemoved, DriverMissing, open_reader
from terminal_gateway.simulators.clubcard import VirtualClubCard

from ..support import hide_driver_library
from ..test_config_stations import KEY

PAN = "6037990000000001"


def test_a_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    hide_driver_library(monkeypatch, "pcsc")
    with pytest.raises(DriverMissing, match=r"pip install 'terminal-gateway\[pcsc\]'"):
        open_reader(Station("pcsc", "Virtual PCD", "CNTR0001", "B"))


def test_the_nfc_driver_reads_iso_dep_cards_and_uid_tags() -> None:
    pytest.importorskip("nfc", reason="nfcpy (the 'nfc' extra) is not installed: pip install -e '.[nfc]'")
    from nfc.tag.tt4 import Type4Tag

    from terminal_gateway.drivers.nfc import NfcReader
    from terminal_gateway.protocols.clubcard import Genuine, UidTag, read_card

    class IsoDep(Type4Tag):
        identifier = bytes.fromhex("08112233")

        def __init__(self, card: VirtualClubCard):
            self.card = card

        def transceive(self, data: bytes, timeout: float | None = None) -> bytes:
            return self.card.answer(data)

    class Sticker:
        identifier = bytes.fromhex("04A1B2C3D4E5F6")

    class Frontend:
        def __init__(self, tags: list[Any]):
            self.tags = tags

        def connect(self, rdwr: dict[str, Any], terminate: Any) -> Any:
            assert rdwr["on-connect"](None) is False  # return at once, the tag still activated
            return self.tags.pop(0) if self.tags else None

        def close(self) -> None:
            pass

    reader = NfcReader("usb", frontend=Frontend([IsoDep(VirtualClubCard(PAN, KEY)), Sticker()]))
    assert reader.wait_for_card(1, Event())
    assert read_card(reader.transceive, KEY) == Genuine(PAN)
    assert reader.wait_for_card(1, Event())
    assert read_card(reader.transceive, KEY) == UidTag("04A1B2C3D4E5F6")
    assert not reader.wait_for_card(0.1, Event())
    with pytest.raises(CardRemoved):
        reader.transceive(b"\x00\xa4\x04\x00")
