"""`crmbot serve` processes on loopback ports, for the multi-process tests and the load
bench: started with their settings in the environment, ready once /healthz answers 200,
stopped with SIGTERM (graceful) or SIGKILL (a crash)."""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

TOKEN = "7000001:AAFakeTokenForTestsOnly-0123456789ab"
WEBHOOK_SECRET = "bench-webhook-Secret_0123456789"
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before it runs: SIGTERM when the test or bench that started it dies,
    so that no server outlives them (Linux; elsewhere, nothing)."""
    if sys.platform == "linux":
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds_of(stat: Path) -> float:
    """User and system CPU from a /proc stat file: a process's (its threads together) or,
    under task/, one thread's."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve_env(database_url: str, api_base_url: str, **settings: str) -> dict[str, str]:
    """The environment of one process: the database, a bot whose Bot API is `api_base_url`,
    its webhook, and any further settings (`OPEN_SIGNUP="true"`, ...)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CRM_")}
    env.update(
        DATABASE_URL=database_url,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=api_base_url,
        TELEGRAM_WEBHOOK_URL="https://crm.example.test/telegram/webhook",
        TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        LOG_LEVEL="WARNING",
    )
    env.update(settings)
    return env


@dataclass
class ServeProcess:
    name: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.log_path.parent,  # no stray .env is read
                preexec_fn=_die_with_parent,
            )

    async def ready(self, timeout: float = 120.0) -> None:
        """Until /healthz answers 200 (the webhook is set by then)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with aiohttp.ClientSession() as session:
            while loop.time() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
                try:
                    async with session.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout:g} s: {self.log_tail()}")

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, and its exit code once it has stopped."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def cpu_seconds(self) -> float:
        """User and system CPU this process has used so far, all its threads (Linux)."""
        return cpu_seconds_of(Path(f"/proc/{self.pid}/stat"))

    def loop_cpu_seconds(self) -> float:
        """The part of `cpu_seconds` of the main thread, which runs the event loop (the
        HTTP server, python-telegram-bot, the sends); the rest is the dispatcher's threads."""
        return cpu_seconds_of(Path(f"/proc/{self.pid}/task/{self.pid}/stat"))

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])
