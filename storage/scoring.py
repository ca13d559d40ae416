"""Lead scores in SQL: each part of the score is one SQL expression over a contact row.

The same expressions store the score (a set-based UPDATE, for one contact or thousands)
and explain it (a SELECT of the parts for one contact), so what `/show` says and what
`/leads` sorts by are one rule, apart only by how long ago the stored score was brought
up to date. The points themselves are the caller's rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Executable,
    Integer,
    Table,
    Update,
    bindparam,
    case,
    false,
    func,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col

from storage import core, journal
from storage.models import Company, Contact, ContactTag, Deal, Stage, StageKind, Tag, TagWeight

# The parts of a score, in the order they are explained.
PARTS = ("status", "weighted_tags", "tags", "email", "phone", "recency", "deals", "value")


@dataclass(frozen=True)
class ScoreRules:
    """A team's scoring rules. Hashable: the SQL built from them is cached per rules, since
    building it costs more than running it."""

    status: tuple[tuple[str, int], ...]
    tag_points: int  # each tag the team gave no weight
    max_tagged: int  # at most this many of those count
    reachable: int  # an e-mail; a phone
    recency: tuple[tuple[timedelta, int], ...]  # (window, points), the shortest window first
    open_deal: int  # the contact has an open deal
    value: tuple[tuple[int, int], ...]  # (minor units of `currency` open, points), biggest first
    currency: str
    # None: the scored contact's team's open stages, read by the statement itself (a
    # subquery per contact): for a write that rescores the one contact it touched, which
    # then reads no stages first (issue 17). A list of ids is for the statements that
    # score many contacts at once.
    open_stage_ids: tuple[int, ...] | None


@dataclass(frozen=True)
class TagPoints:
    name: str
    points: int | None  # None: the team gave the tag no weight


@dataclass(frozen=True)
class Scope:
    """Which of a team's contacts to rescore: one of the conditions below, by name (so the
    statement is built once), and the values of its parameters."""

    condition: str
    values: Mapping[str, Any] = field(default_factory=dict)


# Parameter names start with "s_": an UPDATE reserves its columns' names for SET values.
_ACTIVITY = col(Contact.last_activity_at)
_CONDITIONS: dict[str, ColumnElement[bool]] = {
    "everyone": true(),
    "contacts": col(Contact.id).in_(bindparam("s_contact_ids", expanding=True)),
    # One contact (a note, a tag, a stage move): a list parameter would have SQLAlchemy
    # render the whole statement again at every execution.
    "contact": col(Contact.id) == bindparam("s_contact_id"),
    "tagged": col(Contact.id).in_(
        select(col(ContactTag.contact_id)).where(col(ContactTag.tag_id) == bindparam("s_tag_id"))
    ),
    "crossed": (bindparam("s_crossed_after") < _ACTIVITY)
    & (bindparam("s_crossed_until") >= _ACTIVITY),
}
EVERYONE = Scope("everyone")


def these_contacts(ids: Iterable[int]) -> Scope:
    unique = sorted(set(ids))
    if len(unique) == 1:
        return Scope("contact", {"s_contact_id": unique[0]})
    return Scope("contacts", {"s_contact_ids": unique})


def tagged_with(tag_id: int) -> Scope:
    """Contacts that carry the tag (for rescoring them after its weight changed)."""
    return Scope("tagged", {"s_tag_id": tag_id})


def activity_crossed(windows: Iterable[timedelta], since: datetime, now: datetime) -> list[Scope]:
    """Contacts whose last activity left a recency window between `since` and `now`, one
    scope per window: last_activity_at + window fell in (since, now]. Each is one range
    of ix_contact_team_last_activity (an OR of them would scan the team's contacts)."""
    return [
        Scope("crossed", {"s_crossed_after": since - window, "s_crossed_until": now - window})
        for window in windows
    ]


def _in_open_stage(rules: ScoreRules, stage_id: ColumnElement[int]) -> ColumnElement[bool]:
    """The deal is in one of the rules' open stages, or, when the rules name none, in one
    of the open stages of the team `s_team_id` (the statement's, the scored contact's).
    A parameter, not the contact's column: SQLite runs an uncorrelated IN list once per
    statement and a correlated one again for every deal (50 µs of a /tag)."""
    if rules.open_stage_ids is None:
        return stage_id.in_(
            select(col(Stage.id)).where(
                col(Stage.team_id) == bindparam("s_team_id"), col(Stage.kind) == StageKind.open
            )
        )
    if not rules.open_stage_ids:
        return false()
    return stage_id.in_([_number(i) for i in rules.open_stage_ids])


def _number(value: int) -> ColumnElement[int]:
    """A constant of the rules written into the statement, not a parameter. The statements
    are built once per rules, so it is as constant as they are; as parameters, SQLAlchemy
    handled some seventy of them at each execution (and a list of stage ids made it render
    the SQL again), a third of what a rescoring or a card's figures cost (issue 17)."""
    return literal_column(str(int(value)), Integer)


@dataclass(frozen=True)
class ScoredTables:
    """Where the score reads a contact, its tag links and its deals: the tables, or
    tables of the same columns (an import's staged rows, `storage.imports`)."""

    contacts: Table
    links: Table
    deals: Table


SCORED = ScoredTables(Contact.__table__, ContactTag.__table__, Deal.__table__)  # type: ignore[attr-defined]


def score_parts(
    rules: ScoreRules,
    tables: ScoredTables = SCORED,
    last_activity: ColumnElement[datetime] | None = None,
) -> dict[str, ColumnElement[int]]:
    """Each part of the score of the contact row in scope, as SQL; the recency windows are
    parameters (`recency_values`), and so is the last activity they are compared with when
    given (`last_activity`: the value the same UPDATE sets). Every subquery reads one
    contact's rows through an index on contact_id and computes its points itself, so
    rescoring a million contacts stays linear."""
    contact, link, deal = tables.contacts.c, tables.links.c, tables.deals.c
    if last_activity is None:
        last_activity = contact.last_activity_at
    none = _number(0)
    weighted = (
        select(func.coalesce(func.sum(TagWeight.points), none))
        .select_from(tables.links)
        .join(TagWeight, col(TagWeight.tag_id) == link.tag_id)
        .where(link.contact_id == contact.id)
        .scalar_subquery()
    )
    others = func.count()
    tags = (
        select(
            case(
                (
                    others > _number(rules.max_tagged),
                    _number(rules.max_tagged * rules.tag_points),
                ),
                else_=others * _number(rules.tag_points),
            )
        )
        .select_from(tables.links)
        .outerjoin(TagWeight, col(TagWeight.tag_id) == link.tag_id)
        .where(link.contact_id == contact.id, col(TagWeight.id).is_(None))
        .scalar_subquery()
    )
    # Open stages by id, not by a join on stage: a join lets the planner walk all of a
    # stage's deals for every contact.
    open_deals = (
        select(case((func.count() > none, _number(rules.open_deal)), else_=none))
        .select_from(tables.deals)
        .where(
            deal.contact_id == contact.id,
            _in_open_stage(rules, deal.stage_id),
            deal.archived.is_(False),
        )
        .scalar_subquery()
    )
    open_value = func.coalesce(func.sum(deal.amount), none)
    value = (
        select(
            case(
                *(
                    (open_value >= _number(minor), _number(points))
                    for minor, points in rules.value
                ),
                else_=none,
            )
        )
        .select_from(tables.deals)
        .where(
            deal.contact_id == contact.id,
            _in_open_stage(rules, deal.stage_id),
            deal.currency == rules.currency,
            deal.archived.is_(False),
        )
        .scalar_subquery()
    )
    reachable = _number(rules.reachable)
    return {
        "status": case(
            *((contact.status == status, _number(points)) for status, points in rules.status),
            else_=none,
        ),
        "weighted_tags": weighted,
        "tags": tags,
        "email": case((contact.email.is_not(None), reachable), else_=none),
        "phone": case((contact.phone.is_not(None), reachable), else_=none),
        "recency": case(
            *(
                (bindparam(f"s_recent_{i}") <= last_activity, _number(points))
                for i, (_, points) in enumerate(rules.recency)
            ),
            else_=none,
        ),
        "deals": open_deals,
        "value": value,
    }


def recency_values(rules: ScoreRules, now: datetime) -> dict[str, datetime]:
    """The parameters of the recency part at `now`: where each window starts."""
    return {f"s_recent_{i}": now - window for i, (window, _) in enumerate(rules.recency)}


def score_total(
    rules: ScoreRules,
    tables: ScoredTables = SCORED,
    last_activity: ColumnElement[datetime] | None = None,
) -> ColumnElement[int]:
    """The score of the contact row in scope: the sum of its parts."""
    parts = list(score_parts(rules, tables, last_activity).values())
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


@lru_cache(maxsize=256)
def _rescore_statement(rules: ScoreRules, condition: str) -> Update:
    return (
        update(Contact)
        .where(col(Contact.team_id) == bindparam("s_team_id"), _CONDITIONS[condition])
        .values(score=score_total(rules))
        .execution_options(synchronize_session=False)
    )


@lru_cache(maxsize=128)
def _parts_statement(rules: ScoreRules) -> Executable:
    return select(*score_parts(rules).values()).where(col(Contact.id) == bindparam("s_contact"))


def rescore_contacts(
    session: Session, *, team_id: int, rules: ScoreRules, now: datetime, scope: Scope = EVERYONE
) -> int:
    """Store the current score of the team's contacts in `scope`; returns how many were
    rescored."""
    # On the connection: through the session, an UPDATE is ORM-enabled and would first
    # work out which loaded contacts it changes, which the expiry below settles anyway.
    count = core.execute(
        session,
        _rescore_statement(rules, scope.condition),
        {"s_team_id": team_id, **recency_values(rules, now), **scope.values},
    ).rowcount
    _forget_scores(session)
    return int(count or 0)


def touch_and_rescore(
    session: Session, *, contact: Contact, at: datetime, rules: ScoreRules
) -> None:
    """Set the contact's last activity to `at` (a contact the session holds) and store its
    score as of `at`, in one statement: what `core.update_row` and `rescore_contacts` of
    the one contact do after a note, a stage move or a new deal, one statement fewer."""
    assert contact.id is not None
    session.flush()
    journal.note_update(session, contact, {"last_activity_at": at})
    values = {"s_team_id": contact.team_id, "s_contact_id": contact.id, "s_at": at}
    core.execute(session, _touch_statement(rules), {**values, **recency_values(rules, at)})
    set_committed_value(contact, "last_activity_at", at)
    _forget_scores(session)


@lru_cache(maxsize=256)
def _touch_statement(rules: ScoreRules) -> Update:
    # The score's recency is of the value set here: in the SET clause the column is still
    # the row's old value. Typed as the column, the parameter is the value stored.
    at = bindparam("s_at", type_=Contact.__table__.c.last_activity_at.type)  # type: ignore[attr-defined]
    return (
        update(Contact)
        .where(
            col(Contact.team_id) == bindparam("s_team_id"),
            col(Contact.id) == bindparam("s_contact_id"),
        )
        .values(last_activity_at=at, score=score_total(rules, last_activity=at))
        .execution_options(synchronize_session=False)
    )


def _forget_scores(session: Session) -> None:
    """Contacts already loaded in this session must not show their old score."""
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, Contact):
            session.expire(loaded, ["score"])


