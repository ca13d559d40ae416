"""Hosted mode: workspaces install the app through Slack's OAuth flow on `crmbot serve`,
each becomes a team of its own, answered with its own token, kept encrypted; uninstalling
deletes the token."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from bot.config import Settings
from bot.senders import PermanentError
from bot.serve import Listen, Serving, build
from bot.slack_adapter import SlackAdapter
from bot.slack_oauth import BOT_SCOPES, TokenCipher
from handlers.context import TeamDefaults
from handlers.reply import Reply
from storage.models import SlackInstallation, SlackOAuthState
from tests.bot.slack_fixtures import ALICE, BOB, BOT, SECRET, WORKSPACE, Slack, SlackApi
from tests.bot.test_serve import running

CLIENT_SECRET = "0123456789abcdef-client-secret"
ACME_TOKEN, GLOBEX_TOKEN = "xoxb-acme-1111-secret", "xoxb-globex-2222-secret"
GLOBEX, GREG = "T0GLOBEX", "U0GREG"


def hosted_settings(api: SlackApi, key: str) -> Settings:
    return Settings(
        _env_file=None,
        slack_client_id="1111.2222",
        slack_client_secret=SecretStr(CLIENT_SECRET),
        slack_signing_secret=SecretStr(SECRET),
        slack_redirect_url="https://crm.example.test/slack/oauth_redirect",
        token_encryption_key=SecretStr(key),
        slack_api_url=f"{api.url}/api/",
    )


@asynccontextmanager
async def hosted(engine: Engine) -> AsyncIterator[tuple[Serving, SlackApi]]:
    api = SlackApi()
    await api.start()
    try:
        settings = hosted_settings(api, Fernet.generate_key().decode())
        async with running(settings, engine, TeamDefaults(open_signup=True)) as serving:
            yield serving, api
    finally:
        await api.stop()


def grant(api: SlackApi, code: str, *, workspace: str, name: str, token: str, user: str) -> None:
    """What oauth.v2.access answers for `code`: the workspace's new bot token."""
    api.workspaces[token] = workspace
    api.grants[code] = {
        "ok": True,
        "app_id": "A0CRM",
        "authed_user": {"id": user},
        "scope": "commands,chat:write,chat:write.public,im:history,app_mentions:read,users:read",
        "token_type": "bot",
        "access_token": token,
        "bot_user_id": BOT,
        "team": {"id": workspace, "name": name},
        "enterprise": None,
        "is_enterprise_install": False,
    }


async def install(serving: Serving, code: str) -> tuple[int, str]:
    """A browser that opens /slack/install, goes to Slack, approves, and comes back (with
    the state's cookie: a Secure one, which the real browser, on https, sends back)."""
    async with aiohttp.ClientSession() as browser:
        async with browser.get(f"{serving.server.url}/slack/install") as page:
            assert page.status == 200
            html = await page.text()
            cookie = page.headers["Set-Cookie"].split(";")[0]
        url = unescape(re.search(r'href="(https://slack.com/oauth/v2/authorize[^"]+)"', html)[1])  # type: ignore[index]
        query = parse_qs(urlparse(url).query)
        assert query["client_id"] == ["1111.2222"]
        assert "chat:write" in query["scope"][0].split(",")
        back = f"{serving.server.url}/slack/oauth_redirect?code={code}&state={query['state'][0]}"
        async with browser.get(back, headers={"Cookie": cookie}) as answer:
            return answer.status, await answer.text()


def slack_in(serving: Serving, api: SlackApi, workspace: str) -> Slack:
    (adapter,) = [a for a in serving.adapters if isinstance(a, SlackAdapter)]
    return Slack(adapter, api, workspace=workspace)


def stored(engine: Engine) -> list[SlackInstallation]:
    with Session(engine) as session:
        return list(session.exec(select(SlackInstallation)).all())


