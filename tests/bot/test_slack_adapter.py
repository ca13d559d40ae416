"""The Slack adapter's runtime: HTTP mode on a real port, settings, and where answers go
when the usual way back is closed."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import aiohttp
import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.slack_adapter import SlackAdapter
from bot.slack_listeners import Origin
from handlers.dispatcher import Dispatcher
from handlers.reply import Reply
from tests.bot.slack_fixtures import (
    ALICE,
    BOB,
    CARLA,
    CHANNEL,
    PEOPLE,
    SECRET,
    WORKSPACE,
    Failure,
    Slack,
    SlackApi,
    signed_headers,
    slack_fixture,  # noqa: F401  (the `slack` fixture)
)
from tests.conftest import Clock


async def test_http_mode_serves_slack_events(dispatcher: Dispatcher) -> None:
    api = SlackApi()
    await api.start()
    adapter = SlackAdapter(
        dispatcher,
        token="xoxb-test-token",
        signing_secret=SECRET,
        api_url=f"{api.url}/api/",
        host="127.0.0.1",
        port=0,
    )
    await adapter.start()
    try:
        host, port = adapter.addresses[0][:2]
        url = f"http://{host}:{port}/slack/events"
        body = urlencode(
            {
                "command": "/crm",
                "text": "start Acme Sales",
                "user_id": ALICE,
                "team_id": WORKSPACE,
                "channel_id": CHANNEL,
                "channel_name": "sales",
                "response_url": api.response_url(),
                "trigger_id": "1.2.3",
            }
        )
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=body, headers=signed_headers(body)) as response:
                assert response.status == 200
            forged = signed_headers(body, secret="wrong")
            async with session.post(url, data=body, headers=forged) as response:
                assert response.status == 401
            challenge = json.dumps({"type": "url_verification", "challenge": "c-123"})
            signed_challenge = {**signed_headers(challenge), "Content-Type": "application/json"}
            async with session.post(url, data=challenge, headers=signed_challenge) as response:
                assert response.status == 200
                assert await response.text() == '{"challenge": "c-123"}'
    finally:
        await adapter.stop()  # waits for the answer being worked on
        await api.stop()
    answers = api.answers()
    assert len(answers) == 1
    assert "You created the team *Acme Sales*" in answers[0].text


def test_http_mode_needs_the_signing_secret(dispatcher: Dispatcher) -> None:
    with pytest.raises(ValueError, match="SLACK_SIGNING_SECRET"):
        SlackAdapter(dispatcher, token="xoxb-test-token")
    # Socket Mode does not: requests come over the app's own connection.
    SlackAdapter(dispatcher, token="xoxb-test-token", app_token="xapp-test-token")


def test_settings(dispatcher: Dispatcher) -> None:
    settings = Settings(
        _env_file=None,
        slack_bot_token=SecretStr("xoxb-test-token"),
        slack_signing_secret=SecretStr(SECRET),
        slack_api_url="https://slack-gov.com/api/",
    )
    adapter = SlackAdapter.from_settings(settings, dispatcher, port=3100)
    assert adapter.client.base_url == "https://slack-gov.com/api/"
    assert adapter.client.token == "xoxb-test-token"
    assert adapter.app_token is None and adapter.port == 3100
    assert {type(handler).__name__ for handler in adapter.client.retry_handlers} == {
        "AsyncRateLimitErrorRetryHandler",
        "AsyncConnectionErrorRetryHandler",
        "AsyncServerErrorRetryHandler",
    }


async def test_an_expired_response_url_falls_back_to_the_web_api(slack: Slack) -> None:
    slack.api.fail("response_url", Failure(404, {}))
    origin = Origin(user_id=ALICE, channel_id=CHANNEL, response_url=slack.api.response_url())
    await slack.adapter.answer(origin, Reply().add("Added ", "Jane"))
    answer = slack.api.answers()[-1]
    assert answer.method == "chat.postEphemeral"
    assert answer.data["user"] == ALICE and answer.data["channel"] == CHANNEL
    assert answer.text == "Added Jane"


async def test_without_a_conversation_the_answer_goes_to_the_users_dm(slack: Slack) -> None:
    # A button in the Home tab: no channel, no response URL.
    await slack.adapter.answer(Origin(user_id=ALICE), Reply().add("The deal card"))
    answer = slack.api.answers()[-1]
    assert answer.method == "chat.postMessage" and answer.data["channel"] == ALICE


async def test_a_name_slack_cannot_tell_is_the_user_id(slack: Slack) -> None:
    slack.api.fail("users.info", Failure(200, {"ok": False, "error": "missing_scope"}))
    assert await slack.adapter.display_name("U0NEW") == "U0NEW"
    assert await slack.adapter.display_name(ALICE) == "Alice Meyer"
    await slack.adapter.display_name(ALICE)
    assert len(slack.api.sent("users.info")) == 1  # remembered


async def test_a_renamed_person_is_asked_for_again_after_an_hour(
    slack: Slack, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await slack.adapter.display_name(ALICE) == "Alice Meyer"
    monkeypatch.setitem(PEOPLE, ALICE, "Alice Schmidt")
    clock.advance(minutes=59)
    assert await slack.adapter.display_name(ALICE) == "Alice Meyer"
    clock.advance(minutes=2)
    assert await slack.adapter.display_name(ALICE) == "Alice Schmidt"
    # Slack failing later keeps the name it gave last, not the bare user id.
    clock.advance(hours=2)
    slack.api.fail("users.info", Failure(200, {"ok": False, "error": "ratelimited"}))
    assert await slack.adapter.display_name(ALICE) == "Alice Schmidt"
    assert not slack.api.failures["users.info"]  # it did ask


async def test_the_name_cache_forgets_the_longest_unused_first(
    slack: Slack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.slack_adapter.NAMES_KEPT", 2)
    for user in (ALICE, BOB, ALICE, CARLA):  # Bob is the one unused longest
        await slack.adapter.display_name(user)
    await slack.adapter.display_name(ALICE)
    await slack.adapter.display_name(BOB)
    asked = [call.data["user"] for call in slack.api.sent("users.info")]
    assert asked == [ALICE, BOB, CARLA, BOB]
