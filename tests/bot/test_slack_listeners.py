"""The Slack adapter end to end: requests signed and shaped as Slack sends them, through
the real Bolt app; answers recorded by the local Web API. Every test runs on SQLite and on
PostgreSQL (the `engine` fixture under `dispatcher`)."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from slack_sdk.http_retry import builtin_async_handlers
from sqlalchemy import Engine
from sqlmodel import Session, select

from storage.models import Activity
from tests.bot.slack_fixtures import (
    ALICE,
    BOB,
    CARLA,
    CHANNEL,
    DM,
    WORKSPACE,
    Call,
    Failure,
    Slack,
    signed,
    slack_fixture,  # noqa: F401  (the `slack` fixture)
)
from tests.conftest import START
from tests.phones import LANDLINE


def last(slack: Slack) -> Call:
    answers = slack.api.answers()
    assert answers, "the app answered nothing"
    return answers[-1]


async def say(slack: Slack, text: str, **kwargs: Any) -> Call:
    """`/crm TEXT`: the answer sent back through the command's response URL."""
    response = await slack.command(text, **kwargs)
    assert response.status == 200
    assert response.body == ""  # acknowledged at once; the answer follows
    answer = last(slack)
    assert answer.method == "response_url"
    return answer


async def test_the_first_person_creates_the_team_and_the_workspace_joins_it(
    slack: Slack,
) -> None:
    created = await say(slack, "start Acme Sales")
    assert "You created the team *Acme Sales* and you are its admin" in created.text
    assert created.data["response_type"] == "ephemeral"

    team = await say(slack, "team", user=BOB)
    assert "You joined *Acme Sales* as a rep" in team.text
    assert "*Alice Meyer* · admin · slack" in team.text
    assert "*Bob Schulz* · rep · slack" in team.text

    helped = await say(slack, "", user=CARLA)  # a bare /crm is /crm help
    assert "You joined *Acme Sales* as a rep" in helped.text
    assert "/crm add /crm find" in helped.text
    assert "/crm help COMMAND" in helped.text


async def test_an_invite_code_joins_with_its_role(slack: Slack) -> None:
    await say(slack, "start")
    invite = await say(slack, "invite manager")
    code = invite.text.split("`")[1]
    assert f"`/crm join {code}`" in invite.text
    joined = await say(slack, f"join {code}", user=CARLA)
    assert "as a manager" in joined.text


async def test_contacts(slack: Slack) -> None:
    added = await say(slack, "add Jane Doe company:Acme jane@acme.de city:Berlin #hot")
    assert "Added *Jane Doe* (c1)" in added.text
    assert "email: *jane@acme.de*" in added.text
    found = await say(slack, "find jnae doe")
    assert "*Jane Doe* · Acme · lead (c1)" in found.text
    assert found.buttons == {"Jane Doe": "sh:c1"}


async def test_activities(slack: Slack) -> None:
    await say(slack, "add Jane Doe")
    noted = await say(slack, "note Jane Doe wants the quote before Friday")
    assert "Logged: noted *Jane Doe (c1)*." in noted.text
    feed = await say(slack, "feed")
    assert "Alice Meyer noted on Jane Doe: wants the quote before Friday" in feed.text


async def test_deals_and_a_stage_button(slack: Slack) -> None:
    await say(slack, "add Jane Doe")
    opened = await say(slack, "deal Website redesign Jane Doe 12k")
    assert "Opened *Website redesign* (d1)" in opened.text
    assert "amount: *€12,000*\ncontact: *Jane Doe (c1)*\nstage: *Lead (10%)*" in opened.text
    qualified = opened.buttons["Qualified"]

    response = await slack.press(qualified)
    assert response.status == 200
    moved = last(slack)
    assert moved.method == "response_url" and moved.data["key"] == "press"
    assert moved.data["replace_original"] is True  # the card with the buttons is replaced
    assert "Moved to Qualified." in moved.text
    assert "Qualified (25%)" in moved.text
    assert "Qualified" not in moved.buttons and "Proposal" in moved.buttons


