"""Every profile x every row of the transaction table, terminal to gateway and back."""

from __future__ import annotations

import pytest

from terminal_gateway.protocols.club8583 import HostCodec, TerminalCodec
from terminal_gateway.vocabulary import Code

from .messages import CASES, ECHOED, Case, exchange


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_request_and_response(host: HostCodec, terminal: TerminalCodec, case: Case) -> None:
    decoded = exchange(host, terminal, case.fields)

    if isinstance(case.expect, Code):
        assert (decoded.request, decoded.error) == (None, case.expect)
        assert decoded.reason
    else:
        assert (decoded.request, decoded.error, decoded.reason) == (case.expect, None, "")

    response = terminal.decode(host.encode(decoded.context, case.outcome))
    framing = {key: response.pop(key) for key in ("h", "p", "1") if key in response}
    expected = {de: case.fields[de] for de in ECHOED if de in case.fields}
    expected |= {"t": case.response_mti, "39": case.outcome.code.value, **case.response}
    assert response == expected
    if host.profile.tpdu:
        assert framing["h"] == "6000000001"  # DEFAULT_TPDU 60 0001 0000, swapped
    assert ("1" in framing) == any(de.isdigit() and int(de) > 64 for de in response)
