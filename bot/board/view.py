"""The board's data, as the page's JSON: columns with their totals and first cards, further
pages of a column, a deal's sheet, prospects nearby. Reads only; every query is scoped by
the viewer's team, and whose deals follows the role as /pipeline does (reps see their own).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from handlers.cards import rotting_cutoffs
from handlers.contacts import wanted_statuses
from handlers.format import money
from handlers.periods import parse_period
from storage import board as store
from storage.activities import timeline
from storage.board import CardRow, Closed, ColumnTotal, Cursor, Filters
from storage.contacts import get_company, get_contact, tags_of
from storage.deals import get_deal, list_deals
from storage.models import (
    Contact,
    Member,
    Reminder,
    ReminderStatus,
    Role,
    Stage,
    Team,
)
from storage.nearby import nearby
from storage.teams import member_names, team_members, team_stages

PAGE = 50
_ID = re.compile(r"[0-9]{1,18}")
NEARBY_KM = 25.0
NEARBY_LIMIT = 50
Json = dict[str, Any]


class BadQuery(ValueError):
    """A query string the page would never send (the answer is a 400)."""


@dataclass(frozen=True)
class Seat:
    """Who is looking, resolved from a verified identity, and when."""

    member: Member
    team: Team
    now: datetime

    @property
    def manager(self) -> bool:
        return Role(self.member.role).rank >= Role.manager.rank

    @property
    def team_id(self) -> int:
        assert self.team.id is not None
        return self.team.id


@dataclass(frozen=True)
class Asked:
    who: str = ""  # "mine", "team" or a member id; "": the role's default
    tag: str = ""
    text: str = ""


def board(session: Session, seat: Seat, asked: Asked) -> Json:
    """Every column, its totals and its first page of cards; the filters as understood."""
    stages = team_stages(session, team_id=seat.team_id)
    filters, who, note = _filters(session, seat, asked)
    closed = _this_month(seat)
    open_ids = [s.id for s in stages if s.kind == "open" and s.id is not None]
    closed_ids = [s.id for s in stages if s.kind != "open" and s.id is not None]
    totals = store.column_totals(
        session, team_id=seat.team_id, stage_ids=open_ids, filters=filters
    ) + store.column_totals(
        session, team_id=seat.team_id, stage_ids=closed_ids, filters=filters, closed=closed
    )
    columns = []
    for stage in stages:
        assert stage.id is not None
        page = _page(session, seat, stage, filters, closed, None, stages)
        rows = [t for t in totals if t.stage_id == stage.id]
        columns.append(
            {
                "id": stage.id,
                "name": stage.name,
                "kind": stage.kind,
                "count": sum(t.deals for t in rows),
                "totals": _money_totals(seat, rows, stage.probability),
                **page,
            }
        )
    members = (
        [{"id": m.id, "name": m.name} for m in team_members(session, team_id=seat.team_id)]
        if seat.manager
        else []
    )
    return {
        "me": {"name": seat.member.name, "role": seat.member.role},
        "who": who,
        "note": note,
        "tag": asked.tag,
        "q": asked.text,
        "period": closed_label(seat),
        "members": members,
        "columns": columns,
    }


def column(session: Session, seat: Seat, asked: Asked, *, stage_id: int, after: str) -> Json:
    """The next page of one column, after the card `after` names."""
    stages = team_stages(session, team_id=seat.team_id)
    stage = next((s for s in stages if s.id == stage_id), None)
    if stage is None:
        raise BadQuery("no such stage")
    filters, _, _ = _filters(session, seat, asked)
    return _page(session, seat, stage, filters, _this_month(seat), _cursor(after), stages)


def _page(
    session: Session,
    seat: Seat,
    stage: Stage,
    filters: Filters,
    closed: Closed,
    after: Cursor | None,
    stages: Sequence[Stage],
) -> Json:
    assert stage.id is not None
    rows = store.stage_cards(
        session,
        team_id=seat.team_id,
        stage_id=stage.id,
        filters=filters,
        closed=None if stage.kind == "open" else closed,
        after=after,
        limit=PAGE + 1,
    )
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    last = rows[-1] if more else None
    key = (
        None if last is None else last.last_activity_at if stage.kind == "open" else last.closed_at
    )
    cutoffs, tz = rotting_cutoffs(stages, seat.now), _tz(seat)
    return {
        "cards": [_card(seat, row, cutoffs, tz) for row in rows],
        "next": None if last is None or key is None else f"{key.isoformat()}~{last.id}",
    }


def _card(seat: Seat, row: CardRow, cutoffs: dict[int, datetime], tz: ZoneInfo) -> Json:
    cutoff = cutoffs.get(row.stage_id)
    return {
        "id": row.id,
        "title": row.title,
        "amount": money(row.amount, row.currency, seat.team.locale)
        if row.amount is not None
        else "",
        "contact": row.contact or "",
        "company": row.company or "",
        "owner": row.owner or "",
        "mine": row.owner_id == seat.member.id,
        "days": max(0, (seat.now - row.stage_entered_at).days),
        "rotting": cutoff is not None and row.last_activity_at < cutoff,
        "reminder": row.next_due.astimezone(tz).strftime("%d %b %H:%M") if row.next_due else "",
    }


def deal_sheet(session: Session, seat: Seat, deal_id: int) -> Json | None:
    """A deal's fields, its latest activities and open reminders (None: not the team's)."""
    deal = get_deal(session, team_id=seat.team_id, deal_id=deal_id)
    row = store.deal_card(session, team_id=seat.team_id, deal_id=deal_id)
    if deal is None or row is None:
        return None
    stages = team_stages(session, team_id=seat.team_id)
    card = _card(seat, row, rotting_cutoffs(stages, seat.now), _tz(seat))
    contact = session.get(Contact, deal.contact_id) if deal.contact_id else None
    if contact is not None and contact.team_id != seat.team_id:
        contact = None
    return {
        **card,
        "stage": deal.stage_id,
        "contact_id": deal.contact_id,
        "closes": deal.expected_close.isoformat() if deal.expected_close else "",
        "phone": (contact.phone or "") if contact else "",
        "email": (contact.email or "") if contact else "",
        **_history(session, seat, deal_id=deal_id),
        "stages": [{"id": s.id, "name": s.name, "kind": s.kind} for s in stages],
    }


def contact_sheet(session: Session, seat: Seat, contact_id: int) -> Json | None:
    """A contact's fields, tags, open deals, latest activities and open reminders (None:
    not the team's)."""
    contact = get_contact(session, team_id=seat.team_id, contact_id=contact_id)
    if contact is None or contact.archived:
        return None
    company = (
        get_company(session, team_id=seat.team_id, company_id=contact.company_id)
        if contact.company_id
        else None
    )
    stages = team_stages(session, team_id=seat.team_id)
    open_ids = [s.id for s in stages if s.kind == "open" and s.id is not None]
    deals = list_deals(
        session, team_id=seat.team_id, stage_ids=open_ids, contact_id=contact_id, limit=10
    )
    return {
        "id": contact.id,
        "name": contact.name,
        "company": company.name if company else "",
        "title": contact.title or "",
        "status": contact.status,
        "phone": contact.phone or "",
        "email": contact.email or "",
        "city": contact.city or "",
        "tags": tags_of(session, team_id=seat.team_id, target="contact", ids=[contact_id]).get(
            contact_id, []
        ),
        "deals": [
            {
                "id": d.id,
                "title": d.title,
                "amount": money(d.amount, d.currency, seat.team.locale)
                if d.amount is not None
                else "",
            }
            for d in deals
        ],
        **_history(session, seat, contact_id=contact_id),
    }