async def test_team_settings(slack: Slack) -> None:
    await say(slack, "start")
    assert "1. *Lead* · 10% · rots after 14 days · 0 deals" in (await say(slack, "stages")).text
    await say(slack, "help", user=BOB)
    refused = await say(slack, "stages add Demo prob:40", user=BOB)
    assert "Only admins and above can change the stages" in refused.text
    assert refused.data["response_type"] == "ephemeral"


async def test_announce_here_answers_in_the_channel(slack: Slack) -> None:
    await say(slack, "start")
    announced = await say(slack, "announce here")
    assert announced.data["response_type"] == "in_channel"
    assert "From now on *#sales* hears about every won deal." in announced.text
    listed = await say(slack, "announce")
    assert listed.data["response_type"] == "ephemeral"
    assert "*#sales* (slack)" in listed.text

    refused = await say(slack, "announce here", user=BOB)
    assert refused.data["response_type"] == "ephemeral"  # errors are only for the sender
    assert "Only managers and above" in refused.text

    in_dm = await say(slack, "announce here", channel="D0BOTDM", channel_name="directmessage")
    assert "in the group chat or channel" in in_dm.text


async def test_the_home_tab_is_the_desk(slack: Slack) -> None:
    await say(slack, "add Jane Doe")
    await say(slack, "deal Website redesign Jane Doe 12k")
    await say(slack, "deal Support 500 USD")
    await say(slack, "help", user=BOB)

    await slack.open_home()
    home = last(slack)
    assert home.method == "views.publish" and home.data["user_id"] == ALICE
    assert home.data["view"]["type"] == "home"
    assert "Your open deals (2)" in home.text
    assert "*Website redesign* (d1) · €12,000 · Lead" in home.text
    assert "Team pipeline" in home.text
    assert "*Lead* · 2 deals · €12,000 + $500" in home.text  # per currency, never summed

    desk = await say(slack, "home")  # the same desk as a command
    assert desk.data["blocks"] == home.data["view"]["blocks"]

    await slack.open_home(user=BOB)
    rep = last(slack)
    assert rep.data["user_id"] == BOB
    assert "Your open deals (0)" in rep.text
    assert "Team pipeline" not in rep.text  # the pipeline is for managers and admins


async def test_the_messages_tab_is_not_the_home_tab(slack: Slack) -> None:
    await slack.event({"type": "app_home_opened", "user": ALICE, "channel": DM, "tab": "messages"})
    assert slack.api.answers() == []


