"""Contacts onto the map: /add and /edit geocode the address, a geocoder that does not
answer never holds the chat up, and answers are cached."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from geopy.location import Location
from sqlalchemy import Engine
from sqlmodel import select

from bot.geocoding import GeopyGeocoder, OfflineGeocoder, geocode_pending
from handlers import build_registry
from handlers.context import TeamDefaults
from handlers.dispatcher import Dispatcher
from handlers.places import MISS_TTL, Place, find_place
from storage.db import transaction
from storage.models import Contact, GeocodeCache
from tests import towns
from tests.conftest import START, Clock, TestBot


def _contact(testbot: TestBot, contact_id: int) -> Contact:
    with transaction(testbot.dispatcher.engine) as session:
        contact = session.get(Contact, contact_id)
        assert contact is not None
        return contact


def test_add_puts_the_contact_on_the_map(testbot: TestBot) -> None:
    reply = testbot.send('/add Jane Doe addr:"Am Kanal 16" city:Potsdam country:Germany')
    jane = _contact(testbot, 1)
    assert (jane.lat, jane.lon) == towns.point(towns.POTSDAM)
    assert jane.geocoded_from == "Am Kanal 16, Potsdam, Germany"
    assert not jane.geocode_pending
    assert "country: Germany · map" in reply.plain_text
    assert "not on the map" not in reply.plain_text.lower()


def test_an_address_nobody_knows_is_saved_and_said_so(testbot: TestBot) -> None:
    reply = testbot.say("/add Jane Doe city:Xyzzyville")
    assert "Added Jane Doe" in reply
    assert "I could not find “Xyzzyville” on the map" in reply
    assert "/edit c1 city:" in reply
    jane = _contact(testbot, 1)
    assert jane.lat is None and jane.geocoded_from == "Xyzzyville" and not jane.geocode_pending


def test_edit_moves_the_contact_only_when_the_address_changes(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe city:Potsdam")
    testbot.say("/edit Jane Doe city:Munich")
    jane = _contact(testbot, 1)
    assert (jane.lat, jane.lon) == towns.point(towns.MUNICH)
    # Coordinates set by other means (an import, the demo) survive unrelated edits.
    with transaction(testbot.dispatcher.engine) as session:
        contact = session.get(Contact, 1)
        assert contact is not None
        contact.lat, contact.lon = 48.2, 11.6
    testbot.say("/edit Jane Doe title:CEO")
    assert (_contact(testbot, 1).lat, _contact(testbot, 1).lon) == (48.2, 11.6)
    testbot.say('/edit Jane Doe city:""')
    jane = _contact(testbot, 1)
    assert (jane.lat, jane.lon, jane.geocoded_from) == (None, None, None)


@pytest.fixture
def hanging_provider(engine: Engine, clock: Clock) -> Iterator[TestBot]:
    """A bot whose geocoding service never answers (until the test is over)."""
    release = threading.Event()

    def hanging(query: str) -> Location:
        release.wait()
        raise AssertionError("answered after the deadline")

    geocoder = GeopyGeocoder("nominatim", hanging, budget=0.05)
    dispatcher = Dispatcher(
        engine, build_registry(), defaults=TeamDefaults(), clock=clock, geocoder=geocoder
    )
    bot = TestBot(dispatcher, clock)
    bot.say("/start Acme Sales")
    yield bot
    release.set()
    geocoder.close()
    dispatcher.close()


def test_a_provider_that_times_out_saves_the_contact_for_later(
    hanging_provider: TestBot,
) -> None:
    bot = hanging_provider
    reply = bot.say("/add Jane Doe city:Potsdam #hot")
    assert "Added Jane Doe" in reply
    assert "The map service did not answer; I will put this address on the map later." in reply
    jane = _contact(bot, 1)
    assert jane.geocode_pending and jane.lat is None
    assert "Not on the map yet" in bot.say("/show Jane Doe")

    engine = bot.dispatcher.engine
    assert geocode_pending(engine, OfflineGeocoder(), now=START) == 1
    jane = _contact(bot, 1)
    assert not jane.geocode_pending
    assert (jane.lat, jane.lon) == towns.point(towns.POTSDAM)
    assert "Not on the map yet" not in bot.say("/show Jane Doe")


def test_nearby_a_place_when_the_provider_times_out(hanging_provider: TestBot) -> None:
    reply = hanging_provider.send("/nearby Potsdam")
    assert reply.error and "The map service did not answer" in reply.plain_text


class Counting:
    name = "counting"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def geocode(self, query: str) -> Place | None:
        self.asked.append(query)
        return OfflineGeocoder().geocode(query)


def test_answers_are_cached_and_misses_asked_again_later(engine: Engine) -> None:
    geocoder = Counting()
    with transaction(engine) as session:
        first = find_place(session, geocoder, "Potsdam, Germany", now=START)
        later = START + timedelta(days=400)
        again = find_place(session, geocoder, "  potsdam,  GERMANY ", now=later)
        assert first == again and first is not None
        assert find_place(session, geocoder, "Xyzzyville", now=START) is None
        assert find_place(session, geocoder, "Xyzzyville", now=START + timedelta(days=1)) is None
        assert geocoder.asked == ["Potsdam, Germany", "Xyzzyville"]
        find_place(session, geocoder, "Xyzzyville", now=START + MISS_TTL + timedelta(days=1))
        assert geocoder.asked[-1] == "Xyzzyville" and len(geocoder.asked) == 3
        rows = session.exec(select(GeocodeCache).order_by(GeocodeCache.query)).all()
        assert [(row.provider, row.query, row.lat is None) for row in rows] == [
            ("counting", "potsdam, germany", False),
            ("counting", "xyzzyville", True),
        ]
