"""Lead scores in SQL: each part of the score is one SQL expression over a contact row.

The same expressions store the score (a set-based UPDATE, for one contact or thousands)
and explain it (a SELECT of the parts for one contact), so what `/show` says and what
`/leads` sorts by cannot drift apart. The points themselves are the caller's rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, func, select, true, update
from sqlmodel import Session, col

from storage.models import Contact, ContactTag, Deal, Tag, TagWeight

# The parts of a score, in the order they are explained.
PARTS = ("status", "weighted_tags", "tags", "email", "phone", "recency", "deals", "value")


@dataclass(frozen=True)
class ScoreRules:
    status: Mapping[str, int]
    tag_points: int  # each tag the team gave no weight
    max_tagged: int  # at most this many of those count
    reachable: int  # an e-mail; a phone
    recency: Sequence[tuple[timedelta, int]]  # (window, points), the shortest window first
    open_deal: int  # the contact has an open deal
    value: Sequence[tuple[int, int]]  # (minor units of `currency` open, points), biggest first
    currency: str
    open_stage_ids: Sequence[int]


@dataclass(frozen=True)
class TagPoints:
    name: str
    points: int | None  # None: the team gave the tag no weight


def score_parts(rules: ScoreRules, now: datetime) -> dict[str, ColumnElement[int]]:
    """Each part of the score of the Contact row in scope, as SQL. Every subquery reads
    one contact's rows through an index on contact_id and computes its points itself, so
    rescoring a million contacts stays linear."""
    weighted = (
        select(func.coalesce(func.sum(TagWeight.points), 0))
        .select_from(ContactTag)
        .join(TagWeight, col(TagWeight.tag_id) == col(ContactTag.tag_id))
        .where(col(ContactTag.contact_id) == col(Contact.id))
        .scalar_subquery()
    )
    others = func.count()
    tags = (
        select(
            case(
                (others > rules.max_tagged, rules.max_tagged * rules.tag_points),
                else_=others * rules.tag_points,
            )
        )
        .select_from(ContactTag)
        .outerjoin(TagWeight, col(TagWeight.tag_id) == col(ContactTag.tag_id))
        .where(col(ContactTag.contact_id) == col(Contact.id), col(TagWeight.id).is_(None))
        .scalar_subquery()
    )
    # Open stages by id, not by a join on stage: a join lets the planner walk all of a
    # stage's deals for every contact.
    open_deals = (
        select(case((func.count() > 0, rules.open_deal), else_=0))
        .where(
            col(Deal.contact_id) == col(Contact.id),
            col(Deal.stage_id).in_(rules.open_stage_ids),
        )
        .scalar_subquery()
    )
    open_value = func.coalesce(func.sum(Deal.amount), 0)
    value = (
        select(case(*((open_value >= minor, points) for minor, points in rules.value), else_=0))
        .where(
            col(Deal.contact_id) == col(Contact.id),
            col(Deal.stage_id).in_(rules.open_stage_ids),
            col(Deal.currency) == rules.currency,
        )
        .scalar_subquery()
    )
    activity = col(Contact.last_activity_at)
    return {
        "status": case(
            *((col(Contact.status) == status, points) for status, points in rules.status.items()),
            else_=0,
        ),
        "weighted_tags": weighted,
        "tags": tags,
        "email": case((col(Contact.email).is_not(None), rules.reachable), else_=0),
        "phone": case((col(Contact.phone).is_not(None), rules.reachable), else_=0),
        "recency": case(
            *((activity >= now - window, points) for window, points in rules.recency), else_=0
        ),
        "deals": open_deals,
        "value": value,
    }


def rescore_contacts(
    session: Session,
    *,
    team_id: int,
    rules: ScoreRules,
    now: datetime,
    where: ColumnElement[bool] | None = None,
) -> int:
    """Store the current score of the team's contacts matching `where` (all when None);
    returns how many were rescored."""
    session.flush()
    parts = list(score_parts(rules, now).values())
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    statement = (
        update(Contact)
        .where(col(Contact.team_id) == team_id, where if where is not None else true())
        .values(score=total)
        .execution_options(synchronize_session=False)
    )
    count = session.execute(statement).rowcount  # type: ignore[attr-defined]
    # Contacts already loaded in this session must not show their old score.
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, Contact):
            session.expire(loaded, ["score"])
    return int(count or 0)


def score_of(
    session: Session, *, contact_id: int, rules: ScoreRules, now: datetime
) -> dict[str, int]:
    """The points of each part of one contact's score."""
    parts = score_parts(rules, now)
    row = session.execute(select(*parts.values()).where(col(Contact.id) == contact_id)).one()
    return {name: int(points or 0) for name, points in zip(parts, row, strict=True)}


