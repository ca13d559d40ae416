"""Clean-up writes: archived contacts and deals, merging two contacts or two companies,
erasing a person on request.

Merging and archiving go through the ORM, row by row, so the undo journal sees them.
Erasing must not be journaled (the journal would keep what it erases) and takes the
person's data out of every table that holds it: the contact's fields, the texts of
activities and reminders about them or naming them, messages waiting in the outbox, the
geocoding cache entry made from their address, the stored rows of imports, commands
waiting for a button, and the undo journal's copies. Their deals stay, as figures.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete, func, or_, update
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from storage.journal import journal_rows
from storage.models import (
    Activity,
    Change,
    ChangeRow,
    Company,
    Contact,
    ContactTag,
    Deal,
    GeocodeCache,
    ImportFile,
    Outbox,
    OutboxStatus,
    PendingCommand,
    Reminder,
    ReminderStatus,
)
from storage.outbox import delete_pending
from storage.reminders import OPEN, save_reminder

ERASED = "(erased)"


Archivable = TypeVar("Archivable", Contact, Deal)


def archived(
    session: Session, model: type[Archivable], *, team_id: int, limit: int = 20
) -> list[Archivable]:
    """The team's deleted contacts or deals, latest first."""
    return list(
        session.exec(
            select(model)
            .where(model.team_id == team_id, col(model.archived).is_(True))
            .order_by(col(model.updated_at).desc())
            .limit(limit)
        )
    )


def get_archived(
    session: Session, model: type[Archivable], *, team_id: int, record_id: int
) -> Archivable | None:
    found = session.get(model, record_id)
    return found if found and found.team_id == team_id and found.archived else None


def cancel_reminders(session: Session, *, record: Contact | Deal, now: datetime) -> int:
    """A deleted record's open reminders (delivered or not, but not done): cancelled, their
    undelivered messages withdrawn, through the ORM so that /undo puts both back; returns
    how many."""
    query = select(Reminder).where(
        Reminder.team_id == record.team_id, col(Reminder.status).in_(OPEN)
    )
    if isinstance(record, Contact):  # a reminder about one of its deals goes with the deal
        query = query.where(Reminder.contact_id == record.id, col(Reminder.deal_id).is_(None))
    else:
        query = query.where(Reminder.deal_id == record.id)
    reminders = session.exec(query).all()
    for reminder in reminders:
        assert reminder.id is not None
        delete_pending(session, reminder_id=reminder.id)
        reminder.status = ReminderStatus.cancelled
        save_reminder(session, reminder=reminder, now=now)
    return len(reminders)


COMPANY_FIELDS = ("domain", "address", "city", "country", "lat", "lon", "geocoded_from")


def company_counts(session: Session, *, company_id: int) -> tuple[int, int]:
    """How many contacts and deals name the company (archived ones too: they move as well)."""
    contacts = session.exec(
        select(func.count()).select_from(Contact).where(Contact.company_id == company_id)
    ).one()
    deals = session.exec(
        select(func.count()).select_from(Deal).where(Deal.company_id == company_id)
    ).one()
    return contacts, deals


def merge_companies(session: Session, *, keep: Company, other: Company) -> None:
    """Move every contact and deal of `other` to `keep`, fill `keep`'s empty fields from
    it, and remove it (the undo journal keeps it, so /undo puts it back)."""
    assert keep.id is not None and other.id is not None
    for model in (Contact, Deal):
        for row in session.exec(select(model).where(model.company_id == other.id)):
            row.company_id = keep.id
            session.add(row)
    for field in COMPANY_FIELDS:
        if getattr(keep, field) is None and getattr(other, field) is not None:
            setattr(keep, field, getattr(other, field))
    session.add(keep)
    # The references leave it before it goes: a flush of both at once may order the
    # delete first.
    session.flush()
    session.delete(other)
    session.flush()


def merge_contacts(session: Session, *, keep: Contact, other: Contact, now: datetime) -> None:
    """Move `other`'s deals, activities, reminders and tags to `keep`, fill `keep`'s empty
    fields from it, and archive it."""
    assert keep.id is not None and other.id is not None
    for model in (Deal, Activity, Reminder):
        for row in session.exec(select(model).where(model.contact_id == other.id)):
            row.contact_id = keep.id
            session.add(row)
    have = set(session.exec(select(ContactTag.tag_id).where(ContactTag.contact_id == keep.id)))
    for link in session.exec(select(ContactTag).where(ContactTag.contact_id == other.id)):
        if link.tag_id not in have:
            session.add(ContactTag(contact_id=keep.id, tag_id=link.tag_id))
        session.delete(link)
    for field in (
        "email",
        "phone",
        "title",
        "company_id",
        "address",
        "city",
        "city_key",
        "country",
        "source",
        "lat",
        "lon",
        "geocoded_from",
    ):
        if getattr(keep, field) is None and getattr(other, field) is not None:
            setattr(keep, field, getattr(other, field))
    if other.last_activity_at and (
        keep.last_activity_at is None or keep.last_activity_at < other.last_activity_at
    ):
        keep.last_activity_at = other.last_activity_at
    keep.updated_at = other.updated_at = now
    other.archived = True
    session.add(keep)
    session.add(other)
    session.flush()


