"""The Slack adapter: a Bolt `AsyncApp` on the bot's event loop.

Socket Mode when an app-level token is configured, otherwise HTTP mode serving
`POST /slack/events` (request signatures checked by Bolt with the signing secret): on a
server of its own (`crmbot run`), or as a route of `crmbot serve`'s (`register`). The
listeners (bot/slack_listeners.py) turn Slack payloads into `Request`s; this module holds
what they share: the dispatcher, the Web API client (retrying rate-limited, failed and
dropped calls), display names, and delivering a `Reply` back to where the request came
from.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import slack_listeners
from bot.config import Settings
from bot.senders import DeliveryError, PermanentError, RateLimited, TransientError
from bot.slack_http import Refusal, bolt_request, read_body, verified
from bot.slack_listeners import Origin
from bot.slack_oauth import INSTALL_PATH, REDIRECT_PATH, HostedSlack
from bot.slack_render import Message, messages, slash_commands
from bot.throttle import Throttle
from bot.web import Server, request_work
from handlers.dispatcher import Dispatcher
from handlers.reply import Attachment, Reply, bold, code
from storage.models import Platform

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
STOP_GRACE_SECONDS = 10.0
# People rename themselves: a name is asked for again after an hour. The cache is bounded,
# since a hosted app sees every workspace's people.
NAME_KEPT_FOR = timedelta(hours=1)
NAMES_KEPT = 10_000
# Hosted mode: the client with the token of the workspace being served (set for each
# request from Slack and each send), so that an answer never goes out with another
# workspace's token.
_workspace_client: ContextVar[AsyncWebClient | None] = ContextVar(
    "slack_workspace_client", default=None
)


def retry_handlers() -> list[AsyncRetryHandler]:
    """429s wait for Retry-After; dropped connections and 500/503 are tried again."""
    return [
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        AsyncServerErrorRetryHandler(max_retry_count=2),
    ]


def delivery_error(error: SlackApiError, workspace_id: str = "") -> DeliveryError:
    """Slack's answer as the outbox understands it: wait, try later, or give up."""
    response = error.response
    if response.status_code == 429:
        return RateLimited(float(response.headers.get("Retry-After", 1)))
    if response.status_code >= 500:
        return TransientError(f"Slack answered {response.status_code}")
    code = response.get("error", "refused") if isinstance(response.data, dict) else "refused"
    where = f" in workspace {workspace_id}" if workspace_id else ""
    return PermanentError(f"Slack refused{where}: {code}")


