"""The lead score `/leads` sorts by, the reasons `/show` gives for it, and /scoring, where
admins weigh tags (`/scoring #hot 20`).

A score adds up: the contact's status; each tag the team weighed, by its weight, and up
to three other tags, 5 each; an e-mail and a phone, 5 each; recent activity (the last 7
days +20, 30 days +10, 90 days +5); an open deal +10; and the value of the open deals in
the team's currency (1,000 +5, 10,000 +10, 100,000 +20).

Why stored, and how it stays true: `/leads` must stay an index walk at a million contacts
(ix_contact_team_status_score), so the score is a column, not an expression sorted at
query time. Every write that changes a part rescores the contact (status, fields, tags,
activities, its deals; a tag's new weight rescores the contacts with that tag). Recency
alone changes with time, and only when a last activity leaves a window: `rescore_due`
rescores exactly the contacts whose last activity crossed a window boundary since the
team's `scores_at` (an indexed range per window). The scheduler runs it hourly for every
team (`rescore_all_teams`), and `/leads` before reading when the last run is more than
READ_REFRESH old, so the order it shows is at most a minute behind. `/show` states the
score as of now, the sum of the parts it explains. The parts are SQL expressions
(storage/scoring.py) used both to store the score and to explain it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import lru_cache

from babel.numbers import get_currency_precision
from sqlmodel import Session, select

from handlers.context import Context
from handlers.errors import UsageError
from handlers.format import ago, money
from handlers.grammar import Args
from handlers.registry import Registry
from handlers.reply import Reply
from storage import scoring as store
from storage.contacts import ensure_tags
from storage.models import Contact, ContactStatus, Role, Team
from storage.teams import open_stage_ids

STATUS_POINTS = {
    ContactStatus.lead: 10,
    ContactStatus.qualified: 30,
    ContactStatus.customer: 20,
    ContactStatus.inactive: 0,
}
TAG_POINTS, MAX_TAGGED = 5, 3
REACHABLE_POINTS = 5
RECENCY = ((timedelta(days=7), 20), (timedelta(days=30), 10), (timedelta(days=90), 5))
OPEN_DEAL_POINTS = 10
VALUE_POINTS = ((100_000, 20), (10_000, 10), (1_000, 5))  # major units of the team currency
MAX_WEIGHT = 100
# Commands that ran a little before a rescoring may have stored scores for an earlier
# moment; the next rescoring looks back this far again to catch them.
SKEW = timedelta(minutes=5)
# Reads (/leads, /show) bring recency up to date at most this often: a score whose window
# boundary passed a minute ago is not worth a rescoring on every card.
READ_REFRESH = timedelta(minutes=1)


def rules(session: Session, team: Team) -> store.ScoreRules:
    assert team.id is not None
    return _rules(team.currency, open_stage_ids(session, team_id=team.id))


def team_rules(ctx: Context) -> store.ScoreRules:
    """The rules of the team the command runs for, for a write that rescores the one
    contact it touched as it writes (`log_activity`'s `rules`): its statement reads the
    team's open stages itself, so the command need not read them first."""
    assert ctx.team is not None
    return _rules(ctx.team.currency, None)


@lru_cache(maxsize=256)
def _rules(currency: str, open_stage_ids: tuple[int, ...] | None) -> store.ScoreRules:
    # Cached: a card and every write that rescores ask, and babel's precision lookup
    # alone is worth skipping.
    scale = 10 ** get_currency_precision(currency)
    return store.ScoreRules(
        status=tuple((status.value, points) for status, points in STATUS_POINTS.items()),
        tag_points=TAG_POINTS,
        max_tagged=MAX_TAGGED,
        reachable=REACHABLE_POINTS,
        recency=RECENCY,
        open_deal=OPEN_DEAL_POINTS,
        value=tuple((major * scale, points) for major, points in VALUE_POINTS),
        currency=currency,
        open_stage_ids=open_stage_ids,
    )


RESCORE_CHUNK = 5000


def rescore(
    session: Session, *, team_id: int, contact_ids: Iterable[int | None], now: datetime
) -> None:
    """Store these contacts' current scores (after any change that moves them)."""
    ids = sorted({i for i in contact_ids if i is not None})
    team = session.get(Team, team_id)
    if not ids or team is None:
        return
    team_rules = rules(session, team)
    # A few thousand at a time: an import's hundred thousand would pass PostgreSQL's
    # 65,535 parameters in one statement.
    for start in range(0, len(ids), RESCORE_CHUNK):
        store.rescore_contacts(
            session,
            team_id=team_id,
            rules=team_rules,
            now=now,
            scope=store.these_contacts(ids[start : start + RESCORE_CHUNK]),
        )


def rescore_due(
    session: Session, *, team: Team, now: datetime, unless_within: timedelta = timedelta(0)
) -> int:
    """Rescore the team's contacts whose recency points changed since the last time (all
    of them the first time); returns how many rows were rescored. Nothing when the last
    time was less than `unless_within` ago."""
    assert team.id is not None
    since = team.scores_at
    if since is not None and since + SKEW + unless_within >= now:
        return 0
    team_rules = rules(session, team)
    scopes = (
        [store.EVERYONE]
        if since is None
        else store.activity_crossed([window for window, _ in RECENCY], since, now)
    )
    count = sum(
        store.rescore_contacts(session, team_id=team.id, rules=team_rules, now=now, scope=scope)
        for scope in scopes
    )
    team.scores_at = now - SKEW
    session.add(team)
    session.flush()
    return count


def rescore_all_teams(session: Session, *, now: datetime) -> int:
    """`rescore_due` for every team: the periodic job for the scheduler."""
    return sum(
        rescore_due(session, team=team, now=now) for team in session.exec(select(Team)).all()
    )


def score_reasons(
    ctx: Context,
    contact: Contact,
    tags: Sequence[store.TagPoints],
    figures: store.ContactFigures,
) -> list[tuple[str, int]]:
    """Each part of the contact's current score that counts: (why, points); `tags` are
    the contact's (`contact_tag_points`), `figures` its card's (`card_figures`)."""
    assert ctx.team is not None and contact.id is not None
    parts = figures.parts
    reasons = [(f"status {contact.status}", parts["status"])]
    reasons += [(f"#{tag.name}", tag.points) for tag in tags if tag.points is not None]
    others = sum(1 for tag in tags if tag.points is None)
    if others:
        counted = min(others, MAX_TAGGED)
        more = "more " if len(tags) > others else ""
        what = f"{counted} {more}tag{'s' if counted > 1 else ''}"
        reasons.append((what + (f" (of {others})" if others > counted else ""), parts["tags"]))
    reasons += [("has an e-mail", parts["email"]), ("has a phone", parts["phone"])]
    reasons.append((f"last activity {ago(contact.last_activity_at, ctx.now)}", parts["recency"]))
    count = figures.open_deals
    reasons.append((f"{count} open deal{'' if count == 1 else 's'}", parts["deals"]))
    open_value = money(figures.open_value, ctx.team.currency, ctx.team.locale)
    reasons.append((f"{open_value} in open deals", parts["value"]))
    return [(why, points) for why, points in reasons if points]


def card_figures(ctx: Context, contact: Contact) -> store.ContactFigures:
    """The figures a contact card shows beside the contact: one statement."""
    assert ctx.team is not None and contact.id is not None
    return store.contact_figures(
        ctx.session,
        team_id=ctx.team_id,
        contact_id=contact.id,
        rules=rules(ctx.session, ctx.team),
        now=ctx.now,
    )


def scoring(ctx: Context, args: Args) -> Reply:
    """How leads are scored; admins weigh tags.

    /scoring
    /scoring #tag POINTS
    /scoring #tag off

    Example: /scoring #hot 20 (POINTS from -100 to 100; off: back to the default 5).
    """
    assert ctx.team is not None
    if not args.tags and not args.words:
        return _rules_card(ctx)
    if len(args.tags) != 1 or len(args.words) > 1:
        raise UsageError("Weigh one tag at a time: /scoring #hot 20, or /scoring #hot off.")
    if not args.words:
        raise UsageError(f"How many points is #{args.tags[0]} worth? E.g. /scoring #hot 20.")
    ctx.require(Role.admin, "weigh tags")
    points = _points(args.words[0])
    (tag,) = ensure_tags(ctx.session, team_id=ctx.team_id, names=args.tags)
    assert tag.id is not None
    store.set_tag_weight(ctx.session, team_id=ctx.team_id, tag=tag, points=points)
    rescored = store.rescore_contacts(
        ctx.session,
        team_id=ctx.team_id,
        rules=rules(ctx.session, ctx.team),
        now=ctx.now,
        scope=store.tagged_with(tag.id),
    )
    said = f"now counts {points:+d}" if points is not None else f"is back to {TAG_POINTS:+d}"
    note = f"#{tag.name} {said}; {rescored} contact{'' if rescored == 1 else 's'} rescored."
    return Reply().add(note).extend(_rules_card(ctx))


def _rules_card(ctx: Context) -> Reply:
    assert ctx.team is not None
    reply = Reply().heading("Lead score")
    statuses = ", ".join(f"{status.value} {points:+d}" for status, points in STATUS_POINTS.items())
    reply.item("Status: ", statuses)
    weights = store.tag_weights(ctx.session, team_id=ctx.team_id)
    if weights:
        reply.item("Tags: ", ", ".join(f"#{w.name} {w.points:+d}" for w in weights))
    reply.item(f"Other tags: {TAG_POINTS:+d} each, at most {MAX_TAGGED}")
    reply.item(f"An e-mail, a phone: {REACHABLE_POINTS:+d} each")
    recency = ", ".join(f"{window.days} days {points:+d}" for window, points in RECENCY)
    reply.item(f"Last activity within {recency}")
    scale = 10 ** get_currency_precision(ctx.team.currency)
    values = ", ".join(
        f"{money(major * scale, ctx.team.currency, ctx.team.locale)} {points:+d}"
        for major, points in VALUE_POINTS
    )
    reply.item(f"An open deal {OPEN_DEAL_POINTS:+d}; open value from {values}")
    reply.muted("Admins weigh tags: /scoring #hot 20, /scoring #hot off.")
    return reply


def _points(text: str) -> int | None:
    if text.lower() in ("off", "none", "reset", "default"):
        return None
    try:
        points = int(text)
    except ValueError:
        points = MAX_WEIGHT + 1
    if not -MAX_WEIGHT <= points <= MAX_WEIGHT:
        raise UsageError(f"Points are a whole number from -100 to 100 (or off), not “{text}”.")
    return points


def register(registry: Registry) -> None:
    registry.command("scoring", scoring)
