"""What the bot says without being asked: the won-deal announcement, the morning agenda,
the Monday pipeline digest, and "I could not deliver ..." notices.

Nothing here sends anything: each message becomes an outbox row (storage/outbox.py),
written in the caller's transaction and delivered by bot/outbox.py. The jobs
(`queue_agendas`, `queue_weekly_digests`) hold no state of their own: they run every few
minutes, and a message's dedupe key (`agenda:{member}:{local date}`,
`digest:{team}:{ISO week}:{channel}`) makes a second run, or a second process, a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session

from handlers.cards import deal_link, is_rotting, open_button, rotting_cutoffs
from handlers.context import Context
from handlers.errors import UsageError
from handlers.format import contact_ref, day, deal_ref, money
from handlers.grammar import Args
from handlers.registry import Registry
from handlers.reply import Reply, SpanLike, bold
from storage import digests as store
from storage.channels import team_channels
from storage.contacts import get_company, get_contact
from storage.deals import list_deals
from storage.models import (
    Deal,
    Member,
    Outbox,
    OutboxKind,
    Reminder,
    Role,
    Stage,
    StageChange,
    StageKind,
    Team,
)
from storage.outbox import enqueue, member_identities, notify_targets
from storage.reminders import OPEN, member_reminders
from storage.teams import team_members, team_stages

AGENDA_AT = time(8, 0)
# A bot that was down at 08:00 still sends the agenda when it is back before this.
AGENDA_UNTIL = time(11, 0)
DIGEST_WEEKDAY = 0  # Monday
DIGEST_AT = time(9, 0)
DIGEST_UNTIL = time(12, 0)
CLOSING_SOON = timedelta(days=7)
LIST_LIMIT = 5


# --- won deals -----------------------------------------------------------------------------


def announce_won(ctx: Context, deal: Deal, change: StageChange) -> int:
    """One announcement per channel of the deal's team; returns how many."""
    assert ctx.team is not None and deal.id is not None
    channels = team_channels(ctx.session, team_id=ctx.team_id)
    if not channels:
        return 0
    reply = won_announcement(ctx.session, team=ctx.team, deal=deal, now=ctx.now)
    for channel in channels:
        enqueue(
            ctx.session,
            row=Outbox(
                team_id=ctx.team_id,
                kind=OutboxKind.announcement,
                platform=channel.platform,
                workspace_id=channel.workspace_id,
                chat_id=channel.chat_id,
                payload=reply.as_message(f"the announcement of {deal.title} ({deal_ref(deal)})"),
                due_at=ctx.now,
                member_id=channel.added_by,
                dedupe_key=f"won:{deal.id}:{change.id}:{channel.id}",
                created_at=ctx.now,
            ),
        )
    return len(channels)


def won_announcement(session: Session, *, team: Team, deal: Deal, now: datetime) -> Reply:
    """🎉 Alice won Website redesign for €12,000 — with Jane Doe · Acme, after 23 days."""
    assert team.id is not None
    owner = session.get(Member, deal.owner_id)
    contact = (
        get_contact(session, team_id=team.id, contact_id=deal.contact_id)
        if deal.contact_id
        else None
    )
    company = (
        get_company(session, team_id=team.id, company_id=deal.company_id)
        if deal.company_id
        else None
    )
    reply = Reply().heading(
        "🎉 ",
        bold(owner.name if owner else "Someone"),
        " won ",
        bold(deal.title),
        " (",
        deal_link(deal),
        ")",
        f" for {money(deal.amount, deal.currency, team.locale)}" if deal.amount else "",
    )
    who = " · ".join(
        part for part in (contact.name if contact else "", company.name if company else "") if part
    )
    days = (now - deal.created_at).days
    took = "the day it was opened" if days < 1 else f"after {days} day{'s' if days != 1 else ''}"
    reply.add(f"With {who}, {took}." if who else f"Won {took}.")
    return reply.button_row(open_button(deal))


# --- the morning agenda --------------------------------------------------------------------


