"""`crmbot serve` through its real HTTP server on a loopback port: Telegram's webhook with
its secret, Slack's events, /healthz, /metrics, the request log, a graceful stop. The Bot
API is the stand-in from bench/botapi.py; Slack's Web API the one of the Slack tests."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import Engine, func, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, select
from typer.testing import CliRunner

from bench.botapi import BotApi, message_update
from bot import cli
from bot.config import Settings
from bot.serve import Listen, Serving, build, workers_refused
from bot.telegram_webhook import SECRET_HEADER, webhook_secret
from handlers.context import TeamDefaults
from storage.db import make_engine, upgrade
from storage.models import Outbox, OutboxStatus, ProcessedUpdate, Team
from tests.bot.slack_fixtures import ALICE as SLACK_ALICE
from tests.bot.slack_fixtures import CHANNEL, SECRET, WORKSPACE, SlackApi, signed_headers
from tests.conftest import POSTGRES_URL, end_connections

TOKEN = "7000001:AAFakeTokenForTestsOnly-0123456789ab"
HOOK_SECRET = "hook-Secret_0123456789"
ALICE = 111


def settings_for(api: BotApi, **extra: Any) -> Settings:
    return Settings(
        _env_file=None,
        telegram_bot_token=SecretStr(TOKEN),
        telegram_api_base_url=api.base_url("a"),
        telegram_webhook_url="https://crm.example.test/telegram/webhook",
        telegram_webhook_secret=SecretStr(HOOK_SECRET),
        **extra,
    )


@asynccontextmanager
async def running(
    settings: Settings, engine: Engine, defaults: TeamDefaults | None = None
) -> AsyncIterator[Serving]:
    """The server on a free loopback port, stopped (gracefully) on the way out."""
    serving = build(
        settings,
        engine,
        listen=Listen(port=0),
        defaults=defaults or TeamDefaults(),
        geocoder=None,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serving.run(stop))
    listening = asyncio.create_task(serving.server.listening.wait())
    await asyncio.wait({task, listening}, return_when=asyncio.FIRST_COMPLETED, timeout=60)
    if task.done():
        task.result()  # start-up failed: say why
    try:
        yield serving
    finally:
        stop.set()
        await task


@pytest.fixture
async def botapi() -> AsyncIterator[BotApi]:
    api = BotApi()
    await api.start()
    yield api
    await api.stop()


async def post_update(
    serving: Serving, update: dict[str, Any], *, secret: str | None = HOOK_SECRET, **headers: str
) -> int:
    if secret is not None:
        headers[SECRET_HEADER] = secret
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{serving.server.url}/telegram/webhook", json=update, headers=headers
        ) as response,
    ):
        return response.status


async def get(serving: Serving, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{serving.server.url}{path}") as response,
    ):
        return response.status, await response.text()


def count(engine: Engine, model: type[Any]) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


async def test_the_webhook_is_set_and_an_update_with_the_secret_is_answered(
    engine: Engine, botapi: BotApi
) -> None:
    async with running(settings_for(botapi), engine) as serving:
        (hook,) = botapi.of("setWebhook")
        assert hook["url"] == "https://crm.example.test/telegram/webhook"
        assert hook["secret_token"] == HOOK_SECRET
        assert json.loads(hook["allowed_updates"]) == [
            "message",
            "edited_message",
            "callback_query",
        ]
        update = message_update(1, ALICE, "/start Acme Sales", first_name="Alice")
        assert await post_update(serving, update) == 200
        # Acknowledged once the answer went out: it is there already.
        (answer,) = botapi.to(ALICE)
        assert "created the team" in answer.text
        # Telegram delivers it again (its answer was lost): nothing happens twice.
        assert await post_update(serving, update) == 200
        assert len(botapi.to(ALICE)) == 1
    assert count(engine, Team) == 1 and count(engine, ProcessedUpdate) == 1


async def test_a_missing_or_wrong_secret_is_refused_and_changes_nothing(
    engine: Engine, botapi: BotApi
) -> None:
    async with running(settings_for(botapi), engine) as serving:
        update = message_update(1, ALICE, "/start Acme Sales")
        assert await post_update(serving, update, secret=None) == 401
        assert await post_update(serving, update, secret="hook-Secret_0123456788") == 403
        assert await post_update(serving, update, secret="") == 403
        assert await post_update(serving, {"update_id": "x"}) == 400
    assert botapi.sent == []
    assert count(engine, Team) == 0 and count(engine, ProcessedUpdate) == 0


def test_the_webhook_secret_is_checked_or_derived_from_the_token() -> None:
    assert webhook_secret(TOKEN, HOOK_SECRET) == HOOK_SECRET
    derived = webhook_secret(TOKEN, None)
    assert derived == webhook_secret(TOKEN, "") != webhook_secret(TOKEN + "x", None)
    assert TOKEN not in derived and len(derived) == 64
    with pytest.raises(ValueError, match="letters, digits"):
        webhook_secret(TOKEN, "has spaces and é")


def slack_request(text_: str, response_url: str) -> tuple[str, dict[str, str]]:
    body = urlencode(
        {
            "command": "/crm",
            "text": text_,
            "user_id": SLACK_ALICE,
            "team_id": WORKSPACE,
            "channel_id": CHANNEL,
            "channel_name": "sales",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    )
    return body, signed_headers(body)


async def test_slack_events_are_served_on_the_same_server(engine: Engine) -> None:
    slack = SlackApi()
    await slack.start()
    settings = Settings(
        _env_file=None,
        slack_bot_token=SecretStr("xoxb-test-token"),
        slack_signing_secret=SecretStr(SECRET),
        slack_api_url=f"{slack.url}/api/",
    )
    try:
        async with running(settings, engine) as serving:
            url = f"{serving.server.url}/slack/events"
            body, headers = slack_request("start Acme Sales", slack.response_url())
            async with aiohttp.ClientSession() as session:
                async with session.post(url, data=body, headers=headers) as response:
                    assert response.status == 200
                forged = {**headers, "X-Slack-Signature": "v0=" + "0" * 64}
                async with session.post(url, data=body, headers=forged) as response:
                    assert response.status == 401
        # The graceful stop waited for the answer being worked on.
        (answer,) = slack.answers()
        assert "You created the team *Acme Sales*" in answer.text
    finally:
        await slack.stop()


async def test_healthz_reports_the_database_and_the_scheduler(
    engine: Engine, botapi: BotApi
) -> None:
    async with running(settings_for(botapi), engine) as serving:
        status, body = await get(serving, "/healthz")
        assert status == 200, body
        checks = json.loads(body)["checks"]
        assert checks["database"]["ok"] and checks["scheduler"]["ok"]
        if engine.dialect.name == "postgresql":
            # PostgreSQL restarted: the pooled connections are dead, the database is not.
            await asyncio.to_thread(end_connections, engine)
            status, body = await get(serving, "/healthz")
            assert status == 200, body
        # The scheduler's loop stops looking for work: the process is not healthy.
        serving.scheduler.scheduler.pause()
        serving.scheduler.outbox.last_round = asyncio.get_running_loop().time() - 600
        status, body = await get(serving, "/healthz")
        assert status == 503
        answer = json.loads(body)
        assert answer["status"] == "failing"
        assert answer["checks"]["database"]["ok"]
        assert "600 s ago" in answer["checks"]["scheduler"]["error"]


@pytest.fixture(params=["sqlite", "postgres"])
def lone_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """A database URL for this test alone, and a function that makes it disappear."""
    if request.param == "sqlite":
        path = tmp_path / "gone.db"

        def gone_sqlite(engine: Engine) -> None:
            engine.dispose()
            path.unlink()
            path.mkdir()  # nothing can open it as a database any more

        yield f"sqlite:///{path}", gone_sqlite
        return
    if not POSTGRES_URL:
        pytest.skip("CRM_TEST_POSTGRES_URL is not set")
    request.getfixturevalue("postgres_engine")  # the test database, migrated
    # The test database as a role of its own, which can then be shut out: cheaper than a
    # database made and dropped (a DROP waits for a checkpoint of the whole server).
    url = make_url(POSTGRES_URL)
    role = f"{url.database}_gone"
    admin = make_engine(url.render_as_string(hide_password=False))
    admin = admin.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        known = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
        if known.first() is None:
            conn.execute(text(f'CREATE ROLE "{role}" SUPERUSER'))
        conn.execute(text(f'ALTER ROLE "{role}" LOGIN'))

    def gone_postgres(engine: Engine) -> None:
        # As good as gone: no new connection is let in, and the open ones are ended.
        with admin.connect() as conn:
            conn.execute(text(f'ALTER ROLE "{role}" NOLOGIN'))
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"),
                {"r": role},
            )

    yield url.set(username=role).render_as_string(hide_password=False), gone_postgres
    with admin.connect() as conn:
        conn.execute(text(f'ALTER ROLE "{role}" LOGIN'))
    admin.dispose()


async def test_healthz_fails_when_the_database_is_gone(
    lone_database: tuple[str, Any], botapi: BotApi
) -> None:
    url, disappear = lone_database
    engine = make_engine(url)
    upgrade(engine)
    try:
        async with running(settings_for(botapi), engine) as serving:
            assert (await get(serving, "/healthz"))[0] == 200
            await asyncio.to_thread(disappear, engine)
            status, body = await get(serving, "/healthz")
            assert status == 503
            database = json.loads(body)["checks"]["database"]
            assert not database["ok"] and database["error"]
            assert (make_url(url).password or "no password") not in body
    finally:
        engine.dispose()


def samples(metrics_text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample by its name and labels, parsed as Prometheus would."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
    }


async def test_metrics_count_what_was_done(engine: Engine, botapi: BotApi) -> None:
    async with running(settings_for(botapi), engine) as serving:
        await post_update(serving, message_update(1, ALICE, "/start Acme Sales"))
        await post_update(serving, message_update(2, ALICE, "/show nobody-at-all"))
        await post_update(serving, message_update(2, ALICE, "/show nobody-at-all"))
        await post_update(serving, message_update(3, ALICE, "/frobnicate"), secret="wrong-one")
        with Session(engine) as session:
            session.add(
                Outbox(
                    team_id=1,
                    kind="reminder",
                    platform="slack",  # no Slack here: it stays pending
                    chat_id="U1",
                    payload={},
                    due_at=serving.scheduler.clock(),
                    dedupe_key="metrics-test",
                    created_at=serving.scheduler.clock(),
                )
            )
            session.commit()
        for _ in range(3000):  # the scheduler's first look at the outbox has ended
            if serving.scheduler.runs[("outbox", "ok")]:
                break
            await asyncio.sleep(0.01)
        status, body = await get(serving, "/metrics")
    assert status == 200
    found = samples(body)

    def value(name: str, **labels: str) -> float:
        return found.get((name, frozenset(labels.items())), 0.0)

    assert value("crmbot_requests_total", platform="telegram", command="start", outcome="ok") == 1
    assert (
        value("crmbot_requests_total", platform="telegram", command="show", outcome="refused") == 1
    )
    assert (
        value("crmbot_requests_total", platform="telegram", command="show", outcome="duplicate")
        == 1
    )
    assert value("crmbot_command_seconds_count", platform="telegram", command="start") == 1
    assert value("crmbot_http_requests_total", route="/telegram/webhook", status="200") == 3
    assert value("crmbot_http_requests_total", route="/telegram/webhook", status="403") == 1
    assert value("crmbot_outbox_rows", status=OutboxStatus.pending) == 1
    assert value("crmbot_outbox_rows", status=OutboxStatus.failed) == 0
    assert value("crmbot_outbox_deliveries_total", result="sent") == 0
    assert value("crmbot_scheduler_runs_total", job="outbox", outcome="ok") >= 1
    assert value("crmbot_scheduler_leader") == 1
    assert ("crmbot_db_pool_connections", frozenset({("state", "in_use")})) in found
    assert value("process_cpu_seconds_total") > 0


async def test_one_log_line_per_request_and_no_secret_in_any(
    engine: Engine, botapi: BotApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running(settings_for(botapi), engine) as serving:
        update = message_update(1, ALICE, "/start Acme Sales")
        assert await post_update(serving, update, **{"X-Request-Id": "proxy-42"}) == 200
        await post_update(serving, message_update(2, ALICE, "/help"), secret="wrong-one")
        await get(serving, "/healthz")
    lines = [record for record in caplog.records if record.name == "bot.requests"]
    assert [(r.path, r.status) for r in lines] == [  # type: ignore[attr-defined]
        ("/telegram/webhook", 200),
        ("/telegram/webhook", 403),
        ("/healthz", 200),
    ]
    handled = lines[0]
    assert handled.request_id == "proxy-42"  # type: ignore[attr-defined]
    assert (handled.platform, handled.command, handled.outcome) == (  # type: ignore[attr-defined]
        "telegram",
        "start",
        "ok",
    )
    assert handled.duration_ms > 0  # type: ignore[attr-defined]
    assert "telegram /start ok" in handled.getMessage()
    assert lines[2].levelno == logging.DEBUG  # probes stay out of the INFO log
    everything = "\n".join(record.getMessage() for record in caplog.records)
    assert TOKEN not in everything and HOOK_SECRET not in everything


async def test_a_graceful_stop_finishes_the_update_in_flight(
    engine: Engine, botapi: BotApi
) -> None:
    botapi.hold("a")  # Telegram is slow to take the reply
    async with running(settings_for(botapi), engine) as serving:
        update = message_update(1, ALICE, "/start Acme Sales")
        posting = asyncio.create_task(post_update(serving, update))
        while not botapi.of("sendMessage"):  # the reply is on its way
            await asyncio.sleep(0.01)
        stopping = asyncio.create_task(serving.server.stop())
        await asyncio.sleep(0)
        botapi.release("a")
        assert await posting == 200
        await stopping
    (answer,) = botapi.to(ALICE)
    assert "created the team" in answer.text


def test_several_workers_on_sqlite_are_refused_with_the_way_out(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli.app, ["serve", "--workers", "2", "--db", str(tmp_path / "crm.db")]
    )
    assert result.exit_code == 2
    assert "--workers 2 needs PostgreSQL" in result.output
    assert "DATABASE_URL=postgresql+psycopg://" in result.output
    assert not (tmp_path / "crm.db").exists()  # refused before touching anything
    assert workers_refused("postgresql+psycopg://localhost/crm", 4) is None
    assert workers_refused("sqlite:///crm.db", 1) is None
