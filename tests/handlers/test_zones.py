"""Which timezone a person means."""

from __future__ import annotations

import pytest

from handlers.zones import find_zone
from tests import towns


@pytest.mark.parametrize(
    ("typed", "zone", "place"),
    [
        ("Europe/Berlin", "Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin", "Europe/Berlin"),
        ("Berlin", "Europe/Berlin", "Europe/Berlin"),
        ("new york", "America/New_York", "America/New_York"),
        ("Sao Paulo", "America/Sao_Paulo", "America/Sao_Paulo"),
        ("Paris", "Europe/Paris", "Europe/Paris"),  # not Paris, Texas
        ("UTC", "UTC", "UTC"),
        ("UTC+2", "Etc/GMT-2", "UTC+2"),
        ("gmt-5", "Etc/GMT+5", "UTC-5"),
        ("+0", "UTC", "UTC"),
        ("UTC+14", "Etc/GMT-14", "UTC+14"),
        ("UTC-12", "Etc/GMT+12", "UTC-12"),
        # What people call their time: with its summer time (IANA's EST has none), and
        # IST India's, not Istanbul's airport.
        ("EST", "America/New_York", "EST"),
        ("pst", "America/Los_Angeles", "PST"),
        ("CST", "America/Chicago", "CST"),
        ("MST", "America/Denver", "MST"),
        ("IST", "Asia/Kolkata", "IST"),
        ("BST", "Europe/London", "BST"),
        ("CEST", "Europe/Berlin", "CEST"),
    ],
)
def test_zone_names_cities_and_offsets(typed: str, zone: str, place: str) -> None:
    found = find_zone(typed)
    assert found is not None and (found.name, found.place) == (zone, place)


@pytest.mark.parametrize(
    ("typed", "geonameid"),
    [("Munich", towns.MUNICH), ("München", towns.MUNICH), ("Bangalore", towns.BENGALURU)],
)
def test_cities_by_their_own_and_other_names(typed: str, geonameid: int) -> None:
    """With the zone and the name the installed gazetteer gives the city."""
    found = find_zone(typed)
    assert found is not None
    assert (found.name, found.place) == (towns.town(geonameid)["timezone"], towns.city(geonameid))


@pytest.mark.parametrize("typed", ["", "Narnia", "UTC+15", "+05:30", "UTC-13", "UTC-14", "UTC+99"])
def test_unknown_zones(typed: str) -> None:
    assert find_zone(typed) is None