def score_of(
    session: Session, *, contact_id: int, rules: ScoreRules, now: datetime
) -> dict[str, int]:
    """The points of each part of one contact's score."""
    row = session.execute(
        _parts_statement(rules), {"s_contact": contact_id, **recency_values(rules, now)}
    ).one()
    return {name: int(points or 0) for name, points in zip(PARTS, row, strict=True)}


@dataclass(frozen=True)
class ContactFigures:
    """What a contact card shows beside the contact's own columns."""

    parts: dict[str, int]  # the points of each part of the score (`score_of`)
    open_deals: int  # how many open deals (`open_deal_figures`)
    open_value: int  # their value in the rules' currency, minor units
    company: str | None  # the company's name


def contact_figures(
    session: Session, *, team_id: int, contact_id: int, rules: ScoreRules, now: datetime
) -> ContactFigures:
    """A card's figures for one contact of the team, in one statement."""
    row = core.execute(
        session,
        _figures_statement(rules),
        {"s_contact": contact_id, "s_team": team_id, **recency_values(rules, now)},
    ).one()
    *points, count, value, company = row
    parts = {name: int(p or 0) for name, p in zip(PARTS, points, strict=True)}
    return ContactFigures(parts, int(count), int(value), company)


@lru_cache(maxsize=128)
def _figures_statement(rules: ScoreRules) -> Executable:
    open_deals = (
        col(Deal.contact_id) == col(Contact.id),
        _in_open_stage(rules, SCORED.deals.c.stage_id),
        col(Deal.archived).is_(False),
    )
    in_currency = case((col(Deal.currency) == rules.currency, col(Deal.amount)), else_=0)
    return select(
        *score_parts(rules).values(),
        select(func.count()).where(*open_deals).scalar_subquery(),
        select(func.coalesce(func.sum(in_currency), 0)).where(*open_deals).scalar_subquery(),
        select(col(Company.name))
        .where(
            col(Company.id) == col(Contact.company_id),
            col(Company.team_id) == col(Contact.team_id),
        )
        .scalar_subquery(),
    ).where(col(Contact.id) == bindparam("s_contact"), col(Contact.team_id) == bindparam("s_team"))


