"""/import: contacts and deals from a file (CSV, Excel, vCard), after a preview.

A file sent to the bot gets a preview and nothing is written: how many rows, which column
went to which field, the first rows as they will be stored, the rows that will be
refused and why, and how many match contacts the team has. Import writes the good rows in
one transaction (all or nothing) and answers with the rejected rows as a CSV file to fix
and send again; Cancel forgets the file. The buttons carry only the import's id, and the
import is claimed once, so a second press (or a second process) writes nothing.

The whole import is one change in the undo journal: Undo under its answer, /undo, or
/imports' Undo button (for a day) removes what it added and puts back what it filled in.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from threading import Lock

from handlers.columns import LABELS, Mapping, guess_mapping
from handlers.context import Context, SharedFile
from handlers.errors import CommandError, UsageError
from handlers.format import counted, money
from handlers.grammar import Args
from handlers.registry import Registry
from handlers.reply import Attachment, Button, Reply, bold, code
from handlers.rows import Reader, Reject
from handlers.scoring import rescore, rules
from handlers.tabular import Sheet, read_sheet, rows_as_csv
from handlers.undo import UNDO_BUTTON, undo_with_window
from storage.imports import (
    ContactRow,
    Written,
    claim_import,
    drop_stale_previews,
    import_file,
    matching_contacts,
    recent_imports,
    write_rows,
)
from storage.journal import KEEP, get_change, recording, save_change
from storage.models import ImportFile, ImportStatus, Platform, Role
from storage.search import merge_pending_entries
from storage.teams import team_members, team_stages

IMPORT_BUTTON, CANCEL_BUTTON, UNDO_IMPORT_BUTTON = "im", "ic", "iu"
PREVIEW_ROWS = 3
PROBLEMS_SHOWN = 5
# An import can be taken back for as long as the journal keeps it.
IMPORT_UNDO_WINDOW = KEEP
# A preview not acted on is forgotten after this long (its file is emptied).
PENDING_FOR = timedelta(days=2)
_WHERE = {
    Platform.telegram: "Send me the file (📎 → File)",
    Platform.slack: "Share the file with me in this conversation",
    Platform.console: "Type /import PATH",
}


def start_import(ctx: Context, args: Args) -> Reply:
    """Import contacts and deals from a CSV, Excel (.xlsx) or vCard (.vcf) file.

    /import

    Send the file to me (in Telegram as a file, in Slack shared in our conversation; in
    the terminal /import PATH). Columns are recognised by their names, in English or
    German, and as HubSpot, Pipedrive, Salesforce, Zoho, Google Contacts and Outlook
    export them. You get a preview first: rows, which column goes where, the first rows
    as they will be stored, problems. Nothing is written until you press Import. Rows
    that match a contact you have (same e-mail or phone, or same name and company) fill
    in its empty fields instead of adding it twice; bad rows come back as a file to fix.
    """
    where = _WHERE.get(ctx.request.platform, _WHERE[Platform.telegram])
    return Reply().add(
        f"{where}: a CSV, an Excel workbook (.xlsx) or contact cards (.vcf), up to "
        f"{ctx.defaults.import_max_bytes // (1024 * 1024)} MB and "
        f"{ctx.defaults.import_max_rows:,} rows. I show you a preview before anything "
        "is written."
    )


def file_sent(ctx: Context) -> Reply:
    """A file sent to the bot: the import's preview, with Import and Cancel."""
    shared = ctx.request.file
    assert shared is not None and ctx.team is not None
    _check_size(ctx, shared)
    sheet = read_sheet(shared.name, shared.content, max_rows=ctx.defaults.import_max_rows)
    mapping = guess_mapping(sheet.header)
    if not any(f in ("name", "first_name", "last_name", "deal") for f in mapping.fields):
        raise UsageError(
            "I found no column with a name in this file (columns: "
            f"{', '.join(h for h in sheet.header if h)[:300]}). Name the column “Name”, "
            "or “First Name” and “Last Name”."
        )
    good, rejects = read_rows(ctx, sheet, mapping)
    _remember_read(ctx, shared.name, shared.content, ctx.now, _Read(sheet.header, good, rejects))
    drop_stale_previews(ctx.session, team_id=ctx.team_id, before=ctx.now - PENDING_FOR)
    pending = ImportFile(
        team_id=ctx.team_id,
        member_id=ctx.member_id,
        filename=shared.name[:200],
        content=shared.content,
        rows=len(sheet.rows),
        rejected=len(rejects),
        created_at=ctx.now,
    )
    ctx.session.add(pending)
    ctx.session.flush()
    assert pending.id is not None
    return _preview(ctx, sheet, mapping, good, rejects, pending)


