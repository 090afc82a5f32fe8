"""The simulated clinic chain's numbering: card numbers, terminal ids, branches.

Shared by the demo set-up, the simulator and the benchmark, so that the cards a simulated
terminal presents are the cards the set-up enrolled.
"""

from __future__ import annotations

import csv
from pathlib import Path

from terminal_gateway.rules.cards import with_check_digit

CARD_PREFIX = "627412"
BRANCH = "CLINIC000000001"


def card_number(index: int) -> str:
    """The ``index``-th club card: a 16-digit Luhn-valid number."""
    return with_check_digit(f"{CARD_PREFIX}{index:09d}")


def terminal_id(index: int) -> str:
    return f"T{index:07d}"


def write_members(path: Path, count: int, credit: int, group: str = "") -> Path:
    """A ``member import`` file: ``count`` members each with ``credit`` to spend."""
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["card", "group", "phone", "referrer", "credit"])
        for i in range(1, count + 1):
            out.writerow([card_number(i), group, f"0912{i:07d}", "", credit])
    return path


def write_terminals(path: Path, count: int, branch: str = BRANCH) -> Path:
    """A ``terminal import`` file with terminals 1..count at ``branch``."""
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["tid", "branch"])
        for i in range(1, count + 1):
            out.writerow([terminal_id(i), branch])
    return path
