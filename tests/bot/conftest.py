"""A Telegram bot without Telegram: the real python-telegram-bot `Application`, its network
replaced by `FakeBotApi`, a `BaseRequest` that answers like the Bot API and records every
call. Updates are built as Bot API JSON and fed through `Application.process_update`."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from telegram import Update
from telegram.error import NetworkError
from telegram.request import BaseRequest, RequestData

from bench.botapi import BOT_USER
from bot.telegram_adapter import TelegramAdapter
from handlers.dispatcher import Dispatcher

TOKEN = "7000001:AAFakeTokenForTestsOnly-0123456789ab"
DATE = 1_795_000_000  # 2026-11-17, any fixed time will do
ALICE: dict[str, Any] = {"id": 111, "is_bot": False, "first_name": "Alice", "last_name": "Adams"}
BOB: dict[str, Any] = {"id": 222, "is_bot": False, "first_name": "Bob"}
GROUP: dict[str, Any] = {"id": -1001234567890, "type": "supergroup", "title": "Sales team"}


def private_chat(user: dict[str, Any]) -> dict[str, Any]:
    return {"id": user["id"], "type": "private", "first_name": user["first_name"]}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    url: str
    files: dict[str, Any] = field(default_factory=dict)
    result: Any = None

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def markup(self) -> dict[str, Any]:
        markup = self.params.get("reply_markup") or {}
        return json.loads(markup) if isinstance(markup, str) else markup

    @property
    def button_data(self) -> dict[str, str]:
        """Inline button label -> callback data."""
        rows = self.markup.get("inline_keyboard", [])
        return {button["text"]: button["callback_data"] for row in rows for button in row}


class FakeBotApi(BaseRequest):
    """Answers Bot API calls like Telegram would, and records them. `fail` scripts errors;
    getUpdates long-polls `updates`."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent = asyncio.Event()  # set by every message sent or edited
        # Messages to these chats wait until the event is set: a slow network to one phone.
        self.held: dict[int, asyncio.Event] = {}
        self._failures: dict[str, list[tuple[int, str] | Exception]] = {}
        self._message_ids = itertools.count(500)
        # Files people sent, by file_id: what getFile describes and the download serves.
        self.documents: dict[str, bytes] = {}

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    def fail(self, method: str, *failures: tuple[int, str] | Exception) -> None:
        """The next calls of `method` fail: with (HTTP status, description) or an error."""
        self._failures.setdefault(method, []).extend(failures)

    def of(self, *methods: str) -> list[Call]:
        return [call for call in self.calls if call.method in methods]

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
        name = url.rsplit("/", 1)[-1]
        if "/file/bot" in url:  # a file's download (getFile gave its path)
            self.calls.append(Call("download", {}, url))
            return 200, self.documents[name]
        params = dict(request_data.parameters) if request_data else {}
        files = {
            part: (content[0], content[1], content[2])
            for part, content in (request_data.multipart_data if request_data else {}).items()
        }
        call = Call(name, params, url, files)
        self.calls.append(call)
        if self._failures.get(name):
            failure = self._failures[name].pop(0)
            if isinstance(failure, Exception):
                raise failure
            status, description = failure
            body = {"ok": False, "error_code": status, "description": description}
            return status, json.dumps(body).encode()
        chat_id = params.get("chat_id")
        held = self.held.get(int(chat_id)) if isinstance(chat_id, int | str) else None
        if name.startswith(("send", "edit")) and held is not None:
            await held.wait()
        call.result = await self._result(name, params)
        if name.startswith(("send", "edit")):
            self.sent.set()
        return 200, json.dumps({"ok": True, "result": call.result}).encode()

    async def _result(self, name: str, params: dict[str, Any]) -> Any:
        if name == "getMe":
            return BOT_USER
        if name in ("setMyCommands", "deleteWebhook", "answerCallbackQuery"):
            return True
        if name == "getUpdates":
            return await self._poll(params)
        if name == "getFile":
            file_id = str(params["file_id"])
            return {
                "file_id": file_id,
                "file_unique_id": file_id,
                "file_size": len(self.documents[file_id]),
                "file_path": f"documents/{file_id}",
            }
        if name in ("sendMessage", "sendPhoto", "sendDocument", "editMessageText"):
            return self._message(name, params)
        raise NetworkError(f"FakeBotApi does not know {name}")

    async def _poll(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        # A long poll (timeout > 0) waits for the next update; a final one returns at once.
        found = (
            [await self.updates.get()] if self.updates.empty() and params.get("timeout") else []
        )
        while not self.updates.empty():
            found.append(self.updates.get_nowait())
        return found

    def _message(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        chat = {"id": chat_id, "type": "private", "first_name": "You"} if chat_id > 0 else GROUP
        message: dict[str, Any] = {
            "message_id": params.get("message_id") or next(self._message_ids),
            "date": DATE,
            "chat": chat,
            "from": BOT_USER,
        }
        if "text" in params:
            message["text"] = params["text"]
        markup = Call(name, params, "").markup
        if "inline_keyboard" in markup:  # Telegram echoes inline keyboards only
            message["reply_markup"] = markup
        if name == "sendDocument":
            message["document"] = {"file_id": "d1", "file_unique_id": "d1"}
        if name == "sendPhoto":
            message["photo"] = [{"file_id": "p1", "file_unique_id": "p1", "width": 1, "height": 1}]
        return message


@dataclass
class TelegramChat:
    """Talk to the adapter like a phone would; each method returns the calls it caused."""

    adapter: TelegramAdapter
    api: FakeBotApi
    slept: list[float] = field(default_factory=list)
    update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(90_000))
    message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def feed(self, update: dict[str, Any]) -> list[Call]:
        app = self.adapter.application
        before = len(self.api.calls)
        await app.process_update(Update.de_json(update, app.bot))
        return self.api.calls[before:]

    def message_update(
        self,
        user: dict[str, Any] | None = None,
        chat: dict[str, Any] | None = None,
        **content: Any,
    ) -> dict[str, Any]:
        user = user or ALICE
        message = {
            "message_id": next(self.message_ids),
            "date": DATE,
            "chat": chat or private_chat(user),
            "from": user,
            **content,
        }
        return {"update_id": next(self.update_ids), "message": message}

    async def send(self, text: str | None = None, **content: Any) -> list[Call]:
        """A message: `text`, or other content (location=..., sticker=...); `user` and
        `chat` say who sends it where (default Alice, in her private chat)."""
        if text is not None:
            content["text"] = text
        return await self.feed(self.message_update(**content))

    async def say(self, text: str | None = None, **content: Any) -> str:
        """The text of the messages the bot answered with."""
        return "\n".join(call.text for call in await self.send(text, **content))

    async def press(
        self, label: str, *, user: dict[str, Any] | None = None, chat_id: int | None = None
    ) -> list[Call]:
        """Press the inline button starting with `label` in the latest message (to
        `chat_id`, default the user's private chat) that has one."""
        user = user or ALICE
        chat_id = chat_id or user["id"]
        for call in reversed(self.api.of("sendMessage", "editMessageText")):
            if int(call.params["chat_id"]) != chat_id:
                continue
            matches = [data for text, data in call.button_data.items() if text.startswith(label)]
            if matches:
                return await self.feed(self.callback_update(call.result, matches[0], user))
        raise AssertionError(f"no button {label!r} in chat {chat_id}")

    def callback_update(
        self, message: dict[str, Any], data: str, user: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        query = {
            "id": f"cq{next(self.update_ids)}",
            "from": user or ALICE,
            "chat_instance": "ci1",
            "message": message,
            "data": data,
        }
        return {"update_id": next(self.update_ids), "callback_query": query}


@pytest.fixture
async def telegram(dispatcher: Dispatcher) -> AsyncIterator[TelegramChat]:
    """An initialised Telegram adapter on the test database (not polling)."""
    api = FakeBotApi()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)  # backoff without waiting: recorded, not slept

    adapter = TelegramAdapter(dispatcher, TOKEN, transport=api, polling_transport=api, sleep=sleep)
    await adapter.application.initialize()
    yield TelegramChat(adapter, api, slept)
    await adapter.stop()


@pytest.fixture
async def alice(telegram: TelegramChat) -> TelegramChat:
    """Alice has created the team in her private chat (she is its admin)."""
    assert "created the team" in await telegram.say("/start Acme Sales")
    return telegram
