"""Replies as Block Kit: escaping, layout by line role, Slack's size limits."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from bot.slack_render import (
    MAX_BLOCKS,
    MAX_SECTION,
    add_form,
    blocks,
    escape,
    fallback_text,
    form_values,
    home_view,
    messages,
    mrkdwn,
    slash_commands,
)
from handlers.reply import Button, Reply, bold, code, italic, link


def test_user_text_cannot_mention_or_link() -> None:
    for text in ("<!channel>", "<!here|here>", "<@U123>", "<https://evil.example|click>"):
        rendered = mrkdwn(bold(text))
        assert "<" not in rendered and ">" not in rendered
    assert mrkdwn(bold("<!channel> & co")) == "*&lt;!channel&gt; &amp; co*"


def test_styles() -> None:
    assert mrkdwn(bold("Jane")) == "*Jane*"
    assert mrkdwn(italic("none")) == "_none_"
    assert mrkdwn(code("/join AB12")) == "`/join AB12`"
    assert mrkdwn(bold("  Jane ")) == "  *Jane* "  # marks next to spaces would not render
    assert mrkdwn(bold("")) == ""
    assert mrkdwn(link("jane@acme.de", "mailto:jane@acme.de")) == (
        "<mailto:jane@acme.de|jane@acme.de>"
    )
    assert mrkdwn(link("a>b", "https://x.example/?a=1&b=2")) == (
        "<https://x.example/?a=1&amp;b=2|a&gt;b>"
    )
    # Slack has no tel: links; the number is shown as text.
    assert mrkdwn(link("+49 30 1234567", "tel:+49301234567")) == "+49 30 1234567"


def test_lines_become_headers_sections_and_context() -> None:
    reply = (
        Reply()
        .add("Deal opened.")
        .heading("Website  (d1)")
        .add("€12,000 · Lead")
        .item("just now · Alice added")
        .muted("Score: hot +10")
        .blank()
        .add("After a blank line")
    )
    reply.button_row(Button("Qualified", "st", (1, 2)), Button("Won", "st", (1, 5)))
    out = blocks(reply)
    assert [block["type"] for block in out] == [
        "section",
        "header",
        "section",
        "context",
        "section",
        "actions",
    ]
    assert out[1]["text"] == {"type": "plain_text", "text": "Website  (d1)", "emoji": True}
    assert out[2]["text"]["text"] == "€12,000 · Lead\n• just now · Alice added"
    assert out[3]["elements"][0]["text"] == "Score: hot +10"
    assert [(e["action_id"], e["value"]) for e in out[5]["elements"]] == [
        ("crm:st:1:2", "st:1:2"),
        ("crm:st:1:5", "st:1:5"),
    ]


def test_action_ids_are_unique_within_a_message() -> None:
    reply = Reply().add("Pick")
    reply.button_row(Button("Open", "sh", ("c1",)), Button("Open", "sh", ("c1",)))
    ids = [element["action_id"] for element in blocks(reply)[-1]["elements"]]
    assert len(set(ids)) == 2


def test_long_texts_and_labels_are_cut_to_slacks_limits() -> None:
    reply = Reply().heading("H" * 400).add("x" * 7000)
    reply.button_row(Button("B" * 100, "sh", ("c1",)))
    out = blocks(reply)
    assert len(out[0]["text"]["text"]) == 150
    sections = [block["text"]["text"] for block in out if block["type"] == "section"]
    assert all(len(text) <= MAX_SECTION for text in sections)
    assert "".join(sections) == "x" * 7000
    assert len(out[-1]["elements"][0]["text"]["text"]) == 75


def test_a_cut_never_splits_an_entity() -> None:
    text = "a" * (MAX_SECTION - 2) + "&" + "b" * 10
    out = blocks(Reply().add(text))
    pieces = [block["text"]["text"] for block in out]
    assert pieces[0].endswith("a") and pieces[1].startswith("&amp;")


@given(st.lists(st.text(min_size=1, max_size=400), min_size=1, max_size=400))
def test_a_long_reply_is_split_into_messages_of_at_most_50_blocks(lines: list[str]) -> None:
    reply = Reply()
    for line in lines:
        reply.heading(line).add(line)
    sent = messages(reply)
    assert all(len(message.blocks) <= MAX_BLOCKS for message in sent)
    every = [block for message in sent for block in message.blocks]
    assert every == blocks(reply)  # nothing lost, nothing reordered
    for block in every:
        if block["type"] == "section":
            assert 1 <= len(block["text"]["text"]) <= MAX_SECTION


def test_fallback_text_is_escaped_and_short() -> None:
    reply = Reply().add(bold("<!channel>"), " wins").add("y" * 1000)
    text = fallback_text(reply)
    assert text.startswith("&lt;!channel&gt; wins y")
    assert len(text) <= 320
    assert messages(Reply())[0].blocks  # an empty reply is still a valid message


def test_commands_are_written_as_slack_users_type_them() -> None:
    reply = Reply().add("Send ", bold("/help"), " or /join CODE; see https://x.example/deals")
    reply.add(code("/add Jane"), " and /addx, a/b, 12/15 stay")
    out = slash_commands(reply, ["help", "join", "add", "deals"]).plain_text
    assert out.splitlines() == [
        "Send /crm help or /crm join CODE; see https://x.example/deals",
        "/crm add Jane and /addx, a/b, 12/15 stay",
    ]


def test_the_home_tab_holds_at_most_100_blocks() -> None:
    reply = Reply()
    for n in range(150):
        reply.heading(f"Stage {n}")
    view = home_view(reply)
    assert view["type"] == "home" and len(view["blocks"]) == 100
    assert "More than fits here" in json.dumps(view["blocks"][-1])


def test_the_add_form_and_its_values() -> None:
    form = add_form('{"channel_id": "C1"}')
    assert form["type"] == "modal" and form["callback_id"] == "crm_add"
    assert form["private_metadata"] == '{"channel_id": "C1"}'
    name = form["blocks"][0]
    assert name["block_id"] == "name" and name["optional"] is False
    assert all(block["optional"] for block in form["blocks"][1:])
    state = {"values": {"name": {"name": {"value": " Jane "}}, "city": {"city": {"value": None}}}}
    assert form_values({"state": state}) == {
        "name": "Jane",
        "company": "",
        "phone": "",
        "email": "",
        "city": "",
        "tags": "",
    }


def test_escape() -> None:
    assert escape("a & <b> c") == "a &amp; &lt;b&gt; c"
