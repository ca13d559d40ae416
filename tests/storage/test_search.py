"""Trigram candidates for fuzzy names, on SQLite (FTS5) and PostgreSQL (pg_trgm)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from storage.contacts import save_contact
from storage.db import transaction
from storage.models import Contact
from storage.search import merge_pending_entries, query_grams, trigram_candidates
from storage.teams import create_team
from tests.conftest import START

NAMES = ["Jane Doe", "John Smith", "Janet Dorsey", "Max Mustermann", "Zoë Ångström", "Al Li"]


def _seed(engine: Engine) -> tuple[int, int]:
    with transaction(engine) as session:
        teams = [
            create_team(
                session,
                name=n,
                currency="EUR",
                timezone="UTC",
                locale="en",
                region="DE",
                now=START,
            ).id
            or 0
            for n in ("A", "B")
        ]
        for team_id in teams:
            for name in NAMES:
                save_contact(session, contact=Contact(team_id=team_id, name=name, name_key=""))
    return teams[0], teams[1]


def _names(engine: Engine, team_id: int, query: str) -> list[str]:
    with transaction(engine) as session:
        return [
            key
            for _, key in trigram_candidates(
                session, table="contact", team_id=team_id, query=query
            )
        ]


def test_misspellings_find_their_name_first(engine: Engine) -> None:
    team, _ = _seed(engine)
    assert _names(engine, team, "jnae deo")[0] == "jane doe"
    assert _names(engine, team, "Mustremann")[0] == "max mustermann"
    assert _names(engine, team, "jon smtih")[0] == "john smith"
    assert "zoe angstrom" in _names(engine, team, "zoe angstrom")
    assert _names(engine, team, "qqqzzz") == []


def test_short_queries_use_the_name_prefix(engine: Engine) -> None:
    team, _ = _seed(engine)
    assert _names(engine, team, "al") == ["al li"]
    assert _names(engine, team, "ja") == ["jane doe", "janet dorsey"]


def test_candidates_stay_in_their_team(engine: Engine) -> None:
    team_a, team_b = _seed(engine)
    with transaction(engine) as session:
        a_ids = {
            i
            for i, _ in trigram_candidates(
                session, table="contact", team_id=team_a, query="jane doe"
            )
        }
        b_ids = {
            i
            for i, _ in trigram_candidates(
                session, table="contact", team_id=team_b, query="jane doe"
            )
        }
    assert a_ids and b_ids and not a_ids & b_ids


def test_renamed_records_are_found_by_their_new_name(engine: Engine) -> None:
    team, _ = _seed(engine)
    with transaction(engine) as session:
        contact = session.get(Contact, 1)
        assert contact is not None
        contact.name = "Rosalind Franklin"
        save_contact(session, contact=contact)
    assert _names(engine, team, "rosalind")[0] == "rosalind franklin"
    assert "jane doe" not in _names(engine, team, "jane doe")


def test_query_grams_include_neighbour_swaps() -> None:
    grams = query_grams("jnae")
    assert {"jna", "nae", "jan", "ane"} <= set(grams)
    assert len(query_grams("x" * 400)) <= 48


def test_postgres_trigram_indexes_keep_a_small_pending_list(engine: Engine) -> None:
    """GIN's pending list on PostgreSQL, but a small one (migration 0022): every search
    reads it end to end, and a bulk write goes in by it in bulk."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's search index (FTS5) has no pending list")
    team_id, _ = _seed(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.relname, array_to_string(c.reloptions, ',') FROM pg_class c "
                "WHERE c.relname LIKE '%\\_trgm'"
            )
        )
        options: dict[str, str | None] = {name: reloptions for name, reloptions in rows}
    small = "fastupdate=on,gin_pending_list_limit=512"
    assert options == {
        "ix_contact_name_key_trgm": small,
        "ix_company_name_key_trgm": small,
        "ix_deal_title_key_trgm": small,
    }
    assert _names(engine, team_id, "jnae")[0] == "jane doe"


def test_a_database_user_who_does_not_own_the_indexes_skips_the_merge(engine: Engine) -> None:
    """Only an index's owner may empty its pending list: an import under another user
    (the tables migrated by an admin's) must not fail on it."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's search index (FTS5) has no pending list")
    with engine.begin() as conn:
        conn.execute(
            text(
                "DO $$ BEGIN CREATE ROLE crm_test_tenant; "
                "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            )
        )
    with transaction(engine) as session:
        session.execute(text("SET LOCAL ROLE crm_test_tenant"))
        merge_pending_entries(session)
        assert session.execute(text("SELECT current_user")).scalar() == "crm_test_tenant"
