"""No token, key or secret in the log, at DEBUG, whichever library writes the line."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote, quote_plus

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from bench.botapi import BotApi, message_update
from bot.cli import configure_logging
from bot.config import Settings
from bot.geocoding import make_geocoder
from bot.logs import Redaction
from tests.bot.slack_fixtures import SECRET as SLACK_SECRET
from tests.bot.slack_fixtures import SlackApi
from tests.bot.test_serve import (
    ALICE,
    HOOK_SECRET,
    TOKEN,
    botapi,  # noqa: F401 - a fixture
    post_update,
    running,
    slack_request,
)

# A key with the characters a URL writes otherwise.
GEOCODER_KEY = "k3y/with+plus&and=equals"
SLACK_TOKEN = "xoxb-test-token-0123456789"


def _written(secret: str) -> list[str]:
    return [secret, quote(secret), quote(secret, safe=""), quote_plus(secret)]


def _leaks(text: str, *secrets: str) -> list[str]:
    return [form for secret in secrets for form in _written(secret) if form in text]


def _geocoding_settings(**extra: object) -> Settings:
    return Settings(
        _env_file=None,
        geocoder="opencage",
        geocoder_api_key=SecretStr(GEOCODER_KEY),
        geocoder_domain="127.0.0.1:9",  # nothing listens: refused at once
        geocoder_timeout=1,
        **extra,  # type: ignore[arg-type]
    )


def test_the_geocoders_key_stays_out_of_its_debug_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    log = tmp_path / "crmbot.log"
    settings = _geocoding_settings()
    configure_logging(settings, log_file=log)
    geocoder = make_geocoder(settings)
    try:
        geocoder.geocode("Berlin")
    except Exception:  # unreachable on purpose: the URL logged is what matters
        logging.getLogger("tests").exception("the geocoder failed")
    written = log.read_text()
    assert "[geocoder key]" in written  # geopy did log its URL, redacted
    assert _leaks(written, GEOCODER_KEY) == []


def test_a_secret_in_a_logged_traceback_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    redaction = Redaction({GEOCODER_KEY: "[geocoder key]"})
    caplog.handler.addFilter(redaction)
    try:
        raise RuntimeError(f"GET https://example.test/?key={quote_plus(GEOCODER_KEY)}")
    except RuntimeError:
        logging.getLogger("tests").exception("failed")
    finally:
        caplog.handler.removeFilter(redaction)
    assert _leaks(caplog.text, GEOCODER_KEY) == []
    assert "?key=[geocoder key]" in caplog.text


async def test_a_day_of_serving_at_debug_logs_no_secret(
    engine: Engine,
    botapi: BotApi,  # noqa: F811 - the fixture imported above
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    slack = SlackApi()
    await slack.start()
    settings = _geocoding_settings(
        telegram_bot_token=SecretStr(TOKEN),
        telegram_api_base_url=botapi.base_url("a"),
        telegram_webhook_url="https://crm.example.test/telegram/webhook",
        telegram_webhook_secret=SecretStr(HOOK_SECRET),
        slack_bot_token=SecretStr(SLACK_TOKEN),
        slack_signing_secret=SecretStr(SLACK_SECRET),
        slack_api_url=f"{slack.url}/api/",
    )
    try:
        async with running(settings, engine) as serving:
            for i, text in enumerate(
                ["/start Acme", "/add Jane Doe city:Berlin", "/nearby 5km Paris", "/help"], 1
            ):
                await post_update(serving, message_update(i, ALICE, text, first_name="Alice"))
            await post_update(serving, message_update(9, ALICE, "/help"), secret="wrong-one")
            url = f"{serving.server.url}/slack/events"
            body, headers = slack_request("find Jane", slack.response_url())
            async with aiohttp.ClientSession() as session:
                await session.post(url, data=body, headers=headers)
                forged = {**headers, "X-Slack-Signature": "v0=" + "0" * 64}
                await session.post(url, data=body, headers=forged)
    finally:
        await slack.stop()
    text = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert "[bot token]" in text  # python-telegram-bot did log its URL, redacted
    assert _leaks(text, TOKEN, HOOK_SECRET, SLACK_TOKEN, SLACK_SECRET, GEOCODER_KEY) == []