async def test_add_with_no_arguments_opens_the_form(slack: Slack) -> None:
    await slack.command("add")
    opened = slack.api.sent("views.open")[-1]
    assert opened.data["trigger_id"] == f"1337.{slack.interactions}.abcd"  # the command's
    view = opened.data["view"]
    assert view["callback_id"] == "crm_add"
    assert [block["block_id"] for block in view["blocks"]] == [
        "name",
        "company",
        "phone",
        "email",
        "city",
        "tags",
    ]

    response = await slack.submit(
        view,
        {
            "name": "Jane Doe",
            "company": "Acme GmbH",
            "phone": LANDLINE.international,
            "email": "jane@acme.de",
            "city": "Berlin",
            "tags": "hot, #trade-fair",
        },
    )
    assert response.status == 200 and response.body == ""  # the form closes
    added = last(slack)
    assert added.method == "response_url"  # where /crm add was typed, only to the sender
    assert added.data["response_type"] == "ephemeral"
    assert "Added *Jane Doe* (c1)" in added.text
    assert "Acme GmbH" in added.text and "Berlin" in added.text
    assert LANDLINE.international in added.text and "#hot #trade-fair" in added.text

    # The same person again: a warning with "Add anyway", like /add in any chat.
    await slack.submit(view, {"name": "Jane Doe", "company": "Acme GmbH"})
    warned = last(slack)
    assert "This looks like a contact you already have" in warned.text
    await slack.press(warned.buttons["Add anyway"])
    assert "Added *Jane Doe* (c2)" in last(slack).text
    assert "Leads (2)" in (await say(slack, "leads")).text


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"name": "Jane Doe", "email": "jane@"}, "email", "is not an e-mail address"),
        ({"name": "Jane Doe", "phone": "12"}, "phone", "is not a valid phone number"),
        ({"name": "Jane Doe", "tags": "hot, #1"}, "tags", "“#1” is not a tag"),
        ({"name": " "}, "name", "Whom should I add?"),
        ({"name": "x" * 201}, "name", "at most 200 characters"),
    ],
)
async def test_a_bad_field_in_the_form_is_shown_on_that_field(
    slack: Slack, values: dict[str, str], field: str, message: str
) -> None:
    await say(slack, "start")
    await slack.command("add")
    view = slack.api.sent("views.open")[-1].data["view"]
    answers = len(slack.api.answers())

    response = await slack.submit(view, values)
    assert response.status == 200
    body = json.loads(response.body)
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == [field]
    assert message in body["errors"][field]
    assert len(slack.api.answers()) == answers  # nothing said, the form stays open
    assert "No leads match" in (await say(slack, "leads")).text


async def test_a_bad_signature_is_refused(slack: Slack) -> None:
    body = "command=%2Fcrm&text=start&user_id=U0ALICE&team_id=T0ACME"
    forged = await slack.dispatch(signed(body, secret="not-the-signing-secret"))
    assert forged.status == 401
    tampered = signed(body)
    tampered.raw_body = body.replace("start", "start%20Evil")
    tampered.body = {"command": "/crm", "text": "start Evil"}
    assert (await slack.dispatch(tampered)).status == 401
    assert slack.api.calls == []
    assert "You created the team" in (await say(slack, "start")).text  # nothing was made


async def test_a_stale_timestamp_is_refused(slack: Slack) -> None:
    body = "command=%2Fcrm&text=start&user_id=U0ALICE&team_id=T0ACME"
    replayed = await slack.dispatch(signed(body, timestamp=int(time.time()) - 600))
    assert replayed.status == 401
    assert slack.api.calls == []


async def test_a_redelivered_event_changes_nothing_twice(slack: Slack) -> None:
    await slack.dm("add Jane Doe", event_id="Ev0REDELIVER")
    assert "Added *Jane Doe* (c1)" in last(slack).text
    answered = len(slack.api.answers())

    again = await slack.dm("add Jane Doe", event_id="Ev0REDELIVER", retry=1)
    assert again.status == 200  # acknowledged, so Slack stops retrying
    assert len(slack.api.answers()) == answered  # and neither done nor answered again
    await slack.dm("leads")
    assert "Leads (1)" in last(slack).text


async def test_user_text_is_escaped_so_channel_pings_no_one(slack: Slack) -> None:
    # Typed as `/crm add <!channel> & Co`; Slack sends the three characters escaped.
    added = await say(slack, "add &lt;!channel&gt; &amp; Co company:&lt;b&gt;Acme")
    assert "Added *&lt;!channel&gt; &amp; Co* (c1)" in added.text
    assert "&lt;b&gt;Acme" in added.text
    assert "&lt;!channel&gt; &amp; Co" in added.data["text"]  # the notification text too
    assert_nothing_parsed(added.data["blocks"], "<!channel>")

    await say(slack, "deal &lt;!here&gt; deal")
    await slack.open_home()
    home = last(slack).data["view"]["blocks"]
    assert "*&lt;!here&gt; deal* (d1)" in json.dumps(home)
    assert_nothing_parsed(home, "<!here>")


