"""Who is near me: a shared location, /nearby, logging a visit from the list, /route.

A shared location is sent the way every adapter sends it, `Request(location=(lat, lon))`
through the dispatcher; the Telegram adapter's own test covers turning Telegram's update
into that request.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from handlers.location import HOW_TO_SHARE, path_length, plan_route
from storage.db import transaction
from storage.models import Activity, ActivityKind, Contact, Member
from tests import towns
from tests.conftest import TestBot

BERLIN = (52.5200, 13.4050)
# Contacts east of Alexanderplatz, in a zig-zag that makes "nearest first" a poor order.
SPOTS = {
    "Anna Arndt": (52.5200, 13.4200),  # ~1.0 km
    "Ben Brandt": (52.5370, 13.4050),  # ~1.9 km, north
    "Cleo Claus": (52.5200, 13.4500),  # ~3.1 km, east
    "Dirk Dorn": (52.5020, 13.4050),  # ~2.0 km, south
    "Eva Engel": (52.5200, 13.4800),  # ~5.1 km, east
}


def _place(testbot: TestBot, name: str, lat: float, lon: float) -> None:
    with transaction(testbot.dispatcher.engine) as session:
        contact = session.exec(select(Contact).where(Contact.name == name)).one()
        contact.lat, contact.lon = lat, lon


@pytest.fixture
def field(testbot: TestBot) -> TestBot:
    """Alice's team with five prospects around Berlin-Mitte, a customer, and a Munich lead."""
    for name, (lat, lon) in SPOTS.items():
        testbot.say(f"/add {name}")
        _place(testbot, name, lat, lon)
    testbot.say("/add Carl Customer status:customer #hot")
    _place(testbot, "Carl Customer", 52.5210, 13.4060)
    testbot.say("/add Mia Munich city:Munich #hot")
    testbot.say("/tag Cleo Claus #hot")
    testbot.say("/deal Fleet deal Cleo Claus 12k")
    testbot.say("/deal Side deal Cleo Claus 500 USD")
    testbot.say("/call Dirk Dorn asked for a quote")
    testbot.clock.advance(days=12)
    return testbot


def _km(shown: str) -> float:
    """`2.1 km` or `640 m` as km."""
    number, unit = shown.split()
    return float(number) / (1000 if unit == "m" else 1)


def _names(reply_text: str) -> list[str]:
    return [name for line in reply_text.splitlines() for name in SPOTS if f"  {name} (" in line]


def test_nearby_without_a_location_says_how_to_share(field: TestBot) -> None:
    reply = field.say("/nearby")
    assert reply == HOW_TO_SHARE
    assert "/location 52.52 13.40" in reply and "Location" in reply


def test_a_shared_location_is_answered_with_the_nearest_prospects(field: TestBot) -> None:
    reply = field.location(*BERLIN)
    text = reply.plain_text
    assert text.startswith("Got your location")
    assert f"Your time zone is now {towns.zone_at(*BERLIN)}" in text
    assert "Nearest prospects within 10 km of you" in text
    assert _names(text) == ["Anna Arndt", "Ben Brandt", "Dirk Dorn", "Cleo Claus", "Eva Engel"]
    assert "Carl Customer" not in text  # a customer, not a prospect
    assert "1 km  Anna Arndt (c1)" in text
    cleo = text.split("Cleo Claus")[1]
    assert "#hot" in cleo and "€12,000 + $500 open" in cleo
    assert "Dirk Dorn (c4)\nlead · called 12 days ago" in text
    assert "Eva Engel (c5)\nlead · not contacted yet" in text
    links = [span for line in reply.lines for span in line.spans if span.style == "link"]
    assert links[0].url == (
        "https://www.openstreetmap.org/?mlat=52.52000&mlon=13.42000#map=17/52.52000/13.42000"
    )
    assert [b.label for b in reply.buttons[0]] == ["Open c1", "Log visit c1"]
    with transaction(field.dispatcher.engine) as session:
        alice = session.exec(select(Member).where(Member.name == "Alice")).one()
        assert (alice.lat, alice.lon, alice.located_at) == (*BERLIN, field.clock.now)


def test_a_shared_location_keeps_a_time_zone_already_chosen(field: TestBot) -> None:
    with transaction(field.dispatcher.engine) as session:
        alice = session.exec(select(Member).where(Member.name == "Alice")).one()
        alice.timezone = "America/New_York"
    assert "time zone" not in field.location(*BERLIN).plain_text
    with transaction(field.dispatcher.engine) as session:
        assert session.exec(select(Member.timezone).where(Member.name == "Alice")).one() == (
            "America/New_York"
        )


