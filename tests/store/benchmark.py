"""Store throughput: group-commit writes, the start-up load, a 10,000-member import.

    .venv/bin/python -m tests.store.benchmark [sqlite|postgresql ...]

Writes batches of 100 redemption records (real decisions of the rule core) until the journal
holds 100,000, then single records (the commit latency a lone request sees), then loads a
fresh ledger of the 10,000 members and all of that journal.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from terminal_gateway.rules import Ledger, RuleCore
from terminal_gateway.store import Store
from terminal_gateway.vocabulary import CardRef, Redeem

from ..support import BRANCH, make_config, pg_database
from .clinic import START, TID, card_number

MEMBERS = 10_000
RECORDS = 100_000
BATCH = 100
SINGLES = 200


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'gateway.db'}"
    else:
        with pg_database() as url:
            yield url


def run(kind: str, folder: Path) -> None:
    config = make_config()
    with database(kind, folder) as url:
        store = Store(url)
        store.init_schema()
        store.add_terminal(TID, BRANCH)
        members = folder / f"{kind}-members.csv"
        members.write_text("card,group,phone,referrer,credit\n" + "".join(
            f"{card_number(n)},gold,,,{10**9}\n" for n in range(MEMBERS)))
        started = time.perf_counter()
        store.import_members(members, config.groups, "silver")
        print(f"{kind}: import of {MEMBERS} members: {time.perf_counter() - started:.2f} s")

        core = RuleCore(config, Ledger())
        store.load(core.ledger, START, config.program.replay_days)
        writing, batch = 0.0, []
        for n in range(RECORDS):
            now = START + timedelta(seconds=20 * n)  # 100,000 requests over 23 days
            request = Redeem(terminal=TID, key=f"{TID}:{n}", card=CardRef(pan=card_number(n % MEMBERS)),
                             amount=1_000 + n % 50_000, invoice=f"INV-{n}")
            batch.extend(core.decide(request, now).records)
            if len(batch) >= BATCH:
                started = time.perf_counter()
                store.write(batch)
                writing += time.perf_counter() - started
                batch = []
        print(f"{kind}: write, batches of {BATCH} redemptions: {RECORDS / writing:,.0f} records/s "
              f"({writing / (RECORDS / BATCH) * 1000:.1f} ms a batch)")
        started = time.perf_counter()
        for n in range(RECORDS, RECORDS + SINGLES):
            request = Redeem(terminal=TID, key=f"{TID}:{n}", card=CardRef(pan=card_number(n % MEMBERS)),
                             amount=1_000, invoice=f"INV-{n}")
            store.write(core.decide(request, now).records)
        print(f"{kind}: write, one redemption at a time: {(time.perf_counter() - started) / SINGLES * 1000:.1f} ms")

        ledger = Ledger()
        started = time.perf_counter()
        store.load(ledger, now, config.program.replay_days)
        print(f"{kind}: load of {MEMBERS} members and {RECORDS} journal records: "
              f"{time.perf_counter() - started:.2f} s ({len(ledger.by_key)} keys replayed)")
        store.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        for kind in sys.argv[1:] or ["sqlite", "postgresql"]:
            run(kind, Path(folder))


if __name__ == "__main__":
    main()
