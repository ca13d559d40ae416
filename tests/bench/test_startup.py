"""bench/startup.py's cases run whole processes of this checkout: each gets where it
measures to (a reply, a poll), on a database the chat creates."""

from __future__ import annotations

import asyncio
from pathlib import Path

import bench
from bench.startup import chat_first_reply_seconds, help_seconds, run_first_poll

CODE = Path(bench.__file__).parent.parent


def test_every_case_reaches_what_it_times(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    assert min(help_seconds(CODE)) >= 0
    assert min(chat_first_reply_seconds(CODE, url, "Alice")) >= 0  # a reply came
    poll, cpu, rss = asyncio.run(run_first_poll(CODE, url, idle=0.1))  # getUpdates came
    assert poll > 0 and cpu >= 0 and rss > 10  # a live interpreter with the bot loaded
