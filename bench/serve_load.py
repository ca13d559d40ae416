"""Load on `crmbot serve` over loopback HTTP: Telegram webhook updates from K simulated
people at a rising rate, against 1 or 2 serve processes, with a stand-in Bot API
(bench/botapi.py) recording the replies.

    python -m bench.serve_load --db postgresql+psycopg://postgres@127.0.0.1/crm_load \\
        --processes 2 --rates 100,200,250,300 --json bench/serve_results.json
    python -m bench.serve_load --db bench/data/load.db --processes 1 ...   # SQLite
    python -m bench.serve_load ... --limits                                # Telegram's 30/s

The database is made afresh: a generated team (bench/generate.py, `--contacts`) plus K
members on Telegram who do the talking. Each person's updates go one after another, the
next once the previous was acknowledged (as Telegram sends a chat's updates), alternately
to the processes (a round-robin balancer); the generator offers `rate` messages a second
in all, to people picked at random, for `--seconds` at each rate. The mix is the core
bench's, reads and writes, without /pipeline's chart.

Reported per step: messages a second answered, p50/p99 from the POST to the reply reaching
the Bot API, CPU per message of the serve processes and of their PostgreSQL backends, and
what was lost (no reply) or duplicated (a note written twice, an update recorded twice).
The serve processes' CPU is split into their event-loop thread's and the rest (the
dispatcher's threads); their idle CPU a second is measured once before the first step, and
before each step the CPU time of a fixed piece of Python work in this process
(`calibration_ms`): the same work costs more CPU time on a busier machine (a shared
virtual machine's cores, caches), so CPU figures of runs compare only with it alike.
Without `--limits` the bot's rate limit is raised (TELEGRAM_MESSAGES_PER_SECOND) and the
stand-in refuses nothing; with it, both keep Telegram's 30 a second.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import random
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import Engine, func, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from bench.botapi import BotApi, message_update
from bench.cases import World
from bench.generate import generate
from bench.processes import WEBHOOK_SECRET, ServeProcess, cpu_seconds_of, serve_env
from bot.telegram_webhook import SECRET_HEADER
from storage.db import make_engine, transaction
from storage.models import Activity, ProcessedUpdate, Role
from storage.teams import add_member, first_team
from storage.types import utcnow

log = logging.getLogger(__name__)

FIRST_USER = 800_000_000
MARKER = "load-"


@dataclass
class Step:
    rate: float  # offered, messages a second
    processes: int
    backend: str
    limits: bool
    seconds: float
    posted: int = 0
    answered: int = 0
    lost: int = 0
    throughput: float = 0.0  # answered a second
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    ack_p99_ms: float = 0.0
    late_p99_ms: float = 0.0  # how long a message waited for its person's previous one
    bot_cpu_ms: float = 0.0  # per message, all serve processes
    bot_loop_cpu_ms: float = 0.0  # of which their event-loop threads
    db_cpu_ms: float = 0.0  # per message, their PostgreSQL backends
    load_cpu_ms: float = 0.0  # per message, this process: the generator and the Bot API
    refused_429: int = 0
    failed: int = 0  # answered with an apology (an unexpected error)
    load_average: float = 0.0
    calibration_ms: float = 0.0  # CPU of `calibration_work` just before the step


@dataclass
class Run:
    steps: list[Step] = field(default_factory=list)
    duplicated_notes: int = 0  # notes written more than once
    unrecorded_updates: int = 0  # posted but never recorded as processed
    contacts: int = 0
    users: int = 0
    idle_cpu_ms: float = 0.0  # a serve process's CPU a second, with no messages


def fresh_database(url: str, *, contacts: int, users: int) -> Engine:
    """An empty database at `url` (dropped and made again), a generated team, and `users`
    members on Telegram."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
    else:
        admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
        with admin.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        admin.dispose()
    engine = make_engine(url)
    generate(engine, contacts=contacts)
    with transaction(engine) as session:
        team = first_team(session)
        assert team is not None and team.id is not None
        for n in range(users):
            add_member(
                session,
                team_id=team.id,
                name=f"Load Tester {n}",
                role=Role.rep,
                platform="telegram",
                external_id=str(FIRST_USER + n),
                now=utcnow(),
            )
    if engine.dialect.name == "postgresql":
        # The load's pages written out now, not by a checkpoint in the middle of a step,
        # whose writes the steps' commits then wait behind.
        with engine.connect() as conn:
            conn.exec_driver_sql("CHECKPOINT")
    return engine


