"""The contact and deal cards (/show, and the answer to most changes), activity lines and
the stage buttons."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import phonenumbers

from handlers.context import Context
from handlers.format import ago, contact_ref, day, deal_ref, map_url, money
from handlers.grammar import phone_number
from handlers.reply import Button, Reply, Span, SpanLike, bold, italic, link
from handlers.scoring import card_figures, score_reasons
from storage import teams
from storage.activities import ActivityRow, timeline
from storage.contacts import get_company, get_contact, tags_of
from storage.deals import open_deals_of, party_names
from storage.models import ActivityKind, Company, Contact, Deal, Stage, StageKind
from storage.scoring import contact_tag_points
from storage.teams import StageRow, stage_of, stage_rows

STAGE_BUTTON = "st"
SHOW_BUTTON = "sh"
# A deal named in a message to a channel opens for whoever asks, never for the whole
# channel: Slack shows the card to the one who pressed Open; Telegram turns the button and
# `crm:d42` links into links to the private chat with the bot (`/start d42`,
# bot/telegram_render.py). Elsewhere such a link is its plain text.
OPEN_BUTTON = "op"
DEEP_LINK = "crm:"
_VERBS = {
    ActivityKind.note: "noted on",
    ActivityKind.call: "called",
    ActivityKind.meeting: "met",
    ActivityKind.visit: "visited",
    ActivityKind.email: "e-mailed",
    ActivityKind.created: "added",
    ActivityKind.edited: "edited",
    ActivityKind.stage: "moved",
    ActivityKind.won: "won",
    ActivityKind.lost: "lost",
    ActivityKind.tagged: "tagged",
    ActivityKind.untagged: "untagged",
    ActivityKind.joined: "joined the team",
}


def member_names(ctx: Context, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    me = ctx.member
    if wanted and me is not None and me.id is not None and wanted == {me.id}:
        # Only the sender, whom the message has loaded (the owner of what they just
        # added or opened): no read.
        return {me.id: me.name}
    return teams.member_names(ctx.session, team_id=ctx.team_id, ids=wanted)


def phone_display(phone: str) -> str:
    try:
        number = phone_number(phone)
    except phonenumbers.NumberParseException:
        return phone
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def is_rotting(deal: Deal, stage: Stage | StageRow, now: datetime) -> bool:
    return (
        stage.kind == StageKind.open
        and stage.rot_days > 0
        and deal.last_activity_at < now - timedelta(days=stage.rot_days)
    )


def rotting_cutoffs(stages: Sequence[Stage], now: datetime) -> dict[int, datetime]:
    """Per open stage, the last-activity time before which a deal in it is rotting."""
    return {
        stage.id: now - timedelta(days=stage.rot_days)
        for stage in stages
        if stage.id is not None and stage.kind == StageKind.open and stage.rot_days > 0
    }


def deal_amount(ctx: Context, deal: Deal) -> str:
    assert ctx.team is not None
    return money(deal.amount, deal.currency, ctx.team.locale)


def contact_card(ctx: Context, contact: Contact) -> Reply:
    assert contact.id is not None and ctx.team is not None
    activities = timeline(ctx.session, team_id=ctx.team_id, contact_id=contact.id)
    names = member_names(ctx, [contact.owner_id, *(a.member_id for a in activities)])
    reply = Reply().heading(contact.name, f"  ({contact_ref(contact)})")
    # Read before the figures, whose scoring rules then take the open stages from them.
    stages = stage_rows(ctx.session, team_id=ctx.team_id)
    figures = card_figures(ctx, contact)
    role_line = " at ".join(part for part in (contact.title, figures.company) if part)
    if role_line:
        reply.add(role_line)
    reach: list[SpanLike] = []
    if contact.phone:
        reach.append(link(phone_display(contact.phone), f"tel:{contact.phone}"))
    if contact.email:
        reach.append(link(contact.email, f"mailto:{contact.email}"))
    if reach:
        reply.add(*_joined(reach))
    place = ", ".join(part for part in (contact.address, contact.city, contact.country) if part)
    if place and contact.lat is not None and contact.lon is not None:
        reply.add(place, " · ", link("map", map_url(contact.lat, contact.lon)))
    elif place:
        reply.add(place)
    if contact.geocode_pending:
        reply.muted("Not on the map yet: the map service did not answer; retrying later.")
    tagged = contact_tag_points(ctx.session, team_id=ctx.team_id, contact_id=contact.id)
    tags = [tag.name for tag in tagged]
    # The score as of now and the parts it adds up to (what /leads sorts by is stored, and
    # at most READ_REFRESH behind).
    reasons = score_reasons(ctx, contact, tagged, figures)
    why = ", ".join(f"{reason} {points:+d}" for reason, points in reasons)
    owner = names.get(contact.owner_id or 0, "nobody")
    score = sum(points for _, points in reasons)
    reply.add(f"Status {contact.status} · owner {owner} · score {score}")
    if why:
        reply.muted(f"Score: {why}")
    if tags:
        reply.add("Tags: ", " ".join(f"#{tag}" for tag in tags))
    reply.add(f"Last activity: {ago(contact.last_activity_at, ctx.now)}")
    deals = open_deals_of(ctx.session, team_id=ctx.team_id, contact_id=contact.id, limit=5)
    if deals:
        by_id = {s.id: s for s in stages}
        reply.add(bold("Open deals"))
        for deal in deals:
            stage = by_id[deal.stage_id]
            reply.item(
                deal.title, f" — {deal_amount(ctx, deal)} · {stage.name} ({deal_ref(deal)})"
            )
        reply.button_row(
            *(
                Button(f"Open {deal_ref(deal)}", SHOW_BUTTON, (deal_ref(deal),))
                for deal in deals[:3]
            )
        )
    _latest(ctx, reply, activities, names)
    return reply


def open_button(deal: Deal) -> Button:
    return Button("Open", OPEN_BUTTON, (deal_ref(deal),))


def deal_link(deal: Deal) -> Span:
    """The deal's reference (`d42`), as a link that opens it where the platform can."""
    return link(deal_ref(deal), DEEP_LINK + deal_ref(deal))


