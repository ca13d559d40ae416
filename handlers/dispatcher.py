"""Text or event in, Reply out: the one door every platform goes through.

Each request is handled in a worker thread with one Session and one transaction, so the
chat loop never blocks on the database and a command pays one thread hop, not one per
query. The update id is recorded in the same transaction (at most once), after a lock on
the chat (storage/locks.py: on PostgreSQL the chat's next message waits for this one, in
whichever process it arrives). A refused or failed command leaves nothing half-written:
on PostgreSQL it runs in a savepoint; on SQLite it runs without one, and when it fails its
whole transaction is rolled back and the request runs again in one, for the reply its
failure gets (inside a savepoint SQLite copies every page a command changes to a
sub-journal first: a fifth of a stage move's time, for what nearly every command never
needs; bench/NOTES.md, issue 17).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any

from sqlalchemy import BigInteger, CursorResult, Engine, Executable, bindparam, func, select
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from handlers.charts import ChartUnavailable
from handlers.context import Context, Request, TeamDefaults
from handlers.errors import Ambiguous, CommandError
from handlers.grammar import Args, invisible_words, normalize, parse_args, split_command
from handlers.onboarding import SELF_SERVICE, enter_workspace
from handlers.places import Geocoder
from handlers.registry import Command, Registry
from handlers.reply import Button, Line, Reply, bold, code
from handlers.undo import journaled
from storage import core
from storage.db import CommitUnknown, busy, full, lost, retry_busy, transaction, upsert_into
from storage.locks import chat_lock_key, hold_key, lock_person
from storage.models import PendingCommand, Platform, ProcessedUpdate, Role
from storage.pending import take_pending
from storage.teams import member_and_team
from storage.types import utcnow

log = logging.getLogger(__name__)

NOT_A_MEMBER = (
    "You are not in a team yet. Send /start to set one up, or /join CODE with an invite "
    "code from a teammate."
)
STALE_BUTTON = "That button has expired or was used already. Please send the command again."
DISK_FULL = (
    "The server's disk is full, so I can't save anything right now; nothing was changed. "
    "Please tell your admin. (Looking things up still works.)"
)
# The database's connection went while it was saving: what was sent may be stored or not.
UNSURE = (
    "I lost the database while saving, so I can't tell whether that was saved: "
    "please check before you send it again."
)
BUSY = "Too much is going on at once right now; nothing was changed. Please send that again."
PICK, FORCE, MERGE_INTO = "pk", "fa", "mi"  # buttons that resume a pending command
PENDING_TTL = timedelta(days=2)
MAX_BUTTON_ARG = 64  # Telegram's whole callback data is at most 64 bytes
# How far a message's own time may lie behind the moment it is handled: Telegram keeps
# undelivered updates for 24 hours, Slack retries an event for minutes. A time further
# back, or one ahead of the clock, is not believed (a wrong clock, a forged payload).
MAX_MESSAGE_AGE = timedelta(hours=36)
# What else than commands each platform's people can send (the reply to anything else).
_IMPORT_FILE = "a CSV, Excel or vCard file you send: imported after a preview (/import)"
_OTHER_INPUT: dict[str, tuple[str, ...]] = {
    Platform.telegram: (
        "a location you share (📎 → Location): your prospects nearby",
        "a contact card you share (📎 → Contact): logged like /add",
        _IMPORT_FILE,
    ),
    Platform.slack: (_IMPORT_FILE,),
    Platform.console: (
        "/location LAT LON: your prospects near that point",
        "/import PATH: contacts and deals from a CSV, Excel or vCard file",
    ),
}


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        registry: Registry | Callable[[], Registry],
        *,
        defaults: TeamDefaults | None = None,
        clock: Callable[[], datetime] = utcnow,
        workers: int = 4,
        geocoder: Geocoder | None = None,
    ) -> None:
        self.engine = engine
        # A builder instead of a registry defers every command family's import to the
        # first use: `crmbot run` starts polling before it (bench/NOTES.md, issue 17).
        self._build_registry = registry
        self._registry: Registry | None = None
        self._registry_lock = threading.Lock()
        self.defaults = defaults or TeamDefaults()
        self.clock = clock
        self.geocoder = geocoder
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crm-cmd")

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            with self._registry_lock:  # the worker threads may all ask at once
                if self._registry is None:
                    build = self._build_registry
                    self._registry = build if isinstance(build, Registry) else build()
        return self._registry

    async def handle(self, request: Request) -> Reply | None:
        """Handle one request off the event loop; None when it was already processed."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.handle_sync, request)

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def handle_sync(self, request: Request) -> Reply | None:
        reply = self.respond(request)
        return None if reply is None else finish(reply)

    def respond(self, request: Request) -> Reply | None:
        """The reply, with its deferred attachments (charts) not made yet: the part of
        `handle_sync` that runs in the transaction, which benchmarks time on its own."""
        typed = request.text
        request = clean_request(request)
        # Only a word made of nothing but invisible characters changes the count of words.
        hidden = (
            invisible_words(typed)
            if typed
            and request.text is not None
            and len(request.text.split()) < len(typed.split())
            else 0
        )
        reads = self._reads(request)
        record = request.update_id is not None
        try:
            # A read on SQLite records its update id on its own first (one short write), and
            # then reads without the write lock: a redelivery of it is already answered.
            if reads and record and self.engine.dialect.name == "sqlite":
                if not self._first_read(request):
                    return None
                record = False
            return retry_busy(
                lambda tries: self._respond_once(
                    request, hidden, reads=reads and tries == 0, record=record
                )
            )
        except CommitUnknown:
            return _apology(UNSURE)
        except OperationalError as error:
            if full(error):
                log.error(
                    "the database's disk is full: a %s message changed nothing", request.platform
                )
                return Reply(error=True).add(DISK_FULL)
            if not busy(error):
                return _apology()
            # SQLite stayed locked through every try: nothing was written.
            log.warning("the database stayed busy; a %s message was not handled", request.platform)
            return Reply(error=True).add(BUSY)
        except Exception:
            return _apology()

    def _reads(self, request: Request) -> bool:
        """Whether the request only reads, as its command or button is registered."""
        if request.text is not None:
            parsed = split_command(request.text)
            command = self.registry.find(parsed[0]) if parsed else None
            return command is not None and not command.writes
        if request.button is not None:
            action = self.registry.buttons.get(request.button.split(":", 1)[0])
            return action is not None and not action.writes
        return False

    def _first_read(self, request: Request) -> bool:
        """Record a read's update id (False: a redelivery). With the disk full it is
        answered unrecorded: a read changes nothing, so at worst a redelivery is answered
        twice, while /find and the cards keep working until someone makes room."""
        try:
            return retry_busy(lambda _: self._record_delivery(request))
        except OperationalError as error:
            if not full(error):
                raise
            log.warning("the database's disk is full: a %s read is not recorded", request.platform)
            return True

    def _record_delivery(self, request: Request) -> bool:
        # One statement on a pooled connection, no session's or transaction's set-up.
        return _first_delivery(
            partial(core.execute_alone, self.engine),
            request,
            dialect=self.engine.dialect.name,
            now=self.clock(),
        )

    def _respond_once(
        self, request: Request, hidden: int, *, reads: bool, record: bool
    ) -> Reply | None:
        """`record`: the update id is recorded here (not yet, by `_first_read`)."""
        if self.engine.dialect.name == "sqlite":
            try:
                return self._in_transaction(
                    request, hidden, reads=reads, record=record, savepoint=False
                )
            except _Unguarded:
                pass  # rolled back whole; its failure's reply comes from a guarded run
        # Not on PostgreSQL: a rollback there lets go of the chat's lock, and the chat's
        # next message, waiting in another process, would be answered before this one.
        return self._in_transaction(request, hidden, reads=reads, record=record, savepoint=True)

    def _in_transaction(
        self, request: Request, hidden: int, *, reads: bool, record: bool, savepoint: bool
    ) -> Reply | None:
        with transaction(self.engine, reads=reads) as session:
            # One chat's messages one at a time and in turn, across processes too: the
            # chat's lock is taken before the update id is recorded, in the same statement.
            chat_key = chat_lock_key(
                self.engine,
                platform=request.platform,
                workspace_id=request.workspace_id,
                chat_id=request.chat_id,
            )
            if not record:
                if chat_key is not None:
                    hold_key(session, chat_key)
            elif not _first_delivery(
                partial(core.execute, session),
                request,
                dialect=self.engine.dialect.name,
                now=self.clock(),
                chat_key=chat_key,
            ):
                return None
            ctx = self._context(session, request)
            ctx.savepoint = savepoint
            welcome = self._newcomer(ctx)
            reply = self._route(ctx)
            if welcome is not None:
                reply.lines[:0] = [*welcome.lines, Line(())]
            if hidden:
                reply.muted(
                    f"I left out {hidden} word{'s' if hidden > 1 else ''} made only of "
                    "invisible characters (zero-width spaces, direction marks)."
                )
            return reply

    def _newcomer(self, ctx: Context) -> Reply | None:
        """Someone new in a chat workspace (Slack) joins the workspace's team on first use,
        whatever they send first, except the commands that register people themselves."""
        request = ctx.request
        if ctx.member is not None or not request.workspace_id:
            return None
        parsed = split_command(request.text or "")
        command = self.registry.find(parsed[0]) if parsed else None
        if command is not None and command.name in SELF_SERVICE:
            return None
        return enter_workspace(ctx)

    def _context(self, session: Session, request: Request) -> Context:
        who = {
            "platform": request.platform,
            "external_id": request.user_id,
            "workspace_id": request.workspace_id,
        }
        found = member_and_team(session, **who)
        if found is None:
            # Not registered, or being registered right now by another of their messages
            # (two chats at once): wait for that one, then look again.
            lock_person(
                session,
                platform=request.platform,
                workspace_id=request.workspace_id,
                user_id=request.user_id,
            )
            found = member_and_team(session, **who)
        member, team = found if found else (None, None)
        if member is not None and member.last_platform != request.platform:
            # Where they were last active is where the bot reaches them by default
            # (/notify); written only when it changes, not on every message.
            member.last_platform = request.platform
            session.add(member)
        return Context(
            session=session,
            request=request,
            now=message_time(request.sent_at, self.clock()),
            team=team,
            member=member,
            registry=self.registry,
            defaults=self.defaults,
            geocoder=self.geocoder,
        )

    def _route(self, ctx: Context) -> Reply:
        request = ctx.request
        if request.text is not None:
            return self.run_text(ctx, request.text)
        if request.button is not None:
            return self._press(ctx, request.button)
        if request.location is not None:
            return self._event(ctx, "location")
        if request.contact is not None:
            return self._event(ctx, "contact")
        if request.file is not None:
            return self._event(ctx, "file")
        return unsupported(ctx)

    def run_text(self, ctx: Context, text: str) -> Reply:
        parsed = split_command(text)
        if parsed is None:
            return unsupported(ctx)
        name, rest = parsed
        command = self.registry.find(name)
        if command is None:
            return _unknown(name, self.registry)
        refusal = _refusal(ctx, command.role)
        if refusal:
            return refusal
        ctx.command_text = text
        return self._guarded(
            ctx,
            command,
            lambda: command.func(ctx, self._args(ctx, command, rest)),
            text,
            undoable=command.undoable,
        )

    def _args(self, ctx: Context, command: Command, rest: str) -> Args:
        team = ctx.team
        return parse_args(
            rest,
            keys=command.keys,
            shapes=command.shapes,
            region=team.region if team else self.defaults.region,
            locale=team.locale if team else self.defaults.locale,
        )

    def _press(self, ctx: Context, encoded: str) -> Reply:
        code, *args = encoded.split(":")
        if _forged(args):
            return Reply(error=True).add(STALE_BUTTON)
        if code in (PICK, FORCE, MERGE_INTO):
            return self._resume(ctx, code, args)
        action = self.registry.buttons.get(code)
        if action is None:
            return Reply(error=True).add(STALE_BUTTON)
        refusal = _refusal(ctx, action.role)
        if refusal:
            return refusal
        return self._guarded(
            ctx, None, lambda: action.func(ctx, tuple(args)), None, undoable=action.undoable
        )

    def _resume(self, ctx: Context, code: str, args: list[str]) -> Reply:
        """Re-run a command that waited for a button: a pick among candidates, or "add
        anyway" or "merge" after a duplicate warning."""
        if _refusal(ctx, Role.rep) or not args or not args[0].isdigit():
            return Reply(error=True).add(STALE_BUTTON)
        # Taken, not read: a second press of the button, or of another of its row, finds
        # nothing, so "Add anyway" adds once and a pick logs one note.
        pending = take_pending(
            ctx.session, pending_id=int(args[0]), team_id=ctx.team_id, member_id=ctx.member_id
        )
        if pending is None or pending.created_at < ctx.now - PENDING_TTL:
            return Reply(error=True).add(STALE_BUTTON)
        ctx.picks = dict(pending.picks)
        if code == PICK and len(args) > 1:
            ctx.picks[pending.ref] = args[1]
        ctx.force = code == FORCE
        if code == MERGE_INTO and len(args) > 1 and args[1].isdigit():
            ctx.merge_into = int(args[1])
        return self.run_text(ctx, pending.text)

    def _event(self, ctx: Context, kind: str) -> Reply:
        event = self.registry.events.get(kind)
        if event is None:
            return unsupported(ctx)
        refusal = _refusal(ctx, Role.rep)
        if refusal:
            return refusal
        return self._guarded(ctx, None, lambda: event.func(ctx), None, undoable=event.undoable)

    def _guarded(
        self,
        ctx: Context,
        command: Command | None,
        run: Callable[[], Reply],
        text: str | None,
        *,
        undoable: bool = False,
    ) -> Reply:
        """Run a handler in a savepoint; turn what it raises into a reply. What an undoable
        one changes goes into the undo journal. Without the savepoint (`ctx.savepoint`),
        what it raises ends the whole transaction (`_Unguarded`)."""
        if not ctx.savepoint:
            try:
                return journaled(ctx, run) if undoable else run()
            except Exception as error:
                if _the_databases(error):
                    raise
                raise _Unguarded from error
        try:
            with ctx.session.begin_nested():
                return journaled(ctx, run) if undoable else run()
        except CommandError as error:
            reply = Reply(error=True, error_field=error.field).add(error.message)
            if error.show_usage and command is not None:
                reply.blank().add(bold("Usage:"))
                for usage in command.usage:
                    reply.add(usage)
            return reply
        except Ambiguous as ambiguous:
            return _ask_which(ctx, ambiguous, text)
        except Exception as error:
            if _the_databases(error):
                raise
            return _apology()


