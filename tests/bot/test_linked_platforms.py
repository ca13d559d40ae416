"""One team across Telegram and Slack, through both real adapters on one database: a
Telegram rep links their Slack account, hears their reminders in Slack after /notify
slack, finishes one there and is told so on Telegram; a deal won on Telegram is announced
in a Slack channel and a Telegram group, each rendered for its platform."""

from __future__ import annotations

import json
import re

from sqlalchemy import Engine

from bot.outbox import OutboxDispatcher, inline
from bot.senders import senders_among
from tests.bot.conftest import ALICE as TG_ALICE
from tests.bot.conftest import BOB as TG_BOB
from tests.bot.conftest import GROUP, TelegramChat
from tests.bot.slack_fixtures import (
    ALICE,
    CHANNEL,
    DM,
    Slack,
    slack_fixture,  # noqa: F401  (the `slack` fixture)
)
from tests.conftest import Clock


def _code(text: str) -> str:
    found = re.search(r"<code>([A-Z2-9]{10})</code>", text)
    assert found, text
    return found.group(1)


async def test_a_telegram_rep_and_their_slack_are_one_member(
    telegram: TelegramChat, slack: Slack, engine: Engine, clock: Clock
) -> None:
    assert "created the team" in await telegram.say("/start Acme Sales")
    code = _code(await telegram.say("/link"))
    await slack.command(f"link {code}")
    linked = slack.api.answers()[-1].text
    assert "Linked: you are *Alice Adams* (admin) in *Acme Sales* on Telegram and Slack." in (
        linked
    )
    await slack.command("team")
    assert "Alice Adams* · admin · telegram, slack" in slack.api.answers()[-1].text

    # The team's channels on both platforms, set up from each.
    await slack.command("announce here")
    assert "hears about every won deal" in slack.api.answers()[-1].text
    assert "hears about every won deal" in await telegram.say("/announce here", chat=GROUP)

    # A reminder set on Telegram, then "reach me on Slack".
    assert "OK, I'll remind you" in await telegram.say("/remind in 2 hours call Jane back")
    assert "I reach you on <b>Slack</b>" in await telegram.say("/notify slack")

    # A won deal on Telegram, with a name to escape on each platform.
    await telegram.say("/deal Website <redesign> & *co* 12.000 €")
    assert "Won" in await telegram.say("/won Website")

    outbox = OutboxDispatcher(
        engine, senders_among([telegram.adapter, slack.adapter]), clock=clock, run_sync=inline
    )
    await outbox.drain()
    to_group = [c for c in telegram.api.of("sendMessage") if c.params["chat_id"] == GROUP["id"]]
    [in_group] = [c for c in to_group if "🎉" in c.text]
    # In the group, the deal opens in the private chat with the bot: a deep link.
    link = "https://t.me/crm_test_bot?start=d1"
    assert (
        f'<b>🎉 Alice Adams won Website &lt;redesign&gt; &amp; *co* (<a href="{link}">d1</a>) '
        "for €12,000</b>"
    ) in in_group.text
    assert in_group.markup == {"inline_keyboard": [[{"text": "Open", "url": link}]]}
    card = await telegram.say("/start d1")  # what the link sends, in Alice's private chat
    assert "Website &lt;redesign&gt; &amp; *co*" in card and "owner Alice Adams" in card
    stranger = await telegram.say("/start d1", user=TG_BOB)
    assert "opens a deal for the members of its team" in stranger and "Website" not in stranger
    to_channel = [c for c in slack.api.sent("chat.postMessage") if c.data["channel"] == CHANNEL]
    [in_channel] = [c for c in to_channel if "🎉" in c.text]
    # Slack: a header block (plain text: nothing to escape), the notification text escaped.
    [header, *_] = in_channel.data["blocks"]
    assert header == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "🎉 Alice Adams won Website <redesign> & *co* (d1) for €12,000",
            "emoji": True,
        },
    }
    assert in_channel.data["text"].startswith(
        "🎉 Alice Adams won Website &lt;redesign&gt; &amp; *co* (d1)"
    )
    # Open shows the card only to whoever pressed it, as their team and role show it.
    await slack.press(in_channel.buttons["Open"], user=ALICE, channel=CHANNEL, ephemeral=False)
    opened = slack.api.answers()[-1]
    assert opened.method == "response_url" and opened.data["response_type"] == "ephemeral"
    assert not opened.data["replace_original"]
    assert "Website <redesign> & *co*" in opened.text  # a header: plain text
    assert "owner Alice Adams" in opened.text

    clock.advance(hours=2)
    before = len(telegram.api.calls)
    await outbox.drain()
    assert not [c for c in telegram.api.calls[before:] if c.method == "sendMessage"]
    [reminder] = [c for c in slack.api.sent("chat.postMessage") if c.data["channel"] == ALICE]
    assert "call Jane back" in reminder.text
    done = reminder.buttons["Done"]

    await slack.press(done, channel=DM, ephemeral=False)
    assert "✓ Done: *call Jane back*" in slack.api.answers()[-1].text

    # The same Done pressed on Telegram (where an earlier delivery carried it).
    [latest] = [c for c in telegram.api.of("sendMessage")][-1:]
    calls = await telegram.feed(telegram.callback_update(latest.result, done, TG_ALICE))
    said = " ".join(
        str(c.params.get("text", "")) for c in calls if c.method != "answerCallbackQuery"
    ) + " ".join(json.dumps(c.params) for c in calls if c.method == "answerCallbackQuery")
    assert "already done" in said


