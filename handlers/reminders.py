"""Reminders and your day: /remind, /reminders, /done, /snooze, /today, /tz, and the
Done / Snooze buttons on a delivered reminder.

A reminder is delivered as a direct message where the member hears from the bot (/notify:
Telegram, Slack or both; by default where they were last active): setting it writes the
outbox rows in the same transaction, so it goes out even if the bot restarts in between.
Its Done / Snooze buttons work from any of the member's platforms.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from handlers.cards import phone_display
from handlers.context import Context
from handlers.errors import CommandError, UsageError
from handlers.format import ago, contact_ref, deal_ref, local_time, money
from handlers.grammar import Args, limited
from handlers.notices import agenda, reminder_line, reminder_subject
from handlers.refs import CONTACT, DEAL, MAX_REF_WORDS, contact_of, named_in, resolve
from handlers.registry import Registry
from handlers.reply import Button, Reply, bold, code, link
from handlers.when import (
    DEFAULT_TIME,
    EXAMPLES,
    Found,
    clock_time,
    find_when,
    read_when,
    says_time,
)
from handlers.zones import find_zone
from storage import core
from storage.contacts import companies_by_ids, contacts_named, get_contact
from storage.deals import deals_titled, get_deal
from storage.keys import name_key
from storage.models import (
    Contact,
    Deal,
    Outbox,
    OutboxKind,
    Reminder,
    ReminderStatus,
    Role,
    Team,
)
from storage.outbox import delete_pending, delivered_copies, enqueue, notify_targets
from storage.reminders import (
    add_reminder,
    delivery_errors,
    get_reminder,
    member_reminders,
    save_reminder,
)

DONE_BUTTON, SNOOZE_BUTTON, TOMORROW_BUTTON = "rd", "rz", "rt"
SNOOZE_MINUTES = 60
MAX_AHEAD = timedelta(days=5 * 366)
TEXT_LIMIT = 500
RECENT = timedelta(days=7)
_ID = re.compile(r"^#?(\d{1,12})$")
_REF_ID = re.compile(r"^[cd#]?\d{1,12}$", re.IGNORECASE)
_LEADING_JOINER = re.compile(r"^(?:to|that|about)\s+", re.IGNORECASE)


_FOR_ME = re.compile(r"^\s*(?:me|myself|mich)\s+(?=\S)", re.IGNORECASE)


def remind(ctx: Context, args: Args) -> Reply:
    """Set a reminder, optionally about a contact or deal; it arrives as a direct message.

    /remind [CONTACT_OR_DEAL] WHEN TEXT

    Examples: /remind Jane tomorrow 9am call about the renewal · /remind in 2 hours send
    the quote · /remind Acme renewal next friday follow up · /remind 15.12. call Łukasz.
    WHEN is read in your timezone (/tz), dates like 15/12 in your team's order; a day
    without a time means 09:00, EOD 17:00 (friday eod), end of week its Friday at 17:00.
    With no contact or deal before WHEN, the one contact the text names by their whole
    name (/remind tomorrow 9:00 call Greta Lind), or the one record it names by id (d12),
    is what the reminder is about; a first name alone, or two records, link none.
    """
    # `/remind me friday follow up`: whom is said by the command itself.
    raw = _FOR_ME.sub("", args.raw, count=1)
    tokens = [(m.group(), m.start(), m.end()) for m in re.finditer(r"\S+", raw)]
    words = [token[0] for token in tokens]
    if not words:
        raise UsageError(f"When, and what about? e.g. /remind Jane {EXAMPLES.split(',')[0]} call")
    found = find_when(
        words, tz=ctx.tz, now=ctx.now, most_start=MAX_REF_WORDS, locale=_team(ctx).locale
    )
    if not found:
        raise UsageError(f"I can't tell when from “{raw.strip()}”. Say it like: {EXAMPLES}.")
    when, record, named = _when_and_subject(ctx, words, found)
    _check_future(ctx, when.at)
    _check_time_of_day(ctx, words, when)
    # Words between the record and the time are the text's (`/remind c12 please call 9:00`).
    before = raw[tokens[named][1] : tokens[when.start][1]].strip() if named < when.start else ""
    after = raw[tokens[when.end - 1][2] :].strip()
    text = _LEADING_JOINER.sub("", " ".join(part for part in (before, after) if part))
    text = limited(text, TEXT_LIMIT, "A reminder")
    if not text:
        if record is None:
            raise UsageError("What should I remind you of? e.g. /remind tomorrow 9am call Jane")
        text = "Follow up"
    # `/remind tomorrow 9:00 call Greta Lind`: the record named in the text, if just one.
    record = record or named_in(ctx, text.split())
    contact = contact_of(ctx, record) if record is not None else None
    reminder = add_reminder(
        ctx.session,
        reminder=core.new_row(
            Reminder,
            team_id=ctx.team_id,
            member_id=ctx.member_id,
            contact_id=contact.id if contact else None,
            deal_id=record.id if isinstance(record, Deal) else None,
            text=text,
            due_at=when.at,
            platform=ctx.request.platform,
            created_at=ctx.now,
            updated_at=ctx.now,
        ),
    )
    _queue(ctx, reminder)
    due = local_time(reminder.due_at, ctx.tz)
    ctx.change_label = f"reminder #{reminder.id} for {due}: {reminder.text[:60]}"
    return (
        Reply()
        .add(
            "OK, I'll remind you ",
            bold(_when_text(ctx, reminder.due_at)),
            f": {reminder.text}",
            _subject_suffix(ctx, reminder),
        )
        .muted(f"Move it with /snooze {reminder.id} WHEN; cancel it with /done {reminder.id}.")
    )


def list_reminders(ctx: Context, args: Args) -> Reply:
    """Your reminders: coming up, delivered but not done, and undeliverable ones.

    /reminders
    """
    if args.words:
        raise UsageError("/reminders takes nothing after it.")
    upcoming = member_reminders(
        ctx.session,
        team_id=ctx.team_id,
        member_id=ctx.member_id,
        statuses=(ReminderStatus.pending,),
    )
    delivered = member_reminders(
        ctx.session,
        team_id=ctx.team_id,
        member_id=ctx.member_id,
        statuses=(ReminderStatus.sent,),
        due_from=ctx.now - RECENT,
    )
    failed = member_reminders(
        ctx.session,
        team_id=ctx.team_id,
        member_id=ctx.member_id,
        statuses=(ReminderStatus.failed,),
    )
    if not (upcoming or delivered or failed):
        return Reply().add("No reminders. Set one: ", code("/remind Jane tomorrow 9am call"))
    reply = Reply()
    sections = (("Coming up", upcoming), ("Delivered, not done yet", delivered))
    for title, reminders in sections:
        if reminders:
            reply.heading(title)
            for reminder in reminders:
                reply.item(*_line(ctx, reminder))
    if failed:
        reply.heading("Could not be delivered")
        errors = delivery_errors(ctx.session, reminder_ids=[r.id for r in failed if r.id])
        for reminder in failed:
            reply.item(
                *_line(ctx, reminder),
                f" — {errors.get(reminder.id or 0) or 'refused'}",
            )
        reply.muted("Unblock the bot or start a chat with it, then /snooze ID WHEN to retry.")
    return reply.muted("/done ID when it is done; /snooze ID WHEN to move it.")


def done(ctx: Context, args: Args) -> Reply:
    """Mark reminders as done (or cancel ones not due yet).

    /done ID [ID ...]
    """
    if not args.words:
        raise UsageError("Which reminder? /reminders shows their numbers.")
    finished = [_finish(ctx, _own(ctx, word)) for word in args.words]
    for reminder in finished:
        _change_copies(ctx, reminder, _delivery_key(reminder), _done(ctx, reminder), pressed=False)
    return Reply().add("Done: ", "; ".join(f"#{r.id} {r.text}" for r in finished), ".")


def snooze(ctx: Context, args: Args) -> Reply:
    """Move a reminder to later (an hour later when you don't say when).

    /snooze ID [WHEN]

    Examples: /snooze 12 tomorrow 9am · /snooze 12 30m · /snooze 12 friday
    An hour, 30m or 2d count from when the reminder is due, if that is later than now: a
    snooze never moves a reminder earlier unless you name an earlier time.
    """
    if not args.words:
        raise UsageError("Which reminder? /reminders shows their numbers.")
    reminder = _own(ctx, args.words[0])
    text = " ".join(args.words[1:])
    base = _snooze_base(ctx, reminder)
    at = (
        read_when(text, tz=ctx.tz, now=ctx.now, locale=_team(ctx).locale, offset_from=base)
        if text
        else base + timedelta(hours=1)
    )
    if at is None:
        raise UsageError(f"I can't read “{text}” as a time. Say it like: {EXAMPLES}.")
    _check_future(ctx, at)
    _reschedule(ctx, reminder, at)
    return Reply().add(
        f"#{reminder.id} moved to ", bold(_when_text(ctx, at)), f": {reminder.text}"
    )


def today(ctx: Context, args: Args) -> Reply:
    """Your day: reminders due today, your rotting deals, deals expected to close soon.

    /today
    /today off
    /today on

    `off` / `on` stop or restart the same agenda as a message at 08:00 your time.
    """
    word = args.words[0].lower() if args.words else ""
    if word not in ("", "on", "off") or len(args.words) > 1:
        raise UsageError(f"I don't understand “{args.rest}”.")
    member = ctx.me
    if word:
        member.morning_agenda = word == "on"
        ctx.session.add(member)
        return Reply().add(
            "Your 08:00 agenda is now ",
            bold(word),
            "." if word == "off" else " (08:00 your time).",
        )
    reply = agenda(ctx.session, team=_team(ctx), member=member, now=ctx.now, greeting=False)
    if reply is None:
        reply = Reply().add("Nothing due today, nothing rotting, nothing closing this week.")
    state = "on" if member.morning_agenda else "off (/today on)"
    return reply.muted(f"This agenda arrives at 08:00 your time when there is something: {state}.")


def set_timezone(ctx: Context, args: Args) -> Reply:
    """Your timezone (reminders and the 08:00 agenda use it); admins set the team's.

    /tz
    /tz ZONE
    /tz team ZONE

    ZONE is a zone name (Europe/Berlin), a city (Munich, New York) or an offset (UTC+2).
    """
    team = _team(ctx)
    words = args.words
    if not words:
        mine = ctx.me.timezone or f"{team.timezone} (the team's)"
        now = ctx.now.astimezone(ctx.tz).strftime("%H:%M")
        return (
            Reply()
            .add("Your timezone: ", bold(mine), f", where it is {now}.")
            .add("The team's: ", bold(team.timezone), ".")
            .muted("Change it with /tz ZONE, e.g. /tz Europe/Berlin or /tz Munich.")
        )
    for_team = words[0].lower() == "team"
    if for_team:
        ctx.require(Role.admin, "set the team's timezone")
        words = words[1:]
    typed = " ".join(words)
    if typed.lower() in ("default", "team") and not for_team:
        ctx.me.timezone = None
        ctx.session.add(ctx.me)
        return Reply().add("You now follow the team's timezone, ", bold(team.timezone), ".")
    zone = find_zone(typed)
    if zone is None:
        raise UsageError(
            f"I don't know the timezone “{typed}”. Try a zone name like Europe/Berlin or "
            "America/New_York, a city, or an offset like UTC+2."
        )
    local = ctx.now.astimezone(ZoneInfo(zone.name)).strftime("%H:%M")
    found = "" if zone.place == zone.name else f" ({zone.place})"
    if for_team:
        team.timezone = zone.name
        ctx.session.add(team)
    else:
        ctx.me.timezone = zone.name
        ctx.session.add(ctx.me)
    whose = "The team's" if for_team else "Your"
    return Reply().add(
        f"{whose} timezone is now ", bold(zone.name), f"{found}; it is {local} there."
    )


# --- buttons on a delivered reminder -------------------------------------------------------


def press_done(ctx: Context, args: tuple[str, ...]) -> Reply:
    reminder = _finish(ctx, _pressed(ctx, args, 1))
    reply = _done(ctx, reminder)
    _change_copies(ctx, reminder, _delivery_key(reminder), reply, pressed=True)
    return reply


def _done(ctx: Context, reminder: Reminder) -> Reply:
    """What a delivered reminder's message says once it is done (its buttons gone)."""
    return Reply(edit=True).add("✓ Done: ", bold(reminder.text), _subject_suffix(ctx, reminder))


def press_snooze(ctx: Context, args: tuple[str, ...]) -> Reply:
    # Two arguments: a button delivered before buttons carried the due time.
    reminder = _pressed(ctx, args, len(args) if len(args) in (2, 3) else 0)
    if not args[1].isdigit() or not 1 <= int(args[1]) <= 7 * 24 * 60:
        raise CommandError("That button is no longer valid.")
    if len(args) == 3 and args[2] != str(_stamp(reminder)):
        # Pressed twice (or after another snooze): once is what the button means.
        return Reply(edit=True).add(
            "⏰ ",
            bold(reminder.text),
            _subject_suffix(ctx, reminder),
            " — already moved, to ",
            bold(_when_text(ctx, reminder.due_at)),
            ".",
        )
    return _snoozed(ctx, reminder, _snooze_base(ctx, reminder) + timedelta(minutes=int(args[1])))


def _stamp(reminder: Reminder) -> int:
    """The reminder's due time in whole minutes since 1970, as a button carries it."""
    return int(reminder.due_at.timestamp()) // 60


def press_tomorrow(ctx: Context, args: tuple[str, ...]) -> Reply:
    reminder = _pressed(ctx, args, 1)
    tomorrow = ctx.now.astimezone(ctx.tz).date() + timedelta(days=1)
    return _snoozed(ctx, reminder, datetime.combine(tomorrow, DEFAULT_TIME, ctx.tz))


def _snoozed(ctx: Context, reminder: Reminder, at: datetime) -> Reply:
    delivered = _delivery_key(reminder)
    _reschedule(ctx, reminder, at)
    reply = Reply(edit=True).add(
        "⏰ ",
        bold(reminder.text),
        _subject_suffix(ctx, reminder),
        " — snoozed until ",
        bold(_when_text(ctx, at)),
        ".",
    )
    _change_copies(ctx, reminder, delivered, reply, pressed=True)
    return reply


def _change_copies(
    ctx: Context, reminder: Reminder, delivered: str, reply: Reply, *, pressed: bool
) -> None:
    """The reminder's messages on the member's platforms (/notify both) say what became
    of it, their buttons gone; a pressed button's own message is edited by its answer."""
    assert reminder.id is not None
    for copy in delivered_copies(ctx.session, reminder_id=reminder.id, key=delivered):
        if pressed and copy.platform == ctx.request.platform:
            continue
        enqueue(
            ctx.session,
            row=Outbox(
                team_id=ctx.team_id,
                kind=OutboxKind.edit,
                platform=copy.platform,
                workspace_id=copy.workspace_id,
                chat_id=copy.chat_id,
                message_ref=copy.message_ref,
                payload=reply.as_message(f"the change to your reminder #{reminder.id}"),
                due_at=ctx.now,
                # No member: a change that cannot be made is not worth a failure notice.
                dedupe_key=f"edit:{copy.id}:{reminder.status}:{int(reminder.due_at.timestamp())}",
                created_at=ctx.now,
            ),
        )


def _delivery_key(reminder: Reminder) -> str:
    """What the outbox rows of the reminder's delivery at its due time are keyed by."""
    return f"reminder:{reminder.id}:{int(reminder.due_at.timestamp())}"


# --- the delivered message -----------------------------------------------------------------


def reminder_message(ctx: Context, reminder: Reminder) -> Reply:
    """The direct message: the text, what it is about (with a phone number to tap), and
    the Done / Snooze 1h / Tomorrow 9:00 buttons."""
    assert reminder.id is not None
    team = _team(ctx)
    reply = Reply().heading("⏰ ", reminder.text)
    deal = (
        get_deal(ctx.session, team_id=ctx.team_id, deal_id=reminder.deal_id)
        if reminder.deal_id
        else None
    )
    if deal is not None:
        reply.add(
            "Deal: ",
            bold(deal.title),
            f" ({deal_ref(deal)}) · {money(deal.amount, deal.currency, team.locale)}",
        )
    contact = (
        get_contact(ctx.session, team_id=ctx.team_id, contact_id=reminder.contact_id)
        if reminder.contact_id
        else None
    )
    if contact is not None:
        # By id on the driver (storage/core.py): the session rarely holds the company.
        company = (
            companies_by_ids(ctx.session, team_id=ctx.team_id, ids=[contact.company_id]).get(
                contact.company_id
            )
            if contact.company_id
            else None
        )
        reply.add(
            "Contact: ",
            bold(contact.name),
            f" ({contact_ref(contact)})",
            f" · {company.name}" if company else "",
            *(
                (" · ", link(phone_display(contact.phone), f"tel:{contact.phone}"))
                if contact.phone
                else ()
            ),
            *((" · ", link(contact.email, f"mailto:{contact.email}")) if contact.email else ()),
        )
    reply.muted(f"Reminder #{reminder.id}, set {local_time(reminder.created_at, ctx.tz)}.")
    return reply.button_row(
        Button("Done", DONE_BUTTON, (reminder.id,)),
        # With the due time it snoozes from: pressed again, it finds the reminder moved.
        Button("Snooze 1h", SNOOZE_BUTTON, (reminder.id, SNOOZE_MINUTES, _stamp(reminder))),
        Button("Tomorrow 9:00", TOMORROW_BUTTON, (reminder.id,)),
    )


def _queue(ctx: Context, reminder: Reminder) -> None:
    """The outbox rows that deliver `reminder` at its due time, wherever the member hears
    from the bot (/notify): one per platform."""
    assert reminder.id is not None
    targets = notify_targets(ctx.session, member=ctx.me)
    if not targets:
        raise CommandError("I don't know where to reach you; send /start first.")
    payload = reminder_message(ctx, reminder).as_message(
        f"your reminder #{reminder.id} “{reminder.text[:60]}”"
    )
    key = _delivery_key(reminder)
    for target in targets:
        enqueue(
            ctx.session,
            row=Outbox(
                team_id=ctx.team_id,
                kind=OutboxKind.reminder,
                platform=target.platform,
                workspace_id=target.workspace_id,
                chat_id=target.external_id,
                payload=payload,
                due_at=reminder.due_at,
                member_id=ctx.member_id,
                reminder_id=reminder.id,
                dedupe_key=key if len(targets) == 1 else f"{key}:{target.platform}",
                created_at=ctx.now,
            ),
        )


def requeue_reminders(ctx: Context) -> int:
    """Send the member's coming reminders where they now hear from the bot (after /notify
    or /unlink); returns how many."""
    coming = member_reminders(
        ctx.session,
        team_id=ctx.team_id,
        member_id=ctx.member_id,
        statuses=(ReminderStatus.pending,),
        limit=10_000,
    )
    for reminder in coming:
        assert reminder.id is not None
        delete_pending(ctx.session, reminder_id=reminder.id)
        _queue(ctx, reminder)
    return len(coming)


def _snooze_base(ctx: Context, reminder: Reminder) -> datetime:
    """Where "an hour later" counts from: the due time when it is still to come."""
    return max(ctx.now, reminder.due_at)


def _reschedule(ctx: Context, reminder: Reminder, at: datetime) -> None:
    assert reminder.id is not None
    delete_pending(ctx.session, reminder_id=reminder.id)
    reminder.due_at = at
    reminder.status = ReminderStatus.pending
    save_reminder(ctx.session, reminder=reminder, now=ctx.now)
    _queue(ctx, reminder)


def _finish(ctx: Context, reminder: Reminder) -> Reminder:
    assert reminder.id is not None
    delete_pending(ctx.session, reminder_id=reminder.id)
    reminder.status = ReminderStatus.done
    return save_reminder(ctx.session, reminder=reminder, now=ctx.now)


def _own(ctx: Context, word: str) -> Reminder:
    match = _ID.match(word)
    if not match:
        raise UsageError(f"“{word}” is not a reminder number; /reminders shows them.")
    reminder = get_reminder(
        ctx.session, team_id=ctx.team_id, member_id=ctx.member_id, reminder_id=int(match.group(1))
    )
    if reminder is None:
        raise CommandError(f"You have no reminder #{match.group(1)}; /reminders shows yours.")
    if reminder.status in (ReminderStatus.done, ReminderStatus.cancelled):
        raise CommandError(f"Reminder #{reminder.id} is already done.")
    return reminder


def _pressed(ctx: Context, args: tuple[str, ...], count: int) -> Reminder:
    if len(args) != count or not args or not args[0].isdigit():
        raise CommandError("That button is no longer valid.")
    return _own(ctx, args[0])


def _check_time_of_day(ctx: Context, words: list[str], when: Found) -> None:
    """A day without a time means 09:00; a time of day typed apart from it (`am 15.12. um
    14:30` in an English team, `tomorrow call her at 3pm`) would be left in the text, the
    reminder due at 09:00: said, with how to write it, rather than set at the wrong time."""
    at_default = when.at.astimezone(ctx.tz).time() == DEFAULT_TIME  # not `in 2 hours`
    if not at_default or says_time(words[when.start : when.end], _team(ctx).locale):
        return
    if (stray := next((w for w in words[when.end :] if clock_time(w)), None)) is not None:
        day = " ".join(words[when.start : when.end])
        raise UsageError(
            f"“{stray}” is a time, typed apart from the day ({day}), so I would remind you "
            f"at {DEFAULT_TIME:%H:%M}. Write them together, e.g. {day} {stray}."
        )


def _when_and_subject(
    ctx: Context, words: list[str], found: list[Found]
) -> tuple[Found, Contact | Deal | None, int]:
    """Which time phrase is the WHEN, which contact or deal the words before it name, and
    how many words that took: the words after the name or id are text (`/remind Greta call
    tomorrow 10am`: "call").

    A time at the very start means no reference, unless a later time phrase follows words
    that name a record exactly ("May Smith tomorrow": May is a person, not a month) and are
    not part of that first time ("15 Dec call": 15 is the day, not deal 15)."""
    first = found[0]
    named = next(
        (
            f
            for f in found
            if f.start > 0
            and not (first.start == 0 and first.end > f.start)
            and _names_exactly(ctx, words[: f.start])
        ),
        None,
    )
    if named is not None:
        chosen = named
    elif found[0].start == 0:
        return found[0], None, 0
    else:
        chosen = found[0]
    ref = words[: chosen.start]
    try:
        record, used = resolve(ctx, ref, (CONTACT, DEAL))
    except CommandError:
        if named is not None:
            raise
        return chosen, None, 0  # the words before the time are part of the text
    return chosen, record, used


def _names_exactly(ctx: Context, words: list[str]) -> bool:
    text = " ".join(words)
    if text in ctx.picks or (len(words) == 1 and _REF_ID.match(words[0])):
        return True
    key = [name_key(text)]
    return bool(
        contacts_named(ctx.session, team_id=ctx.team_id, keys=key)
        or deals_titled(ctx.session, team_id=ctx.team_id, keys=key)
    )


def _check_future(ctx: Context, at: datetime) -> None:
    if at <= ctx.now:
        raise UsageError(
            f"{local_time(at, ctx.tz)} has already passed. Say a time to come: {EXAMPLES}."
        )
    if at > ctx.now + MAX_AHEAD:
        raise UsageError("That is more than five years away; pick a nearer time.")


def _line(ctx: Context, reminder: Reminder) -> list[str]:
    return reminder_line(ctx.session, team=_team(ctx), reminder=reminder, tz=ctx.tz, now=ctx.now)


def _when_text(ctx: Context, at: datetime) -> str:
    """`Wed 9 Dec 09:30 (in 2 days)`: days counted on the member's calendar, not in
    24-hour steps (Wednesday morning is not "tomorrow" on Monday afternoon)."""
    seconds = (at - ctx.now).total_seconds()
    days = (at.astimezone(ctx.tz).date() - ctx.now.astimezone(ctx.tz).date()).days
    if seconds < 60:
        soon = f"in {int(seconds)} seconds"
    elif days == 1:
        soon = "tomorrow"
    elif 1 < days < 30:
        soon = f"in {days} days"
    else:
        soon = ago(at, ctx.now)
    return f"{local_time(at, ctx.tz)} ({soon})"


def _subject_suffix(ctx: Context, reminder: Reminder) -> str:
    subject = reminder_subject(ctx.session, team_id=ctx.team_id, reminder=reminder)
    return f" — {subject}" if subject else ""


def _team(ctx: Context) -> Team:
    assert ctx.team is not None
    return ctx.team


def register(registry: Registry) -> None:
    registry.command("remind", remind, undoable=True)
    registry.command("reminders", list_reminders, writes=False)
    registry.command("done", done)
    registry.command("snooze", snooze)
    registry.command("today", today, aliases=("agenda",), writes=False)
    registry.command("tz", set_timezone, aliases=("timezone",))
    registry.button(DONE_BUTTON, press_done)
    registry.button(SNOOZE_BUTTON, press_snooze)
    registry.button(TOMORROW_BUTTON, press_tomorrow)