def _the_databases(error: Exception) -> bool:
    """Whether `error` is the database's trouble, not the command's: the whole request
    runs again (busy, a lost connection), or is answered as such (respond)."""
    return busy(error) or full(error) or lost(error) is not None


class _Unguarded(Exception):
    """A command run without its savepoint failed (`Dispatcher._guarded`)."""


def _forged(args: list[str]) -> bool:
    """Whether a button's arguments cannot be ours: buttons carry short ASCII words and
    row ids, and no id reaches 2^63 (a 23-digit one is refused here, not by the database,
    nor by `int()` of a superscript digit that `str.isdigit` lets through)."""
    return any(
        len(arg) > MAX_BUTTON_ARG or not arg.isascii() or (arg.isdigit() and int(arg) >= 2**63)
        for arg in args
    )


def message_time(sent_at: datetime | None, now: datetime) -> datetime:
    """When the command happened: the message's own time, when it is believable (a day's
    backlog after a restart is stamped as it was sent), else the clock's `now`."""
    if sent_at is None or not now - MAX_MESSAGE_AGE <= sent_at <= now:
        return now
    return sent_at


def unsupported(ctx: Context) -> Reply:
    """The answer to a message the bot cannot read: what it does read, on this platform."""
    request = ctx.request
    reply = Reply()
    if request.other:
        reply.add(f"I can't read {request.other}.")
    elif request.text is not None:
        reply.add("Commands start with a slash, e.g. ", code("/add Jane Doe company:Acme"), ".")
    reply.add("What I understand:")
    reply.item("commands: ", code("/help"), " lists them, ", code("/help add"), " explains one")
    for other in _OTHER_INPUT.get(request.platform, ()):
        reply.item(other)
    return reply


