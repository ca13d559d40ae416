"""The aiohttp transport under python-telegram-bot, against the stand-in Bot API over
loopback HTTP: the fields as JSON, a photo as multipart, and failures as the bot's errors."""

from __future__ import annotations

import pytest
from telegram import Bot
from telegram.error import NetworkError, TimedOut

from bench.botapi import BotApi
from bench.processes import free_port
from bot.telegram_request import AiohttpRequest
from tests.bot.conftest import TOKEN

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


async def test_messages_and_photos_reach_the_bot_api() -> None:
    api = BotApi()
    await api.start()
    bot = Bot(TOKEN, base_url=api.base_url("a"), request=AiohttpRequest())
    try:
        await bot.initialize()
        sent = await bot.send_message(111, "Hello <b>Jane</b> & co", parse_mode="HTML")
        assert sent.message_id and sent.text == "Hello <b>Jane</b> & co"
        await bot.send_photo(111, PNG, caption="Pipeline · November", filename="p.png")
    finally:
        await bot.shutdown()
        await api.stop()
    assert [(s.method, s.chat_id, s.text) for s in api.sent] == [
        ("sendMessage", 111, "Hello <b>Jane</b> & co"),
        ("sendPhoto", 111, "Pipeline · November"),
    ]
    (photo,) = api.of("sendPhoto")
    assert photo["photo"] == ("p.png", PNG)


async def test_failures_are_the_bots_network_errors() -> None:
    nowhere = Bot(TOKEN, base_url=f"http://127.0.0.1:{free_port()}/bot", request=AiohttpRequest())
    await nowhere._request[1].initialize()  # the bot's own calls, without getMe
    try:
        with pytest.raises(NetworkError, match="aiohttp"):
            await nowhere.send_message(111, "hi")
    finally:
        await nowhere._request[1].shutdown()
    api = BotApi()
    await api.start()
    api.hold("slow")
    slow = Bot(TOKEN, base_url=api.base_url("slow"), request=AiohttpRequest(read_timeout=0.2))
    await slow._request[1].initialize()
    try:
        with pytest.raises(TimedOut):
            await slow.send_message(111, "hi")
    finally:
        await slow._request[1].shutdown()
        await api.stop()
    assert api.sent == []


async def test_an_uninitialised_transport_says_so() -> None:
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest().do_request("http://127.0.0.1:1/x", "POST")
