"""The terminal sender and the sender contract."""

from __future__ import annotations

import asyncio
import io

from bot.console import CONSOLE_CHAT
from bot.senders import ConsoleSender, RecordingSender, Sender, senders_among
from handlers.reply import Button, Reply


def test_console_prints_channels_and_direct_messages_with_their_target() -> None:
    out = io.StringIO()
    seen: list[Reply] = []
    sender = ConsoleSender(out=out, on_reply=seen.append)
    reminder = Reply().heading("⏰ call Jane").button_row(Button("Done", "rd", (1,)))
    asyncio.run(sender.send(CONSOLE_CHAT, Reply().add("🎉 Alice won Website")))
    asyncio.run(sender.send("alice", reminder))
    assert out.getvalue().split("\n\n") == [
        "→ #terminal: 🎉 Alice won Website",
        "→ @alice (direct message): ⏰ call Jane\n[1] Done",
        "",
    ]
    assert seen[-1] is reminder


def test_adapters_that_can_speak_first_are_senders() -> None:
    class Listener:
        name = "listener"

        async def start(self) -> None: ...

        async def stop(self) -> None: ...

    recording = RecordingSender()
    assert isinstance(recording, Sender) and isinstance(ConsoleSender(), Sender)
    assert senders_among([Listener(), recording]) == [recording]
