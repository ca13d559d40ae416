"""Hosted mode: any Slack workspace installs crmbot through Slack's OAuth flow.

Set SLACK_CLIENT_ID (with SLACK_CLIENT_SECRET, SLACK_SIGNING_SECRET and
TOKEN_ENCRYPTION_KEY) instead of SLACK_BOT_TOKEN. Bolt runs the flow: `GET /slack/install`
issues a one-time state (kept in `SlackOAuthState`, and in a cookie of the browser that
started) and sends the installer to Slack; `GET /slack/oauth_redirect` checks the state,
trades the code for the workspace's bot token (oauth.v2.access) and stores it. Each
request from Slack is then answered with its own workspace's token, looked up by Bolt's
authorize in `InstallationStore`; `app_uninstalled` and `tokens_revoked` delete it.

Tokens are sealed with Fernet (AES-128-CBC with an HMAC) before they reach the database,
so a copy of the database or of its backups holds no usable token. Which team a workspace
belongs to is decided in chat, as for any workspace (handlers/onboarding.py), by whoever
installed the app there: /start founds a team for it, or /join CODE attaches it to an
existing team; colleagues who write first are asked to wait for them.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from sqlalchemy import Engine

from bot.config import Settings
from storage.db import in_transaction
from storage.installations import (
    consume_state,
    delete_installation,
    find_installation,
    issue_state,
    save_installation,
)
from storage.models import SlackInstallation

log = logging.getLogger(__name__)
T = TypeVar("T")

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_TTL = timedelta(minutes=10)
# As slack-manifest.yml lists them.
BOT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "im:history",
    "app_mentions:read",
    "users:read",
    "files:read",
    "files:write",
)


class TokenCipher:
    """Seals tokens for the database. `keys`: Fernet keys, comma-separated; the first
    seals, any of them opens (a new key goes first, the old one stays until every token
    was sealed again, which a reinstall does)."""

    def __init__(self, keys: str) -> None:
        try:
            fernets = [Fernet(key.strip()) for key in keys.split(",") if key.strip()]
        except ValueError:
            # Never the key itself in the message: it would reach the log.
            raise ValueError(
                "TOKEN_ENCRYPTION_KEY is not a Fernet key (32 bytes, URL-safe base64). Make "
                "one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            ) from None
        if not fernets:
            raise ValueError("TOKEN_ENCRYPTION_KEY is empty.")
        self._fernet = MultiFernet(fernets)

    def seal(self, token: str) -> str:
        return self._fernet.encrypt(token.encode()).decode("ascii")

    def open(self, sealed: str) -> str | None:
        """The token; None when no key opens it (the key was replaced: reinstall)."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except InvalidToken:
            return None


