"""`GET /metrics`: Prometheus text, from prometheus-client.

- `crmbot_requests_total{platform,command,outcome}`: chat requests handled; outcome `ok`,
  `refused` (an error reply: bad input, not allowed), `failed` (an unexpected error, the
  user got an apology), `duplicate` (a redelivery, changed nothing).
- `crmbot_command_seconds{platform,command}`: the time to handle one, from the dispatcher
  taking it to the reply being made (not its delivery).
- `crmbot_http_requests_total{route,status}`: every HTTP request, refused webhooks included.
- `crmbot_outbox_rows{status}`: outbox rows pending, sending and failed (counted in the
  database at each scrape, so every process reports the whole installation's).
- `crmbot_outbox_deliveries_total{result}`: this process's outbox sends: `sent`, `429`,
  `retried` (5xx and network errors), `failed`, `deferred` (a busy chat, given back).
- `crmbot_scheduler_runs_total{job,outcome}`: job runs, `ok`, `failed` or `skipped`
  (another process leads the scans); `crmbot_scheduler_leader`: 1 in the process that does.
- `crmbot_db_pool_connections{state}`: the database pool's connections `in_use` and its
  `size`.
- `process_*`: CPU seconds, memory, open files of this process.

Command labels are the registry's names only, never what someone typed, so a stream of
made-up commands cannot blow the series up.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from bot.scheduler import Scheduler
from bot.web import Server, current_request
from handlers.context import Request
from handlers.dispatcher import FORCE, PICK, Dispatcher
from handlers.grammar import split_command
from handlers.registry import Registry
from handlers.reply import Reply
from storage.db import in_transaction
from storage.models import Outbox, OutboxStatus

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
OUTBOX_STATES = (OutboxStatus.pending, OutboxStatus.sending, OutboxStatus.failed)


class Metrics:
    def __init__(self) -> None:
        # A registry of its own (not the module's global one): two servers in one process
        # (tests) each count their own.
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "crmbot_requests",
            "Chat requests handled, by platform, command and outcome.",
            ["platform", "command", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "crmbot_command_seconds",
            "Time to handle a chat request, up to its reply being made (not delivered).",
            ["platform", "command"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.http = Counter(
            "crmbot_http_requests",
            "HTTP requests, by route and status.",
            ["route", "status"],
            registry=self.registry,
        )
        # Each label set's child is looked up once: prometheus_client checks the values and
        # takes a lock at every `labels()`, three times a message. The sets are few (the
        # labels are bounded, above), so these caches stay small.
        self._requests = functools.cache(self.requests.labels)
        self._latency = functools.cache(self.latency.labels)
        self._http = functools.cache(self.http.labels)

    def register(self, server: Server) -> None:
        server.app.router.add_get("/metrics", self.scrape)
        server.observe(self.observe_http)

    def watch(self, engine: Engine, scheduler: Scheduler | None) -> None:
        """Report the outbox, the scheduler and the database pool at each scrape."""
        self.registry.register(_State(engine, scheduler))

    def observe_http(self, route: str, status: int) -> None:
        self._http(route, str(status)).inc()

    def observe(self, *, platform: str, command: str, outcome: str, seconds: float) -> None:
        self._requests(platform, command, outcome).inc()
        self._latency(platform, command).observe(seconds)

    async def scrape(self, request: web.Request) -> web.Response:
        # The collectors query the database: not on the event loop.
        body = await asyncio.to_thread(generate_latest, self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


class ObservedDispatcher(Dispatcher):
    """The dispatcher, counting and timing each request for /metrics and the request log."""

    def __init__(
        self,
        *args: Any,
        metrics: Metrics,
        after_each: Callable[[], None] = lambda: None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics
        self.after_each = after_each

    async def handle(self, request: Request) -> Reply | None:
        started = time.perf_counter()
        reply = await super().handle(request)
        command = command_label(self.registry, request)
        outcome = outcome_of(reply)
        platform = str(request.platform)
        self.metrics.observe(
            platform=platform,
            command=command,
            outcome=outcome,
            seconds=time.perf_counter() - started,
        )
        record = current_request()
        if record is not None:
            record.note(platform=platform, command=command, outcome=outcome)
        self.after_each()
        return reply


def command_label(registry: Registry, request: Request) -> str:
    """What a request asked for, as a bounded label: a command's registered name, a
    button's action, an event's kind."""
    if request.text is not None:
        parsed = split_command(request.text)
        if parsed is None:
            return "text"
        command = registry.find(parsed[0])
        return command.name if command is not None else "unknown"
    if request.button is not None:
        code = request.button.split(":", 1)[0]
        known = code in registry.buttons or code in (PICK, FORCE)
        return f"button:{code}" if known else "button:unknown"
    if request.location is not None:
        return "location"
    if request.contact is not None:
        return "contact"
    return "other"


def outcome_of(reply: Reply | None) -> str:
    if reply is None:
        return "duplicate"
    if reply.failed:
        return "failed"
    return "refused" if reply.error else "ok"


class _State(Collector):
    """What is read at scrape time: the outbox's rows, this process's deliveries and job
    runs, the database pool."""

    def __init__(self, engine: Engine, scheduler: Scheduler | None) -> None:
        self.engine = engine
        self.scheduler = scheduler

    def collect(self) -> Iterator[Metric]:
        yield from self._outbox_rows()
        if self.scheduler is not None:
            yield from self._scheduler(self.scheduler)
        pool = self.engine.pool
        connections = GaugeMetricFamily(
            "crmbot_db_pool_connections", "Database pool connections.", labels=["state"]
        )
        for state, method in (("in_use", "checkedout"), ("size", "size")):
            if callable(getattr(pool, method, None)):
                connections.add_metric([state], getattr(pool, method)())
        yield connections

    def _outbox_rows(self) -> Iterator[Metric]:
        try:
            # Retried on a new connection when the pooled one was found dead.
            counts = in_transaction(self.engine, _outbox_counts, reads=True)
        except Exception as error:
            log.warning("metrics: could not count the outbox rows: %s", error)
            return
        rows = GaugeMetricFamily(
            "crmbot_outbox_rows", "Outbox rows by status (all processes).", labels=["status"]
        )
        for status in OUTBOX_STATES:
            rows.add_metric([status.value], counts.get(status, 0))
        yield rows

    def _scheduler(self, scheduler: Scheduler) -> Iterator[Metric]:
        stats = scheduler.outbox.stats
        deliveries = CounterMetricFamily(
            "crmbot_outbox_deliveries",
            "Outbox sends by this process, by result.",
            labels=["result"],
        )
        for result, count in (
            ("sent", stats.sent),
            ("429", stats.rate_limited),
            ("retried", stats.retried - stats.rate_limited),
            ("failed", stats.failed),
            ("deferred", stats.deferred),
        ):
            deliveries.add_metric([result], count)
        yield deliveries
        runs = CounterMetricFamily(
            "crmbot_scheduler_runs", "Scheduler job runs, by outcome.", labels=["job", "outcome"]
        )
        for (job, outcome), count in sorted(scheduler.runs.items()):
            runs.add_metric([job, outcome], count)
        yield runs
        yield GaugeMetricFamily(
            "crmbot_scheduler_leader",
            "1 when this process runs the scheduled scans.",
            value=1 if scheduler.leader.leading else 0,
        )


def _outbox_counts(session: Session) -> dict[str, int]:
    return dict(
        session.exec(
            select(Outbox.status, func.count())
            .where(col(Outbox.status).in_(OUTBOX_STATES))
            .group_by(col(Outbox.status))
        ).all()
    )
