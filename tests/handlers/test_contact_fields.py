"""Contacts: what a form needs from /add."""

from __future__ import annotations

import pytest

from tests.conftest import TestBot


@pytest.mark.parametrize(
    ("command", "field"),
    [
        ("/add Jane Doe email:jane@", "email"),
        ("/add Jane Doe phone:12", "phone"),
        ("/add Jane Doe 030-12", "phone"),
        ("/add company:Acme", "name"),
        ("/add Jane Doe company:" + "A" * 201, "company"),
        ("/add Jane Doe city:" + "B" * 101, "city"),
        ("/add Jane Doe status:vip", "status"),
    ],
)
def test_a_bad_value_names_its_field(testbot: TestBot, command: str, field: str) -> None:
    reply = testbot.send(command)
    assert reply.error
    assert reply.error_field == field
    assert "No leads match" in testbot.say("/leads")  # nothing half-written


def test_an_error_about_no_field_names_none(testbot: TestBot) -> None:
    reply = testbot.send("/show Nobody")
    assert reply.error and reply.error_field is None
