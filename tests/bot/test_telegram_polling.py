"""Telegram's long polling before the bot exists (`crmbot run`): what a poll brings waits
for the bot, and a start that fails confirms none of it to Telegram."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import Update

from bot.telegram_polling import Polling
from tests.bot.conftest import ALICE, DATE, TOKEN, FakeBotApi, private_chat


def _message(update_id: int, text: str) -> dict[str, Any]:
    message = {
        "message_id": update_id,
        "date": DATE,
        "chat": private_chat(ALICE),
        "from": ALICE,
        "text": text,
    }
    return {"update_id": update_id, "message": message}


async def test_a_start_that_fails_after_the_first_poll_confirms_none_of_its_updates() -> None:
    api = FakeBotApi()
    await api.updates.put(_message(41, "/start Acme Sales"))
    polling = Polling(TOKEN, transport=api, polling_transport=api)
    await polling.start()
    await asyncio.wait_for(polling.polls.answered.wait(), timeout=10)  # it came, and waits
    await polling.stop()  # as when the database cannot be opened: no hand_over
    first, last = api.of("getUpdates")
    assert "offset" not in first.params or int(first.params["offset"]) == 0
    # The last call confirms what was handed on (its offset): nothing, so Telegram sends
    # update 41 again at the next start.
    assert int(last.params.get("offset", 0)) <= 41
    assert not polling.application.running


async def test_what_the_polls_bring_is_handed_on_in_order_once_the_bot_takes_over() -> None:
    api = FakeBotApi()
    for update_id, text in ((41, "/help"), (42, "/leads"), (43, "/deals")):
        await api.updates.put(_message(update_id, text))
    polling = Polling(TOKEN, transport=api, polling_transport=api)
    await polling.start()
    await asyncio.wait_for(polling.polls.answered.wait(), timeout=10)
    app = polling.application
    assert app.update_queue.empty()  # held while the bot is being made
    polling.hand_over()
    for _ in range(200):
        if app.update_queue.qsize() == 3:
            break
        await asyncio.sleep(0.01)
    handed = [app.update_queue.get_nowait() for _ in range(3)]
    assert [update.update_id for update in handed if isinstance(update, Update)] == [41, 42, 43]
    await polling.stop()
    assert int(api.of("getUpdates")[-1].params["offset"]) == 44  # now confirmed