def assert_nothing_parsed(blocks: list[dict[str, Any]], raw: str) -> None:
    """Markup text holds `raw` only escaped, and is verbatim (no automatic @channel
    parsing); plain text (headers, buttons) is shown as typed and never parsed."""
    texts = [
        text
        for block in blocks
        for text in [block.get("text"), *block.get("elements", [])]
        if isinstance(text, dict) and "type" in text
    ]
    assert texts
    for text in texts:
        if text["type"] == "mrkdwn":
            assert text["verbatim"] is True
            assert raw not in text["text"]
        else:
            assert text["type"] in ("plain_text", "button")


async def test_direct_messages_are_commands(slack: Slack) -> None:
    await slack.dm(
        "add Jane Doe <mailto:jane@acme.de|jane@acme.de> "
        f"<tel:{LANDLINE.e164}|{LANDLINE.international}>"
    )
    added = last(slack)
    assert added.method == "chat.postMessage" and added.data["channel"] == DM
    assert "Added *Jane Doe* (c1)" in added.text
    assert "jane@acme.de" in added.text and LANDLINE.international in added.text

    await slack.dm("/show Jane Doe")
    assert "Jane Doe  (c1)" in last(slack).text  # a slash typed in a DM is fine too

    await say(slack, "help", user=BOB)
    await slack.dm(f"role <@{BOB}> manager")
    assert "*Bob Schulz* is now a manager." in last(slack).text

    await slack.dm("dael Website")
    assert "Did you mean */crm deal*?" in last(slack).text


async def test_mentions_answer_in_the_channel_only_what_is_for_the_channel(slack: Slack) -> None:
    await slack.mention("announce here")
    announced = last(slack)
    assert announced.method == "chat.postMessage" and announced.data["channel"] == CHANNEL
    assert "From now on *this chat* hears about every won deal." in announced.text

    await slack.mention("find Jane")
    private = last(slack)
    assert private.method == "chat.postEphemeral"
    assert private.data["channel"] == CHANNEL and private.data["user"] == ALICE
    assert "Nothing matches “Jane”" in private.text


async def test_a_failure_is_logged_and_the_user_gets_an_apology(
    slack: Slack, caplog: pytest.LogCaptureFixture
) -> None:
    await say(slack, "start")
    slack.api.fail("chat.postEphemeral", Failure(200, {"ok": False, "error": "fatal_error"}))
    with caplog.at_level(logging.ERROR, logger="bot.slack_adapter"):
        await slack.mention("find Jane")
    apology = last(slack)
    assert apology.method == "chat.postEphemeral" and apology.data["user"] == ALICE
    assert "Sorry, something went wrong on my side (error " in apology.text
    error_id = apology.text.split("(error ")[1][:8]
    assert any(error_id in record.getMessage() for record in caplog.records)
    assert any("fatal_error" in (record.exc_text or "") for record in caplog.records)