def test_a_location_at_sea_sets_no_time_zone(testbot: TestBot) -> None:
    reply = testbot.location(0.0, -30.0).plain_text
    assert "time zone" not in reply
    assert "No prospects within 10 km of you" in reply


def test_a_location_off_the_earth_is_refused(testbot: TestBot) -> None:
    assert "not a place on Earth" in testbot.location(95.0, 10.0).plain_text


def test_nearby_filters_and_limits(field: TestBot) -> None:
    field.location(*BERLIN)
    assert _names(field.say("/nearby limit:2")) == ["Anna Arndt", "Ben Brandt"]
    assert _names(field.say("/nearby 2.5km")) == ["Anna Arndt", "Ben Brandt", "Dirk Dorn"]
    assert _names(field.say("/nearby 1.2 km")) == ["Anna Arndt"]
    assert _names(field.say("/nearby 1500m")) == ["Anna Arndt"]
    assert _names(field.say("/nearby 1.5mi")) == ["Anna Arndt", "Ben Brandt", "Dirk Dorn"]
    hot = field.say("/nearby #hot status:all")
    assert "Nearest #hot contacts" in hot
    assert "Carl Customer" in hot and _names(hot) == ["Cleo Claus"]
    assert "Mia Munich" not in hot
    customers = field.say("/nearby status:customer")
    assert "Nearest customer contacts" in customers and "Carl Customer" in customers
    assert "Look further with /nearby 2.5km." in field.say("/nearby 500m")
    cold = field.say("/nearby 1km #cold status:all")
    assert "Look further with /nearby 5km #cold status:all." in cold


def test_nearby_around_a_place(field: TestBot) -> None:
    munich = field.say("/nearby 20km Munich")
    assert f"Nearest prospects within 20 km of {towns.place(towns.MUNICH).label}" in munich
    assert "Mia Munich" in munich and not _names(munich)
    paris = field.say("/near Paris, TX")
    assert f"No prospects within 10 km of {towns.place(towns.PARIS_TEXAS).label}" in paris
    assert "Look further with /nearby 50km Paris, TX." in paris
    around_berlin = _names(field.say("/nearby 10 km Berlin"))
    assert around_berlin[0] == "Anna Arndt" and sorted(around_berlin) == sorted(SPOTS)
    # As it is said: the words leading into the place are not part of its name.
    for said in ("/nearby 20 km near Munich", "/nearby around Munich", "/nearby bei Munich"):
        assert f"of {towns.place(towns.MUNICH).label}" in field.say(said), said
    # A unit written out is the radius's (`10 Meilen` is no town Meilen in Switzerland).
    for said in ("/nearby 12 Meilen Munich", "/nearby 12 miles Munich"):
        assert f"within 19 km of {towns.place(towns.MUNICH).label}" in field.say(said), said
    assert "within 20 km of" in field.say("/nearby 20 Kilometer Munich")


@pytest.mark.parametrize(
    ("command", "complaint"),
    [
        ("/nearby 600km", "at most 500 km; you asked for 600 km"),
        ("/nearby 400mi", "at most 500 km; you asked for 644 km"),
        ("/nearby 0km", "The radius must be more than 0"),
        ("/nearby -3km Berlin", "The radius must be more than 0"),
        ("/nearby Xyzzyville", "I could not find a place called “Xyzzyville”"),
        ("/nearby #hot #cold", "One #tag at a time"),
        ("/nearby limit:99", "limit: takes a number from 1 to 20"),
        ("/nearby status:sleepy", "There is no status “sleepy”"),
    ],
)
def test_nearby_explains_what_is_wrong(field: TestBot, command: str, complaint: str) -> None:
    field.location(*BERLIN)
    reply = field.send(command)
    assert reply.error
    assert complaint in reply.plain_text


def test_log_a_visit_from_the_list_then_route_through_the_rest(field: TestBot) -> None:
    field.location(*BERLIN)
    field.say("/nearby")
    logged = field.press("Log visit c2").plain_text
    assert "Logged: visited Ben Brandt (c2)." in logged
    assert "With your current location." in logged
    assert "/note c2" in logged
    with transaction(field.dispatcher.engine) as session:
        visit = session.exec(select(Activity).where(Activity.kind == ActivityKind.visit)).one()
        assert (visit.contact_id, visit.lat, visit.lon) == (2, *BERLIN)
    route = field.press("Route through the rest").plain_text
    assert "Route through 4 prospects from your location" in route
    assert "Ben Brandt" not in route
    assert "Skipping 1 contact you visited today." in route


