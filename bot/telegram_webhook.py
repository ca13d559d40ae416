"""`POST /telegram/webhook`: Telegram's updates, pushed to `crmbot serve`.

At start-up (once the server listens) the bot asks Telegram to post its updates to
`TELEGRAM_WEBHOOK_URL` with a secret token, which Telegram repeats in the
`X-Telegram-Bot-Api-Secret-Token` header of every request. A request without it gets 401,
one with another token 403, and nothing of either is read further.

An update is handled as polling would handle it (`TelegramAdapter.process`: the same
dispatcher, the same replies) and acknowledged once its reply has gone out, or after
`ACK_WITHIN` seconds at the latest, the work going on. Answering then rather than at once
is what keeps a chat in order across processes: Telegram posts a chat's next update only
after the previous one was acknowledged, so by then the previous command has committed and
its reply has been delivered, whichever process gets the next. A process that dies before
the commit never acknowledges, and Telegram posts the update again (to whichever process);
one that dies after it leaves a recorded update id, and the second delivery changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
from typing import Any

from aiohttp import web

from bot.telegram_adapter import TelegramAdapter
from bot.web import Server, request_work

log = logging.getLogger(__name__)

PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Long enough for a reply that waits for its send slot, short of any proxy's timeout.
ACK_WITHIN = 10.0
VALID_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


def webhook_secret(token: str, configured: str | None) -> str:
    """TELEGRAM_WEBHOOK_SECRET, or one derived from the bot token: every process of the
    installation derives the same, and only who knows the token can."""
    if configured:
        if not VALID_SECRET.fullmatch(configured):
            raise ValueError(
                "TELEGRAM_WEBHOOK_SECRET may hold only letters, digits, _ and - "
                "(1 to 256 of them), as Telegram requires."
            )
        return configured
    return hmac.new(token.encode(), b"crmbot telegram webhook", hashlib.sha256).hexdigest()


class TelegramWebhook:
    def __init__(
        self,
        server: Server,
        adapter: TelegramAdapter,
        *,
        url: str,
        secret: str,
        ack_within: float = ACK_WITHIN,
    ) -> None:
        self.server = server
        self.adapter = adapter
        self.url = url
        self.secret = secret.encode()
        self.ack_within = ack_within

    def register(self) -> None:
        self.server.app.router.add_post(PATH, self.receive)
        self.server.on_started(self.set_webhook)

    async def set_webhook(self) -> None:
        await self.adapter.set_webhook(self.url, self.secret.decode())

    async def receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            return web.Response(status=401, text="missing secret token")
        if not hmac.compare_digest(given.encode(), self.secret):
            return web.Response(status=403, text="wrong secret token")
        try:
            update = await request.json()
        except ValueError:
            return web.Response(status=400, text="not JSON")
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return web.Response(status=400, text="not a Telegram update")
        work = self.server.spawn(self._handle(update))
        await asyncio.wait({work}, timeout=self.ack_within)
        return web.Response(text="ok")

    async def _handle(self, update: dict[str, Any]) -> None:
        with request_work():
            try:
                await self.adapter.process(update)
            except Exception:
                log.exception("telegram: update %s could not be read", update.get("update_id"))
