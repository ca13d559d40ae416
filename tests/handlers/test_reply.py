"""A Reply survives being stored as an outbox payload."""

from __future__ import annotations

import json

from handlers.reply import Attachment, Button, Reply, bold, code, italic, link


def test_json_round_trip() -> None:
    reply = (
        Reply()
        .heading("⏰ ", bold("<b>call</b>"))
        .add(italic("x"), code("y"), link("Jane", "mailto:jane@acme.de"))
        .item("one")
        .muted("two")
        .blank()
        .button_row(Button("Done", "rd", (12,)), Button("Snooze 1h", "rz", (12, 60)))
    )
    reply.attachments.append(Attachment("chart.png", b"\x89PNG\x00", "image/png", "Pipeline"))
    back = Reply.from_json(json.loads(json.dumps(reply.to_json())))
    assert back.lines == reply.lines
    assert back.attachments == reply.attachments
    assert [b.encode() for b in back.all_buttons] == ["rd:12", "rz:12:60"]
