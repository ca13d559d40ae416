"""The pipeline's running totals: the triggers keep them equal to the rows they sum
through every kind of write, and a period's plan of months and spans counts each moment
exactly once."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, text, update
from sqlmodel import Session, col, select

from storage.db import transaction
from storage.deals import move_deal, open_deal
from storage.models import Deal, DealTotal, Role, StageChange
from storage.reports import MonthPlan, month_plan
from storage.teams import add_member, create_team, team_stages
from tests.conftest import START
from tests.totals import assert_totals_match, month_of

T0 = datetime(2026, 1, 30, 22, 0, tzinfo=UTC)


def test_the_triggers_keep_the_totals_through_every_kind_of_write(engine: Engine) -> None:
    rng = random.Random(14)
    with transaction(engine) as session:
        teams = []
        for name in ("A", "B"):
            team = create_team(
                session,
                name=name,
                currency="EUR",
                timezone="UTC",
                locale="en_US",
                region="DE",
                now=START,
            )
            members = [
                add_member(
                    session,
                    team_id=team.id or 0,
                    name=f"{name}{i}",
                    role=Role.rep,
                    platform="console",
                    external_id=f"{name}{i}",
                    now=START,
                ).id
                or 0
                for i in range(3)
            ]
            teams.append((team.id or 0, members, team_stages(session, team_id=team.id or 0)))
        deals: list[Deal] = []
        now = T0
        for i in range(120):
            team_id, members, stages = rng.choice(teams)
            now += timedelta(hours=rng.randrange(1, 30))
            currency = rng.choice(("EUR", "USD", None))
            deal = Deal(
                team_id=team_id,
                owner_id=rng.choice(members),
                title=f"d{i}",
                title_key=f"d{i}",
                stage_id=stages[0].id or 0,
                amount=None if currency is None else rng.randrange(1, 10**9),
                currency=currency,
                expected_close=rng.choice((None, date(2026, 1, 31), date(2026, 3, 1))),
            )
            open_deal(session, deal=deal, member_id=deal.owner_id, now=now)
            deals.append(deal)
            # Moves forward, back, won, lost and reopened, across month ends.
            for _ in range(rng.randrange(0, 4)):
                now += timedelta(hours=rng.randrange(1, 200))
                stage = rng.choice([s for s in stages if s.id != deal.stage_id])
                move_deal(session, deal=deal, stage=stage, member_id=deal.owner_id, now=now)
        for deal in rng.sample(deals, 30):  # the ORM's updates of amount, currency, owner
            _, members, _ = next(t for t in teams if t[0] == deal.team_id)
            deal.owner_id = rng.choice(members)
            deal.amount = rng.choice((None, 5, 123_456_789))
            deal.currency = rng.choice(("EUR", "GBP", None))
            deal.expected_close = rng.choice((None, date(2026, 2, 28), date(2027, 12, 1)))
            session.add(deal)
        session.flush()
        assert_totals_match(session)
        # Archived (/delete) out of every deal total, restored back in, and an archived
        # deal moved, repriced and deleted while archived.
        for deal in rng.sample(deals, 25):
            deal.archived = True
            session.add(deal)
        session.flush()
        assert_totals_match(session)
        for deal in [d for d in deals if d.archived][:10]:
            deal.archived = False
            session.add(deal)
        session.flush()
        assert_totals_match(session)
        ids = [deal.id for deal in deals]
    with transaction(engine) as session:
        session.execute(
            update(Deal)
            .where(col(Deal.archived).is_(True), col(Deal.id) % 2 == 0)
            .values(amount=7, archived=False)
            .execution_options(synchronize_session=False)
        )
        assert_totals_match(session)
        # Writes the application never makes: bulk SQL, and deletes cascading to history.
        session.execute(
            update(Deal).where(col(Deal.id) % 7 == 0).values(amount=col(Deal.amount) + 1)
        )
        session.execute(
            text("UPDATE stagechange SET at = at WHERE id % 5 = 0")  # touched, not changed
        )
        session.execute(  # out of one month's totals, into another's
            update(StageChange)
            .where(col(StageChange.id) % 4 == 0)
            .values(at=T0 - timedelta(days=40))
            .execution_options(synchronize_session=False)
        )
        gone = rng.sample(ids, 20)
        session.execute(delete(StageChange).where(col(StageChange.deal_id).in_(gone[:10])))
        session.execute(delete(Deal).where(col(Deal.id).in_(gone)))
        assert_totals_match(session)


def test_a_rolled_back_write_leaves_the_totals_as_they_were(engine: Engine) -> None:
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
        member = add_member(
            session,
            team_id=team.id or 0,
            name="M",
            role=Role.rep,
            platform="console",
            external_id="m",
            now=START,
        ).id
    with pytest.raises(RuntimeError), transaction(engine) as session:
        stage = team_stages(session, team_id=team.id or 0)[0]
        deal = Deal(
            team_id=team.id or 0,
            owner_id=member or 0,
            title="x",
            title_key="x",
            stage_id=stage.id or 0,
            amount=100,
            currency="EUR",
        )
        open_deal(session, deal=deal, member_id=member or 0, now=T0)
        session.flush()
        assert session.exec(select(DealTotal)).one().deals == 1
        raise RuntimeError("the command failed after the write")
    with Session(engine) as session:
        assert session.exec(select(DealTotal)).all() == []


# --- month_plan ----------------------------------------------------------------------------


def _counted(plan: MonthPlan, moment: datetime) -> int:
    """How many times the plan counts a row at `moment`."""
    times = int(plan.first <= month_of(moment) < plan.stop)
    return times + sum(sign for sign, low, high in plan.spans if low <= moment < high)


def test_a_plan_counts_every_moment_of_the_period_once_and_no_other() -> None:
    rng = random.Random(3)
    now = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    for _ in range(300):
        start = now - timedelta(seconds=rng.randrange(0, 800 * 86400))
        end = start + timedelta(seconds=rng.choice((0, 1, 3600, 86400 * 40, 86400 * 400)))
        plan = month_plan(start, end, now)
        probes = [start, end, start - timedelta(microseconds=1), end - timedelta(microseconds=1)]
        probes += [start + (end - start) * rng.random() for _ in range(20)]
        probes += [datetime(2025, m, 1, tzinfo=UTC) for m in range(1, 13)]
        for moment in probes:
            assert _counted(plan, moment) == (start <= moment < end), (start, end, moment)


def test_local_months_read_hours_of_rows_not_weeks() -> None:
    now = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    # Q4 in Berlin: from 22:00 UTC on 30 September; in New York from 04:00 on 1 October.
    berlin = month_plan(
        datetime(2026, 9, 30, 22, 0, tzinfo=UTC), datetime(2026, 12, 31, 23, 0, tzinfo=UTC), now
    )
    assert (berlin.first, berlin.stop) == (date(2026, 10, 1), date(2026, 12, 1))
    assert berlin.spans == (
        (1, datetime(2026, 9, 30, 22, 0, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)),
        (1, datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 31, 23, 0, tzinfo=UTC)),
    )
    york = month_plan(
        datetime(2026, 10, 1, 4, 0, tzinfo=UTC), datetime(2027, 1, 1, 5, 0, tzinfo=UTC), now
    )
    assert (york.first, york.stop) == (date(2026, 10, 1), date(2027, 1, 1))
    assert york.spans[0] == (
        -1,
        datetime(2026, 10, 1, tzinfo=UTC),
        datetime(2026, 10, 1, 4, 0, tzinfo=UTC),
    )