class SlackAdapter:
    name = "slack"
    platform = Platform.slack

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        token: str | None = None,
        hosted: HostedSlack | None = None,
        signing_secret: str = "",
        app_token: str | None = None,
        api_url: str | None = None,
        host: str = "0.0.0.0",
        port: int | None = 3000,
        clock: Callable[[], datetime] | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        """`port` None: no server of its own, `register` adds the route to another (and
        the app token is not used). `clock` (by default the dispatcher's) stamps what Slack
        sends without a time of its own, a slash command or a form, with when it arrived.
        `throttle`: send slots for chat.postMessage, one a second per channel (shared by
        several processes). `hosted` instead of `token`: any workspace installs the app, and
        each is answered with its own token (bot/slack_oauth.py)."""
        if (token is None) == (hosted is None):
            raise ValueError("Slack needs a bot token or hosted mode's settings (one of them).")
        if not app_token and not signing_secret:
            raise ValueError(
                "Slack HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN for "
                "Socket Mode)."
            )
        self.dispatcher = dispatcher
        self.signing_secret = signing_secret
        self.clock = clock or dispatcher.clock
        self.hosted = hosted
        self._client = AsyncWebClient(
            token=token,
            base_url=api_url or AsyncWebClient.BASE_URL,
            retry_handlers=retry_handlers(),
        )
        if hosted is None:
            self.app = AsyncApp(client=self._client, signing_secret=signing_secret, name="crmbot")
        else:
            hosted.on_success(self._welcome)
            self.app = AsyncApp(
                client=self._client,
                signing_secret=signing_secret,
                name="crmbot",
                oauth_settings=hosted.settings,
                # Each workspace's token from the store; its auth.test answer is cached, so
                # a request costs one indexed lookup, not a call to Slack.
                authorize=AsyncInstallationStoreAuthorize(  # type: ignore[arg-type]
                    logger=log,
                    installation_store=hosted.store,
                    client_id=hosted.settings.client_id,
                    client_secret=hosted.settings.client_secret,
                    bot_only=True,
                    cache_enabled=True,
                    client=self._client,
                ),
                installation_store_bot_only=True,
            )
            # app_uninstalled and tokens_revoked delete the workspace's token.
            self.app.enable_token_revocation_listeners()
        self.app.middleware(self._attach)
        slack_listeners.register(self.app)
        self.app_token = app_token
        self.host, self.port = host, port
        self.throttle = throttle
        self._names: OrderedDict[str, tuple[str, datetime]] = OrderedDict()
        self._busy: set[asyncio.Task[Any]] = set()
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        dispatcher: Dispatcher,
        *,
        port: int | None = 3000,
        throttle: Throttle | None = None,
    ) -> SlackAdapter:
        secret, app_token = settings.slack_signing_secret, settings.slack_app_token
        token = settings.slack_bot_token
        hosted = (
            HostedSlack.from_settings(settings, dispatcher.engine, dispatcher.clock)
            if settings.slack_client_id
            else None
        )
        return cls(
            dispatcher,
            token=token.get_secret_value() if token and hosted is None else None,
            hosted=hosted,
            signing_secret=secret.get_secret_value() if secret else "",
            app_token=app_token.get_secret_value() if app_token and port is not None else None,
            api_url=settings.slack_api_url,
            port=port,
            throttle=throttle,
        )

    @property
    def client(self) -> AsyncWebClient:
        """The Web API client for the workspace at hand (hosted mode), else the one token's."""
        return _workspace_client.get() or self._client

    def register(self, server: Server) -> None:
        """Serve Slack's requests at `POST /slack/events` on `server` (and, in hosted mode,
        the install pages)."""
        self._routes(server.app.router)

    def _routes(self, router: web.UrlDispatcher) -> None:
        router.add_post(EVENTS_PATH, self.handle_http)
        if self.hosted is not None:
            router.add_get(INSTALL_PATH, self.handle_install)
            router.add_get(REDIRECT_PATH, self.handle_install)

    async def handle_install(self, request: web.Request) -> web.Response:
        """`GET /slack/install` (the "Add to Slack" page, with a fresh state) and
        `GET /slack/oauth_redirect` (Slack sends the installer back with a code), run by
        Bolt's OAuth flow."""
        flow = self.app.oauth_flow
        assert flow is not None
        bolt = AsyncBoltRequest(
            body="",
            query=request.query_string,
            headers=request.headers,  # type: ignore[arg-type]
        )
        if request.path == INSTALL_PATH:
            response = await flow.handle_installation(bolt)
        else:
            response = await flow.handle_callback(bolt)
        return await to_aiohttp_response(response)

    async def _welcome(self, installation: Installation) -> None:
        """Tell whoever installed the app how their workspace gets its team."""
        if not installation.bot_token or not installation.user_id:
            return
        reply = (
            Reply()
            .add("crmbot is installed in ", bold(installation.team_name or "your workspace"), ".")
            .item(
                "A new team for this workspace: send ",
                code("/start Team name"),
                "; you are its admin, and your colleagues join it when they first write to me.",
            )
            .item(
                "Your team uses crmbot already: send ",
                code("/join CODE"),
                " with an invite code from its admin (/invite), and this workspace joins it.",
            )
        )
        client = self._workspace(installation.bot_token)
        for message in messages(self.slack_way(reply)):
            await client.chat_postMessage(
                channel=installation.user_id, text=message.text, blocks=message.blocks
            )

    def _workspace(self, token: str) -> AsyncWebClient:
        return AsyncWebClient(
            token=token, base_url=self._client.base_url, retry_handlers=retry_handlers()
        )

    async def handle_http(self, request: web.Request) -> web.Response:
        """One request from Slack: Bolt checks its signature, acknowledges it and runs the
        listener on in a task of its own."""
        try:
            body = verified(
                await read_body(request),
                request.headers,
                secret=self.signing_secret,
                now=time.time(),  # the clock Slack signs with, as Bolt checks it
            )
            bolt = bolt_request(body, request)
        except Refusal as refusal:
            return refusal.response()
        response = await self.app.async_dispatch(bolt)
        return await to_aiohttp_response(response)

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        if self.app_token:
            self._socket = AsyncSocketModeHandler(self.app, self.app_token)
            await self._socket.connect_async()
            log.info("Slack: connected in Socket Mode")
            return
        if self.port is None:
            return  # `register`ed on another server
        app = web.Application()
        self._routes(app.router)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        log.info("Slack: HTTP mode, listening on %s:%s%s", self.host, self.port, EVENTS_PATH)

    @property
    def addresses(self) -> list[Any]:
        """Where the HTTP server listens (port 0 picks a free one)."""
        return self._runner.addresses if self._runner else []

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._busy:
            # Let answers already being worked on reach their users.
            await asyncio.wait(set(self._busy), timeout=STOP_GRACE_SECONDS)

    async def _attach(
        self, context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
    ) -> None:
        """Middleware: the listeners find this adapter in their context, and (hosted mode)
        answer with the client Bolt authorized for the request's workspace."""
        context["crm"] = self
        if self.hosted is None:
            await next()
            return
        workspace = _workspace_client.set(context.client)
        try:
            await next()
        finally:
            _workspace_client.reset(workspace)

    @asynccontextmanager
    async def working(self, origin: Origin) -> AsyncIterator[None]:
        """Track a listener's work (stop() waits for it) and turn an unexpected failure into
        a logged error and an apology only the user sees."""
        task = asyncio.current_task()
        if task is not None:
            self._busy.add(task)
        try:
            with request_work():
                yield
        except Exception:
            error_id = secrets.token_hex(4)
            log.exception("Slack: unexpected error %s", error_id)
            apology = Reply(error=True).add(
                f"Sorry, something went wrong on my side (error {error_id}). "
                "Please check with /show before trying a change again."
            )
            try:
                await self.answer(origin, apology)
            except Exception:
                log.exception("Slack: could not send the apology for error %s", error_id)
        finally:
            if task is not None:
                self._busy.discard(task)

    # --- people ------------------------------------------------------------------------

    async def display_name(self, user_id: str, fallback: str = "") -> str:
        """The person's name as Slack shows it (cached for an hour; users:read)."""
        now = self.clock()
        cached = self._names.get(user_id)
        if cached is not None and now - cached[1] < NAME_KEPT_FOR:
            self._names.move_to_end(user_id)
            return cached[0]
        try:
            found = await self.client.users_info(user=user_id)
        except SlackApiError as error:
            log.warning(
                "Slack: users.info failed for %s: %s", user_id, error.response.get("error")
            )
            return cached[0] if cached is not None else fallback or user_id
        user = found.get("user") or {}
        profile = user.get("profile") or {}
        name = (
            profile.get("real_name")
            or user.get("real_name")
            or profile.get("display_name")
            or user.get("name")
            or fallback
            or user_id
        )
        self._names[user_id] = (name, now)
        self._names.move_to_end(user_id)
        while len(self._names) > NAMES_KEPT:
            self._names.popitem(last=False)
        return name

    # --- answering ---------------------------------------------------------------------

    async def answer(self, origin: Origin, reply: Reply | None, *, public: bool = False) -> None:
        """Deliver `reply` where the request came from: in a direct message as a message,
        in a channel only to the sender unless `public` (errors are never public);
        `reply.edit` replaces the message the pressed button was on."""
        if reply is None:  # a redelivered event that was already answered
            return
        visible = origin.direct or (public and not reply.error)
        for number, message in enumerate(messages(self.slack_way(reply))):
            await self._deliver(
                origin, message, visible=visible, replace=reply.edit and not number
            )
        for attachment in reply.attachments:
            # A file answering only the sender (an export asked for in a channel) goes to
            # their DM with the app: a channel would show it to everyone.
            await self.upload(
                attachment,
                channel=(origin.channel_id if visible else "") or origin.user_id,
                thread_ts=origin.thread_ts if visible else None,
            )

    async def upload(self, attachment: Attachment, *, channel: str, thread_ts: str | None) -> None:
        """Slack's three steps of a file upload, as files_upload_v2 takes them, but with the
        file sent from its stream a chunk at a time (files_upload_v2 reads it into memory
        whole: hundreds of megabytes for a large team's export)."""
        where = await self.client.files_getUploadURLExternal(
            filename=attachment.filename, length=attachment.size
        )
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as http,
            http.post(str(where["upload_url"]), data=attachment.opened()) as response,
        ):
            if response.status != 200:
                raise SlackApiError(
                    f"Slack refused the upload of {attachment.filename} ({response.status})",
                    {"ok": False, "error": f"upload status {response.status}"},
                )
        await self.client.files_completeUploadExternal(
            files=[{"id": where["file_id"], "title": attachment.caption or attachment.filename}],
            channel_id=channel,
            thread_ts=thread_ts,
        )

    async def download(self, url: str, *, limit: int) -> bytes | None:
        """A file people shared (its url_private), with the bot token; None when it is
        larger than `limit` bytes."""
        headers = {"Authorization": f"Bearer {self.client.token}"}
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http,
            http.get(url, headers=headers) as response,
        ):
            response.raise_for_status()
            content = bytearray()
            async for chunk in response.content.iter_chunked(1 << 16):
                content += chunk
                if len(content) > limit:
                    return None
        return bytes(content)

    async def send(self, chat_id: str, reply: Reply, *, workspace_id: str = "") -> str | None:
        """The outbox's way out (bot/senders.py): post to a channel (`C...`), or to a user
        id (`U...`), which Slack delivers as the app's direct message. With one bot token
        `workspace_id` only names the workspace in errors; in hosted mode its own token
        sends. Returns `CHANNEL:TS` of the last message, as chat.update needs them."""
        ref = None
        async with self._outbound(workspace_id):
            for message in messages(self.slack_way(reply)):
                posted = await self._post(
                    channel=chat_id, text=message.text, blocks=message.blocks
                )
                ref = f"{posted['channel']}:{posted['ts']}"
        return ref

    async def edit(self, chat_id: str, ref: str, reply: Reply, *, workspace_id: str = "") -> None:
        """chat.update of a message `send` posted (its buttons go with its old text)."""
        channel, _, ts = ref.partition(":")
        message = messages(self.slack_way(reply))[0]
        async with self._outbound(workspace_id):
            await self.client.chat_update(
                channel=channel, ts=ts, text=message.text, blocks=message.blocks
            )

    @asynccontextmanager
    async def _outbound(self, workspace_id: str) -> AsyncIterator[None]:
        """In hosted mode the workspace's own token; Slack's refusals as the outbox's."""
        workspace = None
        if self.hosted is not None:
            bot = await self.hosted.store.async_find_bot(enterprise_id=None, team_id=workspace_id)
            if bot is None:
                raise PermanentError(f"crmbot is not installed in Slack workspace {workspace_id}")
            workspace = _workspace_client.set(self._workspace(bot.bot_token))
        try:
            yield
        except SlackApiError as error:
            raise delivery_error(error, workspace_id) from error
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TransientError(f"Slack unreachable: {error}") from error
        finally:
            if workspace is not None:
                _workspace_client.reset(workspace)

    def slack_way(self, reply: Reply) -> Reply:
        """Commands in the reply written as Slack users type them (`/crm add`)."""
        return slash_commands(reply, self.dispatcher.registry.names(), slack_listeners.COMMAND)

    async def _deliver(
        self, origin: Origin, message: Message, *, visible: bool, replace: bool
    ) -> None:
        if origin.response_url:
            webhook = AsyncWebhookClient(origin.response_url, retry_handlers=retry_handlers())
            response = await webhook.send(
                text=message.text,
                blocks=message.blocks,
                response_type="in_channel" if visible else "ephemeral",
                replace_original=replace,
            )
            if response.status_code == 200:
                return
            # Expired (after 30 minutes or 5 uses): fall back to the Web API.
            log.warning("Slack: response_url answered %s; posting instead", response.status_code)
        if not origin.channel_id:
            # No conversation (a button in the Home tab): the user's DM with the app.
            await self._post(channel=origin.user_id, text=message.text, blocks=message.blocks)
        elif visible:
            await self._post(
                channel=origin.channel_id,
                text=message.text,
                blocks=message.blocks,
                thread_ts=origin.thread_ts,
            )
        else:
            await self.client.chat_postEphemeral(
                channel=origin.channel_id,
                user=origin.user_id,
                text=message.text,
                blocks=message.blocks,
                thread_ts=origin.thread_ts,
            )

    async def _post(self, *, channel: str, **message: Any) -> AsyncSlackResponse:
        """chat.postMessage, one a second per channel when a throttle is set."""
        if self.throttle is not None:
            await self.throttle.wait(self.throttle.keys(Platform.slack, channel, per_chat=True))
        return await self.client.chat_postMessage(channel=channel, **message)
