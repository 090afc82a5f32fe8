"""The group committer: order, batching, barriers, and the pause after a failure."""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence

from terminal_gateway.daemon.committer import GroupCommitter


class Writes:
    """A write function that records batches, can be held (to let a queue build up) and
    can be made to fail."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail_next = False

    def __call__(self, records: Sequence[str]) -> None:
        self.gate.wait(5)
        if self.fail_next:
            self.fail_next = False
            raise OSError("disk full")
        self.batches.append(list(records))


def committer(writes: Writes) -> tuple[GroupCommitter, queue.Queue]:
    events: queue.Queue = queue.Queue()
    c = GroupCommitter(writes, lambda f, *a: f(*a),
                       on_committed=lambda through: events.put(("committed", through)),
                       on_failed=lambda first, error: events.put(("failed", first, str(error))))
    c.start()
    return c, events


def test_decisions_queued_during_a_commit_share_the_next_one() -> None:
    writes = Writes()
    c, events = committer(writes)
    writes.gate.clear()
    c.submit(1, ["a"])
    for seq in range(2, 6):
        c.submit(seq, [f"r{seq}"])
    writes.gate.set()
    seen = [events.get(timeout=5)]
    while seen[-1] != ("committed", 5):
        seen.append(events.get(timeout=5))
    c.stop()
    assert [r for batch in writes.batches for r in batch] == ["a", "r2", "r3", "r4", "r5"]
    assert len(writes.batches) <= 3, "queued decisions were committed one by one"


def test_an_empty_submission_is_a_barrier_answered_in_order() -> None:
    writes = Writes()
    c, events = committer(writes)
    c.submit(1, ["a"])
    c.submit(2, [])
    assert events.get(timeout=5)[0] == "committed"
    c.stop()


def test_after_a_failure_it_waits_then_discards_what_was_reverted() -> None:
    writes = Writes()
    c, events = committer(writes)
    writes.gate.clear()
    writes.fail_next = True
    c.submit(1, ["a"])
    c.submit(2, ["b"])
    writes.gate.set()
    assert events.get(timeout=5) == ("failed", 1, "disk full")
    c.submit(3, ["c"])  # decided before the reactor reverted: must never be written
    assert events.empty()
    c.resume(discard_through=3)
    c.submit(4, ["d"])
    assert events.get(timeout=5) == ("committed", 4)
    c.stop()
    assert [r for batch in writes.batches for r in batch] == ["d"]


def test_stop_writes_what_is_queued() -> None:
    writes = Writes()
    c, _ = committer(writes)
    writes.gate.clear()
    for seq in range(1, 4):
        c.submit(seq, [str(seq)])
    writes.gate.set()
    c.stop()
    assert [r for batch in writes.batches for r in batch] == ["1", "2", "3"]
