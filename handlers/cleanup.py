"""Clean-up: /delete a contact or a deal (archived, /undo or an admin's Restore brings it
back), /merge two contacts or two companies after a preview, /forget a person on request
(admins, with a confirmation; not undoable, since nothing of them may remain)."""

from __future__ import annotations

from handlers.context import Context
from handlers.errors import CommandError, Forbidden, UsageError
from handlers.format import contact_ref, counted, deal_ref
from handlers.grammar import Args
from handlers.places import cache_key, place_query
from handlers.refs import CONTACT, DEAL, resolve
from handlers.registry import Registry
from handlers.reply import Button, Reply, bold
from handlers.scoring import rescore
from storage import cleanup as store
from storage.contacts import company_named, get_company, get_contact
from storage.models import Company, Contact, Deal, Erasure, Role

MERGE_BUTTON, RESTORE_BUTTON, FORGET_BUTTON, CANCEL_BUTTON = "mg", "rs", "fg", "cx"
MERGE_COMPANIES_BUTTON, RESTORE_DEAL_BUTTON = "mco", "rsd"


def delete(ctx: Context, args: Args) -> Reply:
    """Delete (archive) a contact or a deal; /undo brings it back.

    /delete CONTACT · /delete DEAL

    It leaves lists, search and the pipeline's figures. Reps delete their own contacts
    and deals, managers and admins anyone's. Admins see deleted records with /deleted, and
    can restore them from there.
    """
    record, _ = resolve(ctx, args.words, (CONTACT, DEAL), whole=True)
    _may_change(ctx, record)
    record.archived = True
    record.updated_at = ctx.now
    ctx.session.add(record)
    ctx.session.flush()
    cancelled = store.cancel_reminders(ctx.session, record=record, now=ctx.now)
    name, ref = _named(record)
    ctx.change_label = f"deleted {name} ({ref})"
    reply = Reply().add("Deleted ", bold(name), f" ({ref}).")
    if cancelled:
        reply.add(f"{counted(cancelled, 'reminder')} about it cancelled; /undo brings them back.")
    if isinstance(record, Deal) and record.contact_id is not None:
        # Its contact's score counted it among the open deals.
        rescore(ctx.session, team_id=ctx.team_id, contact_ids=[record.contact_id], now=ctx.now)
    return reply


def deleted(ctx: Context, args: Args) -> Reply:
    """The deleted contacts and deals, latest first, each with a Restore button (admins).

    /deleted
    """
    if args.words or args.options or args.tags:
        raise UsageError("/deleted takes nothing.")
    contacts = store.archived(ctx.session, Contact, team_id=ctx.team_id)
    deals = store.archived(ctx.session, Deal, team_id=ctx.team_id)
    if not contacts and not deals:
        return Reply().add("No deleted contacts or deals.")
    reply = Reply()
    if contacts:
        reply.heading("Deleted contacts")
        for contact in contacts:
            reply.item(bold(contact.name), f" ({contact_ref(contact)})")
    if deals:
        reply.heading("Deleted deals")
        for deal in deals:
            reply.item(bold(deal.title), f" ({deal_ref(deal)})")
    for contact in contacts[:6]:
        reply.button_row(
            Button(f"Restore {contact_ref(contact)}", RESTORE_BUTTON, (contact.id or 0,))
        )
    for deal in deals[:6]:
        reply.button_row(Button(f"Restore {deal_ref(deal)}", RESTORE_DEAL_BUTTON, (deal.id or 0,)))
    return reply


def press_restore(ctx: Context, args: tuple[str, ...]) -> Reply:
    contact = store.get_archived(ctx.session, Contact, team_id=ctx.team_id, record_id=_id(args, 0))
    if contact is None or contact.name.startswith("erased c"):
        raise CommandError("That contact is not deleted (any more).")
    return _restore(ctx, contact)


