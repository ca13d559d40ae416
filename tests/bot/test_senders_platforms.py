"""The Telegram and Slack adapters as the outbox's senders: proactive messages go out,
and each platform's refusals map to wait (429), try later (5xx, network) or give up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from telegram.error import NetworkError, RetryAfter
from telegram.warnings import PTBDeprecationWarning

from bot.senders import PermanentError, RateLimited, Sender, TransientError, senders_among
from bot.slack_adapter import SlackAdapter
from bot.telegram_adapter import TelegramAdapter
from handlers.reply import Button, Reply, bold
from tests.bot.conftest import TelegramChat
from tests.bot.slack_fixtures import (
    ALICE,
    CHANNEL,
    WORKSPACE,
    Failure,
    Slack,
    slack_fixture,  # noqa: F401  (the `slack` fixture)
)

WON = (
    Reply()
    .add(bold("Alice"), " won Website for €12,000")
    .button_row(Button("Open", "sh", ("d1",)))
)


def test_both_adapters_are_senders(telegram: TelegramChat, slack: Slack) -> None:
    adapters: list[TelegramAdapter | SlackAdapter] = [telegram.adapter, slack.adapter]
    assert senders_among(adapters) == adapters
    assert all(isinstance(adapter, Sender) for adapter in adapters)
    assert [a.platform for a in adapters] == ["telegram", "slack"]


async def test_telegram_sends_to_a_group(telegram: TelegramChat) -> None:
    await telegram.adapter.send("-100123", WON)
    (call,) = telegram.api.of("sendMessage")
    assert call.params["chat_id"] == -100123
    assert call.text == "<b>Alice</b> won Website for €12,000"
    assert "inline_keyboard" in str(call.params["reply_markup"])


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        ((403, "Forbidden: bot was blocked by the user"), PermanentError),
        ((400, "Bad Request: chat not found"), PermanentError),
    ],
)
async def test_telegram_refusals_are_permanent(
    telegram: TelegramChat, failure: tuple[int, str], error: type[Exception]
) -> None:
    telegram.api.fail("sendMessage", failure)
    with pytest.raises(error, match="Telegram refused"):
        await telegram.adapter.send("42", WON)


@pytest.mark.filterwarnings("error::telegram.warnings.PTBDeprecationWarning")
async def test_telegram_rate_limits_and_network_errors(telegram: TelegramChat) -> None:
    # The rate limiter tries 429s again itself (3 times) before giving the outbox the wait.
    wait = timedelta(milliseconds=10)
    telegram.api.fail("sendMessage", *(RetryAfter(wait) for _ in range(4)))
    with pytest.raises(RateLimited) as limited:
        await telegram.adapter.send("42", WON)
    assert limited.value.retry_after == pytest.approx(0.01)
    telegram.api.fail("sendMessage", *(NetworkError("connection reset") for _ in range(4)))
    with pytest.raises(TransientError):
        await telegram.adapter.send("42", WON)
    with pytest.raises(PermanentError, match="not a Telegram chat id"):
        await telegram.adapter.send("general", WON)


async def test_telegram_retry_after_in_seconds_where_the_environment_says_so(
    telegram: TelegramChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    wait = timedelta(milliseconds=10)
    telegram.api.fail("sendMessage", *(RetryAfter(wait) for _ in range(4)))
    # PTB_TIMEDELTA=false: python-telegram-bot 22's deprecated seconds, read all the same.
    monkeypatch.setenv("PTB_TIMEDELTA", "false")
    with pytest.raises(RateLimited) as limited, pytest.warns(PTBDeprecationWarning):
        await telegram.adapter.send("42", WON)
    assert limited.value.retry_after == pytest.approx(0.01)


async def test_slack_posts_to_channels_and_users(slack: Slack) -> None:
    await slack.adapter.send(CHANNEL, WON, workspace_id=WORKSPACE)
    await slack.adapter.send(ALICE, Reply().add("Call Jane <!channel>"))
    posts = slack.api.sent("chat.postMessage")
    assert [post.data["channel"] for post in posts] == [CHANNEL, ALICE]
    assert "won Website" in posts[0].text and "<!channel>" not in posts[1].text


async def test_slack_refusals(slack: Slack) -> None:
    slack.api.fail("chat.postMessage", Failure(200, {"ok": False, "error": "channel_not_found"}))
    with pytest.raises(PermanentError, match="channel_not_found"):
        await slack.adapter.send(CHANNEL, WON, workspace_id=WORKSPACE)
    for _ in range(4):  # the client tries 429s again 3 times first
        slack.api.fail(
            "chat.postMessage",
            Failure(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "0"}),
        )
    with pytest.raises(RateLimited):
        await slack.adapter.send(CHANNEL, WON)
    for _ in range(3):  # and 5xx 2 times
        slack.api.fail("chat.postMessage", Failure(503, {"ok": False, "error": "unavailable"}))
    with pytest.raises(TransientError, match="503"):
        await slack.adapter.send(CHANNEL, WON)