def clean_request(request: Request) -> Request:
    """Everything a person typed, normalised once, here (see grammar.normalize): NFKC, and
    no control characters (but newlines and tabs; PostgreSQL refuses NUL in text), no
    zero-width or direction-override characters, no lone surrogates."""
    contact = request.contact
    if contact is not None:
        contact = replace(
            contact,
            **{
                name: normalize(value)
                for name in ("name", "phone", "email", "company", "title")
                if isinstance(value := getattr(contact, name), str)
            },
        )
    text = normalize(request.text) if request.text is not None else None
    user_name = normalize(request.user_name)
    chat_name = normalize(request.chat_name)
    if (text, user_name, chat_name, contact) == (
        request.text,
        request.user_name,
        request.chat_name,
        request.contact,
    ):
        return request  # as typed, mostly: a copy costs more than the rest of this
    return replace(request, text=text, user_name=user_name, chat_name=chat_name, contact=contact)


def _first_delivery(
    execute: Callable[[Executable, dict[str, object]], core.Rows | CursorResult[Any]],
    request: Request,
    *,
    dialect: str,
    now: datetime,
    chat_key: int | None = None,
) -> bool:
    """Record the update (with `execute`: in the session's transaction, or in one of its
    own); False when it was recorded before (a redelivery). With a `chat_key`, the chat's
    lock (`lock_chat`) is taken first, by the same statement."""
    values: dict[str, object] = {
        "u_platform": request.platform,
        "u_external_id": request.update_id,
        "u_at": now,
    }
    if chat_key is not None:
        values["u_key"] = chat_key
    recorded = execute(_record_update(dialect, locking=chat_key is not None), values)
    if recorded.first() is None:
        log.info("ignoring redelivered %s update %s", request.platform, request.update_id)
        return False
    return True