def test_route_orders_the_stops_better_than_nearest_first(field: TestBot) -> None:
    field.location(*BERLIN)
    reply = field.send("/route")
    text = reply.plain_text
    stops = _names(text)
    assert sorted(stops) == sorted(SPOTS)
    assert stops != ["Anna Arndt", "Ben Brandt", "Dirk Dorn", "Cleo Claus", "Eva Engel"]
    legs = [
        _km(span.text.removeprefix("+"))
        for line in reply.lines
        for span in line.spans
        if span.text.startswith("+")
    ]
    total = _km(text.splitlines()[0].split(": ")[-1])
    assert len(legs) == 5 and sum(legs) == pytest.approx(total, abs=0.3)
    nearest_first = _km(text.split("Nearest first would be ")[1].split(":")[0])
    assert total < nearest_first
    assert "this order saves" in text
    assert len(reply.buttons) == 5


def test_route_arguments(field: TestBot) -> None:
    assert field.say("/route") == HOW_TO_SHARE
    field.location(*BERLIN)
    assert sorted(_names(field.say("/route 2"))) == ["Anna Arndt", "Ben Brandt"]
    assert "Route through 1 prospect from" in field.say("/route 5 #hot")
    assert "1 to 10 stops" in field.say("/route 11")
    assert "give a number of stops" in field.say("/route soon")
    assert "One #tag" in field.say("/route #a #b")


def test_visit_attaches_a_fresh_location_only(field: TestBot) -> None:
    field.location(*BERLIN)
    assert "With your current location." in field.say("/visit Anna Arndt signed the order")
    field.clock.advance(hours=3)
    assert "With your current location." not in field.say("/visit Eva Engel no one home")
    with transaction(field.dispatcher.engine) as session:
        visits = session.exec(
            select(Activity).where(Activity.kind == ActivityKind.visit).order_by(col(Activity.id))
        ).all()
        assert [(v.text, v.lat) for v in visits] == [
            ("signed the order", BERLIN[0]),
            ("no one home", None),
        ]


def test_another_teams_contacts_are_never_near(open_signup_bot: TestBot) -> None:
    bot = open_signup_bot
    bot.say("/start Acme", who="Alice")
    bot.say("/add Jane Doe city:Berlin", who="Alice")
    bot.say("/start Rivals", who="Rita")
    assert "No prospects" in bot.location(*BERLIN, who="Rita").plain_text
    assert "Jane Doe" in bot.location(*BERLIN, who="Alice").plain_text
    refused = bot.request("Rita", button="vi:c1")
    assert refused is not None and "There is no contact c1 in your team" in refused.plain_text


# --- the route algorithm -----------------------------------------------------------------


def _matrix(points: list[tuple[float, float]]) -> list[list[float]]:
    return [[math.dist(a, b) for b in points] for a in points]


def test_route_finds_the_best_order_on_a_zig_zag() -> None:
    # Start at 0; stops alternate sides, so nearest first zig-zags across the line.
    points = [(0, 0), (1, 0.5), (-1.2, 0.5), (2, 0.5), (-2.2, 0.5), (3, 0.5)]
    matrix = _matrix(points)
    order = plan_route(matrix)
    best = min(itertools.permutations(range(1, 6)), key=lambda p: path_length(matrix, p))
    assert path_length(matrix, order) == pytest.approx(path_length(matrix, best))
    assert path_length(matrix, order) < path_length(matrix, [1, 2, 3, 4, 5]) * 0.8


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 10))
def test_route_is_never_longer_than_nearest_first(seed: int, stops: int) -> None:
    rng = random.Random(seed)
    points = [(rng.uniform(-10, 10), rng.uniform(-10, 10)) for _ in range(stops + 1)]
    matrix = _matrix(points)
    order = plan_route(matrix)
    assert sorted(order) == list(range(1, stops + 1))
    nearest_first = sorted(range(1, stops + 1), key=lambda stop: matrix[0][stop])
    assert path_length(matrix, order) <= path_length(matrix, nearest_first) + 1e-9
