"""The generator: a consistent team, stored exactly as the application stores it."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from bench.generate import generate, members_for
from handlers import build_registry
from handlers.context import Request
from handlers.dispatcher import Dispatcher
from storage.models import Platform
from storage.search import trigram_candidates
from tests.conftest import START
from tests.phones import LANDLINE
from tests.totals import assert_totals_match


def test_a_consistent_team_in_every_stage(engine: Engine) -> None:
    generated = generate(engine, contacts=300, now=START)
    assert generated.contacts == 300
    assert generated.members == members_for(300)
    assert 450 <= generated.deals <= 750
    with engine.connect() as conn:
        stages: dict[str, int] = dict(
            conn.execute(
                text(
                    "SELECT s.name, COUNT(d.id) FROM stage s "
                    "LEFT JOIN deal d ON d.stage_id = s.id GROUP BY s.name"
                )
            ).all()
        )
        assert set(stages) == {"Lead", "Qualified", "Proposal", "Negotiation", "Won", "Lost"}
        assert all(count > 0 for count in stages.values()), stages
        # Every deal's history ends in the stage it is in.
        assert (
            conn.execute(
                text(
                    "SELECT COUNT(*) FROM deal d WHERE d.stage_id <> (SELECT s.to_stage_id "
                    "FROM stagechange s WHERE s.deal_id = d.id ORDER BY s.id DESC LIMIT 1)"
                )
            ).scalar()
            == 0
        )
        assert conn.execute(text("SELECT MAX(at) FROM activity")).scalar() is not None
        phones = [
            p
            for (p,) in conn.execute(
                text("SELECT phone FROM contact WHERE phone IS NOT NULL LIMIT 50")
            )
            if p
        ]
        assert phones and all(p.startswith("+") and p[1:].isdigit() for p in phones)
        if engine.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
            # Timestamps as SQLAlchemy writes them, so string comparisons in SQL agree.
            stored = conn.execute(text("SELECT created_at FROM contact LIMIT 1")).scalar_one()
            assert len(stored) == len("2026-11-23 09:00:00.000000")


def test_the_running_totals_count_the_generated_rows(engine: Engine) -> None:
    generate(engine, contacts=300, now=START)
    with Session(engine) as session:
        assert_totals_match(session)


def test_the_search_index_and_the_id_sequences_are_ready(engine: Engine) -> None:
    generate(engine, contacts=200, now=START)
    with Session(engine) as session:
        team_id, contact_id, name = (
            session.connection()
            .execute(text("SELECT team_id, id, name_key FROM contact ORDER BY id LIMIT 1"))
            .one()
        )
        typo = name[1] + name[0] + name[2:]
        found = trigram_candidates(session, table="contact", team_id=team_id, query=typo)
        assert contact_id in [record_id for record_id, _ in found]
        external_id = (
            session.connection()
            .execute(
                text(
                    "SELECT i.external_id FROM identity i JOIN member m ON m.id = i.member_id "
                    "WHERE m.role = 'admin' AND i.platform = 'telegram'"
                )
            )
            .scalar()
        )
    # The bot carries on where the generator stopped: new rows get fresh ids.
    dispatcher = Dispatcher(engine, build_registry())
    try:
        reply = dispatcher.handle_sync(
            Request(
                platform=Platform.telegram,
                user_id=str(external_id),
                user_name="Admin",
                text=f"/add Quentin Newcomer company:Zeta {LANDLINE.international}",
            )
        )
    finally:
        dispatcher.close()
    assert reply is not None and not reply.error, reply
    assert "Added Quentin Newcomer" in reply.plain_text
    assert "(c201)" in reply.plain_text


def test_refuses_a_database_that_has_a_team(engine: Engine) -> None:
    generate(engine, contacts=20, now=START)
    with pytest.raises(ValueError, match="already has a team"):
        generate(engine, contacts=20, now=START)