def agenda(
    session: Session, *, team: Team, member: Member, now: datetime, greeting: bool
) -> Reply | None:
    """The member's day: reminders due today, their rotting deals, their deals closing
    within a week. None when there is nothing."""
    assert team.id is not None and member.id is not None
    tz = member_tz(member, team)
    local = now.astimezone(tz)
    start = datetime.combine(local.date(), time(0), tz).astimezone(UTC)
    end = datetime.combine(local.date() + timedelta(days=1), time(0), tz).astimezone(UTC)
    reminders = member_reminders(
        session,
        team_id=team.id,
        member_id=member.id,
        statuses=OPEN,
        due_from=start,
        due_before=end,
    )
    stages = team_stages(session, team_id=team.id)
    open_ids = [s.id for s in stages if s.kind == StageKind.open and s.id is not None]
    rotting = list_deals(
        session,
        team_id=team.id,
        stage_ids=open_ids,
        owner_id=member.id,
        rotting_before=rotting_cutoffs(stages, now),
        limit=LIST_LIMIT,
    )
    closing = store.deals_closing(
        session,
        team_id=team.id,
        stage_ids=open_ids,
        by=local.date() + CLOSING_SOON,
        owner_id=member.id,
        limit=LIST_LIMIT,
    )
    if not (reminders or rotting or closing):
        return None
    when = local.strftime("%A %-d %b")
    reply = (
        Reply().heading(f"Good morning, {member.name}! Your {when}")
        if greeting
        else Reply().heading(f"Your day, {when}")
    )
    if reminders:
        reply.add(bold("Reminders"))
        for reminder in reminders:
            reply.item(*reminder_line(session, team=team, reminder=reminder, tz=tz, now=now))
    by_id = {s.id: s for s in stages}
    if rotting:
        reply.add(bold("Rotting deals"))
        for deal in rotting:
            reply.item(*_deal_line(team, deal, by_id[deal.stage_id], now))
    if closing:
        reply.add(bold("Closing soon"))
        for deal in closing:
            assert deal.expected_close is not None
            late = " · overdue" if deal.expected_close < local.date() else ""
            reply.item(
                *_deal_line(team, deal, by_id[deal.stage_id], now),
                f" · expected {day(deal.expected_close, today=local.date())}{late}",
            )
    return reply


def reminder_line(
    session: Session, *, team: Team, reminder: Reminder, tz: tzinfo, now: datetime
) -> list[str]:
    """`#12 · Tue 24 Nov 09:00 · call about the renewal · Jane Doe (c1)`."""
    assert team.id is not None
    local = reminder.due_at.astimezone(tz)
    today = now.astimezone(tz).date()
    when = local.strftime("%H:%M") if local.date() == today else local.strftime("%a %-d %b %H:%M")
    parts = [f"#{reminder.id} · {when} · {reminder.text}"]
    subject = reminder_subject(session, team_id=team.id, reminder=reminder)
    if subject:
        parts.append(f" · {subject}")
    return parts


def reminder_subject(session: Session, *, team_id: int, reminder: Reminder) -> str:
    """The contact or deal a reminder is about, as `Jane Doe (c1)`."""
    if reminder.deal_id is not None:
        deal = session.get(Deal, reminder.deal_id)
        if deal is not None and deal.team_id == team_id:
            return f"{deal.title} ({deal_ref(deal)})"
    if reminder.contact_id is not None:
        contact = get_contact(session, team_id=team_id, contact_id=reminder.contact_id)
        if contact is not None:
            return f"{contact.name} ({contact_ref(contact)})"
    return ""


def _deal_line(team: Team, deal: Deal, stage: Stage, now: datetime) -> list[SpanLike]:
    rot = ""
    if is_rotting(deal, stage, now):
        rot = f" · rotting, no activity for {(now - deal.last_activity_at).days} days"
    return [
        f"{deal.title} (",
        deal_link(deal),
        f") · {money(deal.amount, deal.currency, team.locale)} · {stage.name}{rot}",
    ]


def queue_agendas(session: Session, *, now: datetime) -> int:
    """Write the morning agenda of every member whose local time is 08:00 (or a little
    after, when the bot was down); returns how many were written."""
    zones = [name for name in store.effective_timezones(session) if _in_window(name, now)]
    members = store.agenda_members(session, timezones=zones)
    keys = {
        member.id: f"agenda:{member.id}:{now.astimezone(member_tz(member, team)).date()}"
        for member, team in members
    }
    taken = store.existing_keys(session, keys=list(keys.values()))
    written = 0
    for member, team in members:
        assert member.id is not None
        if keys[member.id] in taken:
            continue
        reply = agenda(session, team=team, member=member, now=now, greeting=True)
        targets = notify_targets(session, member=member)
        if reply is None:
            continue
        for target in targets:
            written += enqueue(
                session,
                row=Outbox(
                    team_id=member.team_id,
                    kind=OutboxKind.digest,
                    platform=target.platform,
                    workspace_id=target.workspace_id,
                    chat_id=target.external_id,
                    payload=reply.as_message("your morning agenda"),
                    due_at=now,
                    member_id=member.id,
                    dedupe_key=(
                        keys[member.id]
                        if len(targets) == 1
                        else f"{keys[member.id]}:{target.platform}"
                    ),
                    created_at=now,
                ),
            )
    return written


