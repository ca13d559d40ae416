"""The HTTP server of `crmbot serve`: one aiohttp application that each area of the bot adds
its routes to (`register(server, ...)` in bot/telegram_webhook.py, bot/slack_adapter.py,
bot/health.py, bot/metrics.py; later the board's web app and Slack's OAuth routes).

aiohttp because Slack's HTTP mode (Bolt's `AsyncApp`) already runs on it and
python-telegram-bot's client is async too: every platform, the health check and the
metrics share one event loop, with no second server framework.

Every request gets an id (the proxy's `X-Request-Id` when it sends a sane one) and one log
line when its work is done, with what the work was: the platform, the command and its
outcome, and the time from arrival to the answer. Work that goes on after the HTTP answer
(Slack's listeners, which answer through the Web API after Bolt acknowledged the event)
keeps the line open until it ends (`RequestLog.working`), so the line still has the whole
story. Health checks and scrapes are logged at DEBUG: an orchestrator polls them all day.

`stop()` is a graceful shutdown: the socket stops accepting, requests already in are
finished (up to `shutdown_timeout`), then the work they left running.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

log = logging.getLogger("bot.requests")

REQUEST_ID = "X-Request-Id"
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
QUIET_PATHS = frozenset({"/healthz", "/metrics"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RouteObserver = Callable[[str, int], None]


@dataclass
class RequestLog:
    """What one request did, logged once when all of its work is done."""

    id: str
    method: str
    path: str
    started: float = field(default_factory=time.perf_counter)
    status: int | None = None
    platform: str | None = None
    command: str | None = None
    outcome: str | None = None
    _open: int = 1

    def note(self, *, platform: str, command: str, outcome: str) -> None:
        self.platform, self.command, self.outcome = platform, command, outcome

    @contextmanager
    def working(self) -> Iterator[None]:
        """Work for this request that may outlive its HTTP answer."""
        self._open += 1
        try:
            yield
        finally:
            self.done()

    def done(self) -> None:
        self._open -= 1
        if self._open == 0:
            self._emit()

    def _emit(self) -> None:
        duration_ms = (time.perf_counter() - self.started) * 1000
        fields: dict[str, Any] = {
            "request_id": self.id,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "duration_ms": round(duration_ms, 1),
        }
        what = ""
        if self.platform is not None:
            fields.update(platform=self.platform, command=self.command, outcome=self.outcome)
            what = f" {self.platform} /{self.command} {self.outcome}"
        level = logging.DEBUG if self.path in QUIET_PATHS else logging.INFO
        log.log(
            level,
            "request %s: %s %s -> %s%s in %.1f ms",
            self.id,
            self.method,
            self.path,
            self.status,
            what,
            duration_ms,
            extra=fields,
        )


def _new_id() -> str:
    """12 hex digits. An id only tells log lines apart, it guards nothing: Python's own
    generator (seeded from the system's at start) rather than `secrets`, a system call for
    every request (2 % of the event loop's time under load)."""
    return f"{random.getrandbits(48):012x}"


_current: ContextVar[RequestLog | None] = ContextVar("crmbot_request", default=None)


def current_request() -> RequestLog | None:
    """The request whose work this is (tasks started while handling it inherit it)."""
    return _current.get()


@contextmanager
def request_work() -> Iterator[None]:
    """Keep the current request's log line open while this work runs (no-op outside one)."""
    record = current_request()
    if record is None:
        yield
        return
    with record.working():
        yield


class Server:
    """The aiohttp server, with the adapter shape (`start`, `stop`) `crmbot serve` runs."""

    name = "http"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        reuse_port: bool = False,
        shutdown_timeout: float = 30.0,
    ) -> None:
        self.host, self.port, self.reuse_port = host, port, reuse_port
        self.shutdown_timeout = shutdown_timeout
        self.app = web.Application(middlewares=[self._middleware])
        self.listening = asyncio.Event()
        self._started: list[Callable[[], Awaitable[None]]] = []
        self._observers: list[RouteObserver] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None

    def on_started(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` once the server listens (Telegram's setWebhook goes there)."""
        self._started.append(callback)

    def observe(self, observer: RouteObserver) -> None:
        """Call `observer(route, status)` after every request (the metrics)."""
        self._observers.append(observer)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `work` past the HTTP answer; `stop()` waits for it."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def start(self) -> None:
        self._runner = web.AppRunner(
            self.app, access_log=None, shutdown_timeout=self.shutdown_timeout
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_port=self.reuse_port)
        await site.start()
        for callback in self._started:
            await callback()
        self.listening.set()
        logging.getLogger(__name__).info("listening on %s", self.url)

    @property
    def url(self) -> str:
        """The base URL it listens on (the port picked, when it was 0)."""
        host, port = self._runner.addresses[0][:2] if self._runner else (self.host, self.port)
        return f"http://{host}:{port}"

    async def stop(self) -> None:
        self.listening.clear()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.shutdown_timeout)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get(REQUEST_ID, "")
        record = RequestLog(
            id=given if _SANE_ID.fullmatch(given) else _new_id(),
            method=request.method,
            path=request.path,
        )
        token = _current.set(record)
        try:
            response = await handler(request)
        except web.HTTPException as error:
            record.status = error.status
            raise
        except Exception:
            record.status = 500
            raise
        else:
            record.status = response.status
            response.headers[REQUEST_ID] = record.id
            return response
        finally:
            _current.reset(token)
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "unmatched"
            for observer in self._observers:
                observer(route, record.status or 500)
            record.done()
