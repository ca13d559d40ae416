"""Places: the geocoder the handlers are given, the cache in front of it, and putting
contacts and companies on the map from their address.

The providers themselves (the offline gazetteer, geopy's services) live in bot/geocoding:
handlers only see this interface.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlmodel import Session

from storage.gazetteer import Place as Place
from storage.geocache import Placed, cached_answer, remember_answer
from storage.keys import name_key

# A place "nothing found" is asked again after this long; found coordinates never expire.
MISS_TTL = timedelta(days=30)
GEOCODED_FROM_LENGTH = 300


class GeocoderUnavailable(Exception):
    """The provider did not answer in time, or refused (network, quota, 5xx)."""


class Geocoder(Protocol):
    """Place text in, coordinates out.

    `name` tells providers apart in the cache. `geocode` returns None when the provider
    knows no such place and raises GeocoderUnavailable when it could not be asked.
    """

    name: str

    def geocode(self, query: str) -> Place | None: ...


class Located(StrEnum):
    found = "found"
    not_found = "not found"
    pending = "pending"  # the geocoder did not answer: retried later
    no_place = "no place"


def place_query(record: Placed) -> str:
    """`Unter den Linden 1, Berlin, Germany` from the address fields, or ""."""
    parts = (record.address, record.city, record.country)
    return ", ".join(part.strip() for part in parts if part and part.strip())


def cache_key(query: str) -> str:
    return name_key(query)


def cached_place(
    session: Session, geocoder: Geocoder, query: str, *, now: datetime
) -> tuple[bool, Place | None]:
    """(True, the answer) when the cache has one for `query`, else (False, None)."""
    cached = cached_answer(
        session, provider=geocoder.name, query=cache_key(query), misses_since=now - MISS_TTL
    )
    if cached is None:
        return False, None
    if cached.lat is None or cached.lon is None:
        return True, None
    return True, Place(cached.lat, cached.lon, cached.label or "")


def find_place(session: Session, geocoder: Geocoder, query: str, *, now: datetime) -> Place | None:
    """The place for `query`, from the cache or else from the geocoder (then cached)."""
    hit, place = cached_place(session, geocoder, query, now=now)
    if hit:
        return place
    place = geocoder.geocode(query)
    remember(session, geocoder, cache_key(query), place, now=now)
    return place


def remember(
    session: Session, geocoder: Geocoder, key: str, place: Place | None, *, now: datetime
) -> None:
    remember_answer(
        session,
        provider=geocoder.name,
        query=key,
        lat=place.lat if place else None,
        lon=place.lon if place else None,
        label=place.label[:500] if place else None,
        at=now,
    )


def apply_place(record: Placed, query: str, place: Place | None) -> Located:
    """Store what the geocoder answered for `query` on the record."""
    record.geocode_pending = False
    record.geocoded_from = query[:GEOCODED_FROM_LENGTH]
    if place is None:
        record.lat = record.lon = None
        return Located.not_found
    record.lat, record.lon = place.lat, place.lon
    return Located.found


def locate(
    session: Session, geocoder: Geocoder | None, record: Placed, *, now: datetime
) -> Located:
    """Coordinates for the record's address. A geocoder that does not answer leaves the
    record saved without coordinates and marked for bot.geocoding.geocode_pending."""
    query = place_query(record)
    if not query:
        record.lat = record.lon = record.geocoded_from = None
        record.geocode_pending = False
        return Located.no_place
    try:
        if geocoder is None:
            raise GeocoderUnavailable("no geocoder configured")
        place = find_place(session, geocoder, query, now=now)
    except GeocoderUnavailable:
        record.lat = record.lon = record.geocoded_from = None
        record.geocode_pending = True
        return Located.pending
    return apply_place(record, query, place)
