"""`crmbot import FILE` and `crmbot export`: /import and /export from the command line, as
a terminal member.

The preview comes from the dispatcher, exactly as a file sent in a chat gets it; the rows
are then written by the same `run_import` the Import button runs, in one transaction,
with a progress callback (the command line draws a rich progress bar with it).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from bot.console import CONSOLE_CHAT
from handlers import build_registry
from handlers.context import Context, Request, SharedFile, TeamDefaults
from handlers.dispatcher import Dispatcher, finish
from handlers.exports import Scope, export_files
from handlers.imports import IMPORT_BUTTON, run_import
from handlers.reply import Reply
from storage.db import transaction
from storage.imports import claim_import
from storage.keys import name_key
from storage.models import Platform, Role
from storage.teams import member_and_team
from storage.types import utcnow

Progress = Callable[[int, int], None]


def import_path(
    engine: Engine,
    *,
    path: Path,
    user: str,
    defaults: TeamDefaults,
    confirm: Callable[[Reply], bool],
    progress: Progress | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> tuple[Reply, bool]:
    """The preview, and then (when `confirm` says so) the import's answer; True when the
    rows were written."""
    registry = build_registry()
    dispatcher = Dispatcher(engine, registry, defaults=defaults, clock=clock)
    base = Request(
        platform=Platform.console,
        user_id=name_key(user),
        user_name=user,
        chat_id=CONSOLE_CHAT,
    )
    try:
        joined = dispatcher.handle_sync(replace(base, text="/start"))
        if joined is not None and joined.error:
            return joined, False
        preview = dispatcher.handle_sync(
            replace(base, file=SharedFile(path.name, path.read_bytes()))
        )
        assert preview is not None
        button = next((b for b in preview.all_buttons if b.action == IMPORT_BUTTON), None)
        if button is None or not confirm(preview):
            return preview, False
        with transaction(engine) as session:
            found = member_and_team(session, platform=Platform.console, external_id=base.user_id)
            assert found is not None
            member, team = found
            ctx = Context(
                session=session,
                request=base,
                now=clock(),
                registry=registry,
                defaults=defaults,
                team=team,
                member=member,
            )
            pending = claim_import(session, team_id=ctx.team_id, import_id=int(button.args[0]))
            assert pending is not None
            reply = run_import(ctx, pending, progress=progress)
        return finish(reply), True
    finally:
        dispatcher.close()


def export_to(
    engine: Engine,
    *,
    folder: Path,
    user: str,
    kind: str,
    fmt: str,
    clock: Callable[[], datetime] = utcnow,
) -> list[tuple[Path, int]] | str:
    """`crmbot export`: the files written into `folder`, with their row counts, or why
    not (an unknown member). Written as the rows are read: constant memory."""
    with transaction(engine) as session, ExitStack() as files:
        found = member_and_team(session, platform=Platform.console, external_id=name_key(user))
        if found is None:
            return f"{user} is not a member here: give --as with a terminal member's name."
        member, team = found
        assert team.id is not None and member.id is not None
        manager = Role(member.role).rank >= Role.manager.rank
        scope = Scope(team.id, None if manager else member.id)
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"crm-{clock().date().isoformat()}"
        written = export_files(
            session,
            scope,
            kind=kind,
            fmt=fmt,
            stem=stem,
            open_file=lambda name: files.enter_context((folder / name).open("wb")),
        )
    return [(folder / name, count) for name, count in written]