def _in_window(zone: str, now: datetime) -> bool:
    try:
        local = now.astimezone(ZoneInfo(zone)).time()
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return AGENDA_AT <= local < AGENDA_UNTIL


def member_tz(member: Member, team: Team) -> tzinfo:
    return ZoneInfo(member.timezone or team.timezone)


# --- the weekly digest ---------------------------------------------------------------------


def weekly_digest(session: Session, *, team: Team, now: datetime) -> Reply:
    """Last week's wins, the open pipeline by stage, and the rotting deals."""
    assert team.id is not None
    tz = ZoneInfo(team.timezone)
    local = now.astimezone(tz)
    monday = local.date() - timedelta(days=local.weekday())
    last_monday = monday - timedelta(days=7)
    start, end = (datetime.combine(d, time(0), tz).astimezone(UTC) for d in (last_monday, monday))
    year, week, _ = last_monday.isocalendar()
    reply = Reply().heading(f"Pipeline digest · week {week} of {year}")
    won = store.won_between(session, team_id=team.id, start=start, end=end)
    names = {m.id: m.name for m in team_members(session, team_id=team.id, active_only=False)}
    if won:
        reply.add(bold(f"Won last week: {len(won)}"), f" · {_totals(team, won)}")
        for deal in won[:LIST_LIMIT]:
            reply.item(
                f"{deal.title} (",
                deal_link(deal),
                f") · {money(deal.amount, deal.currency, team.locale)} · "
                f"{names.get(deal.owner_id, '?')}",
            )
    else:
        reply.add(bold("Won last week: none"))
    stages = team_stages(session, team_id=team.id)
    open_stages = [s for s in stages if s.kind == StageKind.open and s.id is not None]
    totals = store.open_by_stage(
        session, team_id=team.id, stage_ids=[s.id for s in open_stages if s.id]
    )
    reply.add(bold("Open pipeline"))
    weighted: dict[str, float] = {}
    for stage in open_stages:
        rows = [t for t in totals if t.stage_id == stage.id]
        count = sum(t.count for t in rows)
        amounts = [
            money(t.amount, t.currency, team.locale) for t in rows if t.currency and t.amount
        ]
        for t in rows:
            if t.currency:
                weighted[t.currency] = (
                    weighted.get(t.currency, 0) + t.amount * stage.probability / 100
                )
        reply.item(
            f"{stage.name}: {count} deal{'s' if count != 1 else ''}", *(f" · {a}" for a in amounts)
        )
    if weighted:
        reply.muted(
            "Weighted: "
            + ", ".join(money(round(v), c, team.locale) for c, v in sorted(weighted.items()))
        )
    cutoffs = rotting_cutoffs(stages, now)
    rotting_count = store.count_rotting(session, team_id=team.id, cutoffs=cutoffs)
    if rotting_count:
        reply.add(bold(f"Rotting: {rotting_count}"))
        by_id = {s.id: s for s in stages}
        rotting = list_deals(
            session,
            team_id=team.id,
            stage_ids=list(cutoffs),
            rotting_before=cutoffs,
            limit=LIST_LIMIT,
        )
        for deal in sorted(rotting, key=lambda d: d.last_activity_at):
            reply.item(
                *_deal_line(team, deal, by_id[deal.stage_id], now),
                f" · {names.get(deal.owner_id, '?')}",
            )
    else:
        reply.add(bold("Rotting: none"))
    return reply


def _totals(team: Team, deals: Sequence[Deal]) -> str:
    """Amounts summed per currency, never across currencies."""
    sums: dict[str, int] = {}
    for deal in deals:
        if deal.amount is not None and deal.currency:
            sums[deal.currency] = sums.get(deal.currency, 0) + deal.amount
    if not sums:
        return "no amounts"
    return ", ".join(money(v, c, team.locale) for c, v in sorted(sums.items()))


