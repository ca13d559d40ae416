"""Search keys: the normalised form of a name that lookups and fuzzy matching compare."""

from __future__ import annotations

import unicodedata


def name_key(text: str) -> str:
    """Casefolded, accent-free, single-spaced: `  José  DOE ` -> `jose doe`."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


# Letters that Unicode does not decompose into a base letter and an accent, as they are
# typed on a keyboard without them (`Lukasz` for Łukasz, `Soren` for Søren).
_PLAIN_LETTERS = str.maketrans(
    {"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th", "ð": "d"}
)
# German umlauts as typed without them: `Mueller` for Müller (whose key is `muller`).
_UMLAUT_SPELLINGS = (("ae", "a"), ("oe", "o"), ("ue", "u"))


def loose_key(key: str) -> str:
    """A name key as it may be typed on any keyboard, for comparing typed names with
    stored ones (both sides loosened): `łukasz` and `lukasz` -> `lukasz`, `mueller` and
    `muller` -> `muller`. Names are scored on it, not stored by it (a person's name must
    stay apart from a near namesake's); a city is (`city_key`)."""
    loose = key.translate(_PLAIN_LETTERS)
    for spelled, letter in _UMLAUT_SPELLINGS:
        loose = loose.replace(spelled, letter)
    return loose


def city_key(city: str) -> str:
    """What a city is stored and filtered by (`/leads city:`): its name key loosened, so
    that `Koeln`, `Köln` and `koln`, or `Wroclaw` and `Wrocław`, name one city."""
    return loose_key(name_key(city))
