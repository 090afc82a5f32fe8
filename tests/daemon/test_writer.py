"""The writer's queue: group commit, order, and the pause after a failure."""

from __future__ import annotations

from collections.abc import Sequence

from terminal_gateway.daemon.writer import CommitQueue, Frames, frame


class Writes:
    def __init__(self) -> None:
        self.transactions: list[list[str]] = []
        self.fail_next = False

    def __call__(self, items: Sequence[str]) -> None:
        if self.fail_next:
            self.fail_next = False
            raise OSError("disk full")
        self.transactions.append(list(items))


def test_what_arrived_during_a_commit_is_written_in_one_transaction() -> None:
    writes = Writes()
    queue = CommitQueue(writes)
    queue.receive(("write", [(1, "a")]))
    queue.receive(("write", [(2, "b"), (3, "c")]))
    assert queue.commit() == ("committed", 3)
    assert writes.transactions == [["a", "b", "c"]]
    assert queue.commit() is None


def test_after_a_failure_it_waits_then_drops_what_was_reverted() -> None:
    writes = Writes()
    queue = CommitQueue(writes)
    writes.fail_next = True
    queue.receive(("write", [(1, "a"), (2, "b")]))
    assert queue.commit() == ("failed", 1, "disk full")
    queue.receive(("write", [(3, "c")]))  # decided before the reactor reverted: never written
    assert queue.commit() is None, "paused until the reactor has reverted"
    queue.receive(("resume", 3))
    queue.receive(("write", [(4, "d")]))
    assert queue.commit() == ("committed", 4)
    assert writes.transactions == [["d"]]


def test_messages_survive_any_split_of_the_pipe() -> None:
    stream = frame(("write", [(1, "a")])) + frame(("resume", 7))
    frames = Frames()
    received = [message for byte in range(len(stream)) for message in frames.feed(stream[byte:byte + 1])]
    assert received == [("write", [(1, "a")]), ("resume", 7)]
