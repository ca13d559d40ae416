"""Geocoding: the offline gazetteer's disambiguation, geopy services behind a deadline,
the choice of provider from the settings, and the retry of what failed."""

from __future__ import annotations

import threading
from types import MethodType
from typing import Any

import pytest
from geopy.exc import GeocoderQueryError, GeocoderServiceError, GeocoderTimedOut
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import Nominatim, OpenCage
from geopy.location import Location
from sqlalchemy import Engine
from sqlmodel import select

from bot.config import Settings
from bot.geocoding import (
    Gazetteer,
    GeocoderConfigError,
    GeopyGeocoder,
    OfflineGeocoder,
    geocode_pending,
    make_geocoder,
)
from handlers.places import GeocoderUnavailable, Located, Place, locate
from storage.db import transaction
from storage.models import Company, Contact, GeocodeCache
from storage.teams import create_team
from tests import towns
from tests.conftest import START

# --- the offline gazetteer ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "geonameid"),
    [
        ("Paris", towns.PARIS),
        ("paris, fr", towns.PARIS),
        ("Paris, TX", towns.PARIS_TEXAS),
        ("Paris, Texas", towns.PARIS_TEXAS),
        ("Springfield, IL", towns.SPRINGFIELD_ILLINOIS),
        ("Springfield, Massachusetts, USA", towns.SPRINGFIELD_MASSACHUSETTS),
        ("London", towns.LONDON),
        ("London, CA", towns.LONDON_ONTARIO),
        ("Valencia, Spain", towns.VALENCIA),
        ("Valencia, España", towns.VALENCIA),
        ("Köln", towns.COLOGNE),
        ("Cologne", towns.COLOGNE),
        ("München", towns.MUNICH),
        ("Frankfurt", towns.FRANKFURT),
        ("Frankfurt (Oder)", towns.FRANKFURT_ODER),
        ("Berlin, Deutschland", towns.BERLIN),
        ("Unter den Linden 1, 10117 Berlin, Germany", towns.BERLIN),
        ("St. Petersburg", towns.SAINT_PETERSBURG),
        ("Suva, Fiji", towns.SUVA),
    ],
)
def test_offline_geocoding_of_ambiguous_names(query: str, geonameid: int) -> None:
    """The town meant, with its name and coordinates as the installed data has them."""
    assert OfflineGeocoder().geocode(query) == towns.place(geonameid)


@pytest.mark.parametrize("query", ["Germany", "Paris, Germany", "Xyzzyville", "", " , "])
def test_offline_finds_nothing_rather_than_guessing(query: str) -> None:
    assert OfflineGeocoder().geocode(query) is None


def test_the_gazetteer_prefers_a_towns_own_name_over_a_far_bigger_towns_other_name() -> None:
    def town(
        name: str, country: str, population: int, *others: str, state: str = ""
    ) -> dict[str, Any]:
        return {
            "name": name,
            "latitude": 1.0,
            "longitude": 2.0,
            "countrycode": country,
            "admin1code": state,
            "population": population,
            "alternatenames": list(others),
        }

    gazetteer = Gazetteer.from_data(
        [
            town("Milan", "IT", 1_400_000),
            town("Syracuse", "US", 2_000_000, "Milan"),  # an old name, ten times less
            town("Köln", "DE", 1_000_000, "Cologne", "KLN"),
            town("Cologne", "IT", 7_000),
            town("Paris", "FR", 2_000_000),
            town("Paris", "US", 25_000, state="TX"),
        ],
        {
            "IT": {"name": "Italy", "iso3": "ITA"},
            "US": {"name": "United States", "iso3": "USA"},
            "DE": {"name": "Germany", "iso3": "DEU"},
            "FR": {"name": "France", "iso3": "FRA"},
        },
        {"TX": {"name": "Texas"}},
    )
    assert gazetteer.find("Milan") == Place(1.0, 2.0, "Milan, Italy")
    assert gazetteer.find("Cologne") == Place(1.0, 2.0, "Köln, Germany")
    assert gazetteer.find("Cologne, Italy") == Place(1.0, 2.0, "Cologne, Italy")
    assert gazetteer.find("KLN") is None  # codes are not names
    assert gazetteer.find("Paris") == Place(1.0, 2.0, "Paris, France")
    assert gazetteer.find("Paris, Texas") == Place(1.0, 2.0, "Paris, TX, United States")


