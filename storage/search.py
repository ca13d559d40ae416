"""Fuzzy candidates from a trigram index, so rapidfuzz only ever scores a few dozen rows.

SQLite: FTS5 with the trigram tokenizer (an external-content table kept by triggers, see
the first migration), queried with the OR of the query's trigrams and ranked by bm25.
PostgreSQL: the same trigrams as LIKE patterns, answered by a pg_trgm GIN index.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import text
from sqlmodel import Session

from storage.keys import name_key

Searchable = Literal["contact", "company", "deal"]
_COLUMN: dict[str, str] = {"contact": "name_key", "company": "name_key", "deal": "title_key"}


def trigram_candidates(
    session: Session, *, table: Searchable, team_id: int, query: str, limit: int = 40
) -> list[tuple[int, str]]:
    """Up to `limit` (id, key) pairs of `table` whose key shares trigrams with `query`."""
    column = _COLUMN[table]
    key = name_key(query)
    if not key:
        return []
    if len(key.replace(" ", "")) < 3:
        return _prefix_candidates(
            session, table=table, column=column, team_id=team_id, key=key, limit=limit
        )
    grams = query_grams(key)
    if session.get_bind().dialect.name == "postgresql":
        # Each LIKE '%gram%' is answered by the GIN trigram index (a bitmap OR); rows that
        # contain more of the grams rank first.
        likes = [f"{column} LIKE :g{i} ESCAPE '\\'" for i in range(len(grams))]
        params: dict[str, object] = {
            f"g{i}": "%" + _escape_like(gram) + "%" for i, gram in enumerate(grams)
        }
        hits = " + ".join(f"CASE WHEN {like} THEN 1 ELSE 0 END" for like in likes)
        sql = (
            f"SELECT id, {column} FROM {table} WHERE team_id = :team_id "
            f"AND ({' OR '.join(likes)}) ORDER BY {hits} DESC, id LIMIT :limit"
        )
        params.update(team_id=team_id, limit=limit)
        rows = session.connection().execute(text(sql), params)
        return [(row[0], row[1]) for row in rows]
    match = " OR ".join('"' + gram.replace('"', '""') + '"' for gram in grams)
    sql = (
        f"SELECT t.id, t.{column} FROM {table}_fts f JOIN {table} t ON t.id = f.rowid "
        f"WHERE {table}_fts MATCH :match AND t.team_id = :team_id ORDER BY f.rank LIMIT :limit"
    )
    rows = session.connection().execute(
        text(sql), {"match": match, "team_id": team_id, "limit": limit}
    )
    return [(row[0], row[1]) for row in rows]


def _prefix_candidates(
    session: Session, *, table: str, column: str, team_id: int, key: str, limit: int
) -> list[tuple[int, str]]:
    # A range on the (team_id, key) index, which works where LIKE would not use it.
    sql = (
        f"SELECT id, {column} FROM {table} WHERE team_id = :team_id "
        f"AND {column} >= :low AND {column} < :high ORDER BY {column} LIMIT :limit"
    )
    rows = session.connection().execute(
        text(sql), {"team_id": team_id, "low": key, "high": key + "\uffff", "limit": limit}
    )
    return [(row[0], row[1]) for row in rows]


def query_grams(key: str, most: int = 48) -> list[str]:
    """The trigrams to look for: those of each word and of each word with two neighbouring
    letters swapped, the commonest slip on a phone keyboard (`jnae` finds `jane`)."""
    grams: list[str] = []
    for word in key.split():
        variants = [word] + [
            word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)
        ]
        for variant in variants:
            for i in range(len(variant) - 2):
                gram = variant[i : i + 3]
                if gram not in grams:
                    grams.append(gram)
    return grams[:most] or [key]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
