"""`crmbot serve`: the production runtime, one HTTP server per process (bot/web.py) with

- `POST /telegram/webhook` (bot/telegram_webhook.py) when TELEGRAM_WEBHOOK_URL is set,
- `POST /slack/events` (bot/slack_adapter.py) when Slack is configured, and in hosted mode
  `GET /slack/install` and `GET /slack/oauth_redirect` (bot/slack_oauth.py),
- `GET /healthz` (bot/health.py) and `GET /metrics` (bot/metrics.py),
- the pipeline board under `/app/` (bot/board/),

plus the scheduler (outbox, agendas, digests, ...). Any number of these processes may share
one PostgreSQL database: updates are handled once (ProcessedUpdate), a chat's messages one
at a time and in order (a chat lock, storage/locks.py), sends within the platforms' limits
for the whole installation (bot/throttle.py), the scans in one process at a time (the
scheduler's leader lock) and the outbox drained by all (its claims).

`--workers N` runs N such processes on one port (SO_REUSEPORT: the kernel spreads the
connections) under a small supervisor that restarts one that dies and passes SIGTERM on.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from bot.board import BoardApp, set_menu_button
from bot.config import Settings
from bot.health import Health
from bot.logs import Redaction, secrets_of
from bot.metrics import Metrics, ObservedDispatcher
from bot.outbox import OutboxDispatcher
from bot.pacing import Pacer, with_telegram_rate
from bot.runtime import Adapter, HeapSettler, run_adapters
from bot.scheduler import Scheduler
from bot.senders import senders_among
from bot.throttle import Throttle, make_throttle
from bot.web import Server
from handlers import build_registry
from handlers.context import TeamDefaults
from handlers.places import Geocoder

log = logging.getLogger(__name__)

RESTART_AFTER = 1.0


@dataclass(frozen=True)
class Listen:
    host: str = "127.0.0.1"
    port: int = 8080
    reuse_port: bool = False


def workers_refused(url: str, workers: int) -> str | None:
    """Why `--workers` cannot be this many on this database (None: it can)."""
    if workers > 1 and make_url(url).get_backend_name() == "sqlite":
        return (
            f"--workers {workers} needs PostgreSQL: SQLite is one process's database. "
            "Set DATABASE_URL=postgresql+psycopg://... or run one worker."
        )
    return None


@dataclass
class Serving:
    """One server process's parts, built from the settings (`build`), run by `run`."""

    server: Server
    scheduler: Scheduler
    dispatcher: ObservedDispatcher
    metrics: Metrics
    adapters: list[Adapter]
    throttle: Throttle
    redaction: Redaction
    # The process's heap kept out of the collector's walks: `crmbot serve`, not a test.
    settler: HeapSettler | None

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Until `stop` is set or SIGTERM/SIGINT arrives. Started in this order and stopped
        in reverse: the server stops taking requests and finishes those it has first, then
        the outbox gives its claims back, then the platforms disconnect."""
        self.redaction.install()
        # Every command family imported now, not by the first messages, and with the rest
        # of start-up left out of the garbage collector's walks once the server listens.
        await asyncio.to_thread(lambda: self.dispatcher.registry)
        if self.settler is not None:
            self.server.on_started(self.settler.settle)
        try:
            await run_adapters([*self.adapters, self.scheduler, self.server], stop=stop)
        finally:
            await self.throttle.close()
            self.dispatcher.close()
            self.redaction.remove()


def build(
    settings: Settings,
    engine: Engine,
    *,
    listen: Listen,
    defaults: TeamDefaults,
    geocoder: Geocoder | None,
    settle_heap: bool = False,
) -> Serving:
    limits = with_telegram_rate(settings.telegram_messages_per_second)
    throttle = make_throttle(engine, limits)
    metrics = Metrics()
    clock = settings.clock()
    settler = HeapSettler() if settle_heap else None
    dispatcher = ObservedDispatcher(
        engine,
        build_registry(),
        defaults=defaults,
        geocoder=geocoder,
        metrics=metrics,
        after_each=settler.handled_one if settler is not None else lambda: None,
        clock=clock,
    )
    server = Server(host=listen.host, port=listen.port, reuse_port=listen.reuse_port)
    adapters = _adapters(settings, server, dispatcher, throttle)
    senders = senders_among(adapters)
    claim_for = timedelta(seconds=settings.outbox_claim_seconds)
    outbox = OutboxDispatcher(
        engine, senders, pacer=Pacer(limits), claim_for=claim_for, clock=clock
    )
    scheduler = Scheduler(engine, senders, geocoder=geocoder, outbox=outbox, clock=clock)
    Health(server, engine, heartbeat=lambda: scheduler.heartbeat).register()
    token = settings.telegram_bot_token
    BoardApp(
        engine,
        dispatcher,
        telegram_token=token.get_secret_value() if token else None,
        clock=clock,
    ).register(server)
    metrics.register(server)
    metrics.watch(engine, scheduler)
    return Serving(
        server=server,
        scheduler=scheduler,
        dispatcher=dispatcher,
        metrics=metrics,
        adapters=adapters,
        throttle=throttle,
        redaction=Redaction(secrets_of(settings, engine.url)),
        settler=settler,
    )


def _adapters(
    settings: Settings, server: Server, dispatcher: ObservedDispatcher, throttle: Throttle
) -> list[Adapter]:
    adapters: list[Adapter] = []
    token = settings.telegram_bot_token
    if token is not None:
        from bot.telegram_adapter import TelegramAdapter
        from bot.telegram_webhook import TelegramWebhook, webhook_secret

        telegram = TelegramAdapter(
            dispatcher,
            token.get_secret_value(),
            base_url=settings.telegram_api_base_url,
            throttle=throttle,
            webhook=True,
        )
        adapters.append(telegram)
        server.on_started(
            lambda: set_menu_button(telegram.application.bot, settings.public_url or "")
        )
        if settings.telegram_webhook_url:
            configured = settings.telegram_webhook_secret
            secret = webhook_secret(
                token.get_secret_value(), configured.get_secret_value() if configured else None
            )
            TelegramWebhook(
                server, telegram, url=settings.telegram_webhook_url, secret=secret
            ).register()
        else:
            log.warning(
                "TELEGRAM_WEBHOOK_URL is not set: this process receives no Telegram updates "
                "(it still sends Telegram's reminders and announcements)"
            )
    if settings.slack_configured:
        from bot.slack_adapter import SlackAdapter  # Bolt is slow to import: only when used

        slack = SlackAdapter.from_settings(settings, dispatcher, port=None, throttle=throttle)
        slack.register(server)
        adapters.append(slack)
    return adapters


def supervise(workers: int, target: Callable[..., None], *args: object) -> None:
    """Run `target(*args)` in `workers` processes until SIGTERM or SIGINT, restarting any
    that dies meanwhile; on the signal, pass SIGTERM on and wait for them to finish."""
    context = multiprocessing.get_context("spawn")
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for process in list(running):
            if process.is_alive() and process.pid is not None:
                process.terminate()  # SIGTERM: a graceful stop

    def spawn() -> BaseProcess:
        process = context.Process(target=target, args=args, daemon=False)
        process.start()
        return process

    running: list[BaseProcess] = []
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        running.extend(spawn() for _ in range(workers))
        while running:
            wait([process.sentinel for process in running], timeout=1.0)
            for process in [process for process in running if not process.is_alive()]:
                running.remove(process)
                process.join()
                if stopping:
                    continue
                log.error(
                    "worker %s ended (exit code %s); starting another",
                    process.pid,
                    process.exitcode,
                )
                time.sleep(RESTART_AFTER)
                running.append(spawn())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
