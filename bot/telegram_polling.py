"""Telegram's connection, apart from the bot: python-telegram-bot's Application for a token
on our transport, and its long polling.

It imports python-telegram-bot and aiohttp and nothing of the bot, so that `crmbot run` can
send its first getUpdates before it imports the dispatcher, the command families and the
database's models (most of a start): what the polls bring is held until `hand_over` (the
bot can handle updates), so no update is confirmed to Telegram before then, and a start
that fails loses none (Telegram sends them again). The adapter (bot/telegram_adapter.py)
adds the handling of updates to the same Application.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.error import NetworkError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, BaseRateLimiter
from telegram.request import BaseRequest, RequestData

from bot.logs import Redaction
from bot.telegram_request import AiohttpRequest

# python-telegram-bot 22 gives durations (RetryAfter.retry_after) as seconds, deprecated: its
# next major version gives a timedelta, and PTB_TIMEDELTA opts in now, the way its docs say.
# (Unless the environment says otherwise; the adapter's `_seconds` reads either.)
os.environ.setdefault("PTB_TIMEDELTA", "true")

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
RETRIES_AFTER_429 = 3

Sleep = Callable[[float], Awaitable[None]]
TelegramApp = Application[Any, Any, Any, Any, Any, Any]


class Polling:
    """One bot token's Application: `start` polls, `hand_over` lets the updates through,
    `stop` ends it all. `transport` carries the bot's calls, `polling_transport` its
    getUpdates (default: one aiohttp client for both: the first poll goes out on the
    connection the calls before it opened); tests put a recording Bot API in both.
    `limiter`: python-telegram-bot's own, unless given."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str | None = None,
        transport: BaseRequest | None = None,
        polling_transport: BaseRequest | None = None,
        limiter: BaseRateLimiter[Any] | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.token = token
        # Before the Bot exists: python-telegram-bot logs its API URL, token included.
        self._redaction = Redaction({token: "[bot token]"})
        self._redaction.install()
        transport = transport or AiohttpRequest()
        self.polls = HeldPolls(polling_transport or transport)
        builder = (
            ApplicationBuilder()
            .token(token)
            .request(RetryingRequest(transport, sleep=sleep))
            .get_updates_request(self.polls)
            .rate_limiter(limiter or AIORateLimiter(max_retries=RETRIES_AFTER_429))
            # Each update runs in its own task: a slow command never stalls other chats.
            .concurrent_updates(True)
            .job_queue(None)
        )
        if base_url:
            builder = builder.base_url(base_url)
        self.application: TelegramApp = builder.build()

    async def start(self) -> None:
        """Ask Telegram who the bot is, then send the first getUpdates; return once it is
        on its way (once: again, a no-op). What it brings waits for `hand_over`."""
        app = self.application
        assert app.updater is not None
        if app.updater.running:
            return
        await app.initialize()
        await app.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
        await self.polls.asked.wait()
        log.info("telegram: polling as @%s", app.bot.username)

    def hand_over(self) -> None:
        """The Application now handles updates: the polls' answers go through."""
        self.polls.hand_over()

    async def stop(self) -> None:
        """Stop polling (before `hand_over`: confirming none of what the polls brought),
        finish the updates being handled, close the connections."""
        app = self.application
        try:
            if app.updater is not None and app.updater.running:
                self.polls.stopping()
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
        finally:
            self._redaction.remove()


class _Wrapping(BaseRequest):
    """A transport around another one, which does the HTTP."""

    def __init__(self, inner: BaseRequest) -> None:
        self.inner = inner

    @property
    def read_timeout(self) -> float | None:
        return self.inner.read_timeout

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()


class HeldPolls(_Wrapping):
    """getUpdates' transport: `asked` is set once a first poll is being sent, `answered`
    once one has come back (with updates, after its long-poll timeout, or failed). A
    poll's updates are handed on only after `hand_over`: a poll held when polling stops is
    cancelled by python-telegram-bot, so its updates are not confirmed; the last call
    (the one that confirms what was handed on) is not held once `stopping`."""

    def __init__(self, inner: BaseRequest) -> None:
        super().__init__(inner)
        self.asked = asyncio.Event()
        self.answered = asyncio.Event()
        self._handed_over = asyncio.Event()
        self._stopping = False

    def hand_over(self) -> None:
        self._handed_over.set()

    def stopping(self) -> None:
        self._stopping = True

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        self.asked.set()
        try:
            answer = await self.inner.do_request(
                url,
                method,
                request_data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
        finally:
            self.answered.set()
        if not self._stopping:
            await self._handed_over.wait()
        return answer


class RetryingRequest(_Wrapping):
    """Retries the bot's calls on network errors and Telegram 5xx answers, with exponential
    backoff. A 429 passes through to the rate limiter, which waits as long as Telegram
    asks. A call whose answer was lost may thus arrive twice (at least once)."""

    def __init__(
        self, inner: BaseRequest, *, attempts: int = 4, delay: float = 1.0, sleep: Sleep
    ) -> None:
        super().__init__(inner)
        self.attempts = attempts
        self.delay = delay
        self.sleep = sleep

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]  # never the URL itself: it holds the token
        attempt = 1
        while True:
            try:
                code, payload = await self.inner.do_request(
                    url,
                    method,
                    request_data,
                    read_timeout=read_timeout,
                    write_timeout=write_timeout,
                    connect_timeout=connect_timeout,
                    pool_timeout=pool_timeout,
                )
            except NetworkError as error:
                if attempt >= self.attempts:
                    raise
                reason = str(error)
            else:
                if code < 500 or attempt >= self.attempts:
                    return code, payload
                reason = f"HTTP {code}"
            log.warning("telegram: %s failed (%s); retry %d", endpoint, reason, attempt)
            await self.sleep(self.delay * 2 ** (attempt - 1))
            attempt += 1
