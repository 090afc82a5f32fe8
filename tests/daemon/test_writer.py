"""The writer's queue: group commit, order, and the pause after a failure."""

from __future__ import annotations

from collections.abc import Sequence

from terminal_gateway.daemon.writer import CommitQueue, Frames, frame

NOW = 1000.0  # a decision's monotonic time


class Writes:
    def __init__(self) -> None:
        self.transactions: list[list[str]] = []
        self.deadlines: list[float | None] = []
        self.fail_next = False

    def __call__(self, items: Sequence[str], commit_by: float | None = None) -> None:
        if self.fail_next:
            self.fail_next = False
            raise OSError("disk full")
        self.transactions.append(list(items))
        self.deadlines.append(commit_by)


def test_what_arrived_during_a_commit_is_written_in_one_transaction() -> None:
    writes = Writes()
    queue = CommitQueue(writes, lambda error: False)
    queue.receive(("write", [(1, "a", NOW)]))
    queue.receive(("write", [(2, "b", NOW), (3, "c", NOW)]))
    assert queue.commit() == [("committed", 3)]
    assert writes.transactions == [["a", "b", "c"]]
    assert queue.commit() == []


def test_after_a_failure_it_waits_then_drops_what_was_reverted() -> None:
    writes = Writes()
    queue = CommitQueue(writes, lambda error: False)
    writes.fail_next = True
    queue.receive(("write", [(1, "a", NOW), (2, "b", NOW)]))
    assert queue.commit() == [("failed", 1, "disk full")]
    queue.receive(("write", [(3, "c", NOW)]))  # decided before the reactor reverted: never written
    assert queue.commit() == [], "paused until the reactor has reverted"
    queue.receive(("resume", 3))
    queue.receive(("write", [(4, "d", NOW)]))
    assert queue.commit() == [("committed", 4)]
    assert writes.transactions == [["d"]]


class Refuses:
    """Writes that the database refuses whenever they hold a poisoned item."""

    def __init__(self) -> None:
        self.transactions: list[list[str]] = []

    def __call__(self, items: Sequence[str], commit_by: float | None = None) -> None:
        if any("\x00" in item for item in items):
            raise ValueError("text fields cannot contain NUL (0x00) bytes")
        self.transactions.append(list(items))


def test_a_refused_decision_is_isolated_and_those_before_it_are_written() -> None:
    writes = Refuses()
    queue = CommitQueue(writes, lambda error: isinstance(error, ValueError))
    items = [(seq, f"d{seq}", NOW) for seq in range(1, 11)]
    items[6] = (7, "poison\x00", NOW)
    queue.receive(("write", items))
    assert queue.commit() == [("committed", 6), ("rejected", 7, "text fields cannot contain NUL (0x00) bytes")]
    written = [item for items in writes.transactions for item in items]
    assert written == [f"d{seq}" for seq in range(1, 7)], "each written once, in order"
    assert len(writes.transactions) <= 4, "a bisection, not one transaction a decision"
    queue.receive(("write", [(11, "d11", NOW)]))
    assert queue.commit() == [], "paused until the reactor has decided the later ones again"
    queue.receive(("resume", 10))
    assert queue.commit() == [("committed", 11)]


def test_a_database_failure_is_not_isolated() -> None:
    writes = Writes()
    writes.fail_next = True
    queue = CommitQueue(writes, lambda error: not isinstance(error, OSError))
    queue.receive(("write", [(1, "a", NOW), (2, "b", NOW)]))
    assert queue.commit() == [("failed", 1, "disk full")] and writes.transactions == []


def test_a_batch_may_begin_its_commit_only_within_the_window_of_its_oldest_decision() -> None:
    writes = Writes()
    queue = CommitQueue(writes, lambda error: False, commit_window=6.0)
    queue.receive(("write", [(1, "a", NOW + 2), (2, "b", NOW), (3, "c", NOW + 5)]))
    assert queue.commit() == [("committed", 3)] and writes.deadlines == [NOW + 6.0]


def test_messages_survive_any_split_of_the_pipe() -> None:
    stream = frame(("write", [(1, "a", NOW)])) + frame(("resume", 7))
    frames = Frames()
    received = [message for byte in range(len(stream)) for message in frames.feed(stream[byte:byte + 1])]
    assert received == [("write", [(1, "a", NOW)]), ("resume", 7)]