def _history(
    session: Session, seat: Seat, *, deal_id: int | None = None, contact_id: int | None = None
) -> Json:
    """A sheet's latest activities (who did what, when, in the viewer's time) and its open
    reminders."""
    tz = _tz(seat)
    activities = timeline(
        session, team_id=seat.team_id, deal_id=deal_id, contact_id=contact_id, limit=10
    )
    whose = (
        col(Reminder.deal_id) == deal_id
        if deal_id is not None
        else col(Reminder.contact_id) == contact_id
    )
    reminders = session.scalars(
        select(Reminder)
        .where(
            col(Reminder.team_id) == seat.team_id,
            whose,
            col(Reminder.status) == ReminderStatus.pending,
        )
        .order_by(col(Reminder.due_at))
        .limit(10)
    )
    names = member_names(session, team_id=seat.team_id, ids=[a.member_id for a in activities])
    return {
        "timeline": [
            {
                "at": a.at.astimezone(tz).strftime("%d %b %H:%M"),
                "kind": a.kind,
                "text": a.text or "",
                "who": names.get(a.member_id or 0, ""),
            }
            for a in activities
        ],
        "reminders": [
            {"at": r.due_at.astimezone(tz).strftime("%d %b %H:%M"), "text": r.text}
            for r in reminders
        ],
    }


