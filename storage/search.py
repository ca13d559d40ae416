"""Fuzzy candidates from a trigram index, so rapidfuzz only ever scores a hundred rows or so.

The index is asked for at most `READ` rows that could match, in no particular order, and
rapidfuzz keeps the `limit` closest. Asking the index to rank (FTS5's bm25, an ORDER BY
on PostgreSQL) would cost a computation for every row that contains a common trigram
such as `ann`: a full scan's worth of work at a million contacts.

Which rows could match, in order, until one pass finds some:

1. The exact key (an index lookup), so an exact name is never crowded out.
2. Rows containing every word of three letters or more, as typed or with two neighbouring
   letters swapped (the commonest slip on a phone keyboard: `jnae` finds `jane`). The
   trigram index answers each word by intersecting a few posting lists.
3. Any other typo: rows sharing the query's trigrams. On SQLite only the rarer ones are
   looked up (their document counts come from an fts5vocab table), so a misspelt name
   reads the few rows with its rare trigrams, not the many with its common ones; on
   PostgreSQL, pg_trgm's similarity operator. A key with a letter spelled out (`kjaer`)
   is also looked up with the letter (`kjær`), whose trigrams the index holds.

SQLite: FTS5 with the trigram tokenizer (external-content tables kept by triggers, see the
first migration). PostgreSQL: LIKE patterns answered by pg_trgm GIN indexes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from rapidfuzz import fuzz, process
from sqlalchemy import Select, bindparam, text
from sqlmodel import Session, col, select

from storage import core
from storage.keys import name_key, written_key
from storage.models import Company, Contact, Deal

Searchable = Literal["contact", "company", "deal"]
_COLUMN: dict[str, str] = {"contact": "name_key", "company": "name_key", "deal": "title_key"}
# The same, as columns (id, team_id, key) for the statements built once.
_COLUMNS: dict[str, tuple[Any, Any, Any]] = {
    "contact": (col(Contact.id), col(Contact.team_id), col(Contact.name_key)),
    "company": (col(Company.id), col(Company.team_id), col(Company.name_key)),
    "deal": (col(Deal.id), col(Deal.team_id), col(Deal.title_key)),
}
READ = 100  # rows a pass reads at most
TYPO_SIMILARITY = 0.2  # pg_trgm similarity the any-typo pass accepts on PostgreSQL
# The third pass on SQLite reads the rarest trigrams whose document counts add up to this
# (and always the rarest one).
RARE_GRAM_POSTINGS = 3_000


def merge_pending_entries(session: Session) -> None:
    """PostgreSQL: move what a bulk write (an import) left in the trigram indexes'
    pending lists (fast update, migration 0022) into the indexes, so that the searches
    after it read no pending list."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return
    # Only an index's owner may (PostgreSQL's rule). A database user that does not own the
    # tables (migrated by another) skips it: the lists stay bounded by their limit.
    connection.execute(
        text(
            "SELECT gin_clean_pending_list(c.oid) FROM pg_class c "
            "WHERE c.relname = ANY(:indexes) AND pg_has_role(c.relowner, 'USAGE')"
        ),
        {"indexes": [f"ix_{table}_{column}_trgm" for table, column in _COLUMN.items()]},
    )


def trigram_candidates(
    session: Session,
    *,
    table: Searchable,
    team_id: int,
    query: str,
    limit: int = 40,
    any_typo: bool = True,
) -> list[tuple[int, str]]:
    """Up to `limit` (id, key) pairs of `table` whose key is like `query`, closest first.

    `any_typo=False` skips the third pass (a caller searching several tables runs it only
    when none of them had a match).
    """
    key = name_key(query)
    if not key:
        return []
    rows = _Rows(session, table, _COLUMN[table], team_id)
    if len(key.replace(" ", "")) < 3:
        return rows.prefixed(key, limit)
    postgres = session.get_bind().dialect.name == "postgresql"
    words = [word for word in key.split() if len(word) >= 3]
    found = rows.exact(key)
    found += (_postgres_words if postgres else _sqlite_words)(rows, words) if words else []
    if not found and any_typo:
        # As typed, and with its spelled-out letters as the index holds them (`Kjaer`: Kjær).
        for typo_key in dict.fromkeys((key, written_key(key))):
            found += (
                _postgres_grams(rows, typo_key)
                if postgres
                else _sqlite_grams(rows, query_grams(typo_key))
            )
    unique = dict(found)
    best = process.extract(key, unique, scorer=fuzz.ratio, limit=limit)
    return [(record_id, candidate) for candidate, _, record_id in best]