def message(world: World, rng: random.Random, update_id: int) -> str:
    """One message of the mix: two in three read, one in three write."""
    contact_id, _ = world.contact()
    roll = rng.random()
    if roll < 0.18:
        return f"/show c{contact_id}"
    if roll < 0.32:
        return f"/find {world.contact()[1]}"
    if roll < 0.42:
        return f"/show d{world.deal_id()}"
    if roll < 0.52:
        return "/deals mine"
    if roll < 0.60:
        return "/leads"
    if roll < 0.66:
        return "/today"
    if roll < 0.88:
        return f"/note c{contact_id} Called, wants the offer by Friday {MARKER}{update_id}"
    if roll < 0.94:
        return f"/remind c{contact_id} in 3 days send the offer {MARKER}{update_id}"
    return f"/tag c{contact_id} #load"


class Generator:
    def __init__(self, servers: list[ServeProcess], api: BotApi, world: World, users: int):
        self.servers = servers
        self.api = api
        self.world = world
        self.users = users
        self.rng = random.Random(11)
        self.update_ids = iter(range(1, 10**9))
        self.turn = 0
        self.busy: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.latencies: list[float] = []
        self.acks: list[float] = []
        self.lateness: list[float] = []
        self.lost = 0
        self.answered = 0
        self.posted = 0
        self.failed = 0  # answered with an apology

    async def run_step(self, session: aiohttp.ClientSession, rate: float, seconds: float) -> int:
        """Offer `rate` messages a second for `seconds`; returns how many were posted."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        count = int(rate * seconds)
        tasks = []
        for i in range(count):
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            user = FIRST_USER + self.rng.randrange(self.users)
            tasks.append(asyncio.create_task(self.one(session, user, due)))
        await asyncio.gather(*tasks)
        return count

    async def one(self, session: aiohttp.ClientSession, user: int, due: float) -> None:
        loop = asyncio.get_running_loop()
        async with self.busy[user]:  # a chat's updates one after another
            update_id = next(self.update_ids)
            text = message(self.world, self.rng, update_id)
            server = self.servers[self.turn % len(self.servers)]
            self.turn += 1
            before = len(self.api.to(user))
            posted = loop.time()
            self.lateness.append(posted - due)
            now = time.monotonic()
            headers = {SECRET_HEADER: WEBHOOK_SECRET}
            update = message_update(update_id, user, text)
            self.posted += 1
            async with session.post(
                f"{server.url}/telegram/webhook", json=update, headers=headers
            ) as response:
                assert response.status == 200, response.status
            self.acks.append(loop.time() - posted)
            replies = self.api.to(user)[before:]
            if not replies:  # acknowledged before its reply went out (slowed by limits)
                try:
                    await self.api.until(lambda: len(self.api.to(user)) > before, timeout=60)
                except TimeoutError:
                    self.lost += 1
                    return
                replies = self.api.to(user)[before:]
            self.answered += 1
            self.failed += any("Sorry, something went wrong" in r.text for r in replies)
            self.latencies.append(replies[0].at - now)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def backend_pids(engine: Engine) -> list[int]:
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalars()
        )


def cpu_of(pid: int) -> float:
    try:
        return cpu_seconds_of(Path(f"/proc/{pid}/stat"))
    except OSError:
        return 0.0


def calibration_work() -> int:
    """A fixed piece of plain Python (build, encode, decode and sort 3,000 small rows)."""
    rng = random.Random(7)
    rows = [
        {"id": n, "name": f"n{rng.random()}", "values": [rng.random() for _ in range(5)]}
        for n in range(3000)
    ]
    back = json.loads(json.dumps(rows))
    back.sort(key=lambda row: row["name"])
    return len(back)


def calibrate(rounds: int = 5) -> float:
    """The least CPU time of `calibration_work` in `rounds`, in ms."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        calibration_work()
        best = min(best, time.process_time() - started)
    return best * 1000


async def idle_cpu(servers: list[ServeProcess], seconds: float = 5.0) -> float:
    """A serve process's CPU a second (ms) with no messages: the scheduler's and the
    outbox's ticks, the pools' upkeep."""
    await asyncio.sleep(1.0)  # the warm-up's last replies
    before = sum(server.cpu_seconds() for server in servers)
    await asyncio.sleep(seconds)
    spent = sum(server.cpu_seconds() for server in servers) - before
    return spent / seconds / len(servers) * 1000