class InstallationStore(AsyncInstallationStore):
    """slack_sdk's installation store on crmbot's database: one bot per workspace (no user
    tokens: crmbot asks for bot scopes only)."""

    def __init__(self, engine: Engine, cipher: TokenCipher) -> None:
        self.engine = engine
        self.cipher = cipher

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        await self._save(installation.to_bot(), installer=installation.user_id or "")

    async def async_save_bot(self, bot: Bot) -> None:
        await self._save(bot, installer="")

    async def _save(self, bot: Bot, *, installer: str) -> None:
        refresh = bot.bot_refresh_token
        row = SlackInstallation(
            enterprise_id=bot.enterprise_id or "",
            workspace_id=bot.team_id or "",
            workspace_name=bot.team_name or "",
            app_id=bot.app_id or "",
            bot_id=bot.bot_id,
            bot_user_id=bot.bot_user_id,
            bot_token=self.cipher.seal(bot.bot_token),
            bot_refresh_token=self.cipher.seal(refresh) if refresh else None,
            bot_token_expires_at=(
                datetime.fromtimestamp(bot.bot_token_expires_at, UTC)
                if bot.bot_token_expires_at
                else None
            ),
            bot_scopes=",".join(bot.bot_scopes),
            installer_id=installer,
            installed_at=datetime.fromtimestamp(bot.installed_at, UTC),
        )
        await self._run(lambda session: save_installation(session, installation=row))
        log.info("Slack: installed in workspace %s", row.workspace_id)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        row = await self._run(
            lambda session: find_installation(
                session, enterprise_id=enterprise_id or "", workspace_id=team_id or ""
            )
        )
        if row is None:
            return None
        token = self.cipher.open(row.bot_token)
        if token is None:
            log.error(
                "Slack: workspace %s's token opens with no key of TOKEN_ENCRYPTION_KEY; "
                "reinstall the app there",
                row.workspace_id,
            )
            return None
        return Bot(
            app_id=row.app_id or None,
            enterprise_id=row.enterprise_id or None,
            team_id=row.workspace_id,
            team_name=row.workspace_name,
            bot_token=token,
            bot_id=row.bot_id,
            bot_user_id=row.bot_user_id,
            bot_scopes=row.bot_scopes,
            bot_refresh_token=(
                self.cipher.open(row.bot_refresh_token) if row.bot_refresh_token else None
            ),
            bot_token_expires_at=(
                int(row.bot_token_expires_at.timestamp()) if row.bot_token_expires_at else None
            ),
            installed_at=row.installed_at.timestamp(),
        )

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        bot = await self.async_find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None or user_id is not None:
            return None  # no person's own token is ever kept
        return Installation(
            app_id=bot.app_id,
            enterprise_id=bot.enterprise_id,
            team_id=bot.team_id,
            team_name=bot.team_name,
            bot_token=bot.bot_token,
            bot_id=bot.bot_id,
            bot_user_id=bot.bot_user_id,
            bot_scopes=bot.bot_scopes,
            bot_refresh_token=bot.bot_refresh_token,
            bot_token_expires_at=bot.bot_token_expires_at,
            user_id="",
            installed_at=bot.installed_at,
        )

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self._run(
            lambda session: delete_installation(
                session, enterprise_id=enterprise_id or "", workspace_id=team_id or ""
            )
        )
        log.info("Slack: uninstalled from workspace %s; its token is deleted", team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        if user_id is None:  # a person's token revoked: none is kept
            await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    async def _run(self, work: Callable[..., T]) -> T:
        return await asyncio.to_thread(in_transaction, self.engine, work)


class StateStore(AsyncOAuthStateStore):
    """The OAuth flow's one-time states, shared by every process of the installation."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: object, **kwargs: object) -> str:
        state = secrets.token_urlsafe(32)
        expires_at = self.clock() + STATE_TTL
        await asyncio.to_thread(
            in_transaction,
            self.engine,
            lambda session: issue_state(session, state=state, expires_at=expires_at),
        )
        return state

    async def async_consume(self, state: str) -> bool:
        now = self.clock()
        return await asyncio.to_thread(
            in_transaction,
            self.engine,
            lambda session: consume_state(session, state=state[:64], now=now),
        )


@dataclass(frozen=True)
class HostedSlack:
    """What hosted mode needs: Bolt's OAuth settings over the two stores."""

    store: InstallationStore
    settings: AsyncOAuthSettings

    @classmethod
    def from_settings(
        cls, settings: Settings, engine: Engine, clock: Callable[[], datetime]
    ) -> HostedSlack:
        missing = [
            name
            for name, value in (
                ("SLACK_CLIENT_SECRET", settings.slack_client_secret),
                ("SLACK_SIGNING_SECRET", settings.slack_signing_secret),
                ("TOKEN_ENCRYPTION_KEY", settings.token_encryption_key),
            )
            if value is None
        ]
        if missing:
            raise ValueError(
                f"Slack's hosted mode (SLACK_CLIENT_ID) also needs {', '.join(missing)}."
            )
        if settings.slack_bot_token:
            raise ValueError(
                "Set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID (hosted mode: any "
                "workspace installs the app), not both."
            )
        assert settings.slack_client_id and settings.slack_client_secret
        assert settings.token_encryption_key is not None
        store = InstallationStore(
            engine, TokenCipher(settings.token_encryption_key.get_secret_value())
        )
        oauth = AsyncOAuthSettings(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret.get_secret_value(),
            scopes=list(BOT_SCOPES),
            redirect_uri=settings.slack_redirect_url,
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
            installation_store=store,
            installation_store_bot_only=True,
            state_store=StateStore(engine, clock),
            state_expiration_seconds=int(STATE_TTL.total_seconds()),
        )
        return cls(store=store, settings=oauth)

    def on_success(self, welcome: Callable[[Installation], Awaitable[None]]) -> None:
        """Have `welcome(installation)` run once an install succeeded, before Bolt's page
        saying so (a welcome that fails is logged: the install itself went through)."""

        async def success(args: AsyncSuccessArgs) -> BoltResponse:
            try:
                await welcome(args.installation)
            except Exception:
                log.exception("Slack: could not welcome the installer")
            return await args.default.success(args)

        async def failure(args: AsyncFailureArgs) -> BoltResponse:
            log.warning("Slack: an install failed: %s", args.reason)
            return await args.default.failure(args)

        self.settings.callback_options = AsyncCallbackOptions(success=success, failure=failure)