@dataclass(frozen=True)
class _Rows:
    """A table's search key column, one team's rows."""

    session: Session
    table: str
    column: str
    team_id: int

    def read(self, sql: str, **params: Any) -> list[tuple[int, str]]:
        params.update(team_id=self.team_id, read=READ)
        return [(row[0], row[1]) for row in self.session.connection().execute(text(sql), params)]

    def run(self, statement: Select[Any], **params: Any) -> list[tuple[int, str]]:
        """A statement built once (the exact and prefix passes), on the driver: like
        `read`, it does not flush what the session has pending."""
        params.update(team_id=self.team_id)
        rows = core.execute(self.session, statement, params, flush=False)
        return [(row[0], row[1]) for row in rows]

    def exact(self, key: str) -> list[tuple[int, str]]:
        return self.run(_exact(self.table), key=key)

    def prefixed(self, key: str, limit: int) -> list[tuple[int, str]]:
        # A range on the (team_id, key) index, which works where LIKE would not use it.
        return self.run(_prefixed(self.table), low=key, high=key + "\uffff", limit=limit)

    def matching(self, match: str) -> list[tuple[int, str]]:
        """Rows whose FTS5 index matches `match` (SQLite)."""
        # CROSS JOIN keeps the index search as the outer loop: left to itself, the planner
        # may walk the team's rows and run the full-text query once for each.
        return self.read(
            f"SELECT t.id, t.{self.column} FROM {self.table}_fts f "
            f"CROSS JOIN {self.table} t ON t.id = f.rowid "
            f"WHERE {self.table}_fts MATCH :match AND t.team_id = :team_id LIMIT :read",
            match=match,
        )


def _sqlite_words(rows: _Rows, words: list[str]) -> list[tuple[int, str]]:
    # With the trigram tokenizer a quoted string matches as a substring.
    return rows.matching(
        " AND ".join(
            "(" + " OR ".join(_fts_string(variant) for variant in swaps(word)) + ")"
            for word in words
        )
    )


def _sqlite_grams(rows: _Rows, grams: list[str]) -> list[tuple[int, str]]:
    chosen: list[str] = []
    postings = 0
    for gram, documents in sorted(
        _documents(rows, set(grams)).items(), key=lambda g: (g[1], g[0])
    ):
        if chosen and postings + documents > RARE_GRAM_POSTINGS:
            break
        chosen.append(gram)
        postings += documents
    if not chosen:
        return []
    return rows.matching(" OR ".join(_fts_string(gram) for gram in chosen))


def _documents(rows: _Rows, grams: set[str]) -> dict[str, int]:
    """How many rows contain each of `grams` (those that none contains are left out).

    fts5vocab counts by reading each trigram's posting list: fine for the fallback pass,
    too slow to ask on every search."""
    counted = rows.session.connection().execute(
        text(f"SELECT term, doc FROM {rows.table}_fts_vocab WHERE term IN :grams").bindparams(
            bindparam("grams", expanding=True)
        ),
        {"grams": sorted(grams)},
    )
    return {gram: documents for gram, documents in counted}


def _postgres_words(rows: _Rows, words: list[str]) -> list[tuple[int, str]]:
    # Each LIKE '%word%' is answered by the GIN trigram index (a bitmap AND of its grams).
    # The statement's shape (each word's count of variants) takes hundreds of forms: as
    # SQL text it is built afresh, where a statement kept per shape would crowd the
    # driver path's caches (storage/core.py).
    params: dict[str, str] = {}
    conditions = []
    for i, word in enumerate(words):
        likes = []
        for j, variant in enumerate(swaps(word)):
            params[f"w{i}_{j}"] = "%" + _escape_like(variant) + "%"
            likes.append(f"{rows.column} LIKE :w{i}_{j} ESCAPE '\\'")
        conditions.append("(" + " OR ".join(likes) + ")")
    return rows.read(
        f"SELECT id, {rows.column} FROM {rows.table} WHERE team_id = :team_id "
        f"AND {' AND '.join(conditions)} LIMIT :read",
        **params,
    )


@cache
def _exact(table: str) -> Select[Any]:
    record_id, team_id, key = _COLUMNS[table]
    return (
        select(record_id, key)
        .where(team_id == bindparam("team_id"), key == bindparam("key"))
        .limit(READ)
    )


@cache
def _prefixed(table: str) -> Select[Any]:
    record_id, team_id, key = _COLUMNS[table]
    return (
        select(record_id, key)
        .where(
            team_id == bindparam("team_id"),
            key >= bindparam("low"),
            key < bindparam("high"),
        )
        .order_by(key)
        .limit(bindparam("limit"))
    )


def _postgres_grams(rows: _Rows, key: str) -> list[tuple[int, str]]:
    # pg_trgm's similarity operator, answered by the GIN index. Its default threshold
    # (0.3) misses a name with a typo in each word ("jon smtih" is 0.24 from "john smith");
    # this last pass runs only when nothing closer matched, so it may look wider.
    rows.session.connection().execute(
        text(f"SET LOCAL pg_trgm.similarity_threshold = {TYPO_SIMILARITY}")
    )
    return rows.read(
        f"SELECT id, {rows.column} FROM {rows.table} WHERE team_id = :team_id "
        f"AND {rows.column} % :key ORDER BY similarity({rows.column}, :key) DESC LIMIT :read",
        key=key,
    )


def swaps(word: str) -> list[str]:
    """The word, and the word with each pair of neighbouring letters swapped."""
    variants = [word]
    for i in range(len(word) - 1):
        variant = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        if variant not in variants:
            variants.append(variant)
    return variants


def query_grams(key: str, most: int = 48) -> list[str]:
    """The trigrams to look for: those of each word and of its neighbouring swaps."""
    grams: list[str] = []
    for word in key.split():
        for variant in swaps(word):
            grams += [gram for gram in _grams(variant) if gram not in grams]
    return grams[:most] or [key]


def _grams(text: str) -> list[str]:
    return [text[i : i + 3] for i in range(len(text) - 2)]


def _fts_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
