"""Group commit in a process of its own, so that durability never waits for the GIL.

Measured under load, a writer *thread* spent most of each commit waiting to take the GIL
back from the busy reactor after every database call (see docs/benchmark.md). So the
daemon spawns ``python -m terminal_gateway.daemon.writer`` (the store URL in its environment,
not on its command line, where ``ps`` would show a password): the reactor sends it each
decision's prepared rows through a pipe, and it writes everything that arrived while it was
committing in one transaction (group commit), answering with the last decision made durable.

Failure protocol: a decision is made on the ledger as every earlier decision left it, so
when a batch cannot be written, it and every later decision must be undone. When the
database itself fails (unreachable, a timeout), the writer answers ``failed`` and pauses;
the reactor reverts every pending decision, answers each 96, and sends ``resume`` naming the
last one it reverted, which the writer then drops from its queue instead of writing it.
When the database refuses one decision's rows, the writer commits the decisions before it
and answers ``rejected`` for it alone; the reactor answers that one 96 and decides the later
ones again (their answers have not left: they were waiting to be durable), then resumes.

Bounded waits: the writer's connection has PostgreSQL's ``lock_timeout`` and
``statement_timeout`` (SQLite: the busy timeout), so no statement, the commit included, waits
longer than ``statement_timeout``; and it never *begins* a commit once the batch's oldest
decision is older than ``commit_timeout - statement_timeout`` (it rolls back and answers
``failed``). So every batch ends, committed or failed, and the reactor hears which, within
``commit_timeout`` of its oldest decision: a 96 is never answered for a commit that might
still land (see docs/architecture.md, Durability).

Messages are length-prefixed pickles, both ways: ``("write", [(seq, prepared, decided_at), ...])``,
``("resume", seq)``; ``("committed", seq)``, ``("failed", seq, reason)``, ``("rejected",
seq, reason)``. End of input means stop: the writer writes what it has, then exits.
"""

from __future__ import annotations

import json
import os
import pickle
import select
import signal
import struct
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import astuple
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger

if TYPE_CHECKING:
    from ..store import WriteTimeouts

HEADER = struct.Struct(">I")
STORE_URL = "TERMINAL_GATEWAY_WRITER_STORE"
TIMEOUTS = "TERMINAL_GATEWAY_WRITER_TIMEOUTS"  # (lock, statement, commit) seconds, as JSON
MAX_BATCH = 1000

log = Logger(namespace="terminal_gateway.writer")


def frame(message: tuple[Any, ...]) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


