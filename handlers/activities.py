"""The timeline: log notes, calls, meetings, visits and e-mails; read the team's feed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from handlers.cards import activity_line, member_names
from handlers.context import Context
from handlers.dates import in_english
from handlers.errors import UsageError
from handlers.format import ago
from handlers.grammar import Args, limited
from handlers.refs import CONTACT, DEAL, Record, contact_of, label, resolve
from handlers.registry import Registry
from handlers.reply import Reply, bold
from handlers.scoring import team_rules
from handlers.when import find_when
from storage.activities import ActivityRow, log_activity, recent_contact_by_others, timeline
from storage.contacts import contacts_by_ids
from storage.core import new_row
from storage.deals import deals_by_ids
from storage.models import Activity, ActivityKind, Contact, Deal

HEADS_UP_WINDOW = timedelta(hours=48)
FRESH_LOCATION = timedelta(hours=2)
_PAST = {
    ActivityKind.note: "noted",
    ActivityKind.call: "called",
    ActivityKind.meeting: "met",
    ActivityKind.visit: "visited",
    ActivityKind.email: "e-mailed",
}
_COMMAND = {
    ActivityKind.call: "call",
    ActivityKind.meeting: "meet",
    ActivityKind.visit: "visit",
    ActivityKind.email: "email",
}
_LOGGED = {
    ActivityKind.note: "a note on",
    ActivityKind.call: "a call with",
    ActivityKind.meeting: "a meeting with",
    ActivityKind.visit: "a visit to",
    ActivityKind.email: "an e-mail with",
}


def note(ctx: Context, args: Args) -> Reply:
    """Write a note on a contact or deal.

    /note CONTACT_OR_DEAL TEXT

    Example: /note Jane Doe wants the quote before Friday
    """
    return _log(ctx, args, ActivityKind.note, text_required=True)


def call(ctx: Context, args: Args) -> Reply:
    """Log a call with a contact (or about a deal).

    /call CONTACT_OR_DEAL [WHAT WAS SAID]

    Example: /call Jane about the renewal
    A call to come (/call Jane next friday) is a reminder: /remind Jane next friday call.
    """
    return _log(ctx, args, ActivityKind.call)


def meet(ctx: Context, args: Args) -> Reply:
    """Log a meeting.

    /meet CONTACT_OR_DEAL [WHAT WAS SAID]

    Example: /meet Jane Doe lunch, wants two more seats
    A meeting to come (/meet Jane tomorrow 10am) is a reminder: /remind Jane tomorrow 10am.
    """
    return _log(ctx, args, ActivityKind.meeting)


def visit(ctx: Context, args: Args) -> Reply:
    """Log a visit; your shared location is attached when it is fresh.

    /visit CONTACT_OR_DEAL [WHAT WAS SAID]

    Example: /visit Łukasz showroom tour. It is stamped when you sent it, even if I read it
    later. A visit to come (/visit Łukasz in 2 days) is a reminder: /remind Łukasz in 2 days.
    """
    return _log(ctx, args, ActivityKind.visit)


def email(ctx: Context, args: Args) -> Reply:
    """Log an e-mail you sent or got.

    /email CONTACT_OR_DEAL [WHAT IT SAID]

    Example: /email Jane sent the pricing sheet
    """
    return _log(ctx, args, ActivityKind.email)


def _log(ctx: Context, args: Args, kind: ActivityKind, *, text_required: bool = False) -> Reply:
    record, used = resolve(ctx, args.words, (CONTACT, DEAL))
    text = limited(args.text_after(used), 4000, "A note")
    if text_required and not text:
        raise UsageError("What should the note say?")
    if kind != ActivityKind.note:
        _not_to_come(ctx, record, kind, text)
    return record_activity(ctx, record, kind, text)


# Words that put a time said first after the name in days to come (`/meet Greta tomorrow
# 10am`, a German team's `morgen 10 Uhr` as `in_english` writes it); `today` in it makes
# it today's (`heute Morgen`: this morning).
_TO_COME = frozenset({"tomorrow", "tmrw", "next", "in"})


def _not_to_come(ctx: Context, record: Record, kind: ActivityKind, text: str) -> None:
    """A call, meeting or visit is logged as it took place; one said to be to come (`/meet
    Greta morgen 10 Uhr`, `/call Greta tomorrow`) is refused, with the reminder that keeps
    it instead. After a call, what was said may start with a day (`/call Greta morgen
    kommt sie vorbei`), and after an e-mail what it said: a call or an e-mail is to come
    only when the day is all there is."""
    assert ctx.team is not None
    words = text.split()
    found = find_when(words, tz=ctx.tz, now=ctx.now, most_start=0, locale=ctx.team.locale)
    if not found or found[0].start != 0:
        return
    if kind in (ActivityKind.call, ActivityKind.email) and found[0].end < len(words):
        return
    english = in_english(words[: found[0].end], locale=ctx.team.locale)
    said = set(" ".join(english).lower().split())
    if said & _TO_COME and "today" not in said:
        ref = f"c{record.id}" if isinstance(record, Contact) else f"d{record.id}"
        raise UsageError(
            f"“{' '.join(words[: found[0].end])}” is still to come, and /{_COMMAND[kind]} logs "
            f"what has happened. To be reminded of it: /remind {ref} {text}"
        )


def record_activity(ctx: Context, record: Record, kind: ActivityKind, text: str) -> Reply:
    """Append the activity to the timeline; a visit carries the member's fresh location."""
    contact = contact_of(ctx, record)
    deal = record if isinstance(record, Deal) else None
    activity = new_row(
        Activity,
        team_id=ctx.team_id,
        member_id=ctx.member_id,
        kind=kind,
        contact_id=contact.id if contact else None,
        deal_id=deal.id if deal else None,
        text=text or None,
        at=ctx.now,
    )
    me = ctx.me
    if (
        kind == ActivityKind.visit
        and me.located_at is not None
        and ctx.now - me.located_at <= FRESH_LOCATION
    ):
        activity.lat, activity.lon = me.lat, me.lon
    reply = Reply()
    if contact is not None and contact.id is not None:
        _heads_up(ctx, reply, contact)
    log_activity(
        ctx.session, activity=activity, rules=team_rules(ctx) if contact is not None else None
    )
    reply.add(f"Logged: {_PAST[kind]} ", bold(label(record)), ".")
    ctx.change_label = f"{_LOGGED[kind]} {label(record)}"
    if activity.lat is not None:
        reply.muted("With your current location.")
    return reply