def press_restore_deal(ctx: Context, args: tuple[str, ...]) -> Reply:
    deal = store.get_archived(ctx.session, Deal, team_id=ctx.team_id, record_id=_id(args, 0))
    if deal is None:
        raise CommandError("That deal is not deleted (any more).")
    reply = _restore(ctx, deal)
    if deal.contact_id is not None:
        rescore(ctx.session, team_id=ctx.team_id, contact_ids=[deal.contact_id], now=ctx.now)
    return reply


def _restore(ctx: Context, record: Contact | Deal) -> Reply:
    record.archived = False
    record.updated_at = ctx.now
    ctx.session.add(record)
    ctx.session.flush()
    name, ref = _named(record)
    ctx.change_label = f"restored {name} ({ref})"
    return Reply(edit=True).add("Restored ", bold(name), f" ({ref}).")


# The word between two contacts that says the first goes into the second.
_INTO = frozenset({"into", "->", "→"})


def merge(ctx: Context, args: Args) -> Reply:
    """Merge two contacts, or two companies, into the first.

    /merge CONTACT CONTACT · /merge CONTACT into CONTACT · /merge companies COMPANY, COMPANY

    Contacts: the second's deals, activities, reminders and tags move to the first, the
    first's empty fields are filled from the second, and the second is deleted; with
    "into", the first moves into the second (/merge Greta Lindh into Greta Lind).
    Companies (managers and admins): the second's contacts and deals move to the first,
    its empty fields are filled, and the second is removed.
    Examples: /merge c12 c31 · /merge companies Acme GmbH, ACME. You get a preview with
    Merge and Cancel first; /undo takes a merge back. Give contacts by id, or by names
    that fit one contact each; companies by their names.
    """
    if args.words and args.words[0].casefold() in ("company", "companies"):
        return _merge_companies(ctx, args)
    words = args.words
    lowered = [word.casefold() for word in words]
    if (into := next((i for i, w in enumerate(lowered) if w in _INTO and i > 0), None)) is None:
        keep, used = resolve(ctx, words, (CONTACT,))
        other, _ = resolve(ctx, words[used:], (CONTACT,), whole=True)
    else:  # `/merge Greta Lindh into Greta Lind`: the second is kept
        other, _ = resolve(ctx, words[:into], (CONTACT,), whole=True)
        keep, _ = resolve(ctx, words[into + 1 :], (CONTACT,), whole=True)
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
    _filled(reply, keep, other, ("email", "phone", "title", "city", "country"))
    reply.item(f"{contact_ref(other)} is deleted; its deals, activities, reminders and tags move.")
    return reply.button_row(
        Button("Merge", MERGE_BUTTON, (keep.id or 0, other.id or 0)),
        Button("Cancel", CANCEL_BUTTON),
    )


def _merge_companies(ctx: Context, args: Args) -> Reply:
    # A company is everyone's: merging one moves teammates' contacts too.
    ctx.require(Role.manager, "merge companies")
    keep, other = _two_companies(ctx, args.text_after(1))
    contacts, deals = store.company_counts(ctx.session, company_id=other.id or 0)
    reply = Reply().add("Merge company ", bold(other.name), " into ", bold(keep.name), "?")
    _filled(reply, keep, other, ("domain", "address", "city", "country"))
    reply.item(
        f"{counted(contacts, 'contact')} and {counted(deals, 'deal')} "
        f"move to {keep.name}; {other.name} is removed."
    )
    return reply.button_row(
        Button("Merge", MERGE_COMPANIES_BUTTON, (keep.id or 0, other.id or 0)),
        Button("Cancel", CANCEL_BUTTON),
    )


