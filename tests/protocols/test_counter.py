"""The counter protocol, sans-I/O: operations parsed field by field, made into requests."""

from __future__ import annotations

import pytest

from terminal_gateway.protocols.counter import BadOperation, Operation, parse_operation
from terminal_gateway.vocabulary import Redeem

PAN = "6037990000000001"


@pytest.mark.parametrize(("body", "message"), [
    (b"[1]", "the body is not a JSON object"),
    (b"{", "the body is not JSON"),
    (b'{"kind": "redeem", "amount": 0, "invoice": "x"}', "amount: expected a whole number of minor units from 1"),
    (b'{"kind": "redeem", "amount": 5}', "invoice: expected 1 to 32 printable characters"),
    (b'{"kind": "refund", "amount": 5}', "rrn: expected 1 to 12 printable characters"),
    (b'{"kind": "balance", "timeout": 0}', "timeout: expected seconds"),
    (b'{"kind": "balance", "pin": "1"}', "pin: unknown field"),
])
def test_bad_operations_name_the_field(body: bytes, message: str) -> None:
    with pytest.raises(BadOperation, match=message):
        parse_operation(body)


def test_operations_become_requests_of_the_station() -> None:
    request = parse_operation(b'{"kind": "hold", "amount": 7, "invoice": "I", "reference": "r1"}').request("T1", PAN)
    assert isinstance(request, Redeem) and request.hold and request.key == "T1/r1"
    assert Operation("balance").request("T1", PAN).key is None


