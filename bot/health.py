"""`GET /healthz`: is this process working? The database answers a query within a couple
of seconds, and the scheduler looked for outbox work recently (its loop is alive and not
stuck). 200 with each check's result, or 503 naming what failed.

There is no separate readiness check: the server listens only once everything has started
(Telegram's webhook is set after), and a graceful shutdown closes the socket first, so
"listening" already means "ready", and a proxy needs no more than a refused connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from sqlalchemy import Engine, text

from bot.web import Server
from storage.db import in_transaction

DATABASE_TIMEOUT = 2.0
# The outbox looks for work every few seconds (bot/scheduler.py TICK_SECONDS), and every
# half second while it drains: a minute without a look means the loop is stuck.
SCHEDULER_STALE = 60.0

Heartbeat = Callable[[], float | None]


class Health:
    def __init__(
        self,
        server: Server,
        engine: Engine,
        *,
        heartbeat: Heartbeat | None = None,
        stale_after: float = SCHEDULER_STALE,
    ) -> None:
        """`heartbeat()`: the event loop's time of the scheduler's latest look at the
        outbox (None before its first); without one, no scheduler check."""
        self.server = server
        self.engine = engine
        self.heartbeat = heartbeat
        self.stale_after = stale_after
        self.started = time.monotonic()

    def register(self) -> None:
        self.server.app.router.add_get("/healthz", self.healthz)

    async def healthz(self, request: web.Request) -> web.Response:
        checks = {"database": await self._database(), "scheduler": self._scheduler()}
        return _answer(checks)

    async def _database(self) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.to_thread(self._ping), DATABASE_TIMEOUT)
        except TimeoutError:
            return {"ok": False, "error": f"no answer within {DATABASE_TIMEOUT:g} s"}
        except Exception as error:
            return {"ok": False, "error": _reason(error)}
        return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}

    def _ping(self) -> None:
        # In a transaction of the dispatcher's kind: a pooled connection found dead (the
        # database restarted) is replaced and asked again, as a command's would be.
        in_transaction(self.engine, lambda session: session.execute(text("SELECT 1")), reads=True)

    def _scheduler(self) -> dict[str, Any]:
        if self.heartbeat is None:
            return {"ok": True, "running": False}
        now = asyncio.get_running_loop().time()
        beat = self.heartbeat()
        if beat is None:
            if time.monotonic() - self.started < self.stale_after:
                return {"ok": True, "seconds_ago": None}  # just started
            return {"ok": False, "error": "has not looked for work since the start"}
        ago = now - beat
        if ago > self.stale_after:
            return {"ok": False, "error": f"last looked for work {ago:.0f} s ago"}
        return {"ok": True, "seconds_ago": round(ago, 1)}


def _answer(checks: dict[str, dict[str, Any]]) -> web.Response:
    ok = all(check["ok"] for check in checks.values())
    body = {"status": "ok" if ok else "failing", "checks": checks}
    return web.json_response(body, status=200 if ok else 503)


def _reason(error: BaseException) -> str:
    """A database error's first line, without the SQL or the connection string."""
    cause = getattr(error, "orig", None) or error
    first = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {first[0] if first else ''}".strip(": ")
