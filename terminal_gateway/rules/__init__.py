"""The rule core: in-memory state and the pure decisions made on it.

Nothing in here reads a socket, a file or a database. ``RuleCore.decide`` takes a request
and the time and returns the outcome with the effects that produced it; every effect can be
reverted, so a decision that could not be made durable is undone as if it never happened.
"""

from .core import Decision, RuleCore
from .ledger import Account, Card, Entry, Ledger, Lot, Terminal

__all__ = ["Account", "Card", "Decision", "Entry", "Ledger", "Lot", "RuleCore", "Terminal"]
