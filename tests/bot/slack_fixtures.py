"""A Slack workspace for the Slack adapter tests, offline.

Requests are signed with Slack's real signing scheme and dispatched through the adapter's
real Bolt `AsyncApp`, shaped as Slack sends them (form-encoded slash commands and
interaction payloads, JSON events). The adapter's `AsyncWebClient` and the response URLs
point at `SlackApi`, a local aiohttp server that answers like the Web API and records
every call.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier

from bot.slack_adapter import SlackAdapter
from handlers.dispatcher import Dispatcher

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
WORKSPACE = "T0ACME"
BOT = "U0CRMBOT"
PEOPLE = {"U0ALICE": "Alice Meyer", "U0BOB": "Bob Schulz", "U0CARLA": "Carla Rossi"}
ALICE, BOB, CARLA = PEOPLE
CHANNEL = "C0SALES"
DM = "D0ALICE"


@dataclass
class Call:
    method: str  # a Web API method, or "response_url"
    data: dict[str, Any]
    token: str = ""  # the bot token it was made with

    @property
    def text(self) -> str:
        """Everything the blocks of this message or view show, one text per block."""
        blocks = self.data.get("blocks") or (self.data.get("view") or {}).get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        return "\n".join(block_text(block) for block in blocks)

    @property
    def buttons(self) -> dict[str, str]:
        """Button label -> value."""
        blocks = self.data.get("blocks") or []
        return {
            element["text"]["text"]: element["value"]
            for block in blocks
            if block["type"] == "actions"
            for element in block["elements"]
        }


def block_text(block: dict[str, Any]) -> str:
    if block["type"] == "section":
        return str(block["text"]["text"])
    if block["type"] == "header":
        return str(block["text"]["text"])
    if block["type"] == "context":
        return "\n".join(element["text"] for element in block["elements"])
    if block["type"] == "input":
        return str(block["label"]["text"])
    return ""


@dataclass
class Failure:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class SlackApi:
    """A local stand-in for Slack's Web API and response URLs that records every call."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        # Files people shared, by name (served at /files/NAME with the bot token), and
        # files the app uploaded, by id.
        self.files: dict[str, bytes] = {}
        self.uploads: dict[str, bytes] = {}
        self.failures: dict[str, list[Failure]] = {}
        # Hosted mode: the workspace of each bot token (auth.test answers with it; others
        # are Acme's), and what oauth.v2.access answers for each code.
        self.workspaces: dict[str, str] = {}
        self.grants: dict[str, dict[str, Any]] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{key}", self._respond)
        app.router.add_get("/files/{name}", self._file)
        app.router.add_post("/upload/{file_id}", self._upload)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def response_url(self, key: str = "r1") -> str:
        return f"{self.url}/respond/{key}"

    def fail(self, method: str, failure: Failure) -> None:
        """The next call of `method` gets `failure` instead of a normal answer."""
        self.failures.setdefault(method, []).append(failure)

    def sent(self, *methods: str) -> list[Call]:
        return [call for call in self.calls if not methods or call.method in methods]

    def answers(self) -> list[Call]:
        """What users saw: messages posted or sent through response URLs, views shown."""
        return self.sent("response_url", "chat.postMessage", "chat.postEphemeral", "views.publish")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        data: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            data.update(await request.json())
        else:
            data.update(await request.post())
        if self.failures.get(method):
            failure = self.failures[method].pop(0)
            return web.json_response(failure.body, status=failure.status, headers=failure.headers)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.calls.append(Call(method, data, token))
        if method == "oauth.v2.access":
            grant = self.grants.get(str(data.get("code")))
            return web.json_response(grant or {"ok": False, "error": "invalid_code"})
        answer = self._answer(method, data, self.url)
        if method == "auth.test" and token in self.workspaces:
            answer["team_id"] = self.workspaces[token]
        return web.json_response(answer)

    def file_url(self, name: str) -> str:
        return f"{self.url}/files/{name}"

    async def _file(self, request: web.Request) -> web.Response:
        self.calls.append(
            Call("download", {"authorization": request.headers.get("Authorization", "")})
        )
        return web.Response(body=self.files[request.match_info["name"]])

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file_id"]] = await request.read()
        return web.Response(text="OK")

    async def _respond(self, request: web.Request) -> web.Response:
        data = await request.json()
        data["key"] = request.match_info["key"]
        if self.failures.get("response_url"):
            failure = self.failures["response_url"].pop(0)
            return web.Response(status=failure.status, text="expired_url")
        self.calls.append(Call("response_url", data))
        return web.Response(text="ok")

    @staticmethod
    def _answer(method: str, data: dict[str, Any], url: str) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://acme.slack.com/",
                "team": "Acme",
                "user": "crmbot",
                "team_id": WORKSPACE,
                "user_id": BOT,
                "bot_id": "B0CRMBOT",
            }
        if method == "users.info":
            user = data["user"]
            name = PEOPLE.get(user, user)
            return {
                "ok": True,
                "user": {
                    "id": user,
                    "name": name.split()[0].lower(),
                    "profile": {"real_name": name},
                },
            }
        if method in ("views.open", "views.publish"):
            view = data["view"] if isinstance(data["view"], dict) else json.loads(data["view"])
            return {"ok": True, "view": {"id": "V0VIEW", **view}}
        if method == "chat.postMessage":
            # To a user id, Slack posts in the app's direct message with them (D...).
            channel = data["channel"]
            channel = f"D{channel[1:]}" if channel.startswith("U") else channel
            return {"ok": True, "channel": channel, "ts": "1700000000.000100"}
        if method == "chat.update":
            return {"ok": True, "channel": data["channel"], "ts": data["ts"]}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": "1700000000.000200"}
        if method == "files.getUploadURLExternal":
            file_id = f"F{data['filename']}"
            return {"ok": True, "upload_url": f"{url}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            return {"ok": True, "files": [{"id": f["id"]} for f in json.loads(data["files"])]}
        return {"ok": True}


def signed(
    body: str,
    *,
    content_type: str = "application/x-www-form-urlencoded",
    timestamp: int | None = None,
    secret: str = SECRET,
    headers: dict[str, str] | None = None,
) -> AsyncBoltRequest:
    """A request as Slack sends it: body, timestamp and the v0 HMAC signature of both."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return AsyncBoltRequest(
        body=body,
        headers={
            "content-type": content_type,
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": signature,
            **(headers or {}),
        },
    )


def signed_headers(body: str, *, secret: str = SECRET) -> dict[str, str]:
    """The headers of a form-encoded request from Slack over HTTP, signed."""
    stamp = str(int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }


@dataclass
class Slack:
    """People in the workspace doing things in Slack; each call returns once the app has
    acknowledged the request and every listener it started has finished."""

    adapter: SlackAdapter
    api: SlackApi
    workspace: str = WORKSPACE
    events: int = 0
    interactions: int = 0

    def trigger_id(self) -> str:
        """A new interaction's trigger id: Slack's is unique to each command, press and
        submission, so no two of their signed bodies are alike."""
        self.interactions += 1
        return f"1337.{self.interactions}.abcd"

    async def dispatch(self, request: AsyncBoltRequest) -> BoltResponse:
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        started: list[asyncio.Task[Any]] = []
        factory = loop.get_task_factory()

        def record(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
            task = asyncio.Task(coro, loop=loop, **kwargs)
            if asyncio.current_task() is me:  # not the local server's connection handlers
                started.append(task)
            return task

        # Bolt answers Slack first and runs the listener on in a task: wait for those tasks.
        loop.set_task_factory(record)
        try:
            response = await self.adapter.app.async_dispatch(request)
        finally:
            loop.set_task_factory(factory)
        await asyncio.gather(*started)
        return response

    async def command(
        self,
        text: str,
        *,
        user: str = ALICE,
        channel: str = CHANNEL,
        channel_name: str = "sales",
        response_url: str | None = None,
    ) -> BoltResponse:
        body = urlencode(
            {
                "token": "legacy-unused",
                "team_id": self.workspace,
                "team_domain": "acme",
                "channel_id": channel,
                "channel_name": channel_name,
                "user_id": user,
                "user_name": PEOPLE.get(user, user).split()[0].lower(),
                "command": "/crm",
                "text": text,
                "api_app_id": "A0CRM",
                "response_url": response_url or self.api.response_url(),
                "trigger_id": self.trigger_id(),
            }
        )
        return await self.dispatch(signed(body))

    async def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry: int | None = None
    ) -> BoltResponse:
        if event_id is None:
            self.events += 1
            event_id = f"Ev{self.events:08d}"
        body = json.dumps(
            {
                "token": "legacy-unused",
                "team_id": self.workspace,
                "api_app_id": "A0CRM",
                "event": event,
                "type": "event_callback",
                "event_id": event_id,
                "event_time": int(time.time()),
                "authorizations": [
                    {
                        "team_id": self.workspace,
                        "user_id": BOT,
                        "is_bot": True,
                        "enterprise_id": None,
                    }
                ],
            }
        )
        retry_headers = (
            {"x-slack-retry-num": str(retry), "x-slack-retry-reason": "http_timeout"}
            if retry
            else {}
        )
        return await self.dispatch(
            signed(body, content_type="application/json", headers=retry_headers)
        )

    async def dm(
        self,
        text: str,
        *,
        user: str = ALICE,
        event_id: str | None = None,
        retry: int | None = None,
        ts: str = "1700000000.000001",
    ) -> BoltResponse:
        """A direct message; `ts` is when it was sent (Slack's seconds.sequence)."""
        event = {
            "type": "message",
            "channel_type": "im",
            "channel": DM,
            "user": user,
            "text": text,
            "ts": ts,
            "team": self.workspace,
        }
        return await self.event(event, event_id=event_id, retry=retry)

    async def mention(self, text: str, *, user: str = ALICE) -> BoltResponse:
        event = {
            "type": "app_mention",
            "channel": CHANNEL,
            "user": user,
            "text": f"<@{BOT}> {text}",
            "ts": "1700000000.000002",
            "team": self.workspace,
        }
        return await self.event(event)

    async def open_home(self, *, user: str = ALICE) -> BoltResponse:
        event = {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}
        return await self.event(event)

    async def press(
        self,
        value: str,
        *,
        user: str = ALICE,
        channel: str = CHANNEL,
        ephemeral: bool = True,
        response_url: str | None = None,
    ) -> BoltResponse:
        payload = {
            "type": "block_actions",
            "user": {"id": user, "team_id": self.workspace},
            "api_app_id": "A0CRM",
            "team": {"id": self.workspace, "domain": "acme"},
            "container": {"type": "message", "channel_id": channel, "is_ephemeral": ephemeral},
            "channel": {"id": channel, "name": "sales"},
            "trigger_id": self.trigger_id(),
            "response_url": response_url or self.api.response_url("press"),
            "actions": [
                {
                    "type": "button",
                    "action_id": f"crm:{value}",
                    "block_id": "b1",
                    "value": value,
                    "action_ts": "1700000000.1",
                }
            ],
        }
        return await self.dispatch(signed(urlencode({"payload": json.dumps(payload)})))

    async def submit(
        self, view: dict[str, Any], values: dict[str, str], *, user: str = ALICE
    ) -> BoltResponse:
        """Submit the form `view` (as opened by the app) filled with `values`."""
        state = {
            key: {key: {"type": "plain_text_input", "value": values.get(key) or None}}
            for key in (block["block_id"] for block in view["blocks"])
        }
        payload = {
            "type": "view_submission",
            "team": {"id": self.workspace, "domain": "acme"},
            "user": {"id": user, "team_id": self.workspace},
            "api_app_id": "A0CRM",
            "trigger_id": self.trigger_id(),
            "view": {
                **view,
                "id": "V0FORM",
                "team_id": self.workspace,
                "state": {"values": state},
            },
        }
        return await self.dispatch(signed(urlencode({"payload": json.dumps(payload)})))


@pytest.fixture(name="slack")
async def slack_fixture(dispatcher: Dispatcher) -> AsyncIterator[Slack]:
    """The workspace, its app and the local Web API (import this into a test module)."""
    api = SlackApi()
    await api.start()
    adapter = SlackAdapter(
        dispatcher, token="xoxb-test-token", signing_secret=SECRET, api_url=f"{api.url}/api/"
    )
    yield Slack(adapter, api)
    await adapter.stop()
    await api.stop()