def open_deal_figures(session: Session, *, contact_id: int, rules: ScoreRules) -> tuple[int, int]:
    """How many open deals a contact has, and their value in the rules' currency."""
    count, value = session.execute(
        select(
            func.count(),
            func.coalesce(
                func.sum(case((col(Deal.currency) == rules.currency, col(Deal.amount)), else_=0)),
                0,
            ),
        ).where(col(Deal.contact_id) == contact_id, col(Deal.stage_id).in_(rules.open_stage_ids))
    ).one()
    return int(count), int(value)


def contact_tag_points(session: Session, *, team_id: int, contact_id: int) -> list[TagPoints]:
    """A contact's tags with the weight the team gave each (None: no weight)."""
    rows = session.execute(
        select(col(Tag.name), col(TagWeight.points))
        .select_from(ContactTag)
        .join(Tag, col(Tag.id) == col(ContactTag.tag_id))
        .outerjoin(TagWeight, col(TagWeight.tag_id) == col(Tag.id))
        .where(col(ContactTag.contact_id) == contact_id, col(Tag.team_id) == team_id)
        .order_by(col(Tag.name))
    )
    return [TagPoints(name, points) for name, points in rows]


def tag_weights(session: Session, *, team_id: int) -> list[TagPoints]:
    """The team's weighted tags, heaviest first."""
    rows = session.execute(
        select(col(Tag.name), col(TagWeight.points))
        .select_from(TagWeight)
        .join(Tag, col(Tag.id) == col(TagWeight.tag_id))
        .where(col(TagWeight.team_id) == team_id)
        .order_by(col(TagWeight.points).desc(), col(Tag.name))
    )
    return [TagPoints(name, points) for name, points in rows]


def set_tag_weight(session: Session, *, team_id: int, tag: Tag, points: int | None) -> None:
    """Give `tag` a weight, or take it away (None)."""
    assert tag.id is not None
    current = session.execute(
        select(TagWeight).where(col(TagWeight.tag_id) == tag.id, col(TagWeight.team_id) == team_id)
    ).scalar_one_or_none()
    if points is None:
        if current is not None:
            session.delete(current)
    elif current is None:
        session.add(TagWeight(team_id=team_id, tag_id=tag.id, points=points))
    else:
        current.points = points
        session.add(current)
    session.flush()


def tagged_with(tag_id: int) -> ColumnElement[bool]:
    """Contacts that carry the tag (for rescoring them after its weight changed)."""
    return col(Contact.id).in_(
        select(col(ContactTag.contact_id)).where(col(ContactTag.tag_id) == tag_id)
    )


def activity_crossed(
    windows: Sequence[timedelta], since: datetime, now: datetime
) -> list[ColumnElement[bool]]:
    """Contacts whose last activity left a recency window between `since` and `now`, one
    condition per window: last_activity_at + window fell in (since, now]. Each is one range
    of ix_contact_team_last_activity (an OR of them would scan the team's contacts)."""
    activity = col(Contact.last_activity_at)
    return [(activity > since - window) & (activity <= now - window) for window in windows]
