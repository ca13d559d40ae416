"""The member's desk (Slack's App Home, and /home anywhere): their open deals and, for
managers and admins, the team's pipeline by stage."""

from __future__ import annotations

from collections.abc import Sequence

from handlers.board import board_link
from handlers.cards import deal_amount, is_rotting
from handlers.context import Context
from handlers.errors import UsageError
from handlers.format import day, deal_ref, money
from handlers.grammar import Args
from handlers.registry import Registry
from handlers.reply import Button, Reply, bold
from storage.deals import StageTotal, list_deals, stage_totals
from storage.models import Platform, Role, Stage, StageKind
from storage.teams import team_stages

MY_DEALS = 15


def home(ctx: Context, args: Args) -> Reply:
    """Your desk: your open deals and, for managers and admins, the team pipeline by stage.

    /home

    In Slack this is the app's Home tab, with a button that opens the pipeline board.
    """
    if args.raw.strip():
        raise UsageError("/home takes no arguments.")
    stages = [s for s in team_stages(ctx.session, team_id=ctx.team_id) if s.kind == StageKind.open]
    reply = Reply()
    _my_deals(ctx, reply, stages)
    if ctx.role.rank >= Role.manager.rank:
        _pipeline(ctx, reply, stages)
    if ctx.request.platform == Platform.slack:
        # Slack's Home tab is where a laptop user looks first: the board, one click away.
        reply.button_row(Button("Open board", "", url=board_link(ctx)))
    return reply


def _my_deals(ctx: Context, reply: Reply, stages: Sequence[Stage]) -> None:
    stage_ids = [s.id for s in stages if s.id is not None]
    count = sum(
        total.deals
        for total in stage_totals(
            ctx.session, team_id=ctx.team_id, stage_ids=stage_ids, owner_id=ctx.member_id
        )
    )
    reply.heading(f"Your open deals ({count})")
    if not count:
        reply.add("You have no open deals. Open one with /deal.")
        return
    by_id = {s.id: s for s in stages}
    today = ctx.now.astimezone(ctx.tz).date()
    deals = list_deals(
        ctx.session,
        team_id=ctx.team_id,
        stage_ids=stage_ids,
        owner_id=ctx.member_id,
        limit=MY_DEALS,
    )
    for deal in deals:
        stage = by_id[deal.stage_id]
        details = [deal_amount(ctx, deal), stage.name]
        if deal.expected_close:
            details.append(f"closes {day(deal.expected_close, today=today)}")
        if is_rotting(deal, stage, ctx.now):
            details.append("rotting")
        reply.item(bold(deal.title), f" ({deal_ref(deal)}) · ", " · ".join(details))
    if count > len(deals):
        reply.muted(f"and {count - len(deals)} more: /deals mine")


def _pipeline(ctx: Context, reply: Reply, stages: Sequence[Stage]) -> None:
    totals = stage_totals(
        ctx.session, team_id=ctx.team_id, stage_ids=[s.id for s in stages if s.id is not None]
    )
    reply.heading("Team pipeline")
    for stage in stages:
        rows = [total for total in totals if total.stage_id == stage.id]
        reply.item(bold(stage.name), f" · {_summary(ctx, rows)}")
    reply.muted(f"All open deals: {_summary(ctx, totals)}")


def _summary(ctx: Context, rows: Sequence[StageTotal]) -> str:
    """`3 deals · €12,000 + $5,000`, values per currency, never converted."""
    assert ctx.team is not None
    count = sum(row.deals for row in rows)
    values: dict[str, int] = {}
    for row in rows:
        if row.currency is not None:
            values[row.currency] = values.get(row.currency, 0) + row.amount
    text = f"{count} deal{'s' if count != 1 else ''}"
    if values:
        text += " · " + " + ".join(
            money(amount, currency, ctx.team.locale) for currency, amount in sorted(values.items())
        )
    return text


def register(registry: Registry) -> None:
    registry.command("home", home, aliases=("desk",), writes=False)
