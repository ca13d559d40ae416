"""Replies as Telegram HTML: escaped, split at the message limit, buttons as keyboards."""

from __future__ import annotations

import logging

import pytest

from bot.telegram_render import MAX_MESSAGE, inline_keyboard, render_html, utf16_len
from handlers.reply import Button, Reply, bold, code, italic, link


def test_each_style_and_line_role() -> None:
    reply = (
        Reply()
        .heading("Deals of ", bold("<Acme>"), " ", italic("& co"))
        .add(
            "Call ",
            link("+49 30 1", "tel:+49301"),
            " or see ",
            link("a<b", 'https://x.io/?a=1&b="2"'),
        )
        .item("Jane ", code("c<1>"))
        .blank()
        .muted("5 minutes ago")
    )
    (html,) = render_html(reply)
    assert html.splitlines() == [
        "<b>Deals of &lt;Acme&gt; <i>&amp; co</i></b>",
        'Call +49 30 1 or see <a href="https://x.io/?a=1&amp;b=&quot;2&quot;">a&lt;b</a>',
        "• Jane <code>c&lt;1&gt;</code>",
        "",
        "<i>5 minutes ago</i>",
    ]


def test_a_reply_without_text_renders_to_no_message() -> None:
    assert render_html(Reply()) == []
    assert render_html(Reply().blank()) == []


def test_long_replies_are_cut_between_lines() -> None:
    reply = Reply()
    lines = [f"line {i:03} " + "x" * 40 for i in range(300)]
    for line in lines:
        reply.item(line)
    chunks = render_html(reply)
    assert len(chunks) == 4
    assert all(utf16_len(chunk) <= MAX_MESSAGE for chunk in chunks)
    assert "\n".join(chunks).splitlines() == [f"• {line}" for line in lines]


@pytest.mark.parametrize(
    "text",
    [
        "word " * 2000,  # 10,000 characters
        "😀" * 3000,  # 3000 characters but 6000 UTF-16 units, as Telegram counts
        "&" * 5000,  # five times longer once escaped
    ],
)
def test_a_line_longer_than_a_message_is_cut_inside(text: str) -> None:
    chunks = render_html(Reply().add("<b>", text))
    assert len(chunks) >= 2
    assert all(utf16_len(chunk) <= MAX_MESSAGE for chunk in chunks)
    assert "".join(chunks) == ("&lt;b&gt;" + text.replace("&", "&amp;"))


def test_a_long_heading_keeps_its_markup_in_every_piece() -> None:
    chunks = render_html(Reply().heading("word " * 2000).add("after"))
    assert all(chunk.startswith("<b>") for chunk in chunks)
    assert chunks[-1].endswith("</b>\nafter")


def test_buttons_become_an_inline_keyboard(caplog: pytest.LogCaptureFixture) -> None:
    reply = Reply().add("Move it to:")
    reply.button_row(Button("Qualified", "st", (42, 2)), Button("Proposal <b>", "st", (42, 3)))
    reply.button_row(Button("Too long", "st", ("9" * 70,)))
    keyboard = inline_keyboard(reply)
    assert keyboard is not None
    assert [[(b.text, b.callback_data) for b in row] for row in keyboard.inline_keyboard] == [
        [("Qualified", "st:42:2"), ("Proposal <b>", "st:42:3")]
    ]
    assert "callback data over 64 bytes" in caplog.text
    assert inline_keyboard(Reply().add("no buttons")) is None


def test_callback_data_is_measured_in_bytes(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    fits, too_long = Button("a", "pk", ("é" * 30,)), Button("b", "pk", ("é" * 31,))
    keyboard = inline_keyboard(Reply().button_row(fits, too_long))
    assert keyboard is not None
    assert [b.callback_data for b in keyboard.inline_keyboard[0]] == [fits.encode()]
