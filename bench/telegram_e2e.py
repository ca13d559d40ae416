"""End to end through the real Telegram adapter: a Bot API update handed to
python-telegram-bot's `Application` (as `crmbot serve` hands a webhook's update over)
until the reply's `sendMessage` reaches the Bot API, here an in-process stand-in that
answers as Telegram would (no network, no Nagle delay). What it adds to the dispatcher's
own time is the adapter: parsing the update, the worker-thread hop, rendering the HTML,
the Bot API call.

    python -m bench.telegram_e2e bench/data/crm-v2-100000.db --calls 50

The database is used on a copy (SQLite) or in place (a URL). Calls are spaced out so that
the bot's rate limiter (30 messages a second, as Telegram's) never holds one back. Beside
the latency, the process's CPU time (all its threads) from the update to the reply's send
done, python-telegram-bot's handling of Telegram's answer included.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from telegram.request import BaseRequest, RequestData

from bench import cases
from bench.botapi import BOT_USER, SENT_AT, message_update
from bench.cases import Call, World
from bench.processes import TOKEN
from bot.telegram_adapter import TelegramAdapter
from handlers import build_registry
from handlers.dispatcher import Dispatcher
from storage.db import make_engine

CASES: dict[str, Callable[[World], Call]] = {
    "/add contact": cases.add_contact,
    "/leads": cases.leads,
    "/show contact by id": cases.show_contact,
}
PACE_SECONDS = 0.05  # between calls: 20 a second, under the rate limiter's 30


class RecordingBotApi(BaseRequest):
    """The Bot API as Telegram answers it; notes when each message arrives."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, str]] = []  # (time.perf_counter(), text)
        self.arrived = asyncio.Event()
        self._ids = itertools.count(500)

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        result: Any = True
        if name == "getMe":
            result = BOT_USER
        elif name in ("sendMessage", "editMessageText"):
            self.sent.append((time.perf_counter(), str(params.get("text", ""))))
            self.arrived.set()
            chat_id = int(str(params["chat_id"]))
            result = {
                "message_id": next(self._ids),
                "date": SENT_AT,
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT_USER,
                "text": params.get("text", ""),
            }
        return 200, json.dumps({"ok": True, "result": result}).encode()


async def measure(
    url: str, *, calls: int, warmup: int
) -> dict[str, tuple[list[float], list[float]]]:
    """Milliseconds from the update to its reply's first `sendMessage`, and of the
    process's CPU from the update to the reply sent, per case."""
    engine = make_engine(url)
    world = World.load(engine)
    dispatcher = Dispatcher(engine, build_registry())
    api = RecordingBotApi()
    adapter = TelegramAdapter(dispatcher, TOKEN, transport=api, webhook=True)
    await adapter.application.initialize()
    await adapter.application.start()
    user = int(world.speaker.external_id)
    # Ids no earlier run used: a database used in place has recorded those (redeliveries).
    update_ids = itertools.count(time.time_ns())
    results: dict[str, tuple[list[float], list[float]]] = {}
    try:
        for name, message in CASES.items():
            samples: list[float] = []
            cpu: list[float] = []
            for i in range(warmup + calls):
                text = message(world)
                assert isinstance(text, str)
                update = message_update(next(update_ids), user, text, first_name="Bench")
                before = len(api.sent)
                started = time.perf_counter()
                cpu_started = time.process_time_ns()
                await adapter.process(update)  # returns once the reply was sent
                cpu_ns = time.process_time_ns() - cpu_started
                while len(api.sent) == before:
                    api.arrived.clear()
                    await api.arrived.wait()
                at, reply = api.sent[before]
                if "went wrong" in reply or "Too much" in reply:
                    raise RuntimeError(f"{name}: {text!r} got {reply!r}")
                if i >= warmup:
                    samples.append((at - started) * 1000)
                    cpu.append(cpu_ns / 1e6)
                await asyncio.sleep(PACE_SECONDS)
            results[name] = (samples, cpu)
    finally:
        await adapter.stop()
        dispatcher.close()
        engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.telegram_e2e", description=__doc__)
    parser.add_argument("database", help="a generated SQLite file, or a database URL")
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database
        if "://" not in url:
            copy = Path(folder) / "e2e.db"
            shutil.copyfile(url, copy)
            url = f"sqlite:///{copy}"
        results = asyncio.run(measure(url, calls=args.calls, warmup=args.warmup))
    for name, (samples, cpu) in results.items():
        ms = sorted(samples)
        print(
            f"{name:22} p50 {statistics.median(ms):7.2f} ms   p90 {ms[int(len(ms) * 0.9)]:7.2f} ms"
            f"   CPU p50 {statistics.median(cpu):6.3f} mean {statistics.fmean(cpu):6.3f} ms"
            f"   ({len(ms)} calls)"
        )


if __name__ == "__main__":
    main()
