"""Group commit: decisions made durable in batches, in decision order, on one worker thread.

Durability costs one fsync per SQL transaction, not per request, so every decision queued
while the previous transaction was committing goes into the next one. The reactor thread is
never blocked: it submits and is called back.

Failure protocol: a decision is made on the ledger as all earlier decisions left it, so
when a batch cannot be written, it and every later decision must be undone. The committer
reports the failure and then pauses; the reactor reverts every pending decision, answers
each 96, and calls ``resume`` naming the last one it reverted, which is then discarded
from the queue instead of written.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from ..rules.core import Record

Write = Callable[[Sequence[Record]], None]
Deliver = Callable[..., Any]


class GroupCommitter:
    def __init__(
        self,
        write: Write,
        deliver: Deliver,
        on_committed: Callable[[int], None],
        on_failed: Callable[[int, Exception], None],
        max_records: int = 2000,
    ):
        self._write, self._deliver = write, deliver
        self._on_committed, self._on_failed = on_committed, on_failed
        self._max_records = max_records
        self._queue: deque[tuple[int, Sequence[Record]]] = deque()
        self._wake = threading.Condition()
        self._paused = self._stopping = False
        self._discard_through = 0
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, seq: int, records: Sequence[Record]) -> None:
        """Queue decision ``seq`` (increasing) with its records; an empty one is a barrier."""
        with self._wake:
            self._queue.append((seq, records))
            self._wake.notify()

    def resume(self, discard_through: int) -> None:
        """After a failure: drop decisions up to ``discard_through`` (reverted) and go on."""
        with self._wake:
            self._discard_through = discard_through
            self._paused = False
            self._wake.notify()

    def stop(self) -> None:
        """Write what is queued, then end the thread (blocks: call from a worker or at exit)."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join()

    def _take(self) -> list[tuple[int, Sequence[Record]]] | None:
        with self._wake:
            while (self._paused or not self._queue) and not self._stopping:
                self._wake.wait()
            if self._stopping and (self._paused or not self._queue):
                return None
            batch, size = [], 0
            while self._queue and size < self._max_records:
                seq, records = self._queue.popleft()
                if seq > self._discard_through:
                    batch.append((seq, records))
                    size += len(records)
            return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            if not batch:
                continue
            records = [record for _, recs in batch for record in recs]
            try:
                if records:
                    self._write(records)
            except Exception as error:  # any failure of the store: nothing in the batch is durable
                with self._wake:
                    self._paused = True
                self._deliver(self._on_failed, batch[0][0], error)
            else:
                self._deliver(self._on_committed, batch[-1][0])
