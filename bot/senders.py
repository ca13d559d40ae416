"""How the outbox dispatcher speaks to a platform: the `Sender` contract, the terminal
sender, and a recording sender for tests and benchmarks.

A platform adapter that can speak first (Telegram, Slack) implements `Sender`; `crmbot
run` hands every adapter that does to the outbox dispatcher. The contract:

- `platform` is the value of `storage.models.Platform` whose outbox rows it sends.
- `send(chat_id, reply, workspace_id=...)` renders the Reply for the platform (escaping
  every span, splitting at the platform's limits) and posts it to `chat_id`. For a
  channel or group that is the platform's chat id (Telegram: the negative group id;
  Slack: `C...`). For a direct message it is the member's user id on the platform: a
  Telegram private chat has the user's id, and the Slack sender opens the DM
  (`conversations.open`) from the user id (`U...`). `workspace_id` is the Slack team
  (empty elsewhere), for installations that serve several workspaces.
- It returns once the platform accepted the message, or raises one of the errors below.
  Anything else it raises counts as a transient error. What it returns is the platform's
  id of the message (the last one, when the reply took several), or None when the
  platform has none: `edit` takes it back.
- `edit(chat_id, ref, reply, workspace_id=...)` replaces the text of a message `send`
  returned `ref` for with `reply`, without buttons, and raises as `send` does.
- It does not pace itself: the dispatcher keeps to the platform's rate limits
  (bot/pacing.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, TextIO, runtime_checkable

from bot.console import CONSOLE_CHAT, render_text
from handlers.reply import Reply
from storage.models import Platform


class DeliveryError(Exception):
    """A send did not go through."""


class RateLimited(DeliveryError):
    """HTTP 429: try again after `retry_after` seconds (the platform's own figure)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited, retry after {retry_after:g}s")
        self.retry_after = retry_after


class TransientError(DeliveryError):
    """5xx, a timeout, a dropped connection: worth trying again later."""


class PermanentError(DeliveryError):
    """The platform refuses for good (blocked by the user, channel gone, not a member):
    `reason` is shown to the member concerned."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@runtime_checkable
class Sender(Protocol):
    platform: str

    async def send(self, chat_id: str, reply: Reply, *, workspace_id: str = "") -> str | None:
        """Deliver `reply` to `chat_id`, or raise RateLimited / TransientError /
        PermanentError."""

    async def edit(self, chat_id: str, ref: str, reply: Reply, *, workspace_id: str = "") -> None:
        """Replace the message `ref` with `reply`, or raise as `send` does."""


@dataclass
class ConsoleSender:
    """The terminal: a message the bot sends elsewhere is printed with its target
    (`→ #terminal: ...` for a channel, `→ @alice (direct message): ...` for a person).
    `on_reply` sees each delivered reply (the console makes its buttons pressable). `out`
    None is `sys.stdout` as it is at each message: in an interactive chat, the proxy that
    prints above the prompt."""

    out: TextIO | None = None
    on_reply: Callable[[Reply], None] | None = None
    platform: str = Platform.console

    async def send(self, chat_id: str, reply: Reply, *, workspace_id: str = "") -> str | None:
        print(f"→ {_target(chat_id)}: {render_text(reply)}\n", file=self.out, flush=True)
        if self.on_reply is not None:
            self.on_reply(reply)
        return None  # printed lines cannot be changed

    async def edit(self, chat_id: str, ref: str, reply: Reply, *, workspace_id: str = "") -> None:
        print(f"→ {_target(chat_id)} (changed): {render_text(reply)}\n", file=self.out, flush=True)


def _target(chat_id: str) -> str:
    return f"#{chat_id}" if chat_id == CONSOLE_CHAT else f"@{chat_id} (direct message)"


@dataclass(frozen=True, slots=True)
class Sent:
    chat_id: str
    reply: Reply
    at: float  # the event loop's clock when the platform accepted it
    edits: str | None = None  # the message this changed (its ref), for an edit


# What a scripted platform answers to the n-th send to a chat: None accepts it.
Answer = Callable[[str, int], DeliveryError | None]


@dataclass
class RecordingSender:
    """A platform that records what it accepts. `answer(chat_id, n)` may refuse the n-th
    send (from 1) to a chat with a 429, a 5xx or a permanent error; `latency` seconds pass
    (on the loop's clock) before the platform has the message and as many after, so a
    process can die between "accepted" and "marked sent"."""

    platform: str = Platform.telegram
    answer: Answer | None = None
    latency: float = 0.0
    sent: list[Sent] = field(default_factory=list)
    tries: dict[str, int] = field(default_factory=dict)

    async def send(self, chat_id: str, reply: Reply, *, workspace_id: str = "") -> str | None:
        return await self._record(chat_id, reply, None)

    async def edit(self, chat_id: str, ref: str, reply: Reply, *, workspace_id: str = "") -> None:
        await self._record(chat_id, reply, ref)

    async def _record(self, chat_id: str, reply: Reply, edits: str | None) -> str:
        """Accept (or refuse) the message; its ref is its place in `sent`, from 1."""
        loop = asyncio.get_running_loop()
        if self.latency:
            await asyncio.sleep(self.latency)
        self.tries[chat_id] = self.tries.get(chat_id, 0) + 1
        refusal = self.answer(chat_id, self.tries[chat_id]) if self.answer else None
        if refusal is not None:
            raise refusal
        self.sent.append(Sent(chat_id, reply, loop.time(), edits))
        if self.latency:
            await asyncio.sleep(self.latency)
        return str(len(self.sent))

    def to(self, chat_id: str) -> list[Reply]:
        return [sent.reply for sent in self.sent if sent.chat_id == chat_id]


def senders_among(adapters: Iterable[object]) -> list[Sender]:
    """The adapters that can speak first."""
    return [adapter for adapter in adapters if isinstance(adapter, Sender)]
