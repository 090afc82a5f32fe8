"""The counter protocol, sans-I/O: operations parsed field by field, made into requests."""

from __future__ import annotations

import pytest

from terminal_gateway.protocols.counter import BadOperation, Listener, Operation, bearer_token, parse_operation, refusal
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
    (b"[" * 65536, "the body nests arrays or objects more than 8 deep"),
    (b'{"kind": "balance", "x": ' + b"[" * 7 + b"]" * 7 + b"}", "x: unknown field"),  # 8 deep: parsed
    (b'{"kind": "balance", "x": ' + b"[" * 8 + b"]" * 8 + b"}", "more than 8 deep"),
    (b"{" + b" " * 65536 + b"}", "the body is larger than 64 KiB"),
])
def test_bad_operations_name_the_field(body: bytes, message: str) -> None:
    with pytest.raises(BadOperation, match=message):
        parse_operation(body)


def test_operations_become_requests_of_the_station() -> None:
    request = parse_operation(b'{"kind": "hold", "amount": 7, "invoice": "I", "reference": "r1"}').request("T1", PAN)
    assert isinstance(request, Redeem) and request.hold and request.key == "T1/r1"
    assert Operation("balance").request("T1", PAN).key is None




def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    brackets = "[{" * 16
    assert parse_operation(f'{{"kind": "balance", "reference": "{brackets}"}}'.encode()).reference == brackets
    escaped = '\\"' + "[" * 30  # an escaped quote does not end the string
    assert parse_operation(f'{{"kind": "balance", "reference": "{escaped}"}}'.encode()).reference == '"' + "[" * 30


@pytest.mark.parametrize(("header", "token"), [
    ("Bearer abc-_123", "abc-_123"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer", None),
    (None, None), ("Bearer a b", None), ("Bearer \u00e9", None),
])
def test_bearer_tokens(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


LOOPBACK6 = Listener("::1", 8600)


@pytest.mark.parametrize(("host", "status"), [
    ("[::1]:8600", None), ("[::1]", None), ("localhost:8600", None), ("[::1]:8601", 421), ("::1", 421),
    ("[::2]:8600", 421),
])
def test_the_host_of_an_ipv6_listener(host: str, status: int | None) -> None:
    refused = refusal("GET", host, None, None, LOOPBACK6)
    assert (refused.status if refused else None) == status


def test_localhost_is_this_host_only_on_the_loopback() -> None:
    clinic = Listener("10.0.0.5", 8600, host_names=("counter.clinic.example",))
    assert refusal("GET", "10.0.0.5:8600", None, None, clinic) is None
    assert refusal("GET", "counter.clinic.example", None, None, clinic) is None
    refused = refusal("GET", "localhost:8600", None, None, clinic)
    assert refused is not None and refused.status == 421
