"""Slack's HTTP endpoint under attack: unreadable headers, signed garbage, huge bodies,
bad signatures and replays. Served as `crmbot run` serves it (the adapter's own server)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp
import pytest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine

from bot.slack_adapter import SlackAdapter
from bot.slack_http import MAX_BODY
from handlers.dispatcher import Dispatcher
from storage.models import Contact, StageChange
from tests.bot.slack_fixtures import ALICE, CHANNEL, SECRET, WORKSPACE, SlackApi
from tests.hostile.conftest import count


@dataclass
class Endpoint:
    url: str
    api: SlackApi
    adapter: SlackAdapter

    async def post(self, body: bytes | str, headers: dict[str, str]) -> tuple[int, str]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.url, data=body, headers=headers) as response,
        ):
            return response.status, await response.text()

    async def post_answered(self, body: str) -> None:
        """Post a signed request and wait for its answer (the listener runs after the ack)."""
        before = len(self.api.answers())
        assert (await self.post(body, headers_for(body)))[0] == 200
        for _ in range(500):
            if len(self.api.answers()) > before:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"no answer to {body[:80]}")

    async def settle(self) -> None:
        """Wait for the listeners still at work (their answers go out after the ack)."""
        await self.adapter.stop()


def headers_for(body: bytes | str, *, stamp: str | None = None) -> dict[str, str]:
    """Signed as Slack signs (Slack's SDK decodes the body first: bytes by hand)."""
    stamp = stamp or str(int(time.time()))
    raw = body if isinstance(body, bytes) else body.encode()
    mac = hmac.new(SECRET.encode(), f"v0:{stamp}:".encode() + raw, hashlib.sha256)
    signature = "v0=" + mac.hexdigest()
    if isinstance(body, str):
        assert signature == SignatureVerifier(SECRET).generate_signature(
            timestamp=stamp, body=body
        )
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }


def command(text: str, trigger: str = "1.2.3") -> str:
    return urlencode(
        {
            "command": "/crm",
            "text": text,
            "user_id": ALICE,
            "team_id": WORKSPACE,
            "channel_id": CHANNEL,
            "channel_name": "sales",
            "response_url": "",
            "trigger_id": trigger,
        }
    )


@pytest.fixture
async def endpoint(dispatcher: Dispatcher) -> AsyncIterator[Endpoint]:
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
    host, port = adapter.addresses[0][:2]
    yield Endpoint(f"http://{host}:{port}/slack/events", api, adapter)
    await adapter.stop()
    await api.stop()


def _no_errors(caplog: pytest.LogCaptureFixture) -> None:
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert not any(r.exc_info for r in caplog.records)


@pytest.mark.parametrize(
    "stamp", ["yesterday", "", "1e9", "١٢٣٤٥٦٧٨٩٠", "9" * 40, "-1", "ten minutes ago"]
)
async def test_an_unreadable_or_stale_timestamp_is_refused_calmly(
    endpoint: Endpoint, caplog: pytest.LogCaptureFixture, stamp: str
) -> None:
    # Made here, not in the ids: test ids must not change with the time they are collected
    # at (pytest-xdist's workers each collect, and compare what they found).
    if stamp == "ten minutes ago":
        stamp = str(int(time.time()) - 600)
    caplog.set_level(logging.DEBUG)
    body = command("add Jane Doe")
    headers = {**headers_for(body), "X-Slack-Request-Timestamp": stamp}
    assert (await endpoint.post(body, headers))[0] == 401
    _no_errors(caplog)


