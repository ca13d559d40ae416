"""Settings from the environment and `.env` (one class, read once per process)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class Settings(BaseSettings):
    """Every knob of crmbot; see `.env.example` for what each one does."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite:///crm.db"

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_messages_per_second: float = Field(
        default=30, gt=0, description="the bot's send limit (Telegram raises it on request)"
    )

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str | None = None
    # Hosted mode (bot/slack_oauth.py): any workspace installs the app through Slack's OAuth
    # flow; each workspace's bot token is kept in the database, encrypted with
    # TOKEN_ENCRYPTION_KEY (Fernet keys, comma-separated: the first encrypts, all decrypt).
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_redirect_url: str | None = None
    token_encryption_key: SecretStr | None = None

    geocoder: str = "offline"
    geocoder_domain: str | None = None
    geocoder_user_agent: str = "crmbot"
    geocoder_api_key: SecretStr | None = None
    geocoder_timeout: float = Field(default=2.0, gt=0, le=10)

    default_timezone: str = "UTC"
    default_currency: str = Field(default="EUR", min_length=3, max_length=3)
    default_locale: str = "en_US"
    default_region: str = Field(
        default="DE", description="ISO country used to read phone numbers written without +"
    )
    open_signup: bool = False
    # Where people reach `crmbot serve` (the board's links and Telegram's Mini App button);
    # unset, the address `crmbot serve` listens on by default.
    public_url: str | None = None
    # The largest file `/import` takes, in megabytes and in rows.
    import_max_mb: float = Field(default=20, gt=0, le=1024)
    import_max_rows: int = Field(default=200_000, gt=0)
    # Unset, the log goes to stderr only, and `crmbot chat` logs just WARNING and worse:
    # the terminal chat is for trying crmbot and for scripts, so a log file nobody asked
    # for would be litter in whatever folder it runs in (often the source tree), while a
    # warning belongs where the person is looking (it prints above the prompt, and piped
    # output stays clean on stdout). `crmbot run`, a service, logs INFO to stderr, where
    # systemd and containers collect it. LOG_FILE writes the log to that file instead.
    log_level: LogLevel | None = None
    log_file: Path | None = None
    log_format: Literal["text", "json"] = "text"
    outbox_claim_seconds: float = Field(
        default=120, gt=0, description="how long a process may hold an outbox row it sends"
    )
    charts_dir: Path = Field(
        default=Path("charts"), description="where `crmbot chat` saves the charts it is sent"
    )

    # For tests and reproducible demos: the processes' clock starts at this moment (an ISO
    # datetime, UTC unless it says otherwise) and runs on from there; unset, the real time.
    crmbot_now: datetime | None = None

    @field_validator("crmbot_now", mode="after")
    @classmethod
    def _utc_unless_said(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    def clock(self) -> Callable[[], datetime]:
        """What every part of a process asks for "now": CRMBOT_NOW's clock, else the real one."""
        # Here: storage's module imports SQLAlchemy, which `crmbot run` needs only after its
        # first poll (bot/telegram_polling.py).
        from storage.types import utcnow

        return utcnow if self.crmbot_now is None else RunningClock(self.crmbot_now)

    @property
    def slack_configured(self) -> bool:
        """Whether Slack is served: one workspace's bot token, or hosted mode's app."""
        # A blank SLACK_BOT_TOKEN= (as `.env.example` has it) is no token.
        return bool(self.slack_bot_token) or bool(self.slack_client_id)

    @field_validator(
        "crmbot_now",
        "log_level",
        "log_file",
        "slack_client_id",
        "slack_client_secret",
        "slack_redirect_url",
        "token_encryption_key",
        "public_url",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `.env.example` lists them blank.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value


@dataclass(frozen=True)
class RunningClock:
    """A clock that reads `start` when made and advances at the pace of real time
    (so reminders still fall due and "in 2 hours" is two hours on)."""

    start: datetime
    _origin: float = field(default_factory=time.monotonic)

    def __call__(self) -> datetime:
        return self.start.astimezone(UTC) + timedelta(seconds=time.monotonic() - self._origin)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
