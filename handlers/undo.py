"""/undo: take back my last change, typed or with the Undo button under its answer.

A command registered as undoable runs through `journaled`: what it writes goes into the
undo journal (storage/journal.py) as one change, named by `ctx.change_label`, and its
answer gets an Undo button. A member undoes only their own changes, within
`UNDO_WINDOW`, each once; a change that a later one depends on (a note on the contact it
added, a later move of the deal it moved) is refused with the reason, and nothing is
written. A won deal's announcement that already went out gets a correction in the same
chats.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from handlers.context import Context
from handlers.errors import CommandError, Forbidden, UsageError
from handlers.format import ago
from handlers.grammar import Args
from handlers.registry import Registry
from handlers.reply import Button, Reply, bold
from handlers.scoring import rescore
from storage.journal import (
    Conflict,
    UndoConflict,
    Undone,
    get_change,
    latest_change,
    recording,
    save_change,
    undo_change,
)
from storage.models import Change, Outbox, OutboxKind
from storage.outbox import enqueue
from storage.teams import member_names

UNDO_BUTTON = "un"
UNDO_WINDOW = timedelta(minutes=10)
# What a conflict's rows are, in words: (one, several).
_NOUNS = {
    "activity": ("an activity", "activities"),
    "contact": ("a contact", "contacts"),
    "contacttag": ("a tag", "tags"),
    "deal": ("a deal", "deals"),
    "dealtag": ("a tag", "tags"),
    "reminder": ("a reminder", "reminders"),
    "stagechange": ("a stage move", "stage moves"),
}
# Columns as the fields people know them by (None: not worth naming).
_FIELDS: dict[str, str | None] = {
    "company_id": "company",
    "contact_id": "contact",
    "owner_id": "owner",
    "stage_id": "stage",
    "stage_entered_at": "stage",
    "closed_at": "stage",
    "cycle_seconds": None,
    "expected_close": "close",
    "lost_reason": "lost reason",
    "name_key": None,
    "title_key": None,
    "city_key": None,
}


def journaled(ctx: Context, run: Callable[[], Reply]) -> Reply:
    """Run a command that changes the team's data, journaled as one change; when it
    changed something, its reply gets an Undo button (first)."""
    with recording(ctx.session) as recorder:
        reply = run()
    change = save_change(
        ctx.session,
        recorder,
        team_id=ctx.team_id,
        member_id=ctx.member_id,
        at=ctx.now,
        label=ctx.change_label or ctx.command_text or "a change",
    )
    if change is not None:
        button = Button("Undo", UNDO_BUTTON, (change.id or 0,))
        if reply.buttons and len(reply.buttons[0]) < 3:
            reply.buttons[0].insert(0, button)
        else:
            reply.buttons.insert(0, [button])
    return reply


def undo(ctx: Context, args: Args) -> Reply:
    """Take back your last change, within 10 minutes.

    /undo

    Example: /undo right after /add Jane Doe. An added contact, deal or reminder
    disappears; an edit, a stage move, a tag or a note is put back as it was. The Undo
    button under an answer does the same for that change. Only your own changes, each
    once; when something done since depends on it (a note on the contact you added, a
    later move of the deal), I say what and change nothing.
    """
    if args.words or args.tags or args.options:
        raise UsageError("/undo takes nothing: it undoes your last change.")
    change = latest_change(ctx.session, team_id=ctx.team_id, member_id=ctx.member_id)
    if change is None or change.at < ctx.now - UNDO_WINDOW:
        return Reply().add("Nothing to undo: you changed nothing in the last 10 minutes.")
    return _undo(ctx, change)


def press_undo(ctx: Context, args: tuple[str, ...]) -> Reply:
    """The Undo button under a change's answer."""
    if len(args) != 1 or not args[0].isdigit():
        raise CommandError("That button is no longer valid.")
    change = get_change(ctx.session, team_id=ctx.team_id, change_id=int(args[0]))
    if change is None:
        raise CommandError("That change is too old to undo.")
    if change.member_id != ctx.member_id:
        who = member_names(ctx.session, team_id=ctx.team_id, ids=[change.member_id])
        raise Forbidden(f"Only {who.get(change.member_id, 'who made it')} can undo that.")
    reply = _undo(ctx, change)
    reply.edit = True
    return reply


