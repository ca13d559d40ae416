"""Timing the cases: each call goes through `Dispatcher.handle_sync` exactly as a chat
message does (dedupe by update id, one session and transaction, parse, queries, the
command's savepoint on PostgreSQL) and its reply is rendered for the terminal.

A run measures one database; `measure_isolated` does it in a fresh process, so that the
peak RSS reported is that of a bot serving this data and nothing else. As in the bot, a
background thread checkpoints SQLite's write-ahead log every few seconds (the scheduler's
job), so commands do not.
"""

from __future__ import annotations

import fnmatch
import itertools
import os
import resource
import statistics
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from multiprocessing import get_context
from typing import Any

from sqlalchemy import Engine, func, text
from sqlmodel import Session, select

from bench.cases import CASES, Case, World
from bot.console import render_text
from bot.scheduler import CHECKPOINT_EVERY
from handlers import build_registry
from handlers.charts import CHARTS
from handlers.context import Request
from handlers.dispatcher import Dispatcher, finish
from storage.db import checkpoint, make_engine
from storage.models import Activity, Company, Contact, Deal, Member, Platform, StageChange

BASELINE = "baseline: primary-key SELECT"
CHART = ": chart"  # the row of a case's deferred attachments


class CaseFailed(RuntimeError):
    """A case's message got an error reply: the case no longer measures real work."""


@dataclass
class Timing:
    name: str
    command: str
    calls: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    ratio: float = 0.0  # p50 over the baseline's p50
    # The median CPU time of this thread: what the call cost, without the time spent
    # waiting for a core on a shared machine (PostgreSQL's own work is not in it).
    cpu_p50_ms: float = 0.0
    # The 1-minute load average as the case began: a run merged from several (see
    # Run.merge) has no one load for all its cases.
    load: float | None = None

    @classmethod
    def of(
        cls, name: str, command: str, samples_ns: Sequence[int], cpu_ns: Sequence[int] = ()
    ) -> Timing:
        ms = sorted(s / 1e6 for s in samples_ns)
        cuts = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else ms * 99
        return cls(
            name=name,
            command=command,
            calls=len(ms),
            p50_ms=round(statistics.median(ms), 4),
            p95_ms=round(cuts[94], 4),
            p99_ms=round(cuts[98], 4),
            mean_ms=round(statistics.fmean(ms), 4),
            max_ms=round(ms[-1], 4),
            cpu_p50_ms=round(statistics.median(cpu_ns) / 1e6, 4) if cpu_ns else 0.0,
        )


