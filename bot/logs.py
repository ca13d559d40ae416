"""How the bot's log lines look, and what never appears in them.

`LOG_FORMAT=json` writes one JSON object a line (python-json-logger) for log collectors,
with the request log's fields (request_id, platform, command, outcome, duration_ms, ...)
as keys of their own; the default is one readable line. `Redaction` replaces secrets
(tokens, signing secrets, passwords) in every line, whichever library writes it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def json_formatter() -> logging.Formatter:
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


class Redaction(logging.Filter):
    """Keeps secrets out of every log line: each is replaced by its label."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        super().__init__()
        # Short values would match by accident (and are no secrets worth the name).
        self.secrets = {secret: label for secret, label in secrets.items() if len(secret) >= 8}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        found = [secret for secret in self.secrets if secret in message]
        if found:
            for secret in found:
                message = message.replace(secret, self.secrets[secret])
            record.msg, record.args = message, None
        return True

    def install(self) -> None:
        for handler in logging.getLogger().handlers:
            handler.addFilter(self)

    def remove(self) -> None:
        for handler in logging.getLogger().handlers:
            handler.removeFilter(self)
