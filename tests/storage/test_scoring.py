"""A contact's last activity and score set in one statement (`touch_and_rescore`, what a
note, a stage move and a new deal use), with the open stages read by the statement
(`team_rules`), store what the bump and the rescoring did as two, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from handlers.scoring import _rules, rules
from storage import core
from storage.contacts import add_tags
from storage.db import transaction
from storage.deals import open_deal
from storage.models import Contact, ContactStatus, Deal, Role, Team
from storage.scoring import rescore_contacts, these_contacts, touch_and_rescore
from storage.teams import add_member, create_team, stage_rows

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _contact(session: Session, team: Team, name: str, last: datetime | None) -> Contact:
    contact = Contact(
        team_id=team.id or 0,
        name=name,
        name_key=name.lower(),
        status=ContactStatus.qualified,
        created_at=START,
        updated_at=START,
        email=f"{name}@example.com",
        last_activity_at=last,
    )
    session.add(contact)
    session.flush()
    return contact


def _stored(session: Session, contact_id: int) -> tuple[int, datetime | None]:
    session.expire_all()
    contact = session.get(Contact, contact_id)
    assert contact is not None
    return contact.score, contact.last_activity_at


def test_one_statement_stores_what_the_bump_and_the_rescoring_stored(engine: Engine) -> None:
    with transaction(engine) as session:
        team = create_team(
            session, name="T", currency="EUR", timezone="UTC", locale="en", region="DE", now=START
        )
        team_id = team.id or 0
        member = add_member(
            session,
            team_id=team_id,
            name="Al",
            role=Role.admin,
            platform="telegram",
            external_id="al",
            now=START,
        )
        stages = stage_rows(session, team_id=team_id)
        opening, won = stages[0].id, next(s.id for s in stages if s.kind == "won")
        ids = []
        # Cy's deal is won: not open, no points.
        for name, last, stage_id in (
            ("Ada", None, opening),
            ("Bea", START - timedelta(days=40), opening),
            ("Cy", START, won),
        ):
            added = _contact(session, team, name, last)
            assert added.id is not None
            add_tags(session, team_id=team_id, target="contact", target_id=added.id, names=["a"])
            deal = core.new_row(
                Deal,
                team_id=team_id,
                owner_id=member.id,
                title=f"{name}'s deal",
                title_key="",
                stage_id=stage_id,
                amount=2_000_000,
                currency="EUR",
                contact_id=added.id,
            )
            open_deal(session, deal=deal, member_id=member.id or 0, now=START)
            ids.append(added.id)
    for days in (0, 3, 20, 60, 200):
        at = START + timedelta(days=days)
        stored = []
        for together in (False, True):
            with transaction(engine) as session:
                held = session.get(Team, team_id)
                assert held is not None
                # The open stages by id, or read by the statement (`team_rules`).
                team_rules = _rules(held.currency, None) if together else rules(session, held)
                for contact_id in ids:
                    contact = session.get(Contact, contact_id)
                    assert contact is not None
                    core.update_row(session, contact, score=0, last_activity_at=START)
                    if together:
                        touch_and_rescore(session, contact=contact, at=at, rules=team_rules)
                    else:
                        core.update_row(session, contact, last_activity_at=at)
                        rescore_contacts(
                            session,
                            team_id=team_id,
                            rules=team_rules,
                            now=at,
                            scope=these_contacts([contact_id]),
                        )
                    assert contact.last_activity_at == at
                stored.append([_stored(session, contact_id) for contact_id in ids])
        assert stored[0] == stored[1]
        assert all(score > 0 and last == at for score, last in stored[1])
        assert stored[1][0][0] == stored[1][2][0] + 10 + 10  # an open deal, and its value
