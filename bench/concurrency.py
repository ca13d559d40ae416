"""Several processes on one SQLite file: messages a second, each process pushing the core
bench's messages through `Dispatcher.respond` as fast as it can (update ids and all, as
from Telegram), against the same processes on a copy of the file each.

    python -m bench.concurrency bench/data/crm-v2-100000.db --processes 1,2 --seconds 10
    python -m bench.concurrency ... --mix reads --json bench/concurrency.json

`reads`: cards, searches and lists (/show, /find, /leads, /deals, /feed); `mixed`: those
with a note or a tag for every two reads. The database is copied for the run and the copy
removed afterwards. Issue 17's figure: two processes on one file, the read mix, at least
1.5 times one process.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from multiprocessing.synchronize import Barrier
from pathlib import Path

from bench import cases
from bench.cases import Call, World
from handlers import build_registry
from handlers.context import Request
from handlers.dispatcher import Dispatcher
from storage.db import checkpoint, make_engine
from storage.models import Platform

READS: list[Callable[[World], Call]] = [
    cases.show_contact,
    cases.show_deal,
    cases.show_contact_by_name,
    cases.find_exact,
    cases.leads,
    cases.deals,
    cases.feed,
]
WRITES: list[Callable[[World], Call]] = [cases.note_by_id, cases.tag_contact]
MIXES = {"reads": READS, "mixed": [*READS[:4], WRITES[0], *READS[4:], WRITES[1]]}
WARMUP_SECONDS = 1.0


@dataclass
class Result:
    mix: str
    processes: int
    shared: bool  # one file for all processes, or a copy each
    seconds: float
    messages: int
    failed: int
    load_average: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds


def _worker(
    url: str, mix: str, seconds: float, seed: int, start: Barrier, out: multiprocessing.Queue
) -> None:
    engine = make_engine(url)
    world = World.load(engine, seed=seed)
    dispatcher = Dispatcher(engine, build_registry())
    messages = itertools.cycle(MIXES[mix])
    updates = itertools.count(1)

    def send() -> bool:
        text = next(messages)(world)
        assert isinstance(text, str)  # every case of the mixes is a message
        request = Request(
            platform=Platform(world.speaker.platform),
            user_id=world.speaker.external_id,
            user_name="Bench",
            chat_id=world.speaker.external_id,
            text=text,
            update_id=f"conc-{world.nonce}-{seed}-{next(updates)}",
        )
        reply = dispatcher.respond(request)
        return reply is not None and not reply.error

    start.wait()
    warm = time.monotonic() + WARMUP_SECONDS
    while time.monotonic() < warm:
        send()
    done, failed = 0, 0
    end = time.monotonic() + seconds
    last_checkpoint = time.monotonic()
    while time.monotonic() < end:
        if send():
            done += 1
        else:
            failed += 1
        if seed == 0 and time.monotonic() - last_checkpoint > 5:
            # The scheduler's job in one of the processes, as in the bot.
            checkpoint(engine)
            last_checkpoint = time.monotonic()
    dispatcher.close()
    engine.dispose()
    out.put((done, failed))


def measure(database: Path, *, mix: str, processes: int, shared: bool, seconds: float) -> Result:
    """`processes` workers for `seconds` on a copy of `database` (one for all, or each
    its own)."""
    with tempfile.TemporaryDirectory(dir=database.parent) as folder:
        copies = [Path(folder) / f"run-{i}.db" for i in range(1 if shared else processes)]
        for copy in copies:
            shutil.copyfile(database, copy)
        # The copies' writes reach the disk now, not during the measurement.
        os.sync()
        context = multiprocessing.get_context("spawn")
        start = context.Barrier(processes)
        out: multiprocessing.Queue[tuple[int, int]] = context.Queue()
        load = os.getloadavg()[0]
        workers = [
            context.Process(
                target=_worker,
                args=(f"sqlite:///{copies[i % len(copies)]}", mix, seconds, i, start, out),
            )
            for i in range(processes)
        ]
        for worker in workers:
            worker.start()
        totals = [out.get() for _ in workers]
        for worker in workers:
            worker.join()
    return Result(
        mix=mix,
        processes=processes,
        shared=shared,
        seconds=seconds,
        messages=sum(done for done, _ in totals),
        failed=sum(failed for _, failed in totals),
        load_average=round(load, 2),
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.concurrency", description=__doc__)
    parser.add_argument("database", type=Path, help="a generated SQLite database")
    parser.add_argument("--processes", default="1,2", help="comma-separated counts")
    parser.add_argument("--mix", choices=sorted(MIXES), action="append")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    results = []
    for mix in args.mix or sorted(MIXES):
        for count in (int(n) for n in args.processes.split(",")):
            for shared in (True, False) if count > 1 else (True,):
                result = measure(
                    args.database, mix=mix, processes=count, shared=shared, seconds=args.seconds
                )
                results.append(result)
                where = "one file" if shared else "a file each"
                print(
                    f"{mix:6} {count} process(es), {where:11}: {result.per_second:7.1f} msg/s"
                    f" ({result.failed} failed, load {result.load_average})",
                    flush=True,
                )
    if args.json:
        rows = [{**asdict(r), "per_second": round(r.per_second, 1)} for r in results]
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
