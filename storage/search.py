"""Fuzzy candidates from a trigram index, so rapidfuzz only ever scores a few dozen rows.

SQLite: FTS5 with the trigram tokenizer (an external-content table kept by triggers, see
the first migration), queried with the OR of the query's trigrams and ranked by bm25.
PostgreSQL: pg_trgm's similarity operators on a GIN index.
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
    if session.get_bind().dialect.name == "postgresql":
        sql = (
            f"SELECT id, {column} FROM {table} WHERE team_id = :team_id "
            f"AND ({column} % :key OR :key <% {column}) "
            f"ORDER BY greatest(similarity({column}, :key), word_similarity(:key, {column})) DESC "
            "LIMIT :limit"
        )
        rows = session.connection().execute(
            text(sql), {"team_id": team_id, "key": key, "limit": limit}
        )
        return [(row[0], row[1]) for row in rows]
    match = _fts_query(key)
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


def _fts_query(key: str) -> str:
    """`jnae doe` -> `"jna" OR "nae" OR "doe"`: any shared trigram is a candidate; bm25
    ranks rows that share more (and rarer) trigrams first."""
    grams: list[str] = []
    for word in key.split():
        for i in range(max(len(word) - 2, 0)):
            gram = word[i : i + 3]
            if gram not in grams:
                grams.append(gram)
    if not grams:
        grams = [key]
    return " OR ".join('"' + gram.replace('"', '""') + '"' for gram in grams)