def _check_size(ctx: Context, shared: SharedFile) -> None:
    limit = ctx.defaults.import_max_bytes
    if len(shared.content) > limit:
        raise UsageError(
            f"{shared.name} is {len(shared.content) / 1024 / 1024:.1f} MB; I import files "
            f"of up to {limit // (1024 * 1024)} MB. Split it into smaller files."
        )


def read_rows(
    ctx: Context, sheet: Sheet, mapping: Mapping, *, now: datetime | None = None
) -> tuple[list[ContactRow], list[Reject]]:
    """Every row read as the commands read their words, or refused with the reason;
    relative dates from `now` (the request's, unless given)."""
    reader = _reader(ctx, mapping, now or ctx.now)
    good: list[ContactRow] = []
    rejects: list[Reject] = []
    for row in sheet.rows:
        read = reader.read(row)
        (rejects if isinstance(read, Reject) else good).append(read)  # type: ignore[arg-type]
    return good, rejects


def _reader(ctx: Context, mapping: Mapping, now: datetime) -> Reader:
    assert ctx.team is not None
    team = ctx.team
    return Reader(
        mapping=mapping,
        region=team.region,
        currency=team.currency,
        locale=team.locale,
        tz=ctx.tz,
        now=now,
        importer=ctx.me,
        members=team_members(ctx.session, team_id=ctx.team_id),
        stages=team_stages(ctx.session, team_id=ctx.team_id),
    )


@dataclass(frozen=True)
class _Read:
    """A file's rows as the preview read them."""

    header: tuple[str, ...]
    good: list[ContactRow]
    rejects: list[Reject]


# The rows of the latest previews, so that Import writes them without reading the file
# again (reading is a third of an import: phonenumbers alone is ~100 µs a number). Keyed by
# everything reading depends on (`_read_key`): the file, and what the team is when Import
# is pressed; when anything differs, or Import runs in another process, or the preview
# was pushed out by newer ones, the file is read again. Only a few are kept: a preview
# nobody acts on holds its rows in memory until then.
_READS_KEPT = 2
_reads: OrderedDict[tuple[object, ...], _Read] = OrderedDict()
_reads_lock = Lock()  # handlers may run in several threads


def _read_key(ctx: Context, filename: str, content: bytes, now: datetime) -> tuple[object, ...]:
    """What reading a file's rows depends on: the file, the team's settings, members and
    stages (as the reader uses them), the importer, and the moment relative dates are
    read from (the preview's)."""
    assert ctx.team is not None
    team = ctx.team
    me = ctx.me
    return (
        hashlib.sha256(content).digest(),
        filename,
        ctx.defaults.import_max_rows,
        ctx.team_id,
        team.region,
        team.currency,
        team.locale,
        str(ctx.tz),
        now.astimezone(UTC).isoformat(),
        (me.id, me.role),
        tuple(
            (m.id, m.name_key, m.active) for m in team_members(ctx.session, team_id=ctx.team_id)
        ),
        tuple(
            (s.id, s.name, s.kind, s.position)
            for s in team_stages(ctx.session, team_id=ctx.team_id)
        ),
    )