async def test_a_reminder_done_on_one_platform_changes_its_copy_on_the_other(
    telegram: TelegramChat, slack: Slack, engine: Engine, clock: Clock
) -> None:
    assert "created the team" in await telegram.say("/start Acme Sales")
    await slack.command(f"link {_code(await telegram.say('/link'))}")
    assert "I reach you on <b>Telegram, Slack</b>" in await telegram.say("/notify both")
    await telegram.say("/remind in 1 hour call Jane back")
    await telegram.say("/remind in 1 hour send the offer")
    outbox = OutboxDispatcher(
        engine, senders_among([telegram.adapter, slack.adapter]), clock=clock, run_sync=inline
    )
    clock.advance(hours=1)
    await outbox.drain()
    on_telegram = {
        c.text.split("\n")[0]: c for c in telegram.api.of("sendMessage") if "⏰" in c.text
    }
    on_slack = {
        c.text.split("\n")[0]: c for c in slack.api.sent("chat.postMessage") if "⏰" in c.text
    }
    [call_tg, offer_tg] = sorted(on_telegram.values(), key=lambda c: "offer" in c.text)
    [call_slack, _] = sorted(on_slack.values(), key=lambda c: "offer" in c.text)

    # Done pressed in Slack: the Telegram copy says so, and its buttons are gone.
    await slack.press(call_slack.buttons["Done"], channel=DM, ephemeral=False)
    await outbox.drain()
    [changed] = telegram.api.of("editMessageText")
    assert changed.params["message_id"] == call_tg.result["message_id"]
    assert changed.params["chat_id"] == TG_ALICE["id"]
    assert changed.text.startswith("✓ Done: <b>call Jane back</b>")
    assert "reply_markup" not in changed.params
    assert not slack.api.sent("chat.update")  # Slack's own copy was the one pressed

    # Snoozed on Telegram: the Slack copy is updated in the direct message it was sent to.
    snooze = next(v for k, v in offer_tg.button_data.items() if k.startswith("Snooze"))
    await telegram.feed(telegram.callback_update(offer_tg.result, snooze, TG_ALICE))
    await outbox.drain()
    [updated] = slack.api.sent("chat.update")
    assert updated.data["channel"] == f"D{ALICE[1:]}"
    assert updated.data["ts"] == "1700000000.000100"
    assert "send the offer" in updated.text and "snoozed until" in updated.text
    assert "Done" not in json.dumps(updated.data.get("blocks"))
    assert len(telegram.api.of("editMessageText")) == 2  # and its own copy, by the press

    # Delivered again an hour later, then done by typing: both copies change.
    clock.advance(hours=1)
    await outbox.drain()
    assert "Done: #2 send the offer" in await telegram.say("/done 2")
    await outbox.drain()
    assert len(slack.api.sent("chat.update")) == 2
    assert slack.api.sent("chat.update")[-1].text.startswith("✓ Done: *send the offer*")
    edits = telegram.api.of("editMessageText")
    assert len(edits) == 3 and edits[-1].text.startswith("✓ Done: <b>send the offer</b>")
    assert edits[-1].params["message_id"] != offer_tg.result["message_id"]  # the new copy