def prospects_nearby(session: Session, seat: Seat, origin: tuple[float, float] | None) -> Json:
    """Prospects near `origin`, or near where the member last shared their location."""
    member = seat.member
    if origin is None and member.lat is not None and member.lon is not None:
        origin = (member.lat, member.lon)
    if origin is None:
        return {"origin": None, "contacts": []}
    found = nearby(
        session,
        team_id=seat.team_id,
        lat=origin[0],
        lon=origin[1],
        radius_km=NEARBY_KM,
        limit=NEARBY_LIMIT,
        statuses=wanted_statuses(None),
    )
    contacts = {
        c.id: c
        for c in session.scalars(
            select(Contact).where(
                col(Contact.team_id) == seat.team_id,
                col(Contact.id).in_([n.contact_id for n in found]),
            )
        )
    }
    return {
        "origin": list(origin),
        "contacts": [
            {
                "id": n.contact_id,
                "name": contacts[n.contact_id].name,
                "city": contacts[n.contact_id].city or "",
                "status": contacts[n.contact_id].status,
                "km": round(n.km, 1),
                "lat": n.lat,
                "lon": n.lon,
            }
            for n in found
            if n.contact_id in contacts
        ],
    }


def _filters(session: Session, seat: Seat, asked: Asked) -> tuple[Filters, str, str]:
    """The filters, whose deals as the role allows (reps: their own, with a note when
    they asked for more), and that note."""
    who, note = asked.who or ("team" if seat.manager else "mine"), ""
    owner_id: int | None = seat.member.id
    if who == "team" or _ID.fullmatch(who):
        if not seat.manager:
            who, note = "mine", "The team's deals are for managers and admins; here are yours."
        elif who == "team":
            owner_id = None
        else:
            member = session.get(Member, int(who))
            if member is None or member.team_id != seat.team_id:
                raise BadQuery("no such member")
            owner_id = member.id
    elif who != "mine":
        raise BadQuery("who is mine, team or a member id")
    tag_id: int | None = None
    if asked.tag:
        tag = store.tag_named(session, team_id=seat.team_id, name=asked.tag.lstrip("#"))
        tag_id = tag.id if tag is not None else -1  # an unknown tag: no deals
    return Filters(owner_id=owner_id, tag_id=tag_id, text=asked.text or None), who, note


def _this_month(seat: Seat) -> Closed:
    period = parse_period("this month", tz=_tz(seat), now=seat.now, locale=seat.team.locale)
    return Closed(period.start, period.end, seat.now)


def closed_label(seat: Seat) -> str:
    return parse_period("this month", tz=_tz(seat), now=seat.now, locale=seat.team.locale).label


def _tz(seat: Seat) -> ZoneInfo:
    return ZoneInfo(seat.member.timezone or seat.team.timezone or "UTC")


def _cursor(text: str) -> Cursor:
    when, _, ident = text.partition("~")
    try:
        moment = datetime.fromisoformat(when)
    except ValueError:
        raise BadQuery("bad cursor") from None
    if moment.tzinfo is None or not _ID.fullmatch(ident):
        raise BadQuery("bad cursor")
    return moment, int(ident)


def _money_totals(seat: Seat, rows: Sequence[ColumnTotal], probability: int) -> list[Json]:
    """Per currency: the total and the weighted total (amount × probability, rounded half
    up once), never added across currencies."""
    sums: dict[str, int] = {}
    for row in rows:
        if row.currency is not None:
            sums[row.currency] = sums.get(row.currency, 0) + row.amount
    return [
        {
            "currency": currency,
            "total": money(amount, currency, seat.team.locale),
            "weighted": money(_weighted(amount, probability), currency, seat.team.locale),
        }
        for currency, amount in sorted(sums.items())
    ]


def _weighted(amount: int, probability: int) -> int:
    exact = Decimal(amount * probability) / 100
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
