"""The Telegram adapter through the real python-telegram-bot Application, offline."""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from telegram import KeyboardButton, ReplyKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import NetworkError, TimedOut
from telegram.ext import AIORateLimiter

from bot import telegram_adapter
from bot.geocoding import OfflineGeocoder
from bot.telegram_adapter import TelegramAdapter
from bot.telegram_render import inline_keyboard, render_html
from handlers import build_registry
from handlers.dispatcher import NOT_A_MEMBER, STALE_BUTTON, Dispatcher
from handlers.registry import Registry
from handlers.reply import Attachment, Button, Reply, bold, text_reply
from storage.models import Activity, Channel, Contact, Member
from tests.bot.conftest import (
    ALICE,
    BOB,
    DATE,
    GROUP,
    TOKEN,
    FakeBotApi,
    TelegramChat,
    private_chat,
)
from tests.conftest import START, Clock
from tests.phones import LANDLINE, MOBILE


def _contacts(engine: Engine) -> list[Contact]:
    with Session(engine) as session:
        return list(session.exec(select(Contact).order_by(col(Contact.id))))


async def _join(chat: TelegramChat, user: dict[str, object]) -> None:
    invite = (await chat.send("/invite"))[0].text
    code = re.search(r"<code>(\w+)</code>", invite)
    assert code, invite
    assert "You joined" in await chat.say(f"/join {code.group(1)}", user=user)


async def test_start_creates_the_team_and_offers_a_share_location_button(
    telegram: TelegramChat,
) -> None:
    (sent,) = await telegram.send("/start Acme Sales")
    assert sent.method == "sendMessage" and sent.params["chat_id"] == ALICE["id"]
    assert sent.params["parse_mode"] == "HTML"
    assert "Welcome, <b>Alice Adams</b>! You created the team <b>Acme Sales</b>" in sent.text
    assert sent.markup["keyboard"] == [[{"text": "Share location", "request_location": True}]]
    # Only /start in a private chat brings the keyboard.
    (again,) = await telegram.send("/help")
    assert "keyboard" not in again.markup


# One step per command, every family: (who, message, what the answer contains).
TOUR = [
    ("alice", "/help", "/add /find /show"),
    ("alice", "/help stage", "/stage DEAL [STAGE|next]"),
    (
        "alice",
        f"/add Jane Doe company:Acme {LANDLINE.international} jane@acme.de city:Berlin #hot",
        "Added",
    ),
    ("alice", "/find jnae doe", "Jane Doe"),
    ("alice", "/show Jane Doe", "jane@acme.de"),
    ("alice", "/edit Jane Doe title:CTO", "CTO"),
    ("alice", "/tag Jane Doe #berlin", "#berlin"),
    ("alice", "/untag Jane Doe #berlin", "Jane Doe"),
    ("alice", "/leads", "Jane Doe"),
    ("alice", "/note Jane Doe wants the quote before Friday", "Logged: noted"),
    ("alice", "/call Jane Doe about pricing", "Jane Doe"),
    ("alice", "/meet Jane Doe lunch", "Jane Doe"),
    ("alice", "/visit Jane Doe showroom", "Jane Doe"),
    ("alice", "/feed", "Alice Adams added Jane Doe"),
    ("alice", "/deal Website redesign Jane Doe 12k", "€12,000"),
    ("alice", "/deals", "Website redesign"),
    ("alice", "/stage 1 proposal", "Moved to Proposal"),
    ("alice", "/won 1", "Won €12,000"),
    ("alice", "/deal Renewal Jane Doe 5k", "Renewal"),
    ("alice", "/lost 2 went elsewhere", "Marked as lost"),
    ("alice", "/team", "Alice Adams"),
    ("alice", "/stages", "Negotiation"),
    ("bob", "/show Jane Doe", "Jane Doe"),
    ("alice", "/role Bob manager", "manager"),
    ("alice", "/announce", "No chat announces won deals yet"),
]