def queue_weekly_digests(session: Session, *, now: datetime) -> int:
    """Write the Monday digest for every team whose local time is Monday 09:00 (or a little
    after); one row per announcement channel. Returns how many were written."""
    written = 0
    for team in store.digest_teams(session):
        assert team.id is not None
        local = now.astimezone(ZoneInfo(team.timezone))
        if local.weekday() != DIGEST_WEEKDAY or not DIGEST_AT <= local.time() < DIGEST_UNTIL:
            continue
        year, week, _ = local.isocalendar()
        channels = team_channels(session, team_id=team.id)
        keys = {c.id: f"digest:{team.id}:{year}-W{week:02d}:{c.id}" for c in channels}
        taken = store.existing_keys(session, keys=list(keys.values()))
        missing = [c for c in channels if keys[c.id] not in taken]
        if not missing:
            continue
        reply = weekly_digest(session, team=team, now=now)
        for channel in missing:
            written += enqueue(
                session,
                row=Outbox(
                    team_id=team.id,
                    kind=OutboxKind.digest,
                    platform=channel.platform,
                    workspace_id=channel.workspace_id,
                    chat_id=channel.chat_id,
                    payload=reply.as_message("the weekly pipeline digest"),
                    due_at=now,
                    member_id=channel.added_by,
                    dedupe_key=keys[channel.id],
                    created_at=now,
                ),
            )
    return written


def digest(ctx: Context, args: Args) -> Reply:
    """This week's pipeline digest; turn the Monday digest on or off (managers and admins).

    /digest
    /digest off
    /digest on

    Every Monday at 09:00 (team time) the announcement channels get last week's wins, the
    open pipeline by stage and the rotting deals.
    """
    assert ctx.team is not None
    ctx.require(Role.manager, "see or change the team's digest")
    word = args.words[0].lower() if args.words else ""
    if word not in ("", "on", "off") or len(args.words) > 1:
        raise UsageError(f"I don't understand “{args.rest}”.")
    if word:
        ctx.team.weekly_digest = word == "on"
        ctx.session.add(ctx.team)
        return Reply().add(
            "The Monday pipeline digest is now ", bold(word), " for ", bold(ctx.team.name), "."
        )
    reply = weekly_digest(ctx.session, team=ctx.team, now=ctx.now)
    state = "on" if ctx.team.weekly_digest else "off (/digest on)"
    return reply.muted(f"Sent to the announcement channels every Monday at 09:00: {state}.")


# --- failed deliveries ---------------------------------------------------------------------


def tell_failure(session: Session, *, row: Outbox, reason: str, now: datetime) -> bool:
    """Tell the member concerned that `row` could not be delivered, on a platform where
    the message can reach them; True when a notice was written."""
    if row.kind == OutboxKind.notice or row.member_id is None or row.id is None:
        return False
    member = session.get(Member, row.member_id)
    if member is None or not member.active or member.team_id != row.team_id:
        return False
    # Where they chose to hear from the bot first, then anywhere else they are.
    candidates = [
        *notify_targets(session, member=member),
        *member_identities(session, member_id=member.id or 0),
    ]
    reachable = [
        identity
        for identity in candidates
        # The failed message was a direct message to this very chat: try elsewhere.
        if not (identity.platform == row.platform and identity.external_id == row.chat_id)
    ]
    if not reachable:
        return False
    target = reachable[0]
    summary = str(row.payload.get("summary") or f"a {row.kind}")
    where = row.platform.capitalize()
    hint = "See /reminders." if row.kind == OutboxKind.reminder else "Check /announce."
    reply = Reply().add(f"I could not deliver {summary} on {where}: {reason}. {hint}")
    return enqueue(
        session,
        row=Outbox(
            team_id=row.team_id,
            kind=OutboxKind.notice,
            platform=target.platform,
            workspace_id=target.workspace_id,
            chat_id=target.external_id,
            payload=reply.as_message("a delivery failure notice"),
            due_at=now,
            member_id=member.id,
            dedupe_key=f"failed:{row.id}",
            created_at=now,
        ),
    )


def register(registry: Registry) -> None:
    registry.command("digest", digest)
