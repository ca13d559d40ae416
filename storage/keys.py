"""Search keys: the normalised form of a name that lookups and fuzzy matching compare."""

from __future__ import annotations

import unicodedata


def name_key(text: str) -> str:
    """Casefolded, accent-free, single-spaced: `  José  DOE ` -> `jose doe`."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())