class Frames:
    """Length-prefixed messages out of a byte stream."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[Any, ...]]:
        self.buffer += data
        messages = []
        while len(self.buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self.buffer)
            if len(self.buffer) < HEADER.size + size:
                break
            messages.append(pickle.loads(self.buffer[HEADER.size:HEADER.size + size]))
            del self.buffer[:HEADER.size + size]
        return messages


class CommitQueue:
    """The writer's state, apart from any I/O: what is queued, and whether it is paused.

    ``isolable`` says whether a failed write was refused for the rows it wrote (a value or
    a constraint the database does not take) rather than for the database itself: only then
    is the batch written again without the decision that failed, so that one request can
    never fail another's.
    """

    def __init__(self, write: Callable[[Sequence[Any], float | None], None], isolable: Callable[[Exception], bool],
                 commit_window: float | None = None):
        self.write, self.isolable, self.commit_window = write, isolable, commit_window
        self.queue: deque[tuple[int, Any, float]] = deque()
        self.paused = False
        self.discard_through = 0

    def receive(self, message: tuple[Any, ...]) -> None:
        if message[0] == "write":
            self.queue.extend(item for item in message[1] if item[0] > self.discard_through)
        elif message[0] == "resume":
            self.discard_through, self.paused = message[1], False
            while self.queue and self.queue[0][0] <= self.discard_through:
                self.queue.popleft()

    def commit(self) -> list[tuple[Any, ...]]:
        """Write what is queued as one transaction; the answers for the reactor.

        When the database refuses a decision's rows, the decisions before it are written
        (bisecting, a few transactions) and it is answered ``rejected``; the writer then
        pauses, as after any failure, for the reactor to decide the later ones again."""
        if self.paused or not self.queue:
            return []
        batch = [self.queue.popleft() for _ in range(min(len(self.queue), MAX_BATCH))]
        error = self._attempt(batch)
        if error is None:
            return [("committed", batch[-1][0])]
        self.paused = True
        written = 0
        if self.isolable(error):
            written, error = self._write_before_failing(batch, error)
        answers: list[tuple[Any, ...]] = [("committed", batch[written - 1][0])] if written else []
        kind = "rejected" if self.isolable(error) else "failed"
        return [*answers, (kind, batch[written][0], str(error) or type(error).__name__)]

    def _write_before_failing(self, batch: list[tuple[int, Any, float]], error: Exception) -> tuple[int, Exception]:
        """Write the decisions of ``batch`` before the first one the database refuses, by
        bisection: how many were written, and the error of the one after them (or of the
        database, should it fail for another reason meanwhile)."""
        written, failing = 0, len(batch)  # batch[written:failing] does not write
        while failing - written > 1 and self.isolable(error):
            middle = (written + failing) // 2
            problem = self._attempt(batch[written:middle])
            if problem is None:
                written = middle
            else:
                failing, error = middle, problem
        return written, error

    def _attempt(self, batch: Sequence[tuple[int, Any, float]]) -> Exception | None:
        """Write ``batch`` in one transaction, committed only while its oldest decision is
        younger than the commit window; the error, if it was not committed."""
        commit_by = None if self.commit_window is None else min(at for _, _, at in batch) + self.commit_window
        try:
            self.write([item for _, item, _ in batch], commit_by)
        except Exception as error:  # any failure of the store: nothing in this transaction is durable
            return error
        return None


def main() -> int:
    """The child process: read, group, write, answer, until the input ends.

    It ignores SIGINT, SIGTERM and SIGHUP, which a terminal's Ctrl-C or a service manager
    send to the whole process group (SIGHUP is the daemon's reload, not the writer's end):
    the daemon stops it by closing the pipe, once the last decisions are in it, so that the
    final group commit is never cut short.
    """
    from ..store import Store, WriteTimeouts
    from ..store.errors import refused_rows

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    timeouts = WriteTimeouts(*json.loads(os.environ[TIMEOUTS]))
    store = Store(os.environ[STORE_URL], timeouts)
    commits = CommitQueue(store.write_prepared, refused_rows, timeouts.commit_window)
    frames, stdin, stdout = Frames(), sys.stdin.fileno(), sys.stdout.buffer
    open_input = True
    while open_input or (commits.queue and not commits.paused):
        wait = None if open_input and (commits.paused or not commits.queue) else 0
        while open_input and select.select([stdin], [], [], wait)[0]:
            data = os.read(stdin, 1 << 20)
            if not data:
                open_input = False
                break
            for message in frames.feed(data):
                commits.receive(message)
            wait = 0
        answers = commits.commit()
        for answer in answers:
            stdout.write(frame(answer))
        if answers:
            stdout.flush()
    store.close()
    return 0


class WriterProcess(ProcessProtocol):
    """The reactor's side of the pipe: submit decisions, be called back when durable."""

    def __init__(self, url: str, timeouts: WriteTimeouts, on_committed: Callable[[int], None],
                 on_failed: Callable[[int, Exception], None], on_rejected: Callable[[int, Exception], None]):
        self.url, self.timeouts = url, timeouts
        self.on_committed, self.on_failed, self.on_rejected = on_committed, on_failed, on_rejected
        self.frames = Frames()
        self.outbox: list[tuple[int, Any]] = []
        self.flushing = self.stopping = False
        self.ended: Deferred[None] = Deferred()

    def start(self, reactor: Any) -> None:
        self.reactor = reactor
        reactor.spawnProcess(self, sys.executable, [sys.executable, "-m", __name__],
                             env=os.environ | {STORE_URL: self.url, TIMEOUTS: json.dumps(astuple(self.timeouts))},
                             childFDs={0: "w", 1: "r", 2: 2})

    def submit(self, seq: int, prepared: Any) -> None:
        """Queue decision ``seq``, decided now; decisions of one reactor turn travel in one
        message. The time is the monotonic clock, which is the same in every process."""
        self.outbox.append((seq, prepared, time.monotonic()))
        if not self.flushing:
            self.flushing = True
            self.reactor.callLater(0, self._flush)

    def _flush(self) -> None:
        self.flushing = False
        outbox, self.outbox = self.outbox, []
        if outbox:
            self.transport.write(frame(("write", outbox)))

    def resume(self, discard_through: int) -> None:
        self.outbox = [item for item in self.outbox if item[0] > discard_through]
        self.transport.write(frame(("resume", discard_through)))

    def stop(self) -> Deferred[None]:
        """Send what is left, close the pipe; fires when the writer has written it and exited."""
        self.stopping = True
        self._flush()
        self.transport.closeStdin()
        return self.ended

    def outReceived(self, data: bytes) -> None:
        for message in self.frames.feed(data):
            if message[0] == "committed":
                self.on_committed(message[1])
            elif message[0] == "rejected":
                self.on_rejected(message[1], WriterError(message[2]))
            else:
                self.on_failed(message[1], WriterError(message[2]))

    def processEnded(self, reason: Any) -> None:
        if self.stopping:
            self.ended.callback(None)
            return
        log.critical("the writer process ended ({reason}); starting another", reason=reason.getErrorMessage())
        self.frames, self.outbox = Frames(), []
        self.start(self.reactor)
        self.on_failed(0, WriterError("the writer process ended"))


class WriterError(Exception):
    """The writer process could not make a batch durable."""


if __name__ == "__main__":
    sys.exit(main())
