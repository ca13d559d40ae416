"""/export: the team's contacts, deals and activities as a CSV or Excel file in the chat.

Managers and admins export the team's data, reps their own. The columns are named as
/import reads them, so an export imported into an empty team gives back the same
contacts, companies, tags and deals.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from sqlmodel import Session

from handlers.context import Context
from handlers.errors import UsageError
from handlers.format import counted
from handlers.grammar import Args
from handlers.registry import Registry
from handlers.reply import Attachment, Reply
from handlers.tabular import write_csv, write_xlsx
from storage import exports as store
from storage.models import Role

KINDS = ("contacts", "deals", "activities")
FORMATS = ("xlsx", "csv")
MIME = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class Scope:
    """Whose records: the team's (None) or one member's."""

    team_id: int
    member_id: int | None


Rows = Callable[[Session, Scope], Iterator[tuple[store.Cell, ...]]]
_SHEETS: dict[str, tuple[Sequence[str], Rows]] = {
    "contacts": (
        store.CONTACT_HEADER,
        lambda s, scope: store.contact_rows(s, team_id=scope.team_id, owner_id=scope.member_id),
    ),
    "deals": (
        store.DEAL_HEADER,
        lambda s, scope: store.deal_rows(s, team_id=scope.team_id, owner_id=scope.member_id),
    ),
    "activities": (
        store.ACTIVITY_HEADER,
        lambda s, scope: store.activity_rows(s, team_id=scope.team_id, member_id=scope.member_id),
    ),
}


def export(ctx: Context, args: Args) -> Reply:
    """Export contacts, deals and activities as an Excel or CSV file.

    /export [contacts|deals|activities|all] [csv|xlsx]

    Example: /export deals · /export all csv. Excel by default; CSV opens in Excel too
    (UTF-8). Managers and admins get the team's records, reps their own. The columns
    are named as /import reads them, so the file can go back in.
    """
    words = [w.lower() for w in args.words]
    kinds = [w for w in words if w in (*KINDS, "all")]
    formats = [w for w in words if w in FORMATS]
    unknown = [w for w in args.words if w.lower() not in (*KINDS, "all", *FORMATS)]
    if unknown or len(kinds) > 1 or len(formats) > 1 or args.tags or args.options:
        raise UsageError("Export what? contacts, deals, activities or all; csv or xlsx.")
    kind = kinds[0] if kinds else "all"
    fmt = formats[0] if formats else "xlsx"
    scope = export_scope(ctx)
    # On disk, not in memory: a team's export can be hundreds of megabytes. Left open for
    # the adapter to send from; an unnamed temporary file is gone once closed.
    streams: dict[str, BinaryIO] = {}
    written = export_files(
        ctx.session,
        scope,
        kind=kind,
        fmt=fmt,
        stem=_stem(ctx, scope),
        open_file=lambda name: streams.setdefault(name, tempfile.TemporaryFile()),  # noqa: SIM115
    )
    whose = "the team's" if scope.member_id is None else "your"
    reply = Reply().add(f"Here are {whose} {kind if kind != 'all' else 'records'}:")
    for name, count in written:
        reply.item(f"{name}: {counted(count, 'row')}")
        reply.attachments.append(Attachment(name, b"", MIME[fmt], name, spool=streams[name]))
    return reply


def export_scope(ctx: Context) -> Scope:
    manager = ctx.role.rank >= Role.manager.rank
    return Scope(ctx.team_id, None if manager else ctx.member_id)


def export_files(
    session: Session,
    scope: Scope,
    *,
    kind: str,
    fmt: str,
    stem: str,
    open_file: Callable[[str], BinaryIO],
) -> list[tuple[str, int]]:
    """The export as files, named, with their row counts: one workbook with a sheet per
    kind, or a CSV per kind. `open_file(name)` gives each file's stream (memory for a
    chat; a file on disk for the command line, which then holds a page of rows at most)."""
    kinds = list(KINDS) if kind == "all" else [kind]
    if fmt == "xlsx":
        name = f"{stem}-{kind}.xlsx"
        sheets = [(k, *_sheet(session, scope, k)) for k in kinds]
        return [(name, write_xlsx(open_file(name), sheets))]
    return [
        (f"{stem}-{k}.csv", write_csv(open_file(f"{stem}-{k}.csv"), *_sheet(session, scope, k)))
        for k in kinds
    ]


def _sheet(
    session: Session, scope: Scope, kind: str
) -> tuple[Sequence[str], Iterable[Sequence[object]]]:
    header, rows = _SHEETS[kind]
    return header, rows(session, scope)


def _stem(ctx: Context, scope: Scope) -> str:
    day = ctx.now.astimezone(ctx.tz).date().isoformat()
    if scope.member_id is None:
        return f"crm-{day}"
    return f"crm-{ctx.me.name_key.replace(' ', '-')}-{day}"


def register(registry: Registry) -> None:
    registry.command("export", export)
