"""Settings come from the environment; secrets never show up in their repr."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.cli import database_url, team_defaults
from bot.config import Settings
from storage.types import utcnow


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u:p@db/crm")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:very-secret")
    monkeypatch.setenv("DEFAULT_CURRENCY", "usd")
    monkeypatch.setenv("OPEN_SIGNUP", "true")
    settings = Settings(_env_file=None)
    assert settings.database_url == "postgresql+psycopg://u:p@db/crm"
    assert settings.telegram_bot_token is not None
    assert settings.telegram_bot_token.get_secret_value() == "123:very-secret"
    assert "very-secret" not in repr(settings) and "very-secret" not in str(settings)
    defaults = team_defaults(settings)
    assert defaults.currency == "USD" and defaults.open_signup


def test_db_option_takes_a_path_or_a_url() -> None:
    settings = Settings(_env_file=None)
    assert database_url(None, settings) == settings.database_url
    assert database_url("data/crm.db", settings) == "sqlite:///data/crm.db"
    assert database_url("postgresql://x/y", settings) == "postgresql://x/y"


def test_crmbot_now_starts_the_clock_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMBOT_NOW", "2027-02-28T23:59:30")  # no zone: UTC
    clock = Settings(_env_file=None).clock()
    first, second = clock(), clock()
    assert first >= datetime(2027, 2, 28, 23, 59, 30, tzinfo=UTC)
    assert timedelta(0) <= second - first < timedelta(seconds=5)  # and runs on
    monkeypatch.setenv("CRMBOT_NOW", "2028-12-31T23:30:00+14:00")
    start = Settings(_env_file=None).clock()()
    assert start.tzinfo == UTC and start >= datetime(2028, 12, 31, 9, 30, tzinfo=UTC)
    monkeypatch.setenv("CRMBOT_NOW", "")  # blank, as .env.example lists it: real time
    assert Settings(_env_file=None).clock() is utcnow
