"""What a command stored, read back from the database as text, field by field: the
contact, deal or reminder a team added last. Empty fields are left out."""

from __future__ import annotations

from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from handlers.grammar import Money
from storage.contacts import TagTarget, tags_of
from storage.db import transaction
from storage.models import Company, Contact, Deal, Platform, Reminder, Stage, Team
from storage.teams import member_and_team

_Row = TypeVar("_Row", Contact, Deal, Reminder)


def team_of(engine: Engine, user_id: str, platform: Platform = Platform.telegram) -> int:
    """The id of the team a (test bot's) user is in."""
    with transaction(engine) as session:
        found = member_and_team(session, platform=platform, external_id=user_id, workspace_id="")
        assert found is not None and found[1].id is not None, user_id
        return found[1].id


def last_contact(engine: Engine, team_id: int) -> dict[str, str]:
    with transaction(engine) as session:
        contact = _last(session, Contact, team_id)
        if contact is None:
            return {}
        fields = {
            "name": contact.name,
            "company": _company(session, contact.company_id),
            "title": contact.title,
            "phone": contact.phone,
            "email": contact.email,
            "addr": contact.address,
            "city": contact.city,
            "country": contact.country,
            "status": contact.status,
            "source": contact.source,
            "tags": _tags(session, team_id, "contact", contact.id),
        }
        return _filled(fields)


def last_deal(engine: Engine, team_id: int) -> dict[str, str]:
    with transaction(engine) as session:
        deal = _last(session, Deal, team_id)
        if deal is None:
            return {}
        contact = session.get(Contact, deal.contact_id) if deal.contact_id else None
        stage = session.get(Stage, deal.stage_id)
        fields = {
            "title": deal.title,
            "amount": (
                f"{Money(deal.amount, deal.currency).major} {deal.currency}"
                if deal.amount is not None and deal.currency
                else None
            ),
            "close": deal.expected_close.isoformat() if deal.expected_close else None,
            "contact": contact.name if contact else None,
            "company": _company(session, deal.company_id),
            "stage": stage.name if stage else None,
            "tags": _tags(session, team_id, "deal", deal.id),
        }
        return _filled(fields)


def last_reminder(engine: Engine, team_id: int) -> dict[str, str]:
    """The reminder's due time in the team's timezone, its text and what it is about."""
    with transaction(engine) as session:
        reminder = _last(session, Reminder, team_id)
        team = session.get(Team, team_id)
        if reminder is None or team is None:
            return {}
        contact = session.get(Contact, reminder.contact_id) if reminder.contact_id else None
        deal = session.get(Deal, reminder.deal_id) if reminder.deal_id else None
        due = reminder.due_at.astimezone(ZoneInfo(team.timezone))
        fields = {
            "due": due.strftime("%Y-%m-%d %H:%M"),
            "text": reminder.text,
            "about": deal.title if deal else contact.name if contact else None,
        }
        return _filled(fields)


def _last(session: Session, model: type[_Row], team_id: int) -> _Row | None:
    return session.exec(
        select(model).where(col(model.team_id) == team_id).order_by(col(model.id).desc()).limit(1)
    ).first()


def _company(session: Session, company_id: int | None) -> str | None:
    company = session.get(Company, company_id) if company_id else None
    return company.name if company else None


def _tags(session: Session, team_id: int, target: TagTarget, record_id: int | None) -> str:
    assert record_id is not None
    names = tags_of(session, team_id=team_id, target=target, ids=[record_id])
    return " ".join(f"#{name}" for name in names.get(record_id, []))


def _filled(fields: dict[str, str | None]) -> dict[str, str]:
    return {key: value for key, value in fields.items() if value}