# --- geopy services ----------------------------------------------------------------------


def _location(lat: float, lon: float, address: str) -> Location:
    return Location(address, (lat, lon), {})


def test_a_geopy_answer_becomes_a_place() -> None:
    geocoder = GeopyGeocoder(
        "fake", lambda query: _location(52.5, 13.4, f"{query}, Deutschland"), budget=1
    )
    assert geocoder.geocode("Berlin") == Place(52.5, 13.4, "Berlin, Deutschland")
    assert GeopyGeocoder("fake", lambda query: None, budget=1).geocode("Nowhere") is None


@pytest.mark.parametrize("error", [GeocoderTimedOut, GeocoderServiceError])
def test_a_service_error_means_unavailable(error: type[Exception]) -> None:
    def failing(query: str) -> None:
        raise error("down")

    with pytest.raises(GeocoderUnavailable):
        GeopyGeocoder("fake", failing, budget=1).geocode("Berlin")


def test_a_refused_query_means_nothing_found() -> None:
    def refusing(query: str) -> None:
        raise GeocoderQueryError("bad query")

    assert GeopyGeocoder("fake", refusing, budget=1).geocode("???") is None


def test_a_service_that_hangs_is_given_up_on_at_the_deadline() -> None:
    release = threading.Event()

    def hanging(query: str) -> Location:
        release.wait()
        return _location(0, 0, "late")

    geocoder = GeopyGeocoder("slow", hanging, budget=0.01)
    try:
        with pytest.raises(GeocoderUnavailable):
            geocoder.geocode("Berlin")
    finally:
        release.set()
        geocoder.close()


# --- choosing the provider ---------------------------------------------------------------


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_offline_is_the_default() -> None:
    assert isinstance(make_geocoder(_settings()), OfflineGeocoder)


def test_public_nominatim_needs_a_real_user_agent_and_is_rate_limited() -> None:
    with pytest.raises(GeocoderConfigError, match="GEOCODER_USER_AGENT"):
        make_geocoder(_settings(geocoder="nominatim"))
    geocoder = make_geocoder(
        _settings(geocoder="nominatim", geocoder_user_agent="crmbot-acme (it@acme.example)")
    )
    assert isinstance(geocoder, GeopyGeocoder)
    assert geocoder.name == "nominatim"
    assert isinstance(geocoder._geocode, RateLimiter)
    assert geocoder._geocode.min_delay_seconds == 1


def test_a_self_hosted_nominatim_is_its_own_cache_and_not_rate_limited() -> None:
    geocoder = make_geocoder(_settings(geocoder="nominatim", geocoder_domain="geo.example.org"))
    assert isinstance(geocoder, GeopyGeocoder)
    assert geocoder.name == "nominatim@geo.example.org"
    assert not isinstance(geocoder._geocode, RateLimiter)
    assert isinstance(geocoder._geocode, MethodType)  # Nominatim's own, not rate-limited
    nominatim = geocoder._geocode.__self__
    assert isinstance(nominatim, Nominatim) and nominatim.domain == "geo.example.org"


def test_any_geopy_service_by_name_with_its_key() -> None:
    with pytest.raises(GeocoderConfigError, match="api_key"):
        make_geocoder(_settings(geocoder="opencage"))
    geocoder = make_geocoder(_settings(geocoder="OpenCage", geocoder_api_key="k3y"))
    assert isinstance(geocoder, GeopyGeocoder)
    assert geocoder.name == "opencage"
    assert isinstance(geocoder._geocode, MethodType)
    opencage = geocoder._geocode.__self__
    assert isinstance(opencage, OpenCage) and opencage.api_key == "k3y"
    photon = make_geocoder(_settings(geocoder="photon", geocoder_timeout=1.5))
    assert isinstance(photon, GeopyGeocoder) and photon.budget == 1.5


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"geocoder": "carrier-pigeon"}, "not a geocoder I know"),
        ({"geocoder": "photon", "geocoder_api_key": "k"}, "does not take a GEOCODER_API_KEY"),
        ({"geocoder": "here", "geocoder_domain": "x.org"}, "does not take a GEOCODER_DOMAIN"),
    ],
)
def test_settings_that_do_not_make_a_geocoder_are_explained(
    values: dict[str, str], complaint: str
) -> None:
    with pytest.raises(GeocoderConfigError, match=complaint):
        make_geocoder(_settings(**values))