async def test_a_rate_limited_call_is_retried_after_retry_after(
    slack: Slack, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []

    async def wait(seconds: float) -> None:
        waits.append(seconds)

    class Clockless:
        sleep = staticmethod(wait)

    monkeypatch.setattr(builtin_async_handlers, "asyncio", Clockless)
    slack.api.fail(
        "chat.postMessage",
        Failure(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"}),
    )
    await slack.dm("help")
    assert len(waits) == 1 and 7 <= waits[0] < 8
    assert len(slack.api.sent("chat.postMessage")) == 1


async def test_a_button_picks_among_look_alikes(slack: Slack) -> None:
    await say(slack, "add Jane Doe company:Acme")
    await say(slack, "add Jane Doe company:Globex")
    asked = await say(slack, "note Jane Doe called back")
    assert "Which one do you mean by “*Jane Doe*”?" in asked.text
    assert asked.buttons == {
        "Jane Doe · Acme (c1)": "pk:1:c1",
        "Jane Doe · Globex (c2)": "pk:1:c2",
    }
    await slack.press(asked.buttons["Jane Doe · Globex (c2)"])
    assert "Logged: noted *Jane Doe (c2)*." in last(slack).text


def _visits(engine: Engine) -> list[datetime]:
    with Session(engine) as session:
        return [a.at for a in session.exec(select(Activity).where(Activity.kind == "visit"))]


async def test_a_message_is_dated_by_its_ts_a_slash_command_on_arrival(
    slack: Slack, engine: Engine
) -> None:
    await say(slack, "add Jane Doe")
    # A direct message Slack delivers late (a retry after the bot came back): its `ts`.
    sent = START - timedelta(hours=3, seconds=0.25)
    await slack.dm("visit Jane Doe", ts=f"{sent.timestamp():.6f}")
    assert _visits(engine) == [sent]
    # A slash command has no time of its own: when it arrived, by the adapter's clock.
    await say(slack, "visit Jane Doe")
    assert _visits(engine) == [sent, START]


async def test_a_change_answers_with_undo_and_open_buttons(slack: Slack) -> None:
    await say(slack, "start")
    added = await say(slack, "add Jane Doe company:Acme")
    assert added.text == "Added *Jane Doe* (c1)\ncompany: *Acme*\nstatus: *lead*\n"
    assert added.buttons == {"Undo": "un:1", "Open c1": "sh:c1"}
    await slack.press(added.buttons["Undo"])
    undone = last(slack)
    assert undone.data["replace_original"] is True  # the confirmation gives way
    assert undone.text.startswith("Undone: *added Jane Doe (c1)*.")
    await slack.press(added.buttons["Undo"])  # pressed again: one effect
    assert "Already undone" in last(slack).text
    assert "Nothing matches" in (await say(slack, "find Jane")).text


def file_share(files: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "message",
        "subtype": "file_share",
        "channel_type": "im",
        "channel": DM,
        "user": ALICE,
        "text": "",
        "files": files,
        "ts": "1700000000.000003",
        "team": WORKSPACE,
    }


async def test_a_file_shared_in_a_direct_message_is_previewed_and_imported(
    slack: Slack,
) -> None:
    await slack.dm("help")
    slack.api.files["leads.csv"] = b"Name,Phone\nJane Doe,030 1234567\nBad,12\n"
    shared = {"id": "F1", "name": "leads.csv", "size": 40}
    await slack.event(file_share([{**shared, "url_private": slack.api.file_url("leads.csv")}]))
    [download] = slack.api.sent("download")
    assert download.data["authorization"].startswith("Bearer xoxb-")
    preview = last(slack)
    assert "leads.csv: 2 rows (CSV, utf-8)" in preview.text
    await slack.press(preview.buttons["Import"], channel=DM, ephemeral=False)
    assert "1 contact added" in last(slack).text
    # The rejected rows come back as a file, uploaded to the conversation.
    [complete] = slack.api.sent("files.completeUploadExternal")
    assert complete.data["channel_id"] == DM
    assert b"Bad" in slack.api.uploads["Fleads-rejected.csv"]
    # A file over the limit is named, not fetched.
    big = {**shared, "size": 50 * 1024 * 1024, "url_private": slack.api.file_url("leads.csv")}
    await slack.event(file_share([big]))
    too_big = last(slack).text
    assert too_big.startswith("I can't read files over 20 MB.\nWhat I understand:")
    assert "a location you share" not in too_big  # not something Slack can send
    assert "a CSV, Excel or vCard file" in too_big
    assert len(slack.api.sent("download")) == 1


async def test_an_export_asked_for_in_a_channel_arrives_in_the_dm(slack: Slack) -> None:
    await slack.dm("add Jane Doe")
    answer = await say(slack, "export contacts csv")
    assert "contacts.csv: 1 row" in answer.text
    [complete] = slack.api.sent("files.completeUploadExternal")
    assert complete.data["channel_id"] == ALICE  # her DM, not the channel
    assert b"Jane Doe" in slack.api.uploads["Fcrm-2026-11-23-contacts.csv"]