def _undo(ctx: Context, change: Change) -> Reply:
    return undo_with_window(ctx, change, UNDO_WINDOW)


def undo_with_window(ctx: Context, change: Change, window: timedelta) -> Reply:
    """Take `change` back if it is no older than `window` (an import's is longer)."""
    if change.undone_at is not None:
        return Reply().add("Already undone: ", bold(change.label), ".")
    if change.at < ctx.now - window:
        raise CommandError(
            f"It is too late to undo “{change.label}”: that was {ago(change.at, ctx.now)}, "
            f"and it can be undone for {_span(window)}."
        )
    try:
        undone = undo_change(ctx.session, change=change, now=ctx.now)
    except UndoConflict as refused:
        reasons = " ".join(_reason(conflict) for conflict in refused.conflicts[:3])
        raise CommandError(
            f"I can't undo “{change.label}”: {reasons} Nothing was changed."
        ) from None
    if undone is None:
        return Reply().add("Already undone: ", bold(change.label), ".")
    rescore(
        ctx.session,
        team_id=ctx.team_id,
        contact_ids=sorted(undone.values("contact", "id") | undone.values("*", "contact_id")),
        now=ctx.now,
    )
    reply = Reply().add("Undone: ", bold(change.label), ".")
    corrected = _correct_announcements(ctx, change, undone)
    if corrected:
        reply.muted(
            f"Its announcement had already gone out; I sent a correction to {corrected} "
            f"chat{'s' if corrected != 1 else ''}."
        )
    return reply


def _span(window: timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return "a day" if days == 1 else f"{days} days"
    return f"{minutes} minutes"


def _reason(conflict: Conflict) -> str:
    what = _describe(conflict.table, conflict.values)
    if conflict.reason == "changed":
        fields = [f for c in conflict.columns if (f := _FIELDS.get(c, c)) is not None]
        named = f" ({', '.join(dict.fromkeys(fields))})" if fields else ""
        return f"{what} has been changed since{named}."
    if conflict.reason == "used":
        uses = [
            _NOUNS.get(table, (f"a {table}", f"{table}s"))[0]
            if count == 1
            else f"{count} {_NOUNS.get(table, (table, f'{table}s'))[1]}"
            for table, count in conflict.used_by.items()
        ]
        listed = " and ".join([", ".join(uses[:-1]), uses[-1]] if len(uses) > 1 else uses)
        return f"{what} has {listed} since."
    if conflict.reason == "gone":
        return f"{what} has been deleted since."
    return f"{what} is back since."


def _describe(table: str, values: dict[str, object]) -> str:
    if table == "contact":
        return f"{values.get('name')} (c{values.get('id')})"
    if table == "deal":
        return f"{values.get('title')} (d{values.get('id')})"
    if table == "reminder":
        return f"Reminder #{values.get('id')}"
    noun = _NOUNS.get(table, (f"a {table}", ""))[0]
    return noun[0].upper() + noun[1:]


def _correct_announcements(ctx: Context, change: Change, undone: Undone) -> int:
    """A correction to each chat that already heard of a win this change made."""
    sent = [
        values
        for table, values in undone.kept
        if table == "outbox" and values.get("kind") == OutboxKind.announcement
    ]
    if not sent:
        return 0
    deals = [values for table, values in undone.rows if table == "deal"]
    title = f"{deals[0].get('title')} (d{deals[0].get('id')})" if deals else "a deal"
    correction = Reply().add(
        "Correction: ", bold(str(title)), f" is not won after all; {ctx.me.name} took it back."
    )
    for values in sent:
        enqueue(
            ctx.session,
            row=Outbox(
                team_id=ctx.team_id,
                kind=OutboxKind.announcement,
                platform=str(values["platform"]),
                workspace_id=str(values.get("workspace_id") or ""),
                chat_id=str(values["chat_id"]),
                payload=correction.as_message(f"the correction of {title}"),
                due_at=ctx.now,
                member_id=values.get("member_id"),
                dedupe_key=f"undo:{change.id}:{values['id']}",
                created_at=ctx.now,
            ),
        )
    return len(sent)


def register(registry: Registry) -> None:
    registry.command("undo", undo)
    registry.button(UNDO_BUTTON, press_undo)