async def test_every_command_family_works_in_a_private_chat(alice: TelegramChat) -> None:
    await _join(alice, BOB)
    users = {"alice": ALICE, "bob": BOB}
    families = set()
    registry = alice.adapter.dispatcher.registry
    for who, text, expected in TOUR:
        calls = await alice.send(text, user=users[who])
        answer = "\n".join(call.text for call in calls)
        assert [call.method for call in calls] == ["sendMessage"] * len(calls), text
        assert all(call.params["chat_id"] == users[who]["id"] for call in calls)
        assert expected in answer, f"{text!r} answered {answer!r}"
        command = registry.find(text.split()[0].lstrip("/"))
        assert command is not None
        families.add(command.family)
    assert families >= {"onboarding", "contacts", "activities", "deals", "team", "channels"}


async def test_a_stage_button_edits_the_message_it_came_from(alice: TelegramChat) -> None:
    await alice.send("/deal Website redesign 12k")
    (menu,) = await alice.send("/stage 1")
    assert "Qualified" in menu.button_data and "Won" in menu.button_data
    assert all(len(data.encode()) <= 64 for data in menu.button_data.values())

    calls = await alice.press("Qualified")
    assert [call.method for call in calls] == ["answerCallbackQuery", "editMessageText"]
    answer, edit = calls
    assert answer.params["callback_query_id"].startswith("cq")
    assert edit.params["message_id"] == menu.result["message_id"]
    assert edit.params["chat_id"] == ALICE["id"] and edit.params["parse_mode"] == "HTML"
    assert "Moved to Qualified" in edit.text
    # The edited card carries the next stages, so a rep taps on through the pipeline.
    assert "Qualified" not in edit.button_data and "Proposal" in edit.button_data

    calls = await alice.press("Proposal")
    assert [call.method for call in calls] == ["answerCallbackQuery", "editMessageText"]
    assert "Moved to Proposal" in calls[1].text
    assert calls[1].params["message_id"] == menu.result["message_id"]


async def test_every_button_press_is_answered(alice: TelegramChat) -> None:
    message = {"message_id": 9, "date": DATE, "chat": private_chat(ALICE), "text": "old"}
    calls = await alice.feed(alice.callback_update(message, "zz:1"))
    assert [call.method for call in calls] == ["answerCallbackQuery", "sendMessage"]
    assert STALE_BUTTON in calls[1].text

    # A redelivered press changes nothing and says nothing, but stops the spinner too.
    await alice.send("/deal Website redesign")
    (menu,) = await alice.send("/stage 1")
    update = alice.callback_update(menu.result, menu.button_data["Qualified"])
    first, second = await alice.feed(update), await alice.feed(update)
    assert [call.method for call in first] == ["answerCallbackQuery", "editMessageText"]
    assert [call.method for call in second] == ["answerCallbackQuery"]


async def test_pressing_the_current_stage_again_keeps_the_message(alice: TelegramChat) -> None:
    await alice.send("/deal Website redesign")
    await alice.send("/stage 1")
    alice.api.fail("editMessageText", (400, "Bad Request: message is not modified"))
    calls = await alice.press("Qualified")
    assert [call.method for call in calls] == ["answerCallbackQuery", "editMessageText"]


async def test_a_message_that_cannot_be_edited_gets_a_new_one(alice: TelegramChat) -> None:
    await alice.send("/deal Website redesign")
    await alice.send("/stage 1")
    alice.api.fail("editMessageText", (400, "Bad Request: message to edit not found"))
    calls = await alice.press("Qualified")
    methods = [call.method for call in calls]
    assert methods == ["answerCallbackQuery", "editMessageText", "sendMessage"]
    assert "Moved to Qualified" in calls[2].text


async def test_a_shared_location_is_stored_and_live_updates_are_silent(
    alice: TelegramChat, engine: Engine
) -> None:
    location = {"latitude": 52.520008, "longitude": 13.404954}
    (sent,) = await alice.send(location=location)
    assert "Got your location; visits you log" in sent.text
    assert "No prospects within 10 km" in sent.text  # answered with /nearby

    live = alice.message_update(location=location | {"live_period": 900})
    assert "Got your location" in (await alice.feed(live))[0].text
    moved = live["message"] | {
        "location": {"latitude": 48.137154, "longitude": 11.576124, "live_period": 900},
        "edit_date": DATE + 60,
    }
    assert await alice.feed({"update_id": 95_000, "edited_message": moved}) == []
    with Session(engine) as session:
        member = session.exec(select(Member).where(Member.name == "Alice Adams")).one()
        assert (member.lat, member.lon) == (pytest.approx(48.137154), pytest.approx(11.576124))


