"""Clean-up: /delete a contact (archived, /undo or an admin's Restore brings it back),
/merge two contacts after a preview, /forget a person on request (admins, with a
confirmation; not undoable, since nothing of them may remain)."""

from __future__ import annotations

from handlers.context import Context
from handlers.errors import CommandError, Forbidden, UsageError
from handlers.format import contact_ref
from handlers.grammar import Args
from handlers.places import cache_key, place_query
from handlers.refs import CONTACT, DEAL, resolve
from handlers.registry import Registry
from handlers.reply import Button, Reply, bold
from handlers.scoring import rescore
from storage import cleanup as store
from storage.contacts import get_contact
from storage.models import Contact, Erasure, Role

MERGE_BUTTON, RESTORE_BUTTON, FORGET_BUTTON, CANCEL_BUTTON = "mg", "rs", "fg", "cx"


def delete(ctx: Context, args: Args) -> Reply:
    """Delete (archive) a contact: gone from lists, search and reports; /undo brings it back.

    /delete CONTACT

    Reps delete their own contacts, managers and admins anyone's. Admins see deleted
    contacts with /deleted, and can restore them from there.
    """
    record, _ = resolve(ctx, args.words, (CONTACT, DEAL), whole=True)
    if not isinstance(record, Contact):
        raise UsageError(
            f"Deals are closed, not deleted: /lost d{record.id} takes {record.title} out of "
            "the open pipeline."
        )
    _may_change(ctx, record)
    record.archived = True
    record.updated_at = ctx.now
    ctx.session.add(record)
    ctx.session.flush()
    ctx.change_label = f"deleted {record.name} ({contact_ref(record)})"
    return Reply().add("Deleted ", bold(record.name), f" ({contact_ref(record)}).")


def deleted(ctx: Context, args: Args) -> Reply:
    """The deleted contacts, latest first, each with a Restore button (admins).

    /deleted
    """
    if args.words or args.options or args.tags:
        raise UsageError("/deleted takes nothing.")
    found = store.archived_contacts(ctx.session, team_id=ctx.team_id)
    if not found:
        return Reply().add("No deleted contacts.")
    reply = Reply().heading("Deleted contacts")
    for contact in found:
        reply.item(bold(contact.name), f" ({contact_ref(contact)})")
    for contact in found[:6]:
        reply.button_row(
            Button(f"Restore {contact_ref(contact)}", RESTORE_BUTTON, (contact.id or 0,))
        )
    return reply


def press_restore(ctx: Context, args: tuple[str, ...]) -> Reply:
    contact = store.archived_contact(ctx.session, team_id=ctx.team_id, contact_id=_id(args, 0))
    if contact is None or contact.name.startswith("erased c"):
        raise CommandError("That contact is not deleted (any more).")
    contact.archived = False
    contact.updated_at = ctx.now
    ctx.session.add(contact)
    ctx.session.flush()
    ctx.change_label = f"restored {contact.name} ({contact_ref(contact)})"
    return Reply(edit=True).add("Restored ", bold(contact.name), f" ({contact_ref(contact)}).")


def merge(ctx: Context, args: Args) -> Reply:
    """Merge two contacts into the first: the second's records move to it.

    /merge CONTACT CONTACT

    The second's deals, activities, reminders and tags move to the first, the first's
    empty fields are filled from the second, and the second is deleted.
    Example: /merge c12 c31. You get a preview with Merge and Cancel first. Give the
    contacts by id, or by names that fit one contact each.
    """
    keep, used = resolve(ctx, args.words, (CONTACT,))
    other, _ = resolve(ctx, args.words[used:], (CONTACT,), whole=True)
    assert isinstance(keep, Contact) and isinstance(other, Contact)
    if keep.id == other.id:
        raise UsageError("That is the same contact twice.")
    _may_change(ctx, keep)
    _may_change(ctx, other)
    reply = Reply().add(
        "Merge ",
        bold(other.name),
        f" ({contact_ref(other)}) into ",
        bold(keep.name),
        f" ({contact_ref(keep)})?",
    )
    filled = [
        f"{field}: {getattr(other, field)}"
        for field in ("email", "phone", "title", "city", "country")
        if getattr(keep, field) is None and getattr(other, field) is not None
    ]
    if filled:
        reply.item("filled in: ", ", ".join(filled))
    reply.item(f"{contact_ref(other)} is deleted; its deals, activities, reminders and tags move.")
    return reply.button_row(
        Button("Merge", MERGE_BUTTON, (keep.id or 0, other.id or 0)),
        Button("Cancel", CANCEL_BUTTON),
    )