def start_parameter(button: Button) -> str | None:
    """What `/start` gets when the button is a link to the private chat (`d42`), or None
    for an ordinary button."""
    return str(button.args[0]) if button.action == OPEN_BUTTON and button.args else None


def deal_card(ctx: Context, deal: Deal, *, note: str | None = None) -> Reply:
    assert deal.id is not None and ctx.team is not None
    activities = timeline(ctx.session, team_id=ctx.team_id, deal_id=deal.id)
    names = member_names(ctx, [deal.owner_id, *(a.member_id for a in activities)])
    stages = stage_rows(ctx.session, team_id=ctx.team_id)
    stage = stage_of(stages, deal.stage_id)
    reply = Reply()
    if note:
        reply.add(note)
    reply.heading(deal.title, f"  ({deal_ref(deal)})")
    reply.add(
        f"{deal_amount(ctx, deal)} · {stage.name} ({stage.probability}%) · owner "
        f"{names.get(deal.owner_id, '?')}"
    )
    contact, company = party_names(
        ctx.session, team_id=ctx.team_id, contact_id=deal.contact_id, company_id=deal.company_id
    )
    who = [f"{contact} ({contact_ref(deal.contact_id or 0)})"] if contact else []
    if company:
        who.append(company)
    reply.add("Contact: ", " · ".join(who) if who else italic("none"))
    today = ctx.now.astimezone(ctx.tz).date()
    if deal.expected_close:
        reply.add(f"Expected close: {day(deal.expected_close, today=today)}")
    if deal.closed_at:
        reply.add(
            f"Closed {ago(deal.closed_at, ctx.now)}"
            + (f": {deal.lost_reason}" if deal.lost_reason else "")
        )
    tags = tags_of(ctx.session, team_id=ctx.team_id, target="deal", ids=[deal.id]).get(deal.id, [])
    if tags:
        reply.add("Tags: ", " ".join(f"#{tag}" for tag in tags))
    if is_rotting(deal, stage, ctx.now):
        reply.add(bold("Rotting:"), f" no activity since {ago(deal.last_activity_at, ctx.now)}")
    _latest(ctx, reply, activities, names)
    if ctx.can_change_owned(deal.owner_id):
        reply.buttons.extend(stage_buttons(deal, stages))
    return reply


def deal_parties(ctx: Context, deal: Deal) -> tuple[Contact | None, Company | None]:
    """The deal's contact and company, each None when it has none."""
    contact = (
        get_contact(ctx.session, team_id=ctx.team_id, contact_id=deal.contact_id)
        if deal.contact_id
        else None
    )
    company = (
        get_company(ctx.session, team_id=ctx.team_id, company_id=deal.company_id)
        if deal.company_id
        else None
    )
    return contact, company


def stage_buttons(deal: Deal, stages: Sequence[Stage | StageRow]) -> list[list[Button]]:
    """Buttons for every stage but the current one: open stages first, then won / lost."""
    assert deal.id is not None
    others = [s for s in stages if s.id != deal.stage_id]
    open_row = [
        Button(s.name, STAGE_BUTTON, (deal.id, s.id or 0))
        for s in others
        if s.kind == StageKind.open
    ]
    close_row = [
        Button(s.name, STAGE_BUTTON, (deal.id, s.id or 0))
        for s in others
        if s.kind != StageKind.open
    ]
    rows = [open_row[i : i + 3] for i in range(0, len(open_row), 3)]
    return [row for row in (*rows, close_row) if row]


def activity_line(
    activity: ActivityRow, names: dict[int, str], subject: str | None, now: datetime
) -> list[str]:
    """`2 hours ago · Bob called Jane Doe: asked for a quote`."""
    who = names.get(activity.member_id or 0, "Someone")
    verb = _VERBS.get(ActivityKind(activity.kind), activity.kind)
    if not subject:
        verb = verb.removesuffix(" on")  # on the card of what it is about: `Bob noted: …`
    parts = [f"{ago(activity.at, now)} · {who} {verb}"]
    if subject and activity.kind != ActivityKind.joined:
        parts.append(f" {subject}")
    if activity.kind == ActivityKind.stage and activity.text:
        parts.append(f" to {activity.text}")
    elif activity.text:
        parts.append(f": {_short(activity.text)}")
    return parts


def _latest(
    ctx: Context, reply: Reply, activities: Sequence[ActivityRow], names: dict[int, str]
) -> None:
    if not activities:
        return
    reply.add(bold("Latest"))
    for activity in activities:
        reply.item(*activity_line(activity, names, None, ctx.now))


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _joined(parts: Sequence[SpanLike]) -> list[SpanLike]:
    out: list[SpanLike] = []
    for i, part in enumerate(parts):
        if i:
            out.append(" · ")
        out.append(part)
    return out
