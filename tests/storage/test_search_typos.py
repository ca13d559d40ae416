"""Fuzzy candidates: swapped letters, other typos, short queries, one team only."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlmodel import Session

from storage.contacts import save_contact
from storage.db import optimize, transaction
from storage.models import Contact
from storage.search import swaps, trigram_candidates
from storage.teams import create_team
from tests.conftest import START


def _team_with(engine: Engine, names: list[str]) -> int:
    with transaction(engine) as session:
        team = create_team(
            session,
            name="T",
            currency="EUR",
            timezone="UTC",
            locale="en_US",
            region="DE",
            now=START,
        )
        assert team.id is not None
        for name in names:
            save_contact(session, contact=Contact(team_id=team.id, name=name, name_key=""))
        return team.id


def _found(engine: Engine, team_id: int, query: str) -> list[str]:
    with Session(engine) as session:
        return [
            key
            for _, key in trigram_candidates(
                session, table="contact", team_id=team_id, query=query
            )
        ]


NAMES = ["Jane Doe", "Janet Dorsey", "John Smith", "Anna Müller", "Hans Schmidt"]


def test_swapped_letters_and_other_typos(engine: Engine) -> None:
    team_id = _team_with(engine, NAMES)
    assert "jane doe" in _found(engine, team_id, "Jnae Deo")
    assert "anna muller" in _found(engine, team_id, "anna mueller")  # no word as typed
    assert "john smith" in _found(engine, team_id, "Jhon Smiht")
    assert "hans schmidt" in _found(engine, team_id, "Hans Schmitt")  # a wrong letter
    assert _found(engine, team_id, "Jo")  # shorter than a trigram: by prefix
    assert _found(engine, team_id, "Zyzzyva Qwq") == []


def test_only_the_teams_own_rows(engine: Engine) -> None:
    ours = _team_with(engine, ["Jane Doe"])
    theirs = _team_with(engine, ["Jane Doe", "Jane Dough"])
    assert _found(engine, ours, "Jane Doe") == ["jane doe"]
    assert sorted(_found(engine, theirs, "Jane Do")) == ["jane doe", "jane dough"]


def test_swaps() -> None:
    assert swaps("jnae") == ["jnae", "njae", "jane", "jnea"]
    assert swaps("aab") == ["aab", "aba"]


def test_a_compacted_index_finds_the_same(engine: Engine) -> None:
    team_id = _team_with(engine, NAMES)
    before = _found(engine, team_id, "Jnae Deo")
    optimize(engine)
    assert _found(engine, team_id, "Jnae Deo") == before
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            segments = conn.execute(text("SELECT COUNT(DISTINCT segid) FROM contact_fts_idx"))
            assert segments.scalar() == 1
