"""Kinds of transaction: each registered once, each request finds its kind, and the names are
the journal's."""

from __future__ import annotations

import pytest

from terminal_gateway import vocabulary
from terminal_gateway.rules.core import KINDS
from terminal_gateway.rules.kinds import KindHandler, KindTable
from terminal_gateway.rules.terminals import sign_on
from terminal_gateway.vocabulary import CardRef, Echo, Kind, Malformed, Redeem, Request, SignOn

from .conftest import TID

JOURNAL_KINDS = {
    "sign_on", "sign_off", "balance", "redeem", "hold", "complete", "refund", "reverse", "reconcile", "accrual",
    "accrual_return", "topup", "gift_activation", "malformed", "hold_expiry", "failed",
}
DECIDED_BY_THE_CORE = {Kind.MALFORMED, Kind.HOLD_EXPIRY, Kind.FAILED}  # no request type of their own


def test_kinds_are_spelt_as_the_journal_stores_them() -> None:
    assert {kind.value for kind in Kind} == JOURNAL_KINDS


def test_every_request_type_but_echo_and_malformed_has_one_kind() -> None:
    types = {cls for cls in vars(vocabulary).values()
             if isinstance(cls, type) and issubclass(cls, Request) and cls not in (Request, Echo, Malformed)}
    assert set(KINDS.by_request) == types
    assert set(KINDS.by_kind) == set(Kind) - DECIDED_BY_THE_CORE


def test_a_redemption_that_only_authorizes_is_a_hold() -> None:
    fields = {"terminal": TID, "card": CardRef(pan="1"), "amount": 1, "invoice": "A"}
    assert KINDS.of(Redeem(**fields)).kind is Kind.REDEEM
    assert KINDS.of(Redeem(**fields, hold=True)).kind is Kind.HOLD


def test_a_kind_is_registered_once() -> None:
    with pytest.raises(ValueError, match="kind sign_on is registered twice"):
        KindTable([KindHandler(Kind.SIGN_ON, SignOn, sign_on)] * 2)
