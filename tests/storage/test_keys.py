"""Normalised names."""

from __future__ import annotations

import pytest

from storage.keys import city_key, company_keys, loose_key, name_key


def test_name_key() -> None:
    assert name_key("  José  DOE ") == "jose doe"
    assert name_key("Zoë Ångström") == "zoe angstrom"
    assert name_key("STRASSE") == name_key("Straße")
    assert name_key("") == ""


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("Lukasz", "Łukasz"), ("Soren", "Søren"), ("Mueller", "Müller"), ("Boerner", "Börner")],
)
def test_a_name_typed_without_its_letters_loosens_to_the_same_key(typed: str, stored: str) -> None:
    assert name_key(typed) != name_key(stored)
    assert loose_key(name_key(typed)) == loose_key(name_key(stored))


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("Koeln", "Köln"), ("koln", "KÖLN"), ("Wroclaw", "Wrocław"), ("Tromso", "Tromsø"),
     ("Muenchen", "München"), ("Duesseldorf", "Düsseldorf"), ("Sao Paulo", "São Paulo")],
)  # fmt: skip
def test_a_city_typed_without_its_letters_has_its_key(typed: str, stored: str) -> None:
    assert city_key(typed) == city_key(stored)


def test_cities_that_differ_keep_apart() -> None:
    assert city_key("Berlin") != city_key("Bern")
    assert city_key("Halle") != city_key("Hall")


def test_a_company_is_known_with_and_without_its_legal_form() -> None:
    assert "nordic ab" in company_keys("nordic")
    assert "nordic" in company_keys("nordic ab")
    assert "weber" in company_keys("weber gmbh & co. kg")
    assert "weber gmbh & co. kg" in company_keys("weber")
    assert "nordic" not in company_keys("nordic group")
    assert "nordic" not in company_keys("nordic")