def press_merge(ctx: Context, args: tuple[str, ...]) -> Reply:
    keep = get_contact(ctx.session, team_id=ctx.team_id, contact_id=_id(args, 0))
    other = get_contact(ctx.session, team_id=ctx.team_id, contact_id=_id(args, 1))
    if keep is None or other is None:
        raise CommandError("One of those contacts is no longer there; nothing was merged.")
    _may_change(ctx, keep)
    _may_change(ctx, other)
    store.merge_contacts(ctx.session, keep=keep, other=other, now=ctx.now)
    rescore(ctx.session, team_id=ctx.team_id, contact_ids=[keep.id], now=ctx.now)
    ctx.change_label = f"merged {other.name} into {keep.name} ({contact_ref(keep)})"
    return Reply(edit=True).add(
        "Merged ", bold(other.name), " into ", bold(keep.name), f" ({contact_ref(keep)})."
    )


def press_cancel(ctx: Context, args: tuple[str, ...]) -> Reply:
    return Reply(edit=True).add("Cancelled; nothing was changed.")


def forget(ctx: Context, args: Args) -> Reply:
    """Erase a person on request: their data goes from every record (admins).

    /forget CONTACT

    Their contact card, the texts of activities and reminders about them, messages
    waiting to be sent, stored import rows and the undo history that held their data are
    erased; their deals stay as anonymous figures, so the pipeline's history adds up. A
    record says that an erasure happened, when and by whom. Asks first; cannot be undone.
    """
    record, _ = resolve(ctx, args.words, (CONTACT,), whole=True)
    assert isinstance(record, Contact)
    return (
        Reply()
        .add(bold(f"Erase {record.name} ({contact_ref(record)}) for good?"))
        .add("Their data goes from every record; their deals stay as figures. No undo.")
        .button_row(
            Button("Erase", FORGET_BUTTON, (record.id or 0,)), Button("Cancel", CANCEL_BUTTON)
        )
    )


def press_forget(ctx: Context, args: tuple[str, ...]) -> Reply:
    contact = ctx.session.get(Contact, _id(args, 0))
    if contact is None or contact.team_id != ctx.team_id or contact.name.startswith("erased c"):
        raise CommandError("That person is not here (any more).")
    place = place_query(contact)
    store.erase_contact(
        ctx.session,
        team_id=ctx.team_id,
        contact=contact,
        place_key=cache_key(place) if place else None,
    )
    ctx.session.add(
        Erasure(team_id=ctx.team_id, member_id=ctx.member_id, contact_id=contact.id, at=ctx.now)
    )
    ctx.session.flush()
    return Reply(edit=True).add(f"Erased: c{contact.id} holds nothing of the person any more.")


def _may_change(ctx: Context, contact: Contact) -> None:
    if not ctx.can_change_owned(contact.owner_id):
        raise Forbidden(
            f"{contact.name} belongs to a teammate; only they or a manager can change it."
        )


def _id(args: tuple[str, ...], index: int) -> int:
    if len(args) <= index or not args[index].isdigit():
        raise CommandError("That button is no longer valid.")
    return int(args[index])


def register(registry: Registry) -> None:
    registry.command("delete", delete, undoable=True, aliases=("archive",))
    registry.command("deleted", deleted, role=Role.admin)
    registry.command("merge", merge)
    registry.command("forget", forget, role=Role.admin)
    registry.button(RESTORE_BUTTON, press_restore, role=Role.admin, undoable=True)
    registry.button(MERGE_BUTTON, press_merge, undoable=True)
    registry.button(FORGET_BUTTON, press_forget, role=Role.admin)
    registry.button(CANCEL_BUTTON, press_cancel)
