"""A contact card shared from a phone is logged as it is, like /add with every field given."""

from __future__ import annotations

import pytest

from handlers.context import SharedContact
from tests.conftest import TestBot
from tests.phones import LANDLINE


@pytest.mark.parametrize(
    "name",
    ['<b>Bob & "Co"</b>', "Pizza 24/7 #1", "Office 0301234567", "Jane company:Evil"],
)
def test_the_card_name_is_taken_verbatim(testbot: TestBot, name: str) -> None:
    card = SharedContact(name=name, phone=LANDLINE.international, company='Acme "Berlin" «Mitte»')
    added = testbot.contact_card(card).plain_text
    assert added.startswith(f"Added {name} (c1)\n")
    assert 'Acme "Berlin" «Mitte»' in added and LANDLINE.international in added


def test_add_anyway_logs_the_same_card(testbot: TestBot) -> None:
    card = SharedContact(name='<b>Bob & "Co"</b>', phone=LANDLINE.international, title="CEO")
    testbot.contact_card(card)
    warning = testbot.contact_card(card).plain_text
    assert "This looks like a contact you already have" in warning
    added = testbot.press("Add anyway").plain_text
    assert added.startswith('Added <b>Bob & "Co"</b> (c2)') and "title: CEO" in added