def _heads_up(ctx: Context, reply: Reply, contact: Contact) -> None:
    """Tell the rep when a teammate was in touch with this person in the last two days."""
    assert contact.id is not None
    recent = recent_contact_by_others(
        ctx.session,
        team_id=ctx.team_id,
        contact_id=contact.id,
        member_id=ctx.member_id,
        since=ctx.now - HEADS_UP_WINDOW,
    )
    if not recent:
        return
    latest = recent[0]
    names = member_names(ctx, [latest.member_id])
    who = names.get(latest.member_id or 0, "A teammate")
    verb = _PAST.get(ActivityKind(latest.kind), "contacted")
    reply.add(bold("Heads-up: "), f"{who} {verb} {contact.name} {ago(latest.at, ctx.now)}.")


def feed(ctx: Context, args: Args) -> Reply:
    """The team's latest activity.

    /feed [N]
    """
    count = 10
    if args.tags or args.options:
        raise UsageError("/feed takes only a number, of the latest activities to list.")
    if args.words:
        if not args.words[0].isdigit() or not 1 <= int(args.words[0]) <= 50:
            raise UsageError("/feed takes a number from 1 to 50.")
        count = int(args.words[0])
    activities = timeline(ctx.session, team_id=ctx.team_id, limit=count)
    if not activities:
        return Reply().add("Nothing has happened yet. Log a contact with /add.")
    subjects = _subjects(ctx, activities)
    names = member_names(ctx, (activity.member_id for activity in activities))
    reply = Reply().heading("Latest activity")
    for activity in activities:
        subject = subjects.get(("d", activity.deal_id)) or subjects.get(("c", activity.contact_id))
        reply.item(*activity_line(activity, names, subject, ctx.now))
    return reply


def _subjects(
    ctx: Context, activities: Sequence[ActivityRow]
) -> dict[tuple[str, int | None], str]:
    contact_ids = sorted({a.contact_id for a in activities if a.contact_id})
    deal_ids = sorted({a.deal_id for a in activities if a.deal_id})
    subjects: dict[tuple[str, int | None], str] = {}
    for contact in contacts_by_ids(ctx.session, team_id=ctx.team_id, ids=contact_ids):
        subjects[("c", contact.id)] = contact.name
    for deal in deals_by_ids(ctx.session, team_id=ctx.team_id, ids=deal_ids):
        subjects[("d", deal.id)] = deal.title
    return subjects


def register(registry: Registry) -> None:
    registry.command("note", note, undoable=True)
    registry.command("call", call, undoable=True)
    registry.command("meet", meet, aliases=("meeting",), undoable=True)
    registry.command("visit", visit, undoable=True)
    registry.command("email", email, aliases=("mail", "emailed"), undoable=True)
    registry.command("feed", feed, writes=False)