VCARD = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;Jane;;;\r\nFN:Jane Doe\r\n"
    "ORG:Acme GmbH;Sales\r\nTITLE:Head of Purchasing\r\n"
    "TEL;TYPE=CELL:+49 170 1234567\r\nEMAIL;TYPE=INTERNET:jane@acme.de\r\nEND:VCARD"
)


async def test_a_shared_contact_card_is_logged_with_its_duplicate_warning(
    alice: TelegramChat, engine: Engine
) -> None:
    card = {
        "phone_number": MOBILE.e164[1:],  # a Telegram user's number comes without "+"
        "first_name": "Jane",
        "last_name": "Doe",
        "user_id": 333,
        "vcard": VCARD,
    }
    (sent,) = await alice.send(contact=card)
    assert "Added <b>Jane Doe</b>" in sent.text
    assert "jane@acme.de" in sent.text and "Acme GmbH" in sent.text
    (jane,) = _contacts(engine)
    assert (jane.phone, jane.email, jane.title) == (
        MOBILE.e164,
        "jane@acme.de",
        "Head of Purchasing",
    )

    (warning,) = await alice.send(contact=card)
    assert "This looks like a contact you already have" in warning.text
    assert "same e-mail" in warning.text and "Add anyway" in warning.button_data
    assert len(_contacts(engine)) == 1

    calls = await alice.press("Add anyway")
    assert calls[0].method == "answerCallbackQuery"
    assert "Added <b>Jane Doe</b>" in calls[1].text
    assert len(_contacts(engine)) == 2


async def test_a_group_registers_as_the_announcement_channel(
    alice: TelegramChat, engine: Engine
) -> None:
    (sent,) = await alice.send("/announce@crm_test_bot here", chat=GROUP)
    assert sent.params["chat_id"] == GROUP["id"]
    assert "From now on <b>Sales team</b> hears about every won deal." in sent.text
    with Session(engine) as session:
        (channel,) = session.exec(select(Channel)).all()
    assert (channel.platform, channel.chat_id, channel.name) == (
        "telegram",
        str(GROUP["id"]),
        "Sales team",
    )
    # Commands for another bot and the group's own conversation are not the bot's business.
    assert await alice.send("/announce@other_bot off", chat=GROUP) == []
    assert await alice.send("see you at the fair", chat=GROUP) == []
    assert await alice.send(sticker=_STICKER, chat=GROUP) == []
    assert "Sales team" in await alice.say("/announce")


async def test_user_text_is_escaped(alice: TelegramChat) -> None:
    name = '<b>Bob & "Co"</b>'
    (sent,) = await alice.send(f"/add name:'{name}' city:<i>Berlin</i>")
    assert 'Added <b>&lt;b&gt;Bob &amp; "Co"&lt;/b&gt;</b> (c1)' in sent.text
    assert "&lt;i&gt;Berlin&lt;/i&gt;" in sent.text
    assert "<b>Bob" not in sent.text and "<i>Berlin" not in sent.text
    card = {"phone_number": LANDLINE.e164, "first_name": "<b>Bob", "last_name": '& "Co"</b>'}
    (warning,) = await alice.send(contact=card)
    assert '<b>&lt;b&gt;Bob &amp; "Co"&lt;/b&gt;</b> (c1) — same name' in warning.text


async def test_a_long_reply_is_split_on_line_boundaries(alice: TelegramChat) -> None:
    await alice.send("/add Jane Doe")
    notes = [f"note {i:02} " + "lorem ipsum " * 12 + f"end {i:02}" for i in range(40)]
    for note in notes:
        await alice.send(f"/note Jane Doe {note}")
    calls = await alice.send("/feed 40")
    assert len(calls) >= 2
    assert all(len(call.text) <= 4096 for call in calls)
    assert calls[0].text.startswith("<b>Latest activity</b>\n")
    for note in notes:
        # Every line whole, in exactly one message.
        assert sum(note in call.text for call in calls) == 1


async def test_the_same_update_twice_has_one_effect(alice: TelegramChat, engine: Engine) -> None:
    update = alice.message_update(text=f"/add Jane Doe {LANDLINE.international}")
    first = await alice.feed(update)
    second = await alice.feed(update)
    assert "Added" in first[0].text
    assert second == []
    assert len(_contacts(engine)) == 1