async def test_a_request_without_signature_is_refused(endpoint: Endpoint) -> None:
    body = command("add Jane Doe")
    assert (await endpoint.post(body, {}))[0] == 401
    headers = headers_for(body)
    del headers["X-Slack-Signature"]
    assert (await endpoint.post(body, headers))[0] == 401
    headers = {**headers_for(body), "X-Slack-Signature": "v0=é" + "0" * 63}
    assert (await endpoint.post(body, headers))[0] == 401


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe\xfd",
        b"payload=not-json",
        b"payload=%7B",
        "payload=" + json.dumps([1, 2]),
        "payload=" + json.dumps({"type": "block_actions"}),
        "payload=" + json.dumps({"type": "view_submission", "view": "x"}),
        "command=/crm",
        "command=/crm&user_id=U1&user_id=U2",
        "payload=" + json.dumps({"type": "block_actions", "user": {"id": 1}, "actions": []}),
        "payload=" + json.dumps({"type": "block_actions", "user": {"id": "U"}, "actions": [1]}),
        json.dumps({"type": "event_callback", "event": "x"}),
        "",
    ],
)
async def test_a_signed_body_that_cannot_be_read_gets_400_not_500(
    endpoint: Endpoint, caplog: pytest.LogCaptureFixture, body: bytes | str
) -> None:
    status, _ = await endpoint.post(body, headers_for(body))
    await endpoint.settle()
    assert status in (200, 400, 404), status  # never a 500
    _no_errors(caplog)


async def test_an_oversize_body_is_refused_unread(
    endpoint: Endpoint, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = "text=" + "A" * (MAX_BODY + 1)
    assert (await endpoint.post(body, headers_for(body)))[0] == 413
    assert all(len(r.getMessage()) < 1000 for r in caplog.records)


async def test_a_bad_signature_is_logged_in_one_short_line_without_the_body(
    endpoint: Endpoint, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = command("add " + "Secret Person " * 5000)
    headers = {**headers_for(body), "X-Slack-Signature": "v0=" + "0" * 64}
    assert (await endpoint.post(body, headers))[0] == 401
    assert not any("Secret Person" in r.getMessage() for r in caplog.records)
    assert all(len(r.getMessage()) < 1000 for r in caplog.records)


async def test_a_replayed_slash_command_runs_once(endpoint: Endpoint, engine: Engine) -> None:
    body = command("add Jane Doe")
    headers = headers_for(body)
    assert (await endpoint.post(body, headers))[0] == 200
    assert (await endpoint.post(body, headers))[0] == 200  # captured and sent again
    # The same words typed again are a new command (Slack gives it a new trigger id).
    again = command("add Jane Doe", trigger="1.2.4")
    assert (await endpoint.post(again, headers_for(again)))[0] == 200
    await endpoint.settle()
    assert count(engine, Contact) == 1  # the second /add warned about the duplicate
    texts = [call.data.get("text", "") for call in endpoint.api.sent("chat.postEphemeral")]
    assert len(texts) == 2, texts


async def test_a_replayed_button_press_runs_once(endpoint: Endpoint, engine: Engine) -> None:
    """A stage button captured and sent again after the deal moved on moves it nowhere."""
    await endpoint.post_answered(command("deal Website 12k"))
    press = urlencode(
        {
            "payload": json.dumps(
                {
                    "type": "block_actions",
                    "user": {"id": ALICE, "team_id": WORKSPACE},
                    "team": {"id": WORKSPACE},
                    "channel": {"id": CHANNEL},
                    "container": {"is_ephemeral": True},
                    "trigger_id": "1.3.1",
                    "actions": [{"action_id": "crm:st:1:2", "value": "st:1:2", "action_ts": "1"}],
                }
            )
        }
    )
    headers = headers_for(press)
    before = len(endpoint.api.answers())
    assert (await endpoint.post(press, headers))[0] == 200  # to Qualified
    while len(endpoint.api.answers()) == before:
        await asyncio.sleep(0.01)
    await endpoint.post_answered(command("stage d1 lead", trigger="1.2.9"))
    assert (await endpoint.post(press, headers))[0] == 200  # replayed
    await endpoint.settle()
    assert count(engine, StageChange) == 3  # opened, to Qualified, back to Lead