def _two_companies(ctx: Context, text: str) -> tuple[Company, Company]:
    """Two companies' names, kept one first, split at the comma that leaves a company on
    each side (a name may hold a comma itself: "Acme, Inc.")."""
    parts = text.split(",")
    for cut in range(1, len(parts)):
        first, second = ",".join(parts[:cut]).strip(), ",".join(parts[cut:]).strip()
        if not first or not second:
            continue
        keep = company_named(ctx.session, team_id=ctx.team_id, name=first)
        other = company_named(ctx.session, team_id=ctx.team_id, name=second)
        if keep is not None and other is not None:
            if keep.id == other.id:
                raise UsageError("That is the same company twice.")
            return keep, other
    if len(parts) < 2:
        raise UsageError(
            "Give two companies' names with a comma between them: "
            "/merge companies Acme GmbH, ACME. The first is kept."
        )
    unknown = [
        name
        for name in (p.strip() for p in parts)
        if name and company_named(ctx.session, team_id=ctx.team_id, name=name) is None
    ]
    raise CommandError(
        f"No company is named “{unknown[0] if unknown else text.strip()}”. "
        "/find shows the companies' names."
    )


def _filled(
    reply: Reply, keep: Contact | Company, other: Contact | Company, fields: tuple[str, ...]
) -> None:
    filled = [
        f"{field}: {getattr(other, field)}"
        for field in fields
        if getattr(keep, field) is None and getattr(other, field) is not None
    ]
    if filled:
        reply.item("filled in: ", ", ".join(filled))


def press_merge(ctx: Context, args: tuple[str, ...]) -> Reply:
    keep = get_contact(ctx.session, team_id=ctx.team_id, contact_id=_id(args, 0))
    other = get_contact(ctx.session, team_id=ctx.team_id, contact_id=_id(args, 1))
    if keep is None or other is None:
        raise CommandError("One of those contacts is no longer there; nothing was merged.")
    if keep.id == other.id:  # the button's data is the client's: checked as /merge does
        raise UsageError("That is the same contact twice.")
    _may_change(ctx, keep)
    _may_change(ctx, other)
    store.merge_contacts(ctx.session, keep=keep, other=other, now=ctx.now)
    rescore(ctx.session, team_id=ctx.team_id, contact_ids=[keep.id], now=ctx.now)
    ctx.change_label = f"merged {other.name} into {keep.name} ({contact_ref(keep)})"
    return Reply(edit=True).add(
        "Merged ", bold(other.name), " into ", bold(keep.name), f" ({contact_ref(keep)})."
    )


def press_merge_companies(ctx: Context, args: tuple[str, ...]) -> Reply:
    ctx.require(Role.manager, "merge companies")
    keep = get_company(ctx.session, team_id=ctx.team_id, company_id=_id(args, 0))
    other = get_company(ctx.session, team_id=ctx.team_id, company_id=_id(args, 1))
    if keep is None or other is None:
        raise CommandError("One of those companies is no longer there; nothing was merged.")
    if keep.id == other.id:
        raise UsageError("That is the same company twice.")
    store.merge_companies(ctx.session, keep=keep, other=other)
    ctx.change_label = f"merged company {other.name} into {keep.name}"
    return Reply(edit=True).add("Merged ", bold(other.name), " into ", bold(keep.name), ".")


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


def _may_change(ctx: Context, record: Contact | Deal) -> None:
    if not ctx.can_change_owned(record.owner_id):
        raise Forbidden(
            f"{_named(record)[0]} belongs to a teammate; only they or a manager can change it."
        )


def _named(record: Contact | Deal) -> tuple[str, str]:
    if isinstance(record, Contact):
        return record.name, contact_ref(record)
    return record.title, deal_ref(record)


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
    registry.button(RESTORE_DEAL_BUTTON, press_restore_deal, role=Role.admin, undoable=True)
    registry.button(MERGE_BUTTON, press_merge, undoable=True)
    registry.button(MERGE_COMPANIES_BUTTON, press_merge_companies, undoable=True)
    registry.button(FORGET_BUTTON, press_forget, role=Role.admin)
    registry.button(CANCEL_BUTTON, press_cancel)
