"""`crmbot chat --demo`: a healthy team laid out before the clock's now, and who you are in it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from bot.demo import DEMO_TEAM, DemoRefused, enter_demo, seed_demo
from handlers.cards import rotting_cutoffs
from handlers.context import TeamDefaults
from storage.keys import name_key
from storage.models import Activity, Contact, Deal, Platform, Role, StageChange, StageKind
from storage.reports import rotting_count
from storage.teams import create_team, first_team, member_and_team, team_stages
from tests.conftest import START

# The tests' Monday, and a moment when a day, a month, a year and a leap day turn over.
MOMENTS = (START, datetime(2028, 12, 31, 23, 59, 30, tzinfo=UTC))


@pytest.mark.parametrize("now", MOMENTS, ids=lambda moment: moment.date().isoformat())
def test_the_demo_is_a_healthy_team_before_now(engine: Engine, now: datetime) -> None:
    assert seed_demo(engine, defaults=TeamDefaults(), now=now)
    with Session(engine) as session:
        team = first_team(session)
        assert team is not None and team.id is not None
        stages = team_stages(session, team_id=team.id)
        kind = {stage.id: stage.kind for stage in stages}
        deals = session.exec(select(Deal).where(Deal.team_id == team.id)).all()
        open_deals = [deal for deal in deals if kind[deal.stage_id] == StageKind.open]
        rotting = rotting_count(
            session,
            team_id=team.id,
            cutoffs=rotting_cutoffs(stages, now),
            created_before=now,
        )
        assert len(open_deals) == 16 and rotting == 3
        assert {kind[deal.stage_id] for deal in deals} == set(StageKind)
        # Every stage holds open deals, and nothing happened after now.
        assert len({deal.stage_id for deal in open_deals}) == 4
        latest = [
            session.exec(select(func.max(column))).one()
            for column in (
                col(Deal.created_at),
                col(Deal.last_activity_at),
                col(StageChange.at),
                col(Activity.at),
                col(Contact.created_at),
            )
        ]
        assert all(moment is not None and moment <= now for moment in latest)
        assert min(deal.created_at for deal in deals) > now - timedelta(days=150)


def _role(engine: Engine, name: str) -> Role | None:
    with Session(engine) as session:
        found = member_and_team(session, platform=Platform.console, external_id=name_key(name))
        return None if found is None else Role(found[0].role)


def test_the_demo_lands_you_as_its_admin_every_time(engine: Engine) -> None:
    for run in range(2):
        now = START + timedelta(days=run)
        admin = enter_demo(engine, defaults=TeamDefaults(), now=now, name=None)
        assert admin == "Alice Meyer" and _role(engine, admin) == Role.admin
        assert enter_demo(engine, defaults=TeamDefaults(), now=now, name="Zoë Park") == "Zoë Park"
        assert _role(engine, "Zoë Park") == Role.admin
    # A demo member by name is that member, to see the demo as a rep.
    assert enter_demo(engine, defaults=TeamDefaults(), now=START, name="bob schulz") == (
        "bob schulz"
    )
    assert _role(engine, "Bob Schulz") == Role.rep
    with Session(engine) as session:
        team = first_team(session)
        assert team is not None and team.name == DEMO_TEAM
        assert len(session.exec(select(Deal)).all()) == 24  # seeded once


def test_the_demo_leaves_another_team_alone(engine: Engine) -> None:
    with Session(engine) as session:
        create_team(
            session,
            name="Acme Sales",
            currency="EUR",
            timezone="UTC",
            locale="en_US",
            region="DE",
            now=START,
        )
        session.commit()
    with pytest.raises(DemoRefused, match="Acme Sales"):
        enter_demo(engine, defaults=TeamDefaults(), now=START, name=None)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Deal)).one() == 0
