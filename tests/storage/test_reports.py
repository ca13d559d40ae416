"""The pipeline's SQL: durations on both databases, the stay a stage change ends, and the
migration that fills it in for existing history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from storage.db import alembic_config, transaction, upgrade
from storage.deals import move_deal, open_deal
from storage.models import Deal, Role, StageChange, Team
from storage.reports import closed_groups, open_groups, stage_moves
from storage.teams import add_member, create_team, team_stages
from tests.conftest import START

T0 = datetime(2026, 3, 28, 23, 59, 59, 250_000, tzinfo=UTC)


def _team(session: Session) -> tuple[Team, int]:
    team = create_team(
        session, name="T", currency="EUR", timezone="UTC", locale="en_US", region="DE", now=START
    )
    assert team.id is not None
    member = add_member(
        session,
        team_id=team.id,
        name="M",
        role=Role.admin,
        platform="console",
        external_id="m",
        now=START,
    )
    assert member.id is not None
    return team, member.id


def test_a_closed_deal_records_its_cycle_and_a_reopened_one_none(engine: Engine) -> None:
    with transaction(engine) as session:
        team, member = _team(session)
        lead, *_, won, _ = team_stages(session, team_id=team.id or 0)
        deal = Deal(
            team_id=team.id or 0, owner_id=member, title="x", title_key="x", stage_id=lead.id or 0
        )
        open_deal(session, deal=deal, member_id=member, now=T0)
        later = T0 + timedelta(days=3, hours=1, microseconds=500_000)
        move_deal(session, deal=deal, stage=won, member_id=member, now=later)
        assert deal.cycle_seconds == (later - T0).total_seconds()
        move_deal(session, deal=deal, stage=lead, member_id=member, now=later)
        assert deal.cycle_seconds is None


def test_moves_record_how_long_the_deal_stayed(engine: Engine) -> None:
    with transaction(engine) as session:
        team, member = _team(session)
        lead, qualified, proposal = team_stages(session, team_id=team.id or 0)[:3]
        deal = Deal(
            team_id=team.id or 0, owner_id=member, title="x", title_key="x", stage_id=lead.id or 0
        )
        open_deal(session, deal=deal, member_id=member, now=T0)
        move_deal(session, deal=deal, stage=proposal, member_id=member, now=T0 + timedelta(days=2))
        move_deal(
            session, deal=deal, stage=qualified, member_id=member, now=T0 + timedelta(days=5)
        )
        moves = stage_moves(
            session,
            team_id=team.id or 0,
            start=T0,
            end=T0 + timedelta(days=6),
            now=T0 + timedelta(days=6),
        )
        later = stage_moves(
            session,
            team_id=team.id or 0,
            start=T0 + timedelta(days=3),
            end=T0 + timedelta(days=6),
            now=T0 + timedelta(days=6),
            owner_id=member,
        )
    pairs = {(m.from_stage_id, m.to_stage_id): (m.count, m.timed, m.seconds) for m in moves}
    assert pairs == {
        (lead.id, proposal.id): (1, 1, 2 * 86400.0),
        (proposal.id, qualified.id): (1, 1, 3 * 86400.0),
    }
    assert [(m.from_stage_id, m.to_stage_id) for m in later] == [(proposal.id, qualified.id)]


def test_the_upgrade_fills_in_the_stays_and_cycles_of_existing_history(engine: Engine) -> None:
    command.downgrade(alembic_config(engine), "0010")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO team (id, name, currency, timezone, locale, region, created_at) "
                "VALUES (1, 'T', 'EUR', 'UTC', 'en_US', 'DE', :t)"
            ),
            {"t": T0},
        )
        conn.execute(
            text(
                "INSERT INTO member (id, team_id, name, name_key, role, active, created_at) "
                "VALUES (1, 1, 'M', 'm', 'admin', true, :t)"
            ),
            {"t": T0},
        )
        for stage_id, kind in ((1, "open"), (2, "open"), (3, "won")):
            conn.execute(
                text(
                    "INSERT INTO stage (id, team_id, name, position, probability, kind, rot_days)"
                    " VALUES (:id, 1, :name, :id, 10, :kind, 0)"
                ),
                {"id": stage_id, "name": f"S{stage_id}", "kind": kind},
            )
        conn.execute(
            text(
                "INSERT INTO deal (id, team_id, owner_id, title, title_key, stage_id, "
                "stage_entered_at, last_activity_at, closed_at, created_at, updated_at) "
                "VALUES (1, 1, 1, 'x', 'x', 3, :t, :t, :closed, :t, :t)"
            ),
            {"t": _stored(engine, T0), "closed": _stored(engine, T0 + timedelta(days=2))},
        )
        # Two changes at the same instant: the earlier id came first.
        history = [
            (1, None, 1, T0),
            (2, 1, 2, T0 + timedelta(hours=5)),
            (3, 2, 1, T0 + timedelta(hours=5)),
            (4, 1, 3, T0 + timedelta(days=2)),
        ]
        for change_id, source, target, at in history:
            conn.execute(
                text(
                    "INSERT INTO stagechange (id, team_id, deal_id, from_stage_id, to_stage_id,"
                    " at) VALUES (:id, 1, 1, :source, :target, :at)"
                ),
                {"id": change_id, "source": source, "target": target, "at": _stored(engine, at)},
            )
    upgrade(engine)
    with Session(engine) as session:
        changes = session.exec(select(StageChange).order_by(col(StageChange.id))).all()
    assert {change.id: change.from_entered_at for change in changes} == {
        1: None,
        2: T0,
        3: T0 + timedelta(hours=5),
        4: T0 + timedelta(hours=5),
    }
    stays = {change.id: change.stay_seconds for change in changes}
    assert stays == {1: None, 2: pytest.approx(5 * 3600), 3: 0, 4: pytest.approx(43 * 3600)}
    with Session(engine) as session:
        deal = session.get(Deal, 1)
        assert deal is not None and deal.cycle_seconds == pytest.approx(2 * 86400)


def _stored(engine: Engine, moment: datetime) -> object:
    """A timestamp as the UTC column type stores it on this database."""
    if engine.dialect.name == "sqlite":
        return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return moment


def test_groups_per_owner_add_up_to_the_groups_of_the_team(engine: Engine) -> None:
    with transaction(engine) as session:
        team, first = _team(session)
        team_id = team.id or 0
        second = add_member(
            session,
            team_id=team_id,
            name="N",
            role=Role.rep,
            platform="console",
            external_id="n",
            now=START,
        ).id
        stages = team_stages(session, team_id=team_id)
        for i in range(24):
            stage = stages[i % len(stages)]
            deal = Deal(
                team_id=team_id,
                owner_id=(first, second)[i % 2] or 0,
                title=f"d{i}",
                title_key=f"d{i}",
                stage_id=stages[0].id or 0,
                amount=None if i % 5 == 0 else 100 * i + 1,
                currency=None if i % 5 == 0 else ("EUR", "USD")[i % 3 == 0],
            )
            open_deal(session, deal=deal, member_id=first, now=T0)
            if stage is not stages[0]:
                move_deal(session, deal=deal, stage=stage, member_id=first, now=T0)
        later = T0 + timedelta(days=1)
        open_ids = [s.id or 0 for s in stages if s.kind == "open"]
        closed_ids = [s.id or 0 for s in stages if s.kind != "open"]
        found = {
            by_owner: (
                open_groups(
                    session=session,
                    team_id=team_id,
                    stage_ids=open_ids,
                    created_before=later,
                    by_owner=by_owner,
                ),
                closed_groups(
                    session,
                    team_id=team_id,
                    stage_ids=closed_ids,
                    start=T0,
                    end=later,
                    now=later,
                    by_owner=by_owner,
                ),
            )
            for by_owner in (True, False)
        }
    (open_each, closed_each), (open_total, closed_total) = found[True], found[False]
    # Open deals per owner have their stages together; closed ones keep the stage.
    assert {g.stage_id for g in open_each} == {None}
    assert {g.stage_id for g in closed_each} <= set(closed_ids)
    for each, total, by in (
        (open_each, open_total, "currency"),
        (closed_each, closed_total, "stage"),
    ):
        assert {g.owner_id for g in each} == {first, second}
        assert {g.owner_id for g in total} == {None}
        sums: dict[tuple[int | None, str | None], tuple[int, int, int]] = {}
        for g in each:
            key = (g.stage_id, g.currency)
            count, priced, amount = sums.get(key, (0, 0, 0))
            sums[key] = (count + g.count, priced + g.priced, amount + g.amount)
        totals: dict[tuple[int | None, str | None], tuple[int, int, int]] = {}
        for g in total:
            key = (g.stage_id if by == "stage" else None, g.currency)
            count, priced, amount = totals.get(key, (0, 0, 0))
            totals[key] = (count + g.count, priced + g.priced, amount + g.amount)
        assert totals == sums
        assert all(type(g.count) is int and type(g.amount) is int for g in total)


@pytest.mark.parametrize("created_after", [1, 30])
def test_the_open_pipeline_as_of_a_past_moment(engine: Engine, created_after: int) -> None:
    """Twelve open deals before the moment and some after: with one after, the totals less
    that one; with thirty, the deals themselves. The same answer either way."""
    with transaction(engine) as session:
        team, member = _team(session)
        team_id = team.id or 0
        stages = team_stages(session, team_id=team_id)
        moment = T0 + timedelta(days=10)
        expected: dict[tuple[int | None, str | None], tuple[int, int, int]] = {}
        for i in range(12 + created_after):
            before = i < 12
            stage = stages[i % 4]
            deal = Deal(
                team_id=team_id,
                owner_id=member,
                title=f"d{i}",
                title_key=f"d{i}",
                stage_id=stage.id or 0,
                amount=None if i % 5 == 0 else 1000 * i + 7,
                currency=None if i % 5 == 0 else ("EUR", "USD")[i % 2],
            )
            at = moment - timedelta(days=1 + i) if before else moment + timedelta(hours=i)
            open_deal(session, deal=deal, member_id=member, now=at)
            if before:
                key = (stage.id, deal.currency)
                count, priced, amount = expected.get(key, (0, 0, 0))
                priced += deal.amount is not None
                expected[key] = (count + 1, priced, amount + (deal.amount or 0))
        found = open_groups(
            session,
            team_id=team_id,
            stage_ids=[s.id or 0 for s in stages[:4]],
            created_before=moment,
            by_owner=False,
        )
    assert {(g.stage_id, g.currency): (g.count, g.priced, g.amount) for g in found} == expected
