"""Normalised names."""

from __future__ import annotations

from storage.keys import name_key


def test_name_key() -> None:
    assert name_key("  José  DOE ") == "jose doe"
    assert name_key("Zoë Ångström") == "zoe angstrom"
    assert name_key("STRASSE") == name_key("Straße")
    assert name_key("") == ""
