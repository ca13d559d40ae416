"""The append-only timeline: who did what, with whom, when."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Exists, Select, bindparam, exists, func, literal
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from storage import core, journal
from storage.models import CONTACT_KINDS, Activity, ActivityKind, Contact, Deal
from storage.scoring import ScoreRules, rescore_contacts, these_contacts, touch_and_rescore

# Kinds that count as working a contact or deal: they reset "last activity" (rotting).
_TOUCHING = frozenset(
    {
        *CONTACT_KINDS,
        ActivityKind.email,
        ActivityKind.created,
        ActivityKind.stage,
        ActivityKind.won,
        ActivityKind.lost,
    }
)


def log_activity(
    session: Session, *, activity: Activity, rules: ScoreRules | None = None
) -> Activity:
    """Append to the timeline, and bump the contact's and deal's last activity; with
    `rules`, the contact's score is brought up to date as of the activity's time (by the
    statement that bumps it, when it is bumped)."""
    core.insert_row(session, activity)
    rescored = rules is None or activity.contact_id is None
    if activity.kind in _TOUCHING:
        if activity.contact_id is not None:
            contact = _held(session, Contact, activity.contact_id)
            if contact is not None and (
                contact.last_activity_at is None or contact.last_activity_at < activity.at
            ):
                if rules is None:
                    core.update_row(session, contact, last_activity_at=activity.at)
                else:
                    touch_and_rescore(session, contact=contact, at=activity.at, rules=rules)
                    rescored = True
        if activity.deal_id is not None:
            deal = _held(session, Deal, activity.deal_id)
            if deal is not None and deal.last_activity_at < activity.at:
                core.update_row(session, deal, last_activity_at=activity.at)
    if not rescored:
        assert rules is not None and activity.contact_id is not None
        rescore_contacts(
            session,
            team_id=activity.team_id,
            rules=rules,
            now=activity.at,
            scope=these_contacts([activity.contact_id]),
        )
    return activity


def _held(session: Session, model: type[_Touched], id: int) -> _Touched | None:
    """The session's instance of the row (`session.get`), read on the driver when it has
    none: a stage move's contact was not loaded, and the ORM's loading of it cost more
    than the rest of the bump (issue 17)."""
    held = session.identity_map.get((model, (id,), None))
    if held is not None:
        return held
    found = core.load(session, model, _BY_ID[model], {"id": id})
    return found[0] if found else None


_Touched = TypeVar("_Touched", Contact, Deal)
_BY_ID: dict[type[Contact | Deal], SelectOfScalar[Any]] = {
    model: select(model).where(col(model.id) == bindparam("id")) for model in (Contact, Deal)
}


class ActivityRow(NamedTuple):
    """An activity as the timeline and the heads-up show it: a row, not a model instance
    (what the ORM costs to build one, a card or a note pays for nothing it uses)."""

    id: int
    team_id: int
    member_id: int | None
    kind: str
    contact_id: int | None
    deal_id: int | None
    text: str | None
    lat: float | None
    lon: float | None
    at: datetime


def _activity_rows() -> Select[*tuple[object, ...]]:
    table = journal.table_of(Activity)
    return select_columns(*(table.c[name] for name in ActivityRow._fields))


def recent_contact_by_others(
    session: Session, *, team_id: int, contact_id: int, member_id: int, since: datetime
) -> list[ActivityRow]:
    """Calls, meetings, visits and notes on this contact by teammates since `since`."""
    values = {"team_id": team_id, "contact_id": contact_id, "member_id": member_id, "since": since}
    return [ActivityRow(*row) for row in core.execute(session, _RECENT_BY_OTHERS, values)]


# Built once: every call, meeting, visit and note asks.
_RECENT_BY_OTHERS = (
    _activity_rows()
    .where(
        col(Activity.team_id) == bindparam("team_id"),
        col(Activity.contact_id) == bindparam("contact_id"),
        col(Activity.at) >= bindparam("since"),
        # The kinds as parameters of their own: a list would be one parameter that
        # SQLAlchemy renders into the SQL again at every execution.
        col(Activity.kind).in_([literal(str(kind)) for kind in CONTACT_KINDS]),
        col(Activity.member_id) != bindparam("member_id"),
    )
    .order_by(col(Activity.at).desc())
    .limit(3)
)


def timeline(
    session: Session,
    *,
    team_id: int,
    contact_id: int | None = None,
    deal_id: int | None = None,
    limit: int = 5,
) -> list[ActivityRow]:
    """The latest activities of a contact or a deal (or the whole team: the feed), but those
    of deleted (archived) contacts and deals."""
    query = _timeline(contact_id is not None, deal_id is not None)
    values = {"team_id": team_id, "contact_id": contact_id, "deal_id": deal_id, "limit": limit}
    return [ActivityRow(*row) for row in core.execute(session, query, values)]


@cache
def _timeline(by_contact: bool, by_deal: bool) -> Select[*tuple[object, ...]]:
    # Built once per shape: every card shows a timeline.
    query = _activity_rows().where(col(Activity.team_id) == bindparam("team_id"))
    if by_contact:
        query = query.where(col(Activity.contact_id) == bindparam("contact_id"))
    if by_deal:
        query = query.where(col(Activity.deal_id) == bindparam("deal_id"))
    else:  # a deleted deal's activities leave the feed and its contact's card
        query = query.where(~_archived(Deal, Activity.deal_id))
    if not by_contact and not by_deal:
        query = query.where(~_archived(Contact, Activity.contact_id))
    latest_first = (col(Activity.at).desc(), col(Activity.id).desc())
    return query.order_by(*latest_first).limit(bindparam("limit"))


def _archived(table: type[Contact] | type[Deal], key: int | None) -> Exists:
    return exists().where(col(table.id) == key, col(table.archived).is_(True))


def latest_touches(
    session: Session, *, team_id: int, contact_ids: Sequence[int]
) -> dict[int, Activity]:
    """Per contact, the latest call, meeting, visit or note ("visited 12 days ago")."""
    if not contact_ids:
        return {}
    ranked = (
        select(
            col(Activity.id).label("id"),
            func.row_number()
            .over(
                partition_by=col(Activity.contact_id),
                order_by=(col(Activity.at).desc(), col(Activity.id).desc()),
            )
            .label("n"),
        )
        .where(
            Activity.team_id == team_id,
            col(Activity.contact_id).in_(contact_ids),
            col(Activity.kind).in_(CONTACT_KINDS),
        )
        .subquery()
    )
    rows = session.exec(
        select(Activity).join(ranked, col(Activity.id) == ranked.c.id).where(ranked.c.n == 1)
    )
    return {activity.contact_id: activity for activity in rows if activity.contact_id}


def visited_since(session: Session, *, team_id: int, member_id: int, since: datetime) -> list[int]:
    """The contacts this member logged a visit with since `since`."""
    rows = session.exec(
        select(Activity.contact_id)
        .where(
            Activity.team_id == team_id,
            Activity.member_id == member_id,
            Activity.kind == ActivityKind.visit,
            col(Activity.at) >= since,
        )
        .distinct()
    )
    return [contact_id for contact_id in rows if contact_id is not None]
