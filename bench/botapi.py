"""A stand-in Telegram Bot API on a loopback port, for the server's tests and load bench.

It answers the calls `crmbot serve` makes (getMe, setMyCommands, setWebhook, sendMessage,
sendPhoto, sendDocument, editMessageText, answerCallbackQuery) as Telegram would, hands
what is `push`ed to a bot that long-polls (getUpdates, `crmbot run`), and
records every message it accepts with the time it did. Each bot process may be given a
base URL of its own (`base_url(name)`), so that what a process sent can be told apart and
one process's sends can be held (a slow network) while the others' go through.

`per_second`: like Telegram, answer 429 (with retry_after) to a message that would be the
bot's (per_second + 1)-th in the last second, across all processes; None accepts all.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

BOT_USER = {
    "id": 7000001,
    "is_bot": True,
    "first_name": "CRM",
    "username": "crm_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
SENDS = ("sendMessage", "sendPhoto", "sendDocument", "editMessageText")
SENT_AT = 1_795_000_000
POLL_HOLD_SECONDS = 10.0


@dataclass(frozen=True)
class Sent:
    process: str  # the base URL's name
    method: str
    chat_id: int
    text: str
    at: float  # time.monotonic() when accepted


@dataclass
class BotApi:
    per_second: int | None = None
    host: str = "127.0.0.1"
    sent: list[Sent] = field(default_factory=list)
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    refused: int = 0
    url: str = ""
    updates: list[dict[str, Any]] = field(default_factory=list)
    _holds: dict[str, asyncio.Event] = field(default_factory=dict)
    _held: dict[str, list[web.Request]] = field(default_factory=dict)
    _recent: deque[float] = field(default_factory=deque)
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(500))
    # Each chat's messages, for `to`: the load bench asks after every update, and each of
    # its waiters again after every call, so a scan of `sent` made the generator slower
    # the longer it ran (its sends to the bot timed out at a few thousand messages).
    _by_chat: dict[int, list[Sent]] = field(default_factory=dict)
    _changed: asyncio.Condition | None = None
    _runner: web.AppRunner | None = None
    _stopped: bool = False

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{process}/bot{token}/{method}", self._call)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self._changed = asyncio.Condition()

    async def stop(self) -> None:
        self._stopped = True  # what is held is dropped, never delivered
        for event in self._holds.values():
            event.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def base_url(self, process: str) -> str:
        """TELEGRAM_API_BASE_URL for one bot process."""
        return f"{self.url}/{process}/bot"

    def hold(self, process: str) -> None:
        """Messages from `process` wait (unanswered) until `release`."""
        self._holds[process] = asyncio.Event()

    async def disconnected(self, process: str, *, timeout: float) -> None:
        """Until every held request of `process` has lost its connection (it was killed)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any(_connected(request) for request in self._held.get(process, ())):
            if loop.time() > deadline:
                raise TimeoutError(f"{process} still connected")
            await asyncio.sleep(0.01)

    def release(self, process: str) -> None:
        event = self._holds.pop(process, None)
        if event is not None:
            event.set()

    async def push(self, update: dict[str, Any]) -> None:
        """An update for the next getUpdates (`message_update` makes one)."""
        self.updates.append(update)
        await self._notify()

    async def _poll(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """As Telegram's long polling: the updates from `offset` on, waiting up to the
        poll's timeout (at most a second here, so that a stop is not held up) for one."""
        offset = int(params.get("offset") or 0)
        waiting = min(float(params.get("timeout") or 0), 1.0)

        def pending() -> list[dict[str, Any]]:
            return [update for update in self.updates if update["update_id"] >= offset]

        if not pending() and waiting > 0:
            with contextlib.suppress(TimeoutError):
                await self.until(lambda: bool(pending()) or self._stopped, timeout=waiting)
        return pending()

    def to(self, chat_id: int) -> list[Sent]:
        return list(self._by_chat.get(chat_id, ()))

    def of(self, method: str) -> list[dict[str, Any]]:
        return [params for _, called, params in self.calls if called == method]

    async def until(self, done: Callable[[], bool], *, timeout: float) -> None:
        """Until `done()` is true, checked after every call."""
        assert self._changed is not None
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(done), timeout)

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    async def _call(self, request: web.Request) -> web.Response:
        process, method = request.match_info["process"], request.match_info["method"]
        params: dict[str, Any] = (
            # The fields as JSON (the bot's calls without a file), as form fields, or
            # multipart with a file as its name and content (its buffer closes with the
            # request).
            await request.json()
            if request.content_type == "application/json"
            else {
                name: (value.filename, value.file.read())
                if isinstance(value, web.FileField)
                else value
                for name, value in (await request.post()).items()
            }
        )
        self.calls.append((process, method, params))
        await self._notify()
        if method == "getUpdates":
            return _ok(await self._poll(params))
        if method not in SENDS:
            return _ok(_result(method))
        hold = self._holds.get(process)
        if hold is not None:
            held = self._held.setdefault(process, [])
            held.append(request)
            try:
                await hold.wait()
            finally:
                held.remove(request)
        if self._stopped or not _connected(request):
            # The sender is gone (killed while holding): a held request never arrived.
            return web.Response(status=499)
        now = time.monotonic()
        if self.per_second is not None:
            while self._recent and self._recent[0] <= now - 1:
                self._recent.popleft()
            if len(self._recent) >= self.per_second:
                self.refused += 1
                body = {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry after 1",
                    "parameters": {"retry_after": 1},
                }
                return web.json_response(body, status=429)
            self._recent.append(now)
        chat_id = int(params["chat_id"])
        text = str(params.get("text") or params.get("caption") or "")
        sent = Sent(process, method, chat_id, text, now)
        self.sent.append(sent)
        self._by_chat.setdefault(chat_id, []).append(sent)
        await self._notify()
        return _ok(self._message(chat_id, params))

    def _message(self, chat_id: int, params: dict[str, Any]) -> dict[str, Any]:
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}
        message: dict[str, Any] = {
            "message_id": int(params.get("message_id") or next(self._message_ids)),
            "date": SENT_AT,
            "chat": chat,
            "from": BOT_USER,
        }
        if "text" in params:
            message["text"] = params["text"]
        return message


def _connected(request: web.Request) -> bool:
    return request.transport is not None and not request.transport.is_closing()


def _result(method: str) -> Any:
    return BOT_USER if method == "getMe" else True


def _ok(result: Any) -> web.Response:
    return web.Response(
        text=json.dumps({"ok": True, "result": result}), content_type="application/json"
    )


def message_update(
    update_id: int, user_id: int, text: str, *, first_name: str = "", date: int = SENT_AT
) -> dict[str, Any]:
    """A Bot API update: `text` from a person in their private chat with the bot."""
    user = {"id": user_id, "is_bot": False, "first_name": first_name or f"User{user_id}"}
    chat = {"id": user_id, "type": "private", "first_name": user["first_name"]}
    message = {"message_id": update_id, "date": date, "chat": chat, "from": user, "text": text}
    return {"update_id": update_id, "message": message}


def init_data(user_id: int, *, at: datetime, token: str, name: str = "") -> str:
    """What Telegram hands a Mini App: the fields, and `hash` over them as the spec says."""
    fields = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps({"id": user_id, "first_name": name}),
        "auth_date": str(int(at.timestamp())),
    }
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)
