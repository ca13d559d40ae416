"""Numbers at and past the edges: refused at parse time, with a clear answer."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from handlers import deals
from storage.deals import currency_total
from tests.conftest import TestBot


@pytest.mark.parametrize(
    "text",
    [
        "/deal Huge one 92233720368547758.07",
        "/deal Huge 999999999999m",
        "/deal Huge 1,000,000,000,000,000,000,000",
        "/deal Huge 99999999999999999999999999999999999999999999999999 EUR",
    ],
)
def test_an_amount_past_the_maximum_is_refused_with_the_maximum(
    testbot: TestBot, text: str
) -> None:
    reply = testbot.send(text)
    assert reply.error and not reply.failed
    assert "is more than one deal can hold: at most €100,000,000,000.00" in reply.plain_text


def test_the_team_total_per_currency_is_bounded(
    testbot: TestBot, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the bound, the running totals would overflow their 64-bit integers (with the
    real bound it takes 100,000 deals of the largest amount: here a smaller one)."""
    monkeypatch.setattr(deals, "MAX_TEAM_TOTAL", 25_000_00)
    testbot.say("/deal A 12k")
    testbot.say("/deal B 12k")
    refused = testbot.send("/deal C 2k")
    assert refused.error and not refused.failed
    assert "this deal can be at most €1,000." in refused.plain_text
    assert "$2,000" in testbot.say("/deal C 2k USD")  # another currency, another total
    assert "€13,000" in testbot.say("/edit d1 amount:13k")  # replaces its 12k: 25k in all
    refused = testbot.send("/edit d1 amount:14k")
    assert refused.error and "this deal can be at most €13,000." in refused.plain_text
    with Session(engine) as session:
        assert currency_total(session, team_id=1, currency="EUR") == 25_000_00
