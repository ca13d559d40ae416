"""Start-up and memory of whole `crmbot` processes, each case over several fresh ones:

- `crmbot --help`: wall time to exit;
- `crmbot chat` (piped) on a database: from the start of the process to its first reply
  (`/leads`, which reads the team's contacts);
- `crmbot run` (Telegram, long polling, against the stand-in Bot API): from the start of
  the process to its first getUpdates, then its resident memory once it has idled;
- with `--peak-db`: the peak RSS of the latency bench (`python -m bench`, every case, its
  measuring process alone) on that database, e.g. the 1M one.

    python -m bench.startup --db bench/data/run-startup.db --json bench/startup.json
    python -m bench.startup --db ... --code baseline=/tmp/base --code new=.   # side by side
    python -m bench.startup --db ... --peak-db bench/data/run-1000000.db --peak-calls 20

`--code` runs the processes from a checkout of the repository (its `bot` package comes
first on the path, the interpreter is this one); several are measured round by round,
interleaved, so that a baseline and a change see the same load.
The offline gazetteer is assumed built (it is, after the first start of an installation),
and so is Python's bytecode: a round of every case runs untimed first, with
PYTHONDONTWRITEBYTECODE unset, as after the first start of any installation.

Beside each wall time, the CPU time the process had used at that moment (from /proc): the
machine is shared, and the CPU time is what another process's load does not stretch.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.botapi import BotApi
from bench.processes import TOKEN

CHAT_LINE = "/leads\n"
IDLE_SECONDS = 5.0
TIMEOUT = 120.0


def _env(code: Path, **settings: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CRM_", "TELEGRAM_", "SLACK_", "DATABASE_URL"))
        and key != "PYTHONDONTWRITEBYTECODE"
    }
    env["PYTHONPATH"] = str(code)  # the checkout measured, before the installed one
    env.update(settings)
    return env


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a running process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def help_seconds(code: Path) -> tuple[float, float]:
    """Wall and CPU seconds of `crmbot --help`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        _command("--help"), cwd=code, env=_env(code), stdout=subprocess.DEVNULL, check=True
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def chat_first_reply_seconds(code: Path, url: str, user: str) -> tuple[float, float]:
    """Wall and CPU seconds from the start of a piped `crmbot chat` to its first reply."""
    started = time.perf_counter()
    chat = subprocess.Popen(
        _command("chat", "--db", url, "--as", user),
        cwd=code,
        env=_env(code, LOG_LEVEL="ERROR"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert chat.stdin is not None and chat.stdout is not None
    chat.stdin.write(CHAT_LINE)
    chat.stdin.flush()
    first = chat.stdout.readline()
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds(chat.pid)  # it waits for the next line: alive, and idle
    chat.stdin.close()
    chat.stdout.read()
    if chat.wait(TIMEOUT) != 0 or not first.strip():
        raise RuntimeError(f"crmbot chat failed (exit {chat.returncode})")
    return seconds, cpu


async def run_first_poll(code: Path, url: str, idle: float) -> tuple[float, float, float]:
    """Wall and CPU seconds from the start of `crmbot run` to its first getUpdates, and its
    resident memory (MB) after `idle` seconds more of polling and nothing to do."""
    api = BotApi()
    await api.start()
    run: asyncio.subprocess.Process | None = None
    try:
        started = time.perf_counter()
        run = await asyncio.create_subprocess_exec(
            *_command("run", "--db", url),
            cwd=code,
            env=_env(
                code,
                TELEGRAM_BOT_TOKEN=TOKEN,
                TELEGRAM_API_BASE_URL=api.base_url("run"),
                LOG_LEVEL="WARNING",
            ),
        )
        await api.until(lambda: bool(api.of("getUpdates")), timeout=TIMEOUT)
        seconds = time.perf_counter() - started
        cpu = _cpu_seconds(run.pid)
        await asyncio.sleep(idle)
        return seconds, cpu, _rss_mb(run.pid)
    finally:
        if run is not None and run.returncode is None:
            run.send_signal(signal.SIGTERM)
            await asyncio.wait_for(run.wait(), TIMEOUT)
        await api.stop()


def bench_peak_rss_mb(code: Path, db: Path, *, calls: int) -> float:
    """The peak RSS of `python -m bench` measuring every case on `db` (in place)."""
    with tempfile.TemporaryDirectory() as folder:
        results = Path(folder) / "results.json"
        options = ["--calls", str(calls), "--warmup", "2", "--json", str(results)]
        subprocess.run(
            [sys.executable, "-m", "bench", "--db", f"sqlite:///{db.resolve()}", *options],
            cwd=code,
            env=_env(code),
            stdout=subprocess.DEVNULL,
            check=True,
        )
        return float(json.loads(results.read_text())["runs"][0]["peak_rss_mb"])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for process {pid}")


def _one_round(code: Path, url: str, user: str) -> dict[str, float]:
    help_wall, help_cpu = help_seconds(code)
    chat_wall, chat_cpu = chat_first_reply_seconds(code, url, user)
    poll_wall, poll_cpu, idle_rss = asyncio.run(run_first_poll(code, url, IDLE_SECONDS))
    return {
        "help_s": help_wall,
        "help_cpu_s": help_cpu,
        "chat_first_reply_s": chat_wall,
        "chat_first_reply_cpu_s": chat_cpu,
        "run_first_poll_s": poll_wall,
        "run_first_poll_cpu_s": poll_cpu,
        "run_idle_rss_mb": idle_rss,
    }


def measure(codes: dict[str, Path], url: str, user: str, *, runs: int) -> dict[str, Any]:
    """Each case of each checkout `runs` times, interleaved (a burst of load on the machine
    hits all alike), after an untimed round; per checkout the medians and every sample."""
    samples: dict[str, dict[str, list[float]]] = {label: {} for label in codes}
    loads = []
    for round_ in range(runs + 1):
        for label, code in codes.items():
            figures = _one_round(code, url, user)
            if round_ == 0:
                continue  # bytecode written, caches warm: as any start after the first
            for name, value in figures.items():
                samples[label].setdefault(name, []).append(value)
        loads.append(os.getloadavg()[0])
    return {
        label: {
            "medians": {name: round(statistics.median(v), 3) for name, v in figures.items()},
            "samples": {name: [round(x, 3) for x in v] for name, v in figures.items()},
            "load average": [round(min(loads), 2), round(max(loads), 2)],
        }
        for label, figures in samples.items()
    }


def _code(text: str) -> tuple[str, Path]:
    label, _, path = text.rpartition("=")
    return label or path, Path(path).resolve()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.startup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", type=Path, required=True, help="a SQLite database (a copy)")
    parser.add_argument("--as", dest="user", default="Bench", help="who chats")
    parser.add_argument(
        "--code",
        type=_code,
        action="append",
        help="LABEL=PATH of a checkout to measure (repeat to compare; default: this one)",
    )
    parser.add_argument("--runs", type=int, default=5, help="0: only the peak RSS")
    parser.add_argument("--peak-db", type=Path, help="also the bench's peak RSS on this")
    parser.add_argument("--peak-calls", type=int, default=20, help="calls a case for it")
    parser.add_argument("--json", type=Path, help="add the results to this JSON file")
    args = parser.parse_args(argv)
    codes = dict(args.code or [_code(f"this checkout={Path(__file__).parent.parent}")])
    url = f"sqlite:///{args.db.resolve()}"
    results = measure(codes, url, args.user, runs=args.runs) if args.runs else {}
    if args.peak_db:
        for label, code in codes.items():
            peak = bench_peak_rss_mb(code, args.peak_db, calls=args.peak_calls)
            results.setdefault(label, {"medians": {}})["medians"]["bench_peak_rss_mb"] = peak
            results[label]["peak_db"] = args.peak_db.name
    print(json.dumps(results, indent=2))
    if args.json:
        saved = json.loads(args.json.read_text()) if args.json.exists() else {}
        for label, result in results.items():  # figures measured now replace their own
            medians = {**saved.get(label, {}).get("medians", {}), **result["medians"]}
            saved[label] = {**saved.get(label, {}), **result, "medians": medians}
        args.json.write_text(json.dumps(saved, indent=2) + "\n")


if __name__ == "__main__":
    main()
