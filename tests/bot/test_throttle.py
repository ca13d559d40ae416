"""Send slots: which limits a message counts against, spacing on one process's clock, the
Telegram rate limiter built on them (429s held and retried), the fallback when the shared
slots' database is away."""

from __future__ import annotations

import asyncio

import pytest
from telegram.error import RetryAfter

from bot.pacing import MARGIN, with_telegram_rate
from bot.telegram_adapter import TelegramAdapter
from bot.throttle import LocalThrottle, SharedThrottle, make_throttle
from bot.virtual_time import VirtualClock, run_virtual
from handlers.dispatcher import Dispatcher
from handlers.reply import Reply
from storage.db import make_engine
from tests.bot.conftest import TOKEN, FakeBotApi
from tests.bot.slack_fixtures import (
    DM,
    Slack,
    slack_fixture,  # noqa: F401  (the `slack` fixture)
)
from tests.conftest import START


def limits(keys: list[tuple[str, float]]) -> dict[str, float]:
    """Key -> messages a second it allows (before the margin)."""
    return {key: round(1 / (gap * (1 - MARGIN)), 6) for key, gap in keys}


def test_which_limits_a_message_counts_against() -> None:
    throttle = LocalThrottle()
    # An answer in a private chat: only the bot's 30 a second.
    assert limits(throttle.keys("telegram", "111", per_chat=False)) == {"telegram": 30}
    # A group: its 20 a minute too, answer or not.
    group = {"telegram": 30, "telegram:-100": round(20 / 60, 6)}
    assert limits(throttle.keys("telegram", "-100", per_chat=False)) == group
    assert limits(throttle.keys("telegram", "-100", per_chat=True)) == group
    # A reminder to a person: one a second to that chat.
    assert limits(throttle.keys("telegram", "111", per_chat=True)) == {
        "telegram": 30,
        "telegram:111": 1,
    }
    # Slack: one a second per channel, no bot-wide limit.
    assert limits(throttle.keys("slack", "C1", per_chat=True)) == {"slack:C1": 1}
    # A bot whose limit Telegram raised.
    raised = LocalThrottle(with_telegram_rate(1000))
    assert limits(raised.keys("telegram", "111", per_chat=False)) == {"telegram": 1000}


def test_local_slots_space_the_messages_of_a_key() -> None:
    throttle = LocalThrottle()
    keys = throttle.keys("telegram", "-100", per_chat=False)
    gap = keys[1][1]
    sent: list[float] = []

    async def main(clock: VirtualClock) -> None:
        loop = asyncio.get_running_loop()

        async def one() -> None:
            await throttle.wait(keys)
            sent.append(loop.time())

        await asyncio.gather(*(one() for _ in range(3)))
        await throttle.hold("telegram:-100", 60)  # Telegram said to wait a minute
        await one()

    run_virtual(main, start=START)
    assert sent[1] - sent[0] == pytest.approx(gap) and sent[2] - sent[1] == pytest.approx(gap)
    assert sent[3] - sent[2] >= 60 - gap


async def test_the_rate_limiter_holds_after_a_429_and_tries_again(
    dispatcher: Dispatcher,
) -> None:
    api = FakeBotApi()
    api.fail("sendMessage", RetryAfter(0))
    throttle = LocalThrottle()
    adapter = TelegramAdapter(dispatcher, TOKEN, transport=api, throttle=throttle)
    await adapter.application.initialize()
    try:
        await adapter.send("111", Reply().add("Your reminder"))
    finally:
        await adapter.stop()
    sends = api.of("sendMessage")
    assert len(sends) == 2 and sends[1].text == "Your reminder"
    # A reminder took the chat's own slot too (one a second per person).
    assert set(throttle._next) == {"telegram", "telegram:111"}


async def test_shared_slots_fall_back_to_this_process_when_the_database_is_away() -> None:
    engine = make_engine("postgresql+psycopg://crmbot@127.0.0.1:1/nowhere")
    throttle = make_throttle(engine)
    assert isinstance(throttle, SharedThrottle)
    keys = throttle.keys("telegram", "111", per_chat=False)
    await throttle.wait(keys)  # no database: paced here alone, not stuck
    await throttle.hold("telegram", 0)
    assert "telegram" in throttle.fallback._next
    await throttle.close()
    engine.dispose()


async def test_slack_posts_take_their_channels_slot(slack: Slack) -> None:
    throttle = LocalThrottle()
    slack.adapter.throttle = throttle
    await slack.dm("start Acme Sales")
    assert slack.api.sent("chat.postMessage")
    assert set(throttle._next) == {f"slack:{DM}"}
