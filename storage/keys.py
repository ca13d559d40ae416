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


# Letters a name key keeps, as spelled out without them: `kjaer` for kjær, `soeren` for
# søren. loose_key makes both sides alike for scoring; a search index holds the letter.
_SPELLED_OUT = (("ae", "æ"), ("oe", "ø"))


def written_key(key: str) -> str:
    """A name key with its spelled-out letters written as the letters (`kjaer` -> `kjær`),
    to look a name up as it is stored."""
    for spelled, letter in _SPELLED_OUT:
        key = key.replace(spelled, letter)
    return key


def city_key(city: str) -> str:
    """What a city is stored and filtered by (`/leads city:`): its name key loosened, so
    that `Koeln`, `Köln` and `koln`, or `Wroclaw` and `Wrocław`, name one city."""
    return loose_key(name_key(city))


# Legal forms as written after a company's name (`Siemens AG`, `Nordic AB`), in their
# usual case: `AS` is a form, `as` a word (/add reads a listed part with one as a company).
LEGAL_FORMS = frozenset(
    {
        *("AG", "GmbH", "gGmbH", "KG", "OHG", "GbR", "UG", "SE", "eG", "e.V.", "KGaA", "mbH"),
        *("Inc", "Inc.", "Corp", "Corp.", "Corporation", "LLC", "Ltd", "Ltd.", "Limited"),
        *("PLC", "plc", "LLP", "Co", "Co.", "Pty", "Pty.", "SA", "S.A.", "SAS", "SARL", "SRL"),
        *("S.r.l.", "S.L.", "SL", "S.p.A.", "SpA", "BV", "B.V.", "NV", "N.V.", "Oy", "Oyj"),
        *("AB", "AS", "A/S", "ApS", "s.r.o.", "Kft.", "A.Ş.", "GesmbH"),
    }
)
# The same as they end a company's name key (`nordic ab`, `muller gmbh & co. kg`).
_LEGAL_FORMS = frozenset(name_key(form) for form in LEGAL_FORMS)
# Written after a name with the legal forms above, and words that join them.
_FORM_ENDINGS = (*sorted(_LEGAL_FORMS), "gmbh & co. kg", "gmbh & co kg", "pty ltd", "pty. ltd.")
_JOINING = frozenset({"&", "+"})


def company_keys(key: str) -> list[str]:
    """The name keys one company may be written under, with or without its legal form:
    for `nordic` and `nordic ab` alike, `nordic`, `nordic ab`, `nordic gmbh`, ... (not
    `key` itself). `Nordic Group` and `Nordic` stay two companies."""
    core = company_core(key)
    return [k for k in (core, *(f"{core} {form}" for form in _FORM_ENDINGS)) if k != key]


def company_core(key: str) -> str:
    """A company's name key without its legal form: `nordic ab` and `nordic` -> `nordic`."""
    words = key.split()
    while len(words) > 1 and (words[-1] in _LEGAL_FORMS or words[-1] in _JOINING):
        words.pop()
    return " ".join(words)