def _remember_read(
    ctx: Context, filename: str, content: bytes, now: datetime, read: _Read
) -> None:
    key = _read_key(ctx, filename, content, now)
    with _reads_lock:
        _reads[key] = read
        while len(_reads) > _READS_KEPT:
            _reads.popitem(last=False)


def _take_read(ctx: Context, pending: ImportFile) -> _Read | None:
    """The rows the pending import's preview read, when they still hold (forgotten)."""
    key = _read_key(ctx, pending.filename, pending.content, pending.created_at)
    with _reads_lock:
        return _reads.pop(key, None)


def _read_again(ctx: Context, pending: ImportFile) -> _Read:
    """The pending import's rows: those its preview read when they still hold, else the
    file read again (as of the preview, so that what is written is what it showed)."""
    if (kept := _take_read(ctx, pending)) is not None:
        return kept
    sheet = read_sheet(pending.filename, pending.content, max_rows=ctx.defaults.import_max_rows)
    good, rejects = read_rows(ctx, sheet, guess_mapping(sheet.header), now=pending.created_at)
    return _Read(sheet.header, good, rejects)


def _preview(
    ctx: Context,
    sheet: Sheet,
    mapping: Mapping,
    good: list[ContactRow],
    rejects: list[Reject],
    pending: ImportFile,
) -> Reply:
    what = {"csv": "CSV", "xlsx": "Excel", "vcf": "vCard"}[sheet.kind]
    detail = f", {sheet.encoding}" if sheet.encoding else ""
    reply = Reply().heading(
        f"{pending.filename}: {counted(len(sheet.rows), 'row')} ({what}{detail})"
    )
    reply.add(bold("Columns:"))
    for header, field_name in zip(mapping.header, mapping.fields, strict=True):
        if field_name is not None:
            reply.item(f"{header} → {LABELS[field_name]}")
    if mapping.ignored:
        reply.item("ignored: ", ", ".join(mapping.ignored)[:500])
    if good:
        reply.add(bold("As they will be stored:"))
        for row in good[:PREVIEW_ROWS]:
            reply.item(_stored(ctx, row))
    if rejects:
        reply.add(bold(f"{counted(len(rejects), 'row')} will be left out:"))
        for reject in rejects[:PROBLEMS_SHOWN]:
            reply.item(f"line {reject.line}: {reject.reason}")
        if len(rejects) > PROBLEMS_SHOWN:
            reply.item(f"… and {len(rejects) - PROBLEMS_SHOWN:,} more (you get them as a file)")
    matched = _matching(ctx, good)
    reply.add(
        f"{counted(len(good), 'row')} to import",
        f"; {matched:,} match contacts you have (their empty fields are filled in)"
        if matched
        else "",
        ".",
    )
    assert pending.id is not None
    if good:
        reply.button_row(
            Button("Import", IMPORT_BUTTON, (pending.id,)),
            Button("Cancel", CANCEL_BUTTON, (pending.id,)),
        )
    return reply


def _stored(ctx: Context, row: ContactRow) -> str:
    fields = row.fields
    parts = [row.name or "(no contact)"]
    parts += [f"company: {row.company}"] if row.company else []
    parts += [f"{k}: {fields[k]}" for k in ("email", "phone", "city") if fields.get(k)]
    parts += [f"status: {fields['status']}"] if fields.get("status") else []
    parts += [" ".join(f"#{t}" for t in row.tags)] if row.tags else []
    if row.deal is not None:
        amount = (
            money(row.deal.amount, row.deal.currency, ctx.team.locale if ctx.team else "en_US")
            if row.deal.amount is not None
            else ""
        )
        parts.append(f"deal: {row.deal.title} {amount}".strip())
    return " · ".join(parts)


def _matching(ctx: Context, rows: list[ContactRow]) -> int:
    """How many rows match a contact the team has (by e-mail, phone or name), counted
    as the import will match them."""
    return matching_contacts(ctx.session, team_id=ctx.team_id, rows=rows)


