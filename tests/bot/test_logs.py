"""Log lines as JSON for machines, and secrets out of every line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import Redaction, use_format


@pytest.fixture
def root_stream() -> Iterator[io.StringIO]:
    """The root logger writing to a string, restored afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    root.handlers = [logging.StreamHandler(stream)]
    root.setLevel(logging.INFO)
    yield stream
    root.handlers, level = saved
    root.setLevel(level)


def test_json_lines_carry_the_request_fields(root_stream: io.StringIO) -> None:
    use_format("json")
    fields = {"request_id": "ab12", "platform": "telegram", "command": "add", "outcome": "ok"}
    logging.getLogger("bot.requests").info("request %s: done", "ab12", extra=fields)
    line = json.loads(root_stream.getvalue())
    assert line["message"] == "request ab12: done"
    assert (line["level"], line["logger"]) == ("INFO", "bot.requests")
    assert {key: line[key] for key in fields} == fields and "time" in line


def test_text_lines_by_default(root_stream: io.StringIO) -> None:
    use_format("text")
    logging.getLogger("bot").warning("plain %d", 1)
    assert root_stream.getvalue().rstrip().endswith("WARNING bot: plain 1")


def test_secrets_are_replaced_whoever_logs_them(root_stream: io.StringIO) -> None:
    use_format("text")
    redaction = Redaction({"xoxb-secret-token-1": "[slack bot token]", "short": "[x]"})
    redaction.install()
    try:
        logging.getLogger("slack_sdk").info("POST with %s", "Bearer xoxb-secret-token-1")
        logging.getLogger("other").info("a short word stays")
    finally:
        redaction.remove()
    logging.getLogger("other").info("after: xoxb-secret-token-1")
    lines = root_stream.getvalue().splitlines()
    assert lines[0].endswith("POST with Bearer [slack bot token]")
    assert lines[1].endswith("a short word stays")  # too short to be a secret worth hiding
    assert lines[2].endswith("after: xoxb-secret-token-1")  # removed: no longer filtered