def open_deal_figures(session: Session, *, contact_id: int, rules: ScoreRules) -> tuple[int, int]:
    """How many open deals a contact has, and their value in the rules' currency."""
    assert rules.open_stage_ids is not None
    count, value = session.execute(
        _OPEN_DEAL_FIGURES,
        {
            "s_contact": contact_id,
            "s_currency": rules.currency,
            "s_stage_ids": list(rules.open_stage_ids),
        },
    ).one()
    return int(count), int(value)


_OPEN_DEAL_FIGURES = select(
    func.count(),
    func.coalesce(
        func.sum(case((col(Deal.currency) == bindparam("s_currency"), col(Deal.amount)), else_=0)),
        0,
    ),
).where(
    col(Deal.contact_id) == bindparam("s_contact"),
    col(Deal.stage_id).in_(bindparam("s_stage_ids", expanding=True)),
    col(Deal.archived).is_(False),
)
_CONTACT_TAG_POINTS = (
    select(col(Tag.name), col(TagWeight.points))
    .select_from(ContactTag)
    .join(Tag, col(Tag.id) == col(ContactTag.tag_id))
    .outerjoin(TagWeight, col(TagWeight.tag_id) == col(Tag.id))
    .where(
        col(ContactTag.contact_id) == bindparam("s_contact"),
        col(Tag.team_id) == bindparam("s_team"),
    )
    .order_by(col(Tag.name))
)


def contact_tag_points(session: Session, *, team_id: int, contact_id: int) -> list[TagPoints]:
    """A contact's tags with the weight the team gave each (None: no weight)."""
    rows = core.execute(session, _CONTACT_TAG_POINTS, {"s_contact": contact_id, "s_team": team_id})
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
    # The tag's row held: two weights set at once take turns (one TagWeight per tag).
    session.execute(select(col(Tag.id)).where(col(Tag.id) == tag.id).with_for_update()).all()
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
