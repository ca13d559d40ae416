"""The pipeline board's server time (issue 20): its first load and a move, at a generated
team's size, through the real aiohttp server and routes on a loopback port.

    python -m bench.board --contacts 100000            # bench/data's SQLite copy
    python -m bench.board --db bench/data/x.db --calls 200

Server time is what the request log (bot/web.py) measures for each request, arrival to
answer: the credential checked (Telegram initData signed here with a test bot token for
the generated team's admin on Telegram), the member looked up, the work, the JSON. The
first load is the page (`GET /app/`) plus the board's data (`GET /app/api/board`: every
column's totals and first 50 cards) as the admin, who sees the team's 200k deals; a move
is `POST /app/api/act` of a random open deal to another open stage, through the
dispatcher as the stage button (stage history, activity, totals' triggers, rescoring).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from sqlalchemy import text

from bench.botapi import init_data
from bench.cases import World
from bench.cli import _prepare_copy
from bot.board import BoardApp
from bot.web import Server
from handlers import build_registry
from handlers.dispatcher import Dispatcher
from storage.db import make_engine
from storage.types import utcnow

TOKEN = "7000009:BenchBoardTokenNotARealOne-0123456789"


class _ServerTimes(logging.Handler):
    """The request log's duration of each request, by path."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.times: dict[str, list[float]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        path = getattr(record, "path", None)
        if path is not None:
            self.times.setdefault(path, []).append(record.duration_ms)  # type: ignore[attr-defined]


async def measure(url: str, calls: int, seed: int = 7) -> dict[str, Any]:
    engine = make_engine(url)
    world = World.load(engine, seed=seed)
    dispatcher = Dispatcher(engine, build_registry())
    server = Server(port=0)
    BoardApp(engine, dispatcher, telegram_token=TOKEN, clock=utcnow).register(server)
    times = _ServerTimes()
    requests_log = logging.getLogger("bot.requests")
    requests_log.addHandler(times)
    requests_log.setLevel(logging.INFO)
    rng = random.Random(seed)
    await server.start()
    try:
        headers = {
            "Authorization": "tma "
            + init_data(int(world.speaker.external_id), at=utcnow(), token=TOKEN)
        }
        async with aiohttp.ClientSession(server.url, headers=headers) as http:
            for _ in range(calls + 3):  # three to warm up
                async with http.get("/app/") as page:
                    await page.read()
                async with http.get("/app/api/board") as answer:
                    board = await answer.json()
                    assert answer.status == 200 and board["columns"], board
            first_loads = [
                page + data
                for page, data in zip(
                    times.times["/app/"][3:], times.times["/app/api/board"][3:], strict=True
                )
            ]
            stages = list(world.open_stages)
            for n in range(calls + 3):
                deal = world.take_open_deal()
                to = rng.choice([s for s in stages if s != world.deal_stage[deal]])
                body = {"action": "move", "deal": deal, "stage": to, "key": f"bench-{n}-{deal}"}
                async with http.post("/app/api/act", json=body) as answer:
                    moved = await answer.json()
                    assert moved["ok"], moved
            moves = times.times["/app/api/act"][3:]
    finally:
        await server.stop()
        dispatcher.close()
        requests_log.removeHandler(times)
        engine.dispose()
    cards = sum(len(c["cards"]) for c in board["columns"])
    floor = _primary_key_select(url, world, calls)
    return {
        "first load p50 ms": round(statistics.median(first_loads), 1),
        "first load p99 ms": round(_p99(first_loads), 1),
        "board data p50 ms": round(statistics.median(times.times["/app/api/board"][3:]), 1),
        "move p50 ms": round(statistics.median(moves), 1),
        "move p99 ms": round(_p99(moves), 1),
        "cards on first load": cards,
        "deals on the board": sum(c["count"] for c in board["columns"]),
        "primary-key SELECT p50 ms (the machine's floor, as bench/runner.py's baseline)": floor,
        "calls": calls,
        "load average": round(os.getloadavg()[0], 2),
    }


def _primary_key_select(url: str, world: World, calls: int) -> float:
    engine = make_engine(url)
    query = text("SELECT id, name, email, phone FROM contact WHERE id = :id")
    times = []
    try:
        for _ in range(calls):
            started = time.perf_counter()
            with engine.connect() as connection:
                connection.execute(query, {"id": world.contact()[0]}).one()
            times.append((time.perf_counter() - started) * 1000)
    finally:
        engine.dispose()
    return round(statistics.median(times), 3)


def _p99(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, round(len(values) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--db", help="a generated database (default: bench/data's copy)")
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    console = Console()
    if args.db:
        url = args.db if "://" in args.db else f"sqlite:///{args.db}"
        cleanup: list[Path] = []
    else:
        url, _, cleanup = _prepare_copy(Path("bench/data"), args.contacts, console)
    try:
        results = asyncio.run(measure(url, args.calls))
    finally:
        for path in cleanup:
            path.unlink(missing_ok=True)
    for name, value in results.items():
        console.print(f"{name}: {value}")


if __name__ == "__main__":
    main()