@dataclass
class Run:
    """One database measured: its backend and size, and a timing per case."""

    backend: str
    contacts: int
    counts: dict[str, int]
    peak_rss_mb: float
    timings: list[Timing]
    generate_seconds: float | None = None
    database_mb: float | None = None
    server: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int]:
        return (self.backend, self.contacts)

    def merge(self, newer: Run) -> Run:
        """`newer` (same backend and size), with this run's timings of the cases it did not
        measure kept beside its own (taken against its baseline, and noted as kept with the
        commit and load they were measured at). A newer run of every case simply replaces
        this one. The peak RSS is the larger: a bot serving every command reaches both."""
        measured = {t.name for t in newer.timings}
        kept = [t for t in self.timings if t.name not in measured]
        if not kept:
            return newer
        base = next((t.p50_ms for t in newer.timings if t.name == BASELINE), 0.0)
        parts = self.extra.get("kept", [])
        older = {name for part in parts for name in part["cases"]}
        mine = {
            "commit": self.extra.get("commit", "?"),
            "load average": self.extra.get("load average"),
            "cases": [t.name for t in kept if t.name not in older],
        }
        parts = [
            {**part, "cases": [name for name in part["cases"] if name not in measured]}
            for part in [*parts, mine]
        ]
        timings = [
            *newer.timings,
            *(replace(t, ratio=round(t.p50_ms / base, 1) if base else 0.0) for t in kept),
        ]
        return replace(
            newer,
            timings=sorted(timings, key=_in_case_order),
            peak_rss_mb=max(self.peak_rss_mb, newer.peak_rss_mb),
            generate_seconds=newer.generate_seconds or self.generate_seconds,
            database_mb=newer.database_mb or self.database_mb,
            extra={**newer.extra, "kept": [part for part in parts if part["cases"]]},
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        timings = [Timing(**t) for t in data["timings"]]
        return cls(**{**data, "timings": timings})


def _in_case_order(timing: Timing) -> tuple[bool, int, bool]:
    """The baseline, then the cases as bench/cases.py lists them, each chart after its case."""
    case_name = timing.name.removesuffix(CHART)
    position = next((i for i, c in enumerate(CASES) if c.name == case_name), len(CASES))
    return timing.name != BASELINE, position, case_name != timing.name


def select_cases(patterns: Sequence[str] | None) -> list[Case]:
    """The cases whose names match any of the shell-style patterns (all when none)."""
    if not patterns:
        return list(CASES)
    chosen = [c for c in CASES if any(fnmatch.fnmatch(c.name, p) for p in patterns)]
    if not chosen:
        raise ValueError(f"no case matches {', '.join(patterns)}")
    return chosen


def measure(
    engine: Engine, *, cases: Sequence[Case], calls: int, warmup: int, seed: int = 7
) -> Run:
    """Time every case on the team in `engine` (in this process)."""
    load_before = os.getloadavg()[0]
    world = World.load(engine, seed=seed)
    dispatcher = Dispatcher(engine, build_registry())
    updates = itertools.count(1)
    stop = threading.Event()
    checkpoints = threading.Thread(target=_checkpoints, args=(engine, stop), daemon=True)
    checkpoints.start()
    try:
        timings = [_baseline(engine, world, calls=calls, warmup=warmup)]
        for bench_case in cases:
            timings += _time_case(bench_case, world, dispatcher, updates, calls, warmup)
    finally:
        stop.set()
        checkpoints.join()
        dispatcher.close()
        CHARTS.close()  # waited for: its peak RSS is then this process's children's
    base = timings[0].p50_ms
    for timing in timings:
        timing.ratio = round(timing.p50_ms / base, 1) if base else 0.0
    return Run(
        backend=engine.dialect.name,
        contacts=_count(engine, Contact),
        counts=counts(engine),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        timings=timings,
        server=_server_version(engine),
        # Other work on the machine shows in the wall-clock times; this says how much.
        extra={
            "load average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            # The chart process's own peak (0: no chart drawn), beside the bot's.
            "chart process peak RSS MB": round(
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
            ),
        },
    )


def _checkpoints(engine: Engine, stop: threading.Event) -> None:
    while not stop.wait(CHECKPOINT_EVERY.total_seconds()):
        checkpoint(engine)


class _Samples:
    """Wall-clock and thread CPU times of the timed calls (those after the warm-up)."""

    def __init__(self) -> None:
        self.wall: list[int] = []
        self.cpu: list[int] = []

    def add(self, started: tuple[int, int], ended: tuple[int, int]) -> None:
        self.wall.append(ended[0] - started[0])
        self.cpu.append(ended[1] - started[1])

    def timing(self, name: str, command: str, load: float) -> Timing:
        timing = Timing.of(name, command, self.wall, self.cpu)
        timing.load = load
        return timing


def _clock() -> tuple[int, int]:
    return time.perf_counter_ns(), time.thread_time_ns()


def _time_case(
    bench_case: Case,
    world: World,
    dispatcher: Dispatcher,
    updates: Iterator[int],
    calls: int,
    warmup: int,
) -> list[Timing]:
    """The case's timing; for replies with deferred attachments, a second one for making
    them (the chart), which the reply row leaves out."""
    if bench_case.calls is not None:
        calls, warmup = min(calls, bench_case.calls), min(warmup, 1)
    load = round(os.getloadavg()[0], 2)
    replies, charts = _Samples(), _Samples()
    for i in range(warmup + calls):
        call = bench_case.message(world)
        if not isinstance(call, str):
            with Session(world.engine) as session:
                started = _clock()
                found = call(session)
                ended = _clock()
            if not found:
                raise CaseFailed(f"{bench_case.name}: found nothing")
            if i >= warmup:
                replies.add(started, ended)
            continue
        request = Request(
            platform=Platform(world.speaker.platform),
            user_id=world.speaker.external_id,
            user_name="Bench",
            chat_id=world.speaker.external_id,
            text=call,
            update_id=f"bench-{world.nonce}-{next(updates)}",
        )
        started = _clock()
        reply = dispatcher.respond(request)
        rendered = render_text(reply) if reply is not None else ""
        replied = _clock()
        if reply is None or reply.error:
            raise CaseFailed(f"{bench_case.name}: {call!r} got {rendered!r}")
        deferred = len(reply.deferred)
        if deferred:
            finish(reply)
            drawn = _clock()
            if len(reply.attachments) < deferred:
                raise CaseFailed(f"{bench_case.name}: {call!r} made no chart")
            if i >= warmup:
                charts.add(replied, drawn)
        if i >= warmup:
            replies.add(started, replied)
    timings = [replies.timing(bench_case.name, bench_case.command, load)]
    if charts.wall:
        timings.append(charts.timing(bench_case.name + CHART, bench_case.command, load))
    return timings


def _baseline(engine: Engine, world: World, *, calls: int, warmup: int) -> Timing:
    """The cheapest equivalent of a command: one indexed SELECT by primary key, through
    the same engine (a pooled connection, a compiled statement, one row back)."""
    query = text("SELECT id, name, email, phone FROM contact WHERE id = :id")
    samples = _Samples()
    load = round(os.getloadavg()[0], 2)
    for i in range(warmup + calls):
        contact_id = world.contact()[0]
        started = _clock()
        with engine.connect() as conn:
            conn.execute(query, {"id": contact_id}).one()
        ended = _clock()
        if i >= warmup:
            samples.add(started, ended)
    return samples.timing(BASELINE, "baseline", load)


def counts(engine: Engine) -> dict[str, int]:
    return {
        "members": _count(engine, Member),
        "companies": _count(engine, Company),
        "contacts": _count(engine, Contact),
        "deals": _count(engine, Deal),
        "stage changes": _count(engine, StageChange),
        "activities": _count(engine, Activity),
    }


def _count(engine: Engine, model: type) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def _server_version(engine: Engine) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return "SQLite " + str(conn.exec_driver_sql("SELECT sqlite_version()").scalar())
        return str(conn.exec_driver_sql("SHOW server_version").scalar()).join(("PostgreSQL ", ""))


def _measure_child(
    url: str, case_names: list[str], calls: int, warmup: int, seed: int
) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        cases = [c for c in CASES if c.name in case_names]
        return measure(engine, cases=cases, calls=calls, warmup=warmup, seed=seed).to_json()
    finally:
        engine.dispose()


def measure_isolated(
    url: str, *, cases: Sequence[Case], calls: int, warmup: int, seed: int = 7
) -> Run:
    """`measure` in a fresh process: the peak RSS is the bot's alone."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        data = pool.submit(
            _measure_child, url, [c.name for c in cases], calls, warmup, seed
        ).result()
    return Run.from_json(data)