# --- saved while the service was down, placed later ---------------------------------------


class Flaky:
    """A provider that is down until `up` is set, and counts what it was asked."""

    name = "flaky"

    def __init__(self) -> None:
        self.up = False
        self.asked: list[str] = []

    def geocode(self, query: str) -> Place | None:
        self.asked.append(query)
        if not self.up:
            raise GeocoderUnavailable("down")
        return OfflineGeocoder().geocode(query)


@pytest.fixture
def team_id(engine: Engine) -> int:
    with transaction(engine) as session:
        team = create_team(
            session,
            name="Acme",
            currency="EUR",
            timezone="UTC",
            locale="en_US",
            region="DE",
            now=START,
        )
        assert team.id is not None
        return team.id


def _contact(
    engine: Engine, team_id: int, geocoder: Flaky, *, city: str, country: str | None = None
) -> tuple[int, Located]:
    with transaction(engine) as session:
        contact = Contact(
            team_id=team_id, name="Jane", name_key="jane", city=city, country=country
        )
        located = locate(session, geocoder, contact, now=START)
        session.add(contact)
        session.flush()
        assert contact.id is not None
        return contact.id, located


def test_pending_contacts_and_companies_are_placed_when_the_service_is_back(
    engine: Engine, team_id: int
) -> None:
    flaky = Flaky()
    contact_id, located = _contact(engine, team_id, flaky, city="Potsdam", country="Germany")
    assert located is Located.pending
    with transaction(engine) as session:
        company = Company(team_id=team_id, name="Acme", name_key="acme", city="Hamburg")
        assert locate(session, flaky, company, now=START) is Located.pending
        session.add(company)
    assert geocode_pending(engine, flaky, now=START) == 0  # still down: nothing changes

    flaky.up = True
    assert geocode_pending(engine, flaky, now=START) == 2
    with transaction(engine) as session:
        contact = session.get(Contact, contact_id)
        assert contact is not None and not contact.geocode_pending
        assert (contact.lat, contact.lon) == towns.point(towns.POTSDAM)
        assert contact.geocoded_from == "Potsdam, Germany"
        placed_company = session.get(Company, company.id)
        assert placed_company is not None and placed_company.lat is not None
    assert geocode_pending(engine, flaky, now=START) == 0


def test_the_retry_stops_at_the_first_failure_and_asks_the_cache_first(
    engine: Engine, team_id: int
) -> None:
    flaky = Flaky()
    _contact(engine, team_id, flaky, city="Potsdam")
    _contact(engine, team_id, flaky, city="Potsdam")
    asked = len(flaky.asked)
    geocode_pending(engine, flaky, now=START)
    assert len(flaky.asked) == asked + 1  # the second one was not tried

    flaky.up = True
    assert geocode_pending(engine, flaky, now=START) == 2
    assert len(flaky.asked) == asked + 2  # the second Potsdam came from the cache
    with transaction(engine) as session:
        cached = session.exec(select(GeocodeCache).where(GeocodeCache.provider == "flaky"))
        assert [row.query for row in cached] == ["potsdam"]


def test_the_retry_leaves_an_address_changed_meanwhile_alone(engine: Engine, team_id: int) -> None:
    flaky = Flaky()
    contact_id, _ = _contact(engine, team_id, flaky, city="Potsdam")

    class EditsWhileAsked(Flaky):
        def geocode(self, query: str) -> Place | None:
            with transaction(engine) as session:
                contact = session.get(Contact, contact_id)
                assert contact is not None
                contact.city = "Munich"
            return OfflineGeocoder().geocode(query)

    assert geocode_pending(engine, EditsWhileAsked(), now=START) == 0
    with transaction(engine) as session:
        contact = session.get(Contact, contact_id)
        assert contact is not None and contact.lat is None and contact.geocode_pending

    flaky.up = True
    assert geocode_pending(engine, flaky, now=START) == 1
    with transaction(engine) as session:
        contact = session.get(Contact, contact_id)
        assert contact is not None and contact.geocoded_from == "Munich"
        assert (contact.lat, contact.lon) == towns.point(towns.MUNICH)