def erase_contact(
    session: Session, *, team_id: int, contact: Contact, place_key: str | None
) -> None:
    """Take the person's data out of every table (see the module's doc). `place_key` is
    the geocoding cache's key of their address, if they had one."""
    assert contact.id is not None
    traces = [t for t in (contact.name, contact.email, contact.phone) if t and len(t) >= 3]
    deal_ids = list(session.exec(select(Deal.id).where(Deal.contact_id == contact.id)))
    # Their deals' titles that name them ("Quixote website") are renamed, and looked for
    # wherever the person is (an announcement of the deal's win names it).
    words = [w.casefold() for w in contact.name.split() if len(w) >= 4]
    for deal in session.exec(select(Deal).where(col(Deal.id).in_(deal_ids))):
        if any(w in deal.title.casefold() for w in words):
            traces.append(deal.title)
            deal.title = deal.title_key = f"deal d{deal.id}"
            session.add(deal)
    mentions = [col(Activity.text).contains(t, autoescape=True) for t in traces]
    session.execute(
        update(Activity)
        .where(
            col(Activity.team_id) == team_id,
            or_(
                col(Activity.contact_id) == contact.id,
                col(Activity.deal_id).in_(deal_ids),
                *mentions,
            ),
        )
        .values(text=None)
    )
    session.execute(
        update(Reminder)
        .where(
            col(Reminder.team_id) == team_id,
            or_(
                col(Reminder.contact_id) == contact.id,
                col(Reminder.deal_id).in_(deal_ids),
                *[col(Reminder.text).contains(t, autoescape=True) for t in traces],
            ),
        )
        .values(text=ERASED, status=ReminderStatus.cancelled)
    )
    _erase_outbox(session, team_id=team_id, traces=traces)
    if place_key:
        session.execute(delete(GeocodeCache).where(col(GeocodeCache.query) == place_key))
    _erase_imports(session, team_id=team_id, traces=traces)
    session.execute(
        delete(PendingCommand).where(
            col(PendingCommand.team_id) == team_id,
            or_(*[col(PendingCommand.text).contains(t, autoescape=True) for t in traces]),
        )
    )
    _erase_journal(session, team_id=team_id, contact_id=contact.id, traces=traces)
    for field in (
        "email",
        "phone",
        "title",
        "address",
        "city",
        "city_key",
        "country",
        "source",
        "lat",
        "lon",
        "geocoded_from",
    ):
        setattr(contact, field, None)
    contact.name = contact.name_key = f"erased c{contact.id}"
    contact.geocode_pending = False
    contact.archived = True
    session.add(contact)
    session.flush()


def _mentions(text: str, traces: Sequence[str]) -> bool:
    folded = text.casefold()
    return any(t.casefold() in folded for t in traces)


def _erase_outbox(session: Session, *, team_id: int, traces: Sequence[str]) -> None:
    """Messages naming the person: withdrawn while they wait, emptied once sent."""
    for row in session.exec(select(Outbox).where(Outbox.team_id == team_id)):
        if not _mentions(json.dumps(row.payload, ensure_ascii=False), traces):
            continue
        if row.status in (OutboxStatus.pending, OutboxStatus.failed):
            session.delete(row)
        else:
            row.payload = {}
            session.add(row)


def _erase_imports(session: Session, *, team_id: int, traces: Sequence[str]) -> None:
    """Rows of imports naming the person: out of the stored rejects; a file still waiting
    for its Import button is dropped whole."""
    for done in session.exec(select(ImportFile).where(ImportFile.team_id == team_id)):
        if done.content and _mentions(done.content.decode("utf-8", "replace"), traces):
            done.content = b""
            done.status = "cancelled"
        if done.rejects and _mentions(done.rejects.decode("utf-8-sig", "replace"), traces):
            rows = list(csv.reader(io.StringIO(done.rejects.decode("utf-8-sig"))))
            out = io.StringIO()
            csv.writer(out).writerows(
                [rows[0], *(r for r in rows[1:] if not _mentions(",".join(r), traces))]
            )
            done.rejects = b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")
        session.add(done)


def _erase_journal(
    session: Session, *, team_id: int, contact_id: int, traces: Sequence[str]
) -> None:
    """Changes that hold the person's data (their rows' values before and after): gone,
    with their rows. They can no longer be undone, which is the point."""
    changes = list(session.exec(select(Change.id).where(Change.team_id == team_id)))
    doomed: set[int] = set()
    for start in range(0, len(changes), 500):
        chunk = changes[start : start + 500]
        for change_id, table, *stored in session.execute(
            select_columns(
                col(ChangeRow.change_id),
                col(ChangeRow.table_name),
                col(ChangeRow.row_key),
                col(ChangeRow.before),
                col(ChangeRow.after),
            ).where(col(ChangeRow.change_id).in_(chunk))
        ):
            for row_key, before, after in journal_rows(table, *stored):
                values = {**(before or {}), **(after or {})}
                if (
                    (table == "contact" and row_key.get("id") == contact_id)
                    or values.get("contact_id") == contact_id
                    or _mentions(json.dumps(values, ensure_ascii=False), traces)
                ):
                    doomed.add(change_id)
                    break
    if doomed:
        session.execute(
            update(ImportFile).where(col(ImportFile.change_id).in_(doomed)).values(change_id=None)
        )
        session.execute(delete(ChangeRow).where(col(ChangeRow.change_id).in_(doomed)))
        session.execute(delete(Change).where(col(Change.id).in_(doomed)))