def press_import(ctx: Context, args: tuple[str, ...]) -> Reply:
    """The Import button under a preview."""
    pending = claim_import(ctx.session, team_id=ctx.team_id, import_id=_id(args))
    if pending is None or pending.member_id != ctx.member_id:
        return _gone(ctx, args)
    reply = run_import(ctx, pending)
    reply.edit = True
    return reply


def run_import(
    ctx: Context, pending: ImportFile, *, progress: Callable[[int, int], None] | None = None
) -> Reply:
    """Write the pending import's good rows, journaled as one change; `progress` hears
    (rows written, rows in all)."""
    assert ctx.team is not None
    read = _read_again(ctx, pending)
    good, rejects = read.good, read.rejects
    with recording(ctx.session) as recorder:
        written = write_rows(
            ctx.session,
            team_id=ctx.team_id,
            member_id=ctx.member_id,
            rows=good,
            now=ctx.now,
            rules=rules(ctx.session, ctx.team),
            progress=(lambda done: progress(done, len(good))) if progress else None,
        )
        rescore(ctx.session, team_id=ctx.team_id, contact_ids=written.unscored, now=ctx.now)
        merge_pending_entries(ctx.session)
    change = save_change(
        ctx.session,
        recorder,
        team_id=ctx.team_id,
        member_id=ctx.member_id,
        at=ctx.now,
        label=f"the import of {pending.filename}",
    )
    pending.status = ImportStatus.done
    pending.content = b""  # the rows are in the tables now; the file is not kept
    pending.added, pending.updated, pending.deals = written.added, written.updated, written.deals
    pending.rejected = len(rejects)
    pending.rejects = _rejects_file(read.header, rejects) if rejects else None
    pending.change_id = change.id if change else None
    pending.done_at = ctx.now
    ctx.session.add(pending)
    ctx.session.flush()
    return _imported(pending, written)


def _imported(pending: ImportFile, written: Written) -> Reply:
    reply = Reply().add("Imported ", bold(pending.filename), ":")
    reply.item(f"{counted(written.added, 'contact')} added")
    if written.updated:
        reply.item(
            f"{counted(written.updated, 'contact')} you had, with empty fields filled in "
            "or tags added"
        )
    if written.unchanged:
        reply.item(
            f"{counted(written.unchanged, 'row')} matched contacts you had and changed nothing"
        )
    if written.deals:
        reply.item(counted(written.deals, "deal"))
    if pending.rejected:
        reply.item(
            f"{counted(pending.rejected, 'row')} left out: in the attached file, with the "
            "reason in the last column. Fix them and send the file again."
        )
        assert pending.rejects is not None
        reply.attachments.append(_rejects_attachment(pending))
    if pending.change_id is not None:
        reply.button_row(Button("Undo", UNDO_BUTTON, (pending.change_id,)))
    return reply


def _rejects_file(header: tuple[str, ...], rejects: list[Reject]) -> bytes:
    width = len(header)
    return rows_as_csv(
        (*header, "Problem"),
        iter(
            (*r.cells[:width], *([""] * (width - len(r.cells))), f"line {r.line}: {r.reason}")
            for r in rejects
        ),
    )


def _rejects_attachment(pending: ImportFile) -> Attachment:
    stem = pending.filename.rsplit(".", 1)[0] or "import"
    return Attachment(
        f"{stem}-rejected.csv",
        pending.rejects or b"",
        "text/csv",
        f"The rows of {pending.filename} I left out",
    )


def press_cancel(ctx: Context, args: tuple[str, ...]) -> Reply:
    """The Cancel button under a preview: the file is forgotten."""
    pending = claim_import(ctx.session, team_id=ctx.team_id, import_id=_id(args))
    if pending is None or pending.member_id != ctx.member_id:
        return _gone(ctx, args)
    _take_read(ctx, pending)  # its rows are not needed any more
    pending.status = ImportStatus.cancelled
    pending.content = b""
    pending.done_at = ctx.now
    ctx.session.add(pending)
    return Reply(edit=True).add("Cancelled: nothing imported from ", bold(pending.filename), ".")


