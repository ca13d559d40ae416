"""What a change answers: a compact confirmation that a phone shows without scrolling.

It says what was stored, field by field, under the names the fields are typed with
(`company:`, `city:`), so a misread is visible at once and fixed with /edit; the full
card, with the score and its reasons, stays on /show. Buttons: Open (the card), and on a
deal the stages to move it on to; the dispatcher adds Undo in front (handlers/undo.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from handlers.cards import (
    SHOW_BUTTON,
    deal_amount,
    deal_parties,
    member_names,
    phone_display,
    stage_buttons,
)
from handlers.context import Context
from handlers.format import contact_ref, day, deal_ref, map_url
from handlers.reply import Button, Reply, SpanLike, bold, italic, link
from storage.contacts import TagTarget, get_company, tags_of
from storage.models import Contact, Deal
from storage.teams import StageRow, stage_of, stage_rows

Fields = dict[str, str]


def contact_fields(
    ctx: Context, contact: Contact, *, tagged: Sequence[str] | None = None
) -> Fields:
    """The contact's stored fields, as shown (empty ones left out); `tagged`: see
    `_tags`."""
    company = (
        get_company(ctx.session, team_id=ctx.team_id, company_id=contact.company_id)
        if contact.company_id
        else None
    )
    owner = member_names(ctx, [contact.owner_id]).get(contact.owner_id or 0)
    tags = _tags(ctx, "contact", contact.id, tagged) if contact.id is not None else []
    fields = {
        "name": contact.name,
        "company": company.name if company else "",
        "title": contact.title or "",
        "phone": phone_display(contact.phone) if contact.phone else "",
        "email": contact.email or "",
        "addr": contact.address or "",
        "city": contact.city or "",
        "country": contact.country or "",
        "status": contact.status,
        "source": contact.source or "",
        "owner": owner or "",
        "tags": " ".join(f"#{tag}" for tag in tags),
    }
    return {key: value for key, value in fields.items() if value}


def deal_fields(ctx: Context, deal: Deal, *, tagged: Sequence[str] | None = None) -> Fields:
    """The deal's stored fields, as shown; a missing amount or contact says so. `tagged`:
    see `_tags`."""
    contact, company = deal_parties(ctx, deal)
    stage = _stage(ctx, deal)
    tags = _tags(ctx, "deal", deal.id or 0, tagged)
    today = ctx.now.astimezone(ctx.tz).date()
    fields = {
        "title": deal.title,
        "amount": deal_amount(ctx, deal) if deal.amount is not None else "none",
        "contact": f"{contact.name} ({contact_ref(contact)})" if contact else "none",
        "company": company.name if company else "",
        "stage": f"{stage.name} ({stage.probability}%)",
        "close": day(deal.expected_close, today=today) if deal.expected_close else "",
        "owner": member_names(ctx, [deal.owner_id]).get(deal.owner_id, ""),
        "tags": " ".join(f"#{tag}" for tag in tags),
    }
    return {key: value for key, value in fields.items() if value}


def _tags(
    ctx: Context, target: TagTarget, record_id: int, tagged: Sequence[str] | None
) -> list[str]:
    """The record's tags as shown, alphabetically. `tagged`: the tags a record this command
    inserted was given, the only ones it has; used as they are when there is at most one
    (more are read: the database's collation orders them, and PostgreSQL's need not be
    Python's)."""
    if tagged is not None and len(tagged) <= 1:
        return list(tagged)
    return tags_of(ctx.session, team_id=ctx.team_id, target=target, ids=[record_id]).get(
        record_id, []
    )


def contact_added(ctx: Context, contact: Contact, *, tagged: Sequence[str]) -> Reply:
    """`Added Jane Doe (c3)`, then each field stored; `tagged`: the tags it was given."""
    fields = contact_fields(ctx, contact, tagged=tagged)
    reply = _made(ctx, "Added", contact.name, contact_ref(contact), fields, contact.owner_id)
    place = [key for key in ("addr", "city", "country") if key in fields]
    for key, value in fields.items():
        if key == "name":
            continue
        line: list[SpanLike] = [f"{key}: ", bold(value)]
        if place and key == place[-1] and contact.lat is not None and contact.lon is not None:
            line += [" · ", link("map", map_url(contact.lat, contact.lon))]
        reply.add(*line)
    return reply.button_row(_open(contact_ref(contact)))


def edited(ctx: Context, record: Contact | Deal, before: Fields) -> Reply:
    """`Updated Jane Doe (c3)`, then each field that changed, with what it was (`before`:
    the record's fields before the edit)."""
    if isinstance(record, Contact):
        name, ref, after = record.name, contact_ref(record), contact_fields(ctx, record)
    else:
        name, ref, after = record.title, deal_ref(record), deal_fields(ctx, record)
    ctx.change_label = f"edited {name} ({ref})"
    reply = Reply().add("Updated ", bold(name), f" ({ref})")
    return _changes(reply, before, after).button_row(_open(ref))


def deal_opened(ctx: Context, deal: Deal, *, tagged: Sequence[str]) -> Reply:
    """`Opened Website (d7)`, each field stored, and the stages to move it on to;
    `tagged`: the tags it was given."""
    fields = deal_fields(ctx, deal, tagged=tagged)
    reply = _made(ctx, "Opened", deal.title, deal_ref(deal), fields, deal.owner_id)
    for key, value in fields.items():
        if key != "title":
            reply.add(f"{key}: ", bold(value))
    if deal.contact_id is None:
        reply.muted(f"Name its contact with /edit {deal_ref(deal)} contact:NAME")
    return _deal_buttons(ctx, reply, deal)


def deal_moved(ctx: Context, deal: Deal, was: StageRow, note: str) -> Reply:
    """`Moved to Proposal.`, the deal, its stage and what it was, and where it can go
    next (the buttons replace this message: a rep taps on through the pipeline)."""
    stage = _stage(ctx, deal)
    ctx.change_label = f"moved {deal.title} ({deal_ref(deal)}) to {stage.name}"
    reply = Reply().add(note)
    reply.add(bold(deal.title), f" ({deal_ref(deal)}) · {deal_amount(ctx, deal)}")
    reply.add("stage: ", bold(f"{stage.name} ({stage.probability}%)"), f", was {was.name}")
    if deal.lost_reason:
        reply.add("reason: ", bold(deal.lost_reason))
    return _deal_buttons(ctx, reply, deal)


def deal_unmoved(ctx: Context, deal: Deal) -> Reply:
    """A move to the stage the deal is in: nothing changes."""
    stage = _stage(ctx, deal)
    reply = Reply().add(bold(deal.title), f" ({deal_ref(deal)}) is already in {stage.name}.")
    return _deal_buttons(ctx, reply, deal)


def _made(
    ctx: Context, verb: str, name: str, ref: str, fields: Fields, owner_id: int | None
) -> Reply:
    """`Added Jane Doe (c3)`, the change named so for /undo; the owner is left out of
    `fields` when it is the sender."""
    ctx.change_label = f"{verb.lower()} {name} ({ref})"
    if owner_id == ctx.member_id:
        fields.pop("owner", None)
    return Reply().add(f"{verb} ", bold(name), f" ({ref})")


def _deal_buttons(ctx: Context, reply: Reply, deal: Deal) -> Reply:
    reply.button_row(_open(deal_ref(deal)))
    if ctx.can_change_owned(deal.owner_id):
        reply.buttons.extend(stage_buttons(deal, stage_rows(ctx.session, team_id=ctx.team_id)))
    return reply


def _changes(reply: Reply, before: Fields, after: Fields) -> Reply:
    changed = [
        key for key in dict.fromkeys([*after, *before]) if before.get(key) != after.get(key)
    ]
    if not changed:
        return reply.add("Nothing changed: it already was so.")
    for key in changed:
        now = after.get(key)
        was = before.get(key)
        reply.add(
            f"{key}: ",
            bold(now) if now else italic("none"),
            f", was {was}" if was else "",
        )
    return reply


def _stage(ctx: Context, deal: Deal) -> StageRow:
    return stage_of(stage_rows(ctx.session, team_id=ctx.team_id), deal.stage_id)


def _open(ref: str) -> Button:
    return Button(f"Open {ref}", SHOW_BUTTON, (ref,))