@cache
def _record_update(dialect: str, *, locking: bool) -> Executable:
    # One INSERT .. ON CONFLICT DO NOTHING, built once: no savepoint, no ORM object to
    # build and flush, on every message (both dialects have the same construct).
    table = ProcessedUpdate.__table__  # type: ignore[attr-defined]
    insert = upsert_into(dialect, table)
    if locking:
        # PostgreSQL: the row comes out of the lock function (a function scan, run once
        # before the row is inserted), so lock and record are one round trip; what the
        # command reads next is read by later statements, after the lock was granted.
        row = select(
            bindparam("u_platform", type_=table.c.platform.type),
            bindparam("u_external_id", type_=table.c.external_id.type),
            bindparam("u_at", type_=table.c.at.type),
        ).select_from(func.pg_advisory_xact_lock(bindparam("u_key", type_=BigInteger)))
        insert = insert.from_select(["platform", "external_id", "at"], row)
    else:
        insert = insert.values(
            platform=bindparam("u_platform"),
            external_id=bindparam("u_external_id"),
            at=bindparam("u_at"),
        )
    return insert.on_conflict_do_nothing().returning(table.c.id)


def _refusal(ctx: Context, role: Role | None) -> Reply | None:
    if role is None:
        return None
    if ctx.member is None or not ctx.member.active:
        return Reply(error=True).add(NOT_A_MEMBER)
    if ctx.role.rank < role.rank:
        return Reply(error=True).add(
            f"Only {role.value}s and above can do that; you are {ctx.role.a}."
        )
    return None