def _gone(ctx: Context, args: tuple[str, ...]) -> Reply:
    found = import_file(ctx.session, team_id=ctx.team_id, import_id=_id(args))
    if found is None or found.member_id != ctx.member_id:
        raise CommandError("That import is not yours, or no longer there.")
    if found.status == ImportStatus.done:
        return Reply().add("Already imported: ", bold(found.filename), ".")
    return Reply().add("That import was cancelled; send the file again to import it.")


def imports(ctx: Context, args: Args) -> Reply:
    """Your latest imports, with Undo (for a day) and the rows left out of each.

    /imports

    Managers and admins see the team's.
    """
    if args.words or args.options or args.tags:
        raise UsageError("/imports takes nothing.")
    manager = ctx.role.rank >= Role.manager.rank
    found = recent_imports(
        ctx.session, team_id=ctx.team_id, member_id=None if manager else ctx.member_id
    )
    if not found:
        return Reply().add("No imports yet. ", code("/import"), " tells how.")
    reply = Reply().heading("Latest imports")
    for done in found:
        undone = ""
        change = (
            get_change(ctx.session, team_id=ctx.team_id, change_id=done.change_id)
            if done.change_id
            else None
        )
        if change is not None and change.undone_at is not None:
            undone = " · undone"
        reply.item(
            bold(done.filename),
            f" (#{done.id}): {done.added:,} added, {done.updated:,} filled in, "
            f"{counted(done.deals, 'deal')}, {done.rejected:,} left out{undone}",
        )
        buttons = []
        if change is not None and change.undone_at is None and done.member_id == ctx.member_id:
            buttons.append(Button(f"Undo #{done.id}", UNDO_IMPORT_BUTTON, (done.id or 0,)))
        if done.rejects:
            buttons.append(Button(f"Rejects #{done.id}", REJECTS_BUTTON, (done.id or 0,)))
        reply.button_row(*buttons)
    return reply


REJECTS_BUTTON = "ir"


def press_rejects(ctx: Context, args: tuple[str, ...]) -> Reply:
    done = import_file(ctx.session, team_id=ctx.team_id, import_id=_id(args))
    if done is None or not done.rejects or not _may_see(ctx, done):
        raise CommandError("Those rows are no longer there.")
    reply = Reply().add(f"The rows of {done.filename} I left out:")
    reply.attachments.append(_rejects_attachment(done))
    return reply


def press_undo_import(ctx: Context, args: tuple[str, ...]) -> Reply:
    done = import_file(ctx.session, team_id=ctx.team_id, import_id=_id(args))
    if done is None or done.change_id is None or done.member_id != ctx.member_id:
        raise CommandError("Only who made an import can undo it.")
    change = get_change(ctx.session, team_id=ctx.team_id, change_id=done.change_id)
    if change is None:
        raise CommandError("That import is too old to undo.")
    return undo_with_window(ctx, change, IMPORT_UNDO_WINDOW)


def _may_see(ctx: Context, done: ImportFile) -> bool:
    return done.member_id == ctx.member_id or ctx.role.rank >= Role.manager.rank


def _id(args: tuple[str, ...]) -> int:
    if len(args) != 1 or not args[0].isdigit():
        raise CommandError("That button is no longer valid.")
    return int(args[0])


def register(registry: Registry) -> None:
    registry.command("import", start_import)
    registry.command("imports", imports)
    registry.event("file", file_sent)
    registry.button(IMPORT_BUTTON, press_import)
    registry.button(CANCEL_BUTTON, press_cancel)
    registry.button(UNDO_IMPORT_BUTTON, press_undo_import)
    registry.button(REJECTS_BUTTON, press_rejects)