async def test_a_stranger_is_refused_politely(alice: TelegramChat) -> None:
    assert NOT_A_MEMBER in await alice.say("/deals", user=BOB)
    assert NOT_A_MEMBER in await alice.say("/add Jane Doe", user=BOB)
    location = {"latitude": 52.5, "longitude": 13.4}
    assert NOT_A_MEMBER in await alice.say(user=BOB, location=location)
    assert "/join CODE" in await alice.say("/help", user=BOB)
    assert "Ask a teammate for an invite code" in await alice.say("/start", user=BOB)


_STICKER = {
    "file_id": "s1",
    "file_unique_id": "s1",
    "type": "regular",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
}


async def test_unsupported_messages_say_what_the_bot_reads(alice: TelegramChat) -> None:
    sticker = await alice.say(sticker=_STICKER)
    assert sticker.startswith("I can't read stickers.\nWhat I understand:")
    assert "a location you share" in sticker and "a contact card you share" in sticker
    voice = {"file_id": "v1", "file_unique_id": "v1", "duration": 3}
    assert "I can't read voice messages." in await alice.say(voice=voice)
    big: dict[str, Any] = {"file_id": "d1", "file_unique_id": "d1", "file_name": "leads.csv"}
    big["file_size"] = 30 * 1024 * 1024
    assert "I can't read files over 20 MB." in await alice.say(document=big)
    assert not alice.api.of("getFile")  # not even fetched
    photo = [{"file_id": "p1", "file_unique_id": "p1", "width": 9, "height": 9}]
    assert "I can't read photos." in await alice.say(photo=photo)
    assert "Commands start with a slash" in await alice.say("hello there")
    assert "I don't know /frobnicate" in await alice.say("/frobnicate")
    assert "Usage:" in await alice.say("/stage")
    # Someone joining, a pinned message: not a message to answer.
    assert await alice.send(new_chat_title="Renamed") == []


async def test_commands_addressed_to_the_bot_work_in_private_too(alice: TelegramChat) -> None:
    assert "/add /find /show" in await alice.say("/help@CRM_test_bot")
    assert await alice.send("/help@other_bot") == []


async def test_a_user_who_blocked_the_bot_is_logged(
    alice: TelegramChat, caplog: pytest.LogCaptureFixture
) -> None:
    alice.api.fail("sendMessage", (403, "Forbidden: bot was blocked by the user"))
    calls = await alice.send("/help")
    assert [call.method for call in calls] == ["sendMessage"]
    assert "cannot write to chat 111" in caplog.text
    assert "/add /find /show" in await alice.say("/help")  # and it carries on


async def test_network_errors_and_server_errors_are_retried(alice: TelegramChat) -> None:
    alice.api.fail(
        "sendMessage", TimedOut("read timed out"), (502, "Bad Gateway"), NetworkError("reset")
    )
    calls = await alice.send("/help")
    assert [call.method for call in calls] == ["sendMessage"] * 4
    assert "/add /find /show" in calls[-1].text
    assert alice.slept == [1.0, 2.0, 4.0]


async def test_retries_give_up_and_are_logged(
    alice: TelegramChat, caplog: pytest.LogCaptureFixture
) -> None:
    alice.api.fail("sendMessage", *[(500, "Internal Server Error")] * 4)
    calls = await alice.send("/help")
    assert len(calls) == 4
    assert "could not deliver the reply to chat 111" in caplog.text
    assert "/add /find /show" in await alice.say("/help")


async def test_attachments_are_sent_as_photo_and_document(alice: TelegramChat) -> None:
    reply = text_reply("Pipeline ", bold("<this quarter>"))
    reply.attachments += [
        Attachment("pipeline.png", b"\x89PNG fake", "image/png", caption="Q4 <draft>"),
        Attachment("contacts.csv", b"name\nJane\n", "text/csv"),
    ]
    before = len(alice.api.calls)
    await alice.adapter.deliver(ALICE["id"], reply)
    text, photo, document = alice.api.calls[before:]
    assert text.text == "Pipeline <b>&lt;this quarter&gt;</b>"
    assert photo.method == "sendPhoto" and photo.params["caption"] == "Q4 &lt;draft&gt;"
    assert photo.files["photo"][:2] == ("pipeline.png", b"\x89PNG fake")
    assert document.method == "sendDocument" and "caption" not in document.params
    assert document.files["document"][:2] == ("contacts.csv", b"name\nJane\n")