def _ask_which(ctx: Context, ambiguous: Ambiguous, text: str | None) -> Reply:
    if text is None or ctx.member is None:
        return Reply(error=True).add(f"“{ambiguous.ref}” matches several records; use an id.")
    pending = PendingCommand(
        team_id=ctx.team_id,
        member_id=ctx.member_id,
        text=text,
        ref=ambiguous.ref,
        picks=ctx.picks,
        created_at=ctx.now,
    )
    ctx.session.add(pending)
    ctx.session.flush()
    reply = Reply().add("Which one do you mean by “", bold(ambiguous.ref), "”?")
    for candidate in ambiguous.candidates:
        choice = f"{candidate.kind[0]}{candidate.id}"
        reply.button_row(Button(candidate.label, PICK, (pending.id or 0, choice)))
    return reply


def _unknown(name: str, registry: Registry) -> Reply:
    reply = Reply(error=True).add(f"I don't know /{name}.")
    if (meant := registry.closest(name)) is not None:
        reply.add("Did you mean ", bold(f"/{meant}"), "?")
    return reply.add("Send /help for the list of commands.")


def finish(reply: Reply) -> Reply:
    """Make the reply's deferred attachments; one that fails is logged and left out, and
    the reply says so, because its text is still worth sending."""
    try:
        return reply.finish()
    except ChartUnavailable as unavailable:
        reply.deferred.clear()
        error_id = secrets.token_hex(4)
        log.error("a chart was left out of a reply (%s), error %s", unavailable, error_id)
        return reply.muted(f"({unavailable}; error {error_id}.)")
    except Exception:
        reply.deferred.clear()
        error_id = secrets.token_hex(4)
        log.exception("could not make an attachment, error %s", error_id)
        return reply.muted(f"(The chart could not be drawn; error {error_id}.)")


def _apology(outcome: str = "Nothing was changed.") -> Reply:
    error_id = secrets.token_hex(4)
    log.exception("unexpected error %s", error_id)
    return Reply(error=True, failed=True).add(
        f"Sorry, something went wrong on my side (error {error_id}). {outcome}"
    )


def pending_command(ctx: Context, text: str) -> int:
    """Store `text` to be re-run by a button (e.g. "add anyway"); returns its id."""
    pending = PendingCommand(
        team_id=ctx.team_id, member_id=ctx.member_id, text=text, created_at=ctx.now
    )
    ctx.session.add(pending)
    ctx.session.flush()
    assert pending.id is not None
    return pending.id