async def measure(args: argparse.Namespace) -> Run:
    backend = make_url(args.db).get_backend_name()
    engine = fresh_database(args.db, contacts=args.contacts, users=args.users)
    world = World.load(engine)
    api = BotApi(per_second=30 if args.limits else None)
    await api.start()
    logs = Path(tempfile.mkdtemp(prefix="serve-load-"))
    settings = {"TELEGRAM_MESSAGES_PER_SECOND": "30" if args.limits else "100000"}
    servers = [
        ServeProcess(
            f"p{n}",
            serve_env(args.db, api.base_url(f"p{n}"), **settings),
            logs / f"p{n}.log",
        )
        for n in range(args.processes)
    ]
    run = Run(contacts=args.contacts, users=args.users)
    for server in servers:
        server.start()
    try:
        await asyncio.gather(*(server.ready() for server in servers))
        generator = Generator(servers, api, world, args.users)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            await generator.run_step(session, 20, 3)  # warm up: connections, caches
            # The generator and the stand-in Bot API share this process, which holds the
            # 100k contacts' world: a full collection of it paused both for 0.1-0.15 s in a
            # step, and every reply then looked that much later (bench/SERVE.md, "GC").
            gc.collect()
            gc.freeze()
            run.idle_cpu_ms = round(await idle_cpu(servers), 2)
            for rate in args.rates:
                run.steps.append(await step(generator, session, engine, servers, rate, args))
                step_ = run.steps[-1]
                step_.backend, step_.limits = backend, args.limits
                print(json.dumps(asdict(step_)), flush=True)
    finally:
        for server in servers:
            server.stop()
        await api.stop()
    with Session(engine) as session:
        notes = session.exec(
            select(Activity.text, func.count())
            .where(col(Activity.text).contains(MARKER))
            .group_by(col(Activity.text))
            .having(func.count() > 1)
        ).all()
        run.duplicated_notes = len(notes)
        recorded = session.exec(select(func.count()).select_from(ProcessedUpdate)).one()
        run.unrecorded_updates = generator.posted - recorded
    engine.dispose()
    return run


async def step(
    generator: Generator,
    session: aiohttp.ClientSession,
    engine: Engine,
    servers: list[ServeProcess],
    rate: float,
    args: argparse.Namespace,
) -> Step:
    generator.latencies, generator.acks, generator.lateness = [], [], []
    lost, answered, refused = generator.lost, generator.answered, generator.api.refused
    failed = generator.failed
    pids = backend_pids(engine)
    calibration = calibrate()
    bot_cpu = sum(server.cpu_seconds() for server in servers)
    loop_cpu = sum(server.loop_cpu_seconds() for server in servers)
    db_cpu = sum(cpu_of(pid) for pid in pids)
    load_cpu = time.process_time()
    started = time.monotonic()
    posted = await generator.run_step(session, rate, args.seconds)
    elapsed = time.monotonic() - started
    done = generator.answered - answered
    per_message = 1000 / max(done, 1)
    return Step(
        rate=rate,
        processes=len(servers),
        backend="",
        limits=False,
        seconds=round(elapsed, 1),
        posted=posted,
        answered=done,
        lost=generator.lost - lost,
        throughput=round(done / elapsed, 1),
        p50_ms=round(percentile(generator.latencies, 0.5) * 1000, 1),
        p99_ms=round(percentile(generator.latencies, 0.99) * 1000, 1),
        ack_p99_ms=round(percentile(generator.acks, 0.99) * 1000, 1),
        late_p99_ms=round(percentile(generator.lateness, 0.99) * 1000, 1),
        bot_cpu_ms=round(
            (sum(server.cpu_seconds() for server in servers) - bot_cpu) * per_message, 2
        ),
        bot_loop_cpu_ms=round(
            (sum(server.loop_cpu_seconds() for server in servers) - loop_cpu) * per_message, 2
        ),
        db_cpu_ms=round((sum(cpu_of(pid) for pid in pids) - db_cpu) * per_message, 2),
        load_cpu_ms=round((time.process_time() - load_cpu) * per_message, 2),
        refused_429=generator.api.refused - refused,
        failed=generator.failed - failed,
        load_average=round(os.getloadavg()[0], 1),
        calibration_ms=round(calibration, 2),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="a PostgreSQL URL or a SQLite file path")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--rates", default="50,100,150,200,250,300")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--limits", action="store_true", help="Telegram's 30 messages/s")
    parser.add_argument("--json", type=Path, help="append the run to this JSON file")
    args = parser.parse_args(argv)
    if "://" not in args.db:
        args.db = f"sqlite:///{Path(args.db).resolve()}"
    args.rates = [float(rate) for rate in args.rates.split(",")]
    logging.basicConfig(level=logging.WARNING)
    run = asyncio.run(measure(args))
    print(
        f"idle CPU of a serve process: {run.idle_cpu_ms} ms a second, "
        f"notes written twice: {run.duplicated_notes}, "
        f"updates posted but not recorded: {run.unrecorded_updates}"
    )
    if args.json:
        runs: list[dict[str, Any]] = (
            json.loads(args.json.read_text()) if args.json.exists() else []
        )
        runs.append(asdict(run))
        args.json.write_text(json.dumps(runs, indent=1) + "\n")


if __name__ == "__main__":
    main()