async def test_a_large_file_goes_out_from_its_temporary_file(
    alice: TelegramChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tempfile.TemporaryFile() as spool:
        spool.write(b"name\n" + b"Jane Doe\n" * 1000)
        export = Attachment("crm-contacts.csv", b"", "text/csv", spool=spool)
        before = len(alice.api.calls)
        await alice.adapter.deliver(ALICE["id"], Reply(attachments=[export]))
        [document] = alice.api.calls[before:]
        name, sent = document.files["document"][:2]
        assert name == "crm-contacts.csv" and sent is spool  # the file itself, not a copy
        # Past what Telegram takes from a bot: a message saying so, not a failed upload.
        monkeypatch.setattr(telegram_adapter, "MAX_UPLOAD", 1000)
        await alice.adapter.deliver(ALICE["id"], Reply(attachments=[export]))
        [told] = alice.api.calls[before + 1 :]
        assert told.method == "sendMessage" and "crm-contacts.csv is 0 MB, more than" in told.text


async def test_one_slow_chat_does_not_stall_the_others(alice: TelegramChat) -> None:
    assert isinstance(alice.adapter.application.bot.rate_limiter, AIORateLimiter)
    alice.api.held[BOB["id"]] = release = asyncio.Event()
    slow = asyncio.create_task(alice.send("/help", user=BOB))
    # Bob's answer is stuck on his network; Alice is answered meanwhile.
    answer = await asyncio.wait_for(alice.say("/help"), timeout=10)
    assert "/add /find /show" in answer
    assert not slow.done()
    release.set()
    await asyncio.wait_for(slow, timeout=10)
    (sent,) = [call for call in alice.api.calls if call.params.get("chat_id") == BOB["id"]]
    assert "/join CODE" in sent.text


async def test_start_polls_first_then_publishes_the_menu_and_stops(
    engine: Engine, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    built: list[Registry] = []

    def registry() -> Registry:
        built.append(build_registry())
        return built[-1]

    # As `crmbot run` makes it: the command families are imported on first use.
    dispatcher = Dispatcher(engine, registry, clock=clock, geocoder=OfflineGeocoder())
    api = FakeBotApi()
    # Waiting before the bot starts: it comes with the first poll, before the registry.
    await api.updates.put(
        {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": DATE,
                "chat": private_chat(ALICE),
                "from": ALICE,
                "text": "/start Acme Sales",
            },
        }
    )
    base_url = "http://127.0.0.1:8081/bot"
    adapter = TelegramAdapter(
        dispatcher, TOKEN, base_url=base_url, transport=api, polling_transport=api
    )
    await adapter.start()
    try:
        assert not api.of("setMyCommands")  # not before the first poll
        await asyncio.wait_for(api.sent.wait(), timeout=10)
        assert "created the team" in api.of("sendMessage")[0].text
        for _ in range(200):
            if api.of("setMyCommands"):
                break
            await asyncio.sleep(0.05)
        (menu,) = api.of("setMyCommands")
        methods = [call.method for call in api.calls]
        assert methods.index("getUpdates") < methods.index("setMyCommands")
        commands = {c["command"]: c["description"] for c in menu.params["commands"]}
        (registry_built,) = built  # once, for the update and the menu
        assert list(commands) == list(registry_built.commands)
        assert commands["add"] == registry_built.commands["add"].summary
        assert api.of("getUpdates")[0].params["allowed_updates"] == [
            "message",
            "edited_message",
            "callback_query",
        ]
    finally:
        await adapter.stop()
        dispatcher.close()
    assert not adapter.application.running
    # A self-hosted Bot API server: the base URL is used as given, the token appended.
    assert all(call.url.startswith(base_url + TOKEN + "/") for call in api.calls)
    # python-telegram-bot logs its API URL at DEBUG; the token never reaches the log.
    assert TOKEN not in caplog.text and "[bot token]" in caplog.text


async def test_stopping_before_the_first_poll_is_answered_publishes_no_menu(
    dispatcher: Dispatcher,
) -> None:
    api = FakeBotApi()
    adapter = TelegramAdapter(dispatcher, TOKEN, transport=api, polling_transport=api)
    await adapter.start()
    await adapter.stop()
    assert api.of("getUpdates") and not api.of("setMyCommands")


async def test_a_message_is_dated_by_telegram_a_live_location_by_its_edit(
    alice: TelegramChat, engine: Engine
) -> None:
    await alice.send("/add Jane Doe")
    # Read the morning after: the bot was down when these were sent.
    sent = int((START - timedelta(hours=20)).timestamp())
    location = {"latitude": 52.520008, "longitude": 13.404954, "live_period": 900}
    live = alice.message_update(location=location)
    live["message"]["date"] = sent - 600
    await alice.feed(live)
    moved = live["message"] | {"edit_date": sent - 60}
    await alice.feed({"update_id": 96_001, "edited_message": moved})
    visit = alice.message_update(text="/visit Jane Doe")
    visit["message"]["date"] = sent
    assert "With your current location." in "".join(c.text for c in await alice.feed(visit))
    with Session(engine) as session:
        member = session.exec(select(Member).where(Member.name == "Alice Adams")).one()
        assert member.located_at == datetime.fromtimestamp(sent - 60, UTC)
        activity = session.exec(select(Activity).where(Activity.kind == "visit")).one()
        assert activity.at == datetime.fromtimestamp(sent, UTC)


async def test_a_change_answers_with_undo_and_open_buttons(alice: TelegramChat) -> None:
    (added,) = await alice.send("/add Jane Doe company:Acme #hot")
    assert added.text == (
        "Added <b>Jane Doe</b> (c1)\ncompany: <b>Acme</b>\nstatus: <b>lead</b>\ntags: <b>#hot</b>"
    )
    assert added.markup["inline_keyboard"] == [
        [{"text": "Undo", "callback_data": "un:1"}, {"text": "Open c1", "callback_data": "sh:c1"}]
    ]
    calls = await alice.press("Undo")
    assert [call.method for call in calls] == ["answerCallbackQuery", "editMessageText"]
    undone = calls[1]
    assert undone.params["message_id"] == added.result["message_id"]
    assert undone.text == "Undone: <b>added Jane Doe (c1)</b>."
    assert "inline_keyboard" not in undone.markup  # nothing left to press on it
    again = await alice.feed(alice.callback_update(added.result, "un:1"))
    assert "Already undone" in again[-1].text
    assert "No contact or deal matches" in await alice.say("/show Jane Doe")


async def test_a_document_sent_is_previewed_and_imported(alice: TelegramChat) -> None:
    await alice.send("/start")
    alice.api.documents["doc1"] = "Name;Phone\nJane Doe;030 1234567\nBad;12\n".encode("cp1252")
    document = {"file_id": "doc1", "file_unique_id": "doc1", "file_name": "leads.csv"}
    *fetched, preview = await alice.send(document=document)
    assert [c.method for c in [*fetched, preview]] == ["getFile", "download", "sendMessage"]
    assert "leads.csv: 2 rows (CSV, utf-8)" in preview.text
    assert set(preview.button_data) == {"Import", "Cancel"}
    calls = await alice.press("Import")
    methods = [call.method for call in calls]
    assert methods == ["answerCallbackQuery", "editMessageText", "sendDocument"]
    assert "1 contact added" in calls[1].text
    assert calls[2].files["document"][0] == "leads-rejected.csv"
    assert "Bad" in calls[2].files["document"][1].decode("utf-8-sig")


def _text_updates() -> list[dict[str, Any]]:
    """Text messages of every shape the webhook may bring, as Bot API JSON."""
    forum = {**GROUP, "is_forum": True}
    anonymous = {"id": 1087968824, "is_bot": True, "first_name": "Group"}
    channel = {"id": -1009876543210, "type": "channel", "title": "News"}
    messages: list[dict[str, Any]] = [
        {"chat": private_chat(ALICE), "from": ALICE, "text": "/show Jane"},
        {"chat": private_chat(BOB), "from": BOB, "text": "hello there"},
        {"chat": private_chat(ALICE), "from": {**ALICE, "last_name": ""}, "text": "/help"},
        {"chat": GROUP, "from": ALICE, "text": "/deals mine"},
        {"chat": GROUP, "from": ALICE, "text": "/deals@crm_test_bot mine"},
        {"chat": GROUP, "from": ALICE, "text": "/deals@Other_Bot mine"},
        {"chat": GROUP, "from": ALICE, "text": "just chatting"},
        {"chat": {"id": -42, "type": "group", "title": "Old group"}, "from": BOB, "text": "/x"},
        {"chat": {"id": -43, "type": "group"}, "from": BOB, "text": "/start"},
        {
            "chat": forum,
            "from": ALICE,
            "text": "/leads",
            "is_topic_message": True,
            "message_thread_id": 7,
        },
        {"chat": forum, "from": ALICE, "text": "/leads", "message_thread_id": 7},
        {"chat": GROUP, "from": anonymous, "sender_chat": GROUP, "text": "/leads"},
        {"chat": channel, "from": ALICE, "text": "/leads"},
        {
            "chat": private_chat(ALICE),
            "from": ALICE,
            "text": "/note c1 Weiß 👍",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
            "reply_to_message": {"message_id": 3, "date": DATE, "chat": private_chat(ALICE)},
        },
        {"chat": private_chat(ALICE), "from": ALICE, "text": "/start", "date": DATE + 3661},
    ]
    return [
        {"update_id": 500 + n, "message": {"message_id": n + 1, "date": DATE, **message}}
        for n, message in enumerate(messages)
    ]


def test_a_text_message_read_from_json_is_the_request_python_telegram_bot_makes() -> None:
    """The webhook reads a text message's JSON itself (`text_message`); what it makes of
    one must be what `request_from_update` makes of python-telegram-bot's Update, and what
    it does not read it leaves to that way (None)."""
    bot_id, username = 7000001, "crm_test_bot"
    read = 0
    for data in _text_updates():
        update = Update.de_json(data, None)
        ours = telegram_adapter.text_message(data, bot_id=bot_id, bot_username=username)
        theirs = telegram_adapter.request_from_update(update, bot_id=bot_id, bot_username=username)
        if ours is None:
            continue
        read += 1
        assert ours == (theirs, telegram_adapter._thread_of(update.message)), data
    assert read == 11  # all but the message to another bot, the chatter, the bot, the channel
    # Not text messages: left to python-telegram-bot.
    message = _text_updates()[0]["message"]
    for other in (
        {"update_id": 1, "edited_message": message},
        {"update_id": 1, "message": {**message, "text": None, "sticker": {}}},
        {"update_id": 1, "message": {**message, "document": {"file_id": "d"}}},
        {"update_id": "1", "message": message},
        {"update_id": 1, "message": message, "callback_query": {}},
    ):
        assert telegram_adapter.text_message(other, bot_id=bot_id, bot_username=username) is None


async def test_a_text_is_sent_as_python_telegram_bots_send_message_sends_it(
    telegram: TelegramChat,
) -> None:
    """`_send_text` skips python-telegram-bot's Message of the answer, not anything of the
    request: the same call, parameter for parameter, and the id Telegram gave."""
    bot = telegram.adapter.application.bot
    reply = Reply().add(bold("Müller & Söhne"), " · 12.000 € <b>")
    reply.button_row(Button("Won 🎉", "st", (12, "won")))
    html = render_html(reply, limit=4096)[0]
    inline = inline_keyboard(reply, "crm_bot")
    share = ReplyKeyboardMarkup([[KeyboardButton("Share location", request_location=True)]])
    for thread_id, markup in ((None, inline), (7, share), (None, None)):
        await bot.send_message(
            -1001234567890,
            html,
            parse_mode=ParseMode.HTML,
            link_preview_options=telegram_adapter._NO_PREVIEW,
            message_thread_id=thread_id,
            reply_markup=markup,
            rate_limit_args=None,
        )
        sent = await telegram_adapter._send_text(
            bot,
            -1001234567890,
            html,
            thread_id=thread_id,
            markup=markup,
            limits=None,
        )
        theirs, ours = telegram.api.of("sendMessage")[-2:]
        assert ours.params == theirs.params
        assert sent == ours.result["message_id"] != theirs.result["message_id"]
