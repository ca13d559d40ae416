"""How the bot's log lines look, and what never appears in them.

`LOG_FORMAT=json` writes one JSON object a line (python-json-logger) for log collectors,
with the request log's fields (request_id, platform, command, outcome, duration_ms, ...)
as keys of their own; the default is one readable line. `Redaction` replaces secrets
(tokens, signing secrets, passwords) in every line, whichever library writes it, at any
level: also written into a URL (geopy logs its request URLs, API key included, at
DEBUG), and in the tracebacks of logged exceptions.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from bot.config import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Slack's tokens by their shape: in hosted mode each workspace's bot token comes from the
# database, not the settings, and slack_sdk logs oauth.v2.access's answer at DEBUG.
SLACK_TOKEN = re.compile(r"\bx(?:ox[a-z]|app)-[0-9A-Za-z-]{8,}")


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "{asctime}{levelname}{name}{message}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    )


def use_format(name: str) -> None:
    """Give the root logger's handlers the format `name` (`text` or `json`)."""
    formatter = json_formatter() if name == "json" else logging.Formatter(TEXT_FORMAT)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)


def secrets_of(settings: Settings, database: URL | str | None = None) -> dict[str, str]:
    """Every secret in the settings, and the password of `database` (by default
    DATABASE_URL's), with the label that replaces it in the logs."""
    found = {
        "[telegram webhook secret]": settings.telegram_webhook_secret,
        "[slack bot token]": settings.slack_bot_token,
        "[slack signing secret]": settings.slack_signing_secret,
        "[slack app token]": settings.slack_app_token,
        "[slack client secret]": settings.slack_client_secret,
        "[token encryption key]": settings.token_encryption_key,
        "[geocoder key]": settings.geocoder_api_key,
        "[bot token]": settings.telegram_bot_token,
    }
    secrets = {value.get_secret_value(): label for label, value in found.items() if value}
    database = database or settings.database_url
    if isinstance(database, str) and "@" not in database:
        return secrets  # no user, so no password (`crmbot run` polls before SQLAlchemy loads)
    from sqlalchemy.engine import make_url

    password = make_url(database).password
    if password:
        secrets[str(password)] = "[database password]"
    return secrets


class Redaction(logging.Filter):
    """Keeps secrets out of every log line: each is replaced by its label."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        super().__init__()
        # Short values would match by accident (and are no secrets worth the name). Each
        # also as a URL's query or path carries it; the longest first, so that a secret
        # inside another does not leave the rest of the longer one behind.
        written = {
            form: label
            for secret, label in secrets.items()
            if len(secret) >= 8
            for form in (secret, quote_plus(secret), quote(secret, safe=""), quote(secret))
        }
        self.secrets = dict(sorted(written.items(), key=lambda item: -len(item[0])))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._found(message):
            record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            # The traceback as the handler's formatter would write it, redacted.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self._found(record.exc_text):
            record.exc_text = self.redact(record.exc_text)
            # Formatters that format exc_info themselves (JSON's) take exc_text instead.
            record.exc_info = None
        return True

    def redact(self, text: str) -> str:
        for secret, label in self.secrets.items():
            text = text.replace(secret, label)
        return SLACK_TOKEN.sub("[slack token]", text)

    def _found(self, text: str) -> bool:
        return any(secret in text for secret in self.secrets) or bool(SLACK_TOKEN.search(text))

    def install(self) -> None:
        for handler in logging.getLogger().handlers:
            handler.addFilter(self)

    def remove(self) -> None:
        for handler in logging.getLogger().handlers:
            handler.removeFilter(self)