async def test_two_workspaces_install_become_two_teams_and_uninstall_deletes_the_token(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with hosted(engine) as (serving, api):
        grant(api, "code-acme", workspace=WORKSPACE, name="Acme", token=ACME_TOKEN, user=ALICE)
        status, page = await install(serving, "code-acme")
        assert status == 200, page
        # The installer is told how the workspace gets its team, with the workspace's token.
        (welcome,) = api.sent("chat.postMessage")
        assert welcome.data["channel"] == ALICE and welcome.token == ACME_TOKEN
        assert "/crm start Team name" in welcome.text and "/crm join CODE" in welcome.text

        # The token is stored sealed: no column of the table holds it.
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT * FROM slackinstallation")).all()
        assert len(rows) == 1
        assert not any(ACME_TOKEN in str(value) or "xoxb" in str(value) for value in rows[0])
        (row,) = stored(engine)
        assert (row.workspace_id, row.workspace_name, row.installer_id) == (
            WORKSPACE,
            "Acme",
            ALICE,
        )

        # A state works once.
        with Session(engine) as session:
            assert session.exec(select(SlackOAuthState)).all() == []

        # The installer decides what the workspace becomes; a colleague writing first waits.
        acme = slack_in(serving, api, WORKSPACE)
        await acme.command("start Bob’s team", user=BOB)
        assert "Whoever installed it sets up its team first" in api.answers()[-1].text
        await acme.command("start Acme Sales")
        assert "You created the team *Acme Sales*" in api.answers()[-1].text
        await acme.command("add Jane Doe company:Acme Corp +49 30 1234567 #hot")
        assert "Jane Doe" in api.answers()[-1].text
        await acme.command("find Jane", user=BOB)
        assert "You joined *Acme Sales* as a rep" in api.answers()[-1].text

        # A second company installs the same app: a team of its own.
        grant(api, "code-globex", workspace=GLOBEX, name="Globex", token=GLOBEX_TOKEN, user=GREG)
        status, _ = await install(serving, "code-globex")
        assert status == 200
        assert {row.workspace_id for row in stored(engine)} == {WORKSPACE, GLOBEX}
        globex = slack_in(serving, api, GLOBEX)
        before = len(api.calls)
        await globex.command("start", user=GREG, response_url=api.response_url("g"))
        assert "You created the team" in api.answers()[-1].text
        await globex.command("find Jane", user=GREG, response_url=api.response_url("g"))
        assert "Nothing matches" in api.answers()[-1].text
        await globex.command("pipeline", user=GREG, response_url=api.response_url("g"))
        assert "Acme" not in api.answers()[-1].text
        # Globex's requests were served with Globex's token only.
        assert {call.token for call in api.calls[before:] if call.token} == {GLOBEX_TOKEN}

        # The outbox reaches each workspace with its own token.
        slack = acme.adapter
        await slack.send("C0GLOBEX", Reply().add("hello"), workspace_id=GLOBEX)
        assert api.calls[-1].method == "chat.postMessage"
        assert api.calls[-1].token == GLOBEX_TOKEN

        # Uninstalled: the token is gone, and nothing more is sent there.
        await globex.event({"type": "app_uninstalled"})
        assert [row.workspace_id for row in stored(engine)] == [WORKSPACE]
        with pytest.raises(PermanentError, match="not installed"):
            await slack.send("C0GLOBEX", Reply().add("hello"), workspace_id=GLOBEX)
        await acme.event({"type": "tokens_revoked", "tokens": {"oauth": [], "bot": [BOT]}})
        assert stored(engine) == []

    log = caplog.text
    for secret in (ACME_TOKEN, GLOBEX_TOKEN, CLIENT_SECRET):
        assert secret not in log


async def test_a_forged_state_and_a_bad_code_install_nothing(engine: Engine) -> None:
    async with hosted(engine) as (serving, _):
        url = f"{serving.server.url}/slack/oauth_redirect"
        # No state issued to this browser.
        async with (
            aiohttp.ClientSession() as browser,
            browser.get(f"{url}?code=c&state=forged") as answer,
        ):
            assert answer.status == 400
        status, _ = await install(serving, "no-such-code")
        assert status == 401
        assert stored(engine) == []


def test_the_token_cipher_seals_opens_and_rotates_keys() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = TokenCipher(old).seal(ACME_TOKEN)
    assert ACME_TOKEN not in sealed
    assert TokenCipher(f"{new},{old}").open(sealed) == ACME_TOKEN
    assert TokenCipher(new).open(sealed) is None
    with pytest.raises(ValueError, match="not a Fernet key") as refused:
        TokenCipher("hunter2")
    assert "hunter2" not in str(refused.value)


def test_hosted_mode_says_what_it_misses(engine: Engine) -> Any:
    settings = Settings(_env_file=None, slack_client_id="1111.2222")
    with pytest.raises(ValueError, match="SLACK_CLIENT_SECRET, SLACK_SIGNING_SECRET, TOKEN_"):
        build(settings, engine, listen=Listen(port=0), defaults=TeamDefaults(), geocoder=None)


def test_the_manifest_asks_for_the_scopes_hosted_mode_asks_for() -> None:
    """A workspace set up from slack-manifest.yml and one installed in hosted mode give the
    app the same rights: what /import and /export need (files) among them."""
    manifest = (Path(__file__).parents[2] / "slack-manifest.yml").read_text("utf-8")
    scopes, in_bot = [], False
    for line in manifest.splitlines():
        if line.strip() == "bot:":
            in_bot = True
        elif in_bot and line.strip().startswith("- "):
            scopes.append(line.strip()[2:].split("#")[0].strip())
        elif in_bot and line.strip() and not line.lstrip().startswith("#"):
            break
    assert scopes == list(BOT_SCOPES)
    assert {"files:read", "files:write"} <= set(scopes)
