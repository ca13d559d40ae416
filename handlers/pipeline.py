"""Pipeline summaries for managers: /pipeline (per stage, with a chart) and /stats.

The definitions, which the tests pin figure by figure:

- open pipeline: deals now in an open stage, created before the period's end;
- value: the exact sum of amounts, per currency (never added across currencies); deals
  with no amount count as deals but add no value;
- weighted value: amount × the stage's probability / 100, summed exactly per currency and
  rounded once, half up, to the currency's minor unit;
- won / lost in the period: deals now in a won / lost stage whose closed_at is in
  [start, end) (a reopened deal has no closed_at);
- win rate: won / (won + lost), counting deals closed in the period;
- conversion from a stage: of the deals that left it in the period (StageChange history),
  the share that moved forward: to a later open stage (skipping is forward too) or won;
  moving back or to lost is not converting;
- days in a stage: the average length of the stays in it that ended in the period (from
  the change that entered the stage to the change that left it);
- average won deal: per currency, the won amount / the won deals with an amount;
- cycle time: the average of created -> closed over the deals won in the period;
- rotting: open deals with no activity for longer than their stage's rot days;
- forecast: the weighted value of open deals by expected close month, this month and the
  next two, plus the overdue ones (expected before this month, still open).

Periods are read in the asking member's timezone (handlers/periods.py). Everything comes
from SQL aggregates (storage/reports.py); this module only adds up their few rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import partial

from handlers.cards import member_names, rotting_cutoffs
from handlers.charts import Bar, Funnel, Panel, funnel_png
from handlers.context import Context
from handlers.errors import UsageError
from handlers.format import money
from handlers.grammar import Args
from handlers.periods import Period, parse_period
from handlers.refs import resolve_member
from handlers.registry import Registry
from handlers.reply import Attachment, Reply, bold
from storage import reports
from storage.models import Member, Role, Stage, StageKind
from storage.teams import team_stages

PIPELINE_PERIOD, STATS_PERIOD = "this month", "this quarter"
FORECAST_MONTHS = 3
MAX_CHART_CURRENCIES = 3
_ME, _TEAM = ("me", "mine", "my", "myself"), ("team", "everyone", "all-team")
Sums = dict[str, int]  # currency -> minor units (or hundredths of them, for weighted sums)


@dataclass(frozen=True)
class Scope:
    """Whose deals: one member's, or the whole team's (member None)."""

    member: Member | None
    name: str
    note: str | None = None

    @property
    def owner_id(self) -> int | None:
        return self.member.id if self.member is not None else None


@dataclass
class StageLine:
    stage: Stage
    count: int = 0
    priced: int = 0  # deals with an amount
    value: Sums = field(default_factory=dict)
    weighted: Sums = field(default_factory=dict)  # hundredths of minor units: exact


@dataclass
class Closed:
    count: int = 0
    priced: Sums = field(default_factory=dict)  # deals with an amount, per currency
    value: Sums = field(default_factory=dict)
    seconds: float = 0.0  # total created -> closed


@dataclass
class RepLine:
    won: Closed = field(default_factory=Closed)
    lost: int = 0
    open_value: Sums = field(default_factory=dict)


def pipeline(ctx: Context, args: Args) -> Reply:
    """The pipeline per stage: deals, value and weighted value; won, lost and rotting.

    /pipeline [me | team | @member] [PERIOD]

    PERIOD (default: this month): this month, last quarter, 2026, Q3 2026, september,
    last 30 days, since 2026-09-01, 2026-09-01 to 2026-10-15. Open deals are those in an
    open stage now (created by the period's end); won and lost are those closed in the
    period. Reps see their own pipeline, managers and admins the team's. A chart comes
    with it.
    """
    assert ctx.team is not None
    scope, period = _scope_and_period(ctx, args, PIPELINE_PERIOD)
    stages = team_stages(ctx.session, team_id=ctx.team_id)
    lines = _stage_lines(ctx, stages, scope, period)
    closed = _closed_by_kind(ctx, stages, scope, period)
    rotting = reports.rotting_count(
        ctx.session,
        team_id=ctx.team_id,
        cutoffs=rotting_cutoffs(stages, ctx.now),
        created_before=period.end,
        owner_id=scope.owner_id,
    )
    title = f"Pipeline · {scope.name}"
    reply = Reply()
    if scope.note:
        reply.muted(scope.note)
    reply.heading(title, f" · {period.label}")
    for line in lines:
        reply.item(bold(line.stage.name), ": ", _deals_and_value(ctx, line))
    total = _total(lines)
    reply.add(bold("Open: "), _deals_and_value(ctx, total))
    won, lost = closed[StageKind.won], closed[StageKind.lost]
    reply.add(bold(f"Won in {period.label}: "), _count(won.count), _and_value(ctx, won.value))
    reply.add(bold(f"Lost in {period.label}: "), _count(lost.count), _and_value(ctx, lost.value))
    if rotting:
        reply.add(bold("Rotting: "), f"{_count(rotting)} with no recent activity (/deals rotting)")
    unpriced = total.count - total.priced
    notes = ["Weighted: amount × the stage's probability."]
    if unpriced:
        notes.insert(0, f"{_count(unpriced)} without an amount.")
    reply.muted(" ".join(notes))
    funnel = _funnel(ctx, title, period, lines, won)
    caption = f"{title} · {period.label}"
    reply.deferred.append(partial(_chart, funnel, f"pipeline-{period.slug}.png", caption))
    return reply


def stats(ctx: Context, args: Args) -> Reply:
    """Win rate, conversion, deal size, cycle time, time in stage, per rep, forecast.

    /stats [PERIOD] [@member]

    PERIOD (default: this quarter) as for /pipeline. Reps see their own figures, managers
    and admins the team's with a line per rep. Conversion counts the deals that left each
    stage in the period and how many moved forward; the forecast is the weighted value of
    open deals by expected close month.
    """
    assert ctx.team is not None
    scope, period = _scope_and_period(ctx, args, STATS_PERIOD)
    stages = team_stages(ctx.session, team_id=ctx.team_id)
    kinds = {stage.id: StageKind(stage.kind) for stage in stages}
    closed_rows = reports.closed_groups(
        ctx.session,
        team_id=ctx.team_id,
        start=period.start,
        end=period.end,
        owner_id=scope.owner_id,
    )
    won, lost = Closed(), Closed()
    for row in closed_rows:
        _add_closed(won if kinds.get(row.stage_id) == StageKind.won else lost, row)
    reply = Reply()
    if scope.note:
        reply.muted(scope.note)
    reply.heading(f"Stats · {scope.name}", f" · {period.label}")
    reply.add(bold("Win rate: "), _win_rate(won.count, lost.count))
    reply.add(bold("Average won deal: "), _averages(ctx, won) or "no won deals with an amount")
    reply.add(bold("Cycle time: "), _cycle(won))
    _conversion_and_time(ctx, reply, stages, scope, period)
    if scope.member is None:
        _per_rep(ctx, reply, stages, closed_rows, period)
    _forecast(ctx, reply, stages, scope)
    return reply


# --- who and when --------------------------------------------------------------------------


def _scope_and_period(ctx: Context, args: Args, default_period: str) -> tuple[Scope, Period]:
    if args.tags or args.options:
        raise UsageError("Name a teammate with @, e.g. @bob, and a period, e.g. last quarter.")
    asked: str | None = None
    rest: list[str] = []
    for word in args.words:
        lowered = word.lower()
        if asked is None and (lowered in _ME or lowered in _TEAM or word.startswith("@")):
            asked = word
        else:
            rest.append(word)
    period = parse_period(" ".join(rest) or default_period, tz=ctx.tz, now=ctx.now)
    return _scope(ctx, asked), period


def _scope(ctx: Context, asked: str | None) -> Scope:
    manager = ctx.role.rank >= Role.manager.rank
    mine = Scope(ctx.me, ctx.me.name)
    lowered = (asked or "").lower()
    if lowered in _ME:
        return mine
    if asked is None or lowered in _TEAM:
        if manager:
            return Scope(None, "team")
        if asked is None:
            return mine
        return Scope(
            ctx.me, ctx.me.name, "Team figures are for managers and admins; here are yours."
        )
    member = resolve_member(ctx, asked)
    if member.id == ctx.member_id:
        return mine
    if not manager:
        return Scope(
            ctx.me,
            ctx.me.name,
            "A teammate's figures are for managers and admins; here are yours.",
        )
    return Scope(member, member.name)


# --- /pipeline -----------------------------------------------------------------------------


def _stage_lines(
    ctx: Context, stages: Sequence[Stage], scope: Scope, period: Period
) -> list[StageLine]:
    lines = {
        stage.id: StageLine(stage)
        for stage in stages
        if stage.kind == StageKind.open and stage.id is not None
    }
    rows = reports.open_groups(
        ctx.session,
        team_id=ctx.team_id,
        stage_ids=[stage_id for stage_id in lines if stage_id is not None],
        created_before=period.end,
        owner_id=scope.owner_id,
    )
    for row in rows:
        line = lines[row.stage_id]
        line.count += row.count
        if row.currency is not None:
            line.priced += row.count
            _add(line.value, row.currency, row.amount)
            _add(line.weighted, row.currency, row.amount * line.stage.probability)
    return list(lines.values())


def _closed_by_kind(
    ctx: Context, stages: Sequence[Stage], scope: Scope, period: Period
) -> dict[StageKind, Closed]:
    kinds = {stage.id: StageKind(stage.kind) for stage in stages}
    closed = {StageKind.won: Closed(), StageKind.lost: Closed()}
    for row in reports.closed_groups(
        ctx.session,
        team_id=ctx.team_id,
        start=period.start,
        end=period.end,
        owner_id=scope.owner_id,
    ):
        kind = kinds.get(row.stage_id)
        if kind in closed:
            _add_closed(closed[kind], row)
    return closed


def _total(lines: Iterable[StageLine]) -> StageLine:
    total = StageLine(Stage(name="Open", position=0, probability=0, team_id=0))
    for line in lines:
        total.count += line.count
        total.priced += line.priced
        for currency, amount in line.value.items():
            _add(total.value, currency, amount)
        for currency, amount in line.weighted.items():
            _add(total.weighted, currency, amount)
    return total


def _deals_and_value(ctx: Context, line: StageLine) -> str:
    text = _count(line.count)
    if line.value:
        text += f" · {_sums(ctx, line.value)} · weighted {_sums(ctx, _rounded(line.weighted))}"
    return text


def _and_value(ctx: Context, value: Sums) -> str:
    return f" · {_sums(ctx, value)}" if value else ""


def _funnel(
    ctx: Context, title: str, period: Period, lines: Sequence[StageLine], won: Closed
) -> Funnel:
    """The chart's data: a panel per currency (the team's first), by deal count when no
    deal has an amount."""
    currencies = _ordered(ctx, {c for line in lines for c in line.value} | set(won.value))
    panels: list[Panel] = []
    for currency in currencies[:MAX_CHART_CURRENCIES]:
        bars = [
            Bar(
                line.stage.name,
                _count(line.count),
                _figures(ctx, line.value.get(currency), line.weighted.get(currency), currency),
                line.value.get(currency, 0),
                _round(line.weighted.get(currency, 0)),
            )
            for line in lines
        ]
        bars.append(
            Bar(
                "Won",
                _count(won.count),
                money(won.value.get(currency, 0), currency, _locale(ctx)),
                won.value.get(currency, 0),
                won=True,
            )
        )
        panels.append(Panel(f"Value in {currency}", tuple(bars)))
    if not panels:
        bars = [Bar(line.stage.name, _count(line.count), "", line.count) for line in lines]
        bars.append(Bar("Won", _count(won.count), "", won.count, won=True))
        panels.append(Panel("Deals (no amounts yet)", tuple(bars)))
    left_out = currencies[MAX_CHART_CURRENCIES:]
    footer = "Light: value · dark: weighted by stage probability"
    if left_out:
        footer += f" · not drawn: {', '.join(left_out)}"
    return Funnel(title, f"Open now · won in {period.label}", tuple(panels), footer)


def _figures(ctx: Context, value: int | None, weighted: int | None, currency: str) -> str:
    if not value:
        return "—"
    locale = _locale(ctx)
    return (
        f"{money(value, currency, locale)} · w. {money(_round(weighted or 0), currency, locale)}"
    )


def _chart(funnel: Funnel, filename: str, caption: str) -> Attachment:
    return Attachment(filename, funnel_png(funnel), "image/png", caption)


# --- /stats --------------------------------------------------------------------------------


def _add_closed(closed: Closed, row: reports.ClosedGroup) -> None:
    closed.count += row.count
    closed.seconds += row.cycle_seconds
    if row.currency is not None and row.priced:
        _add(closed.priced, row.currency, row.priced)
        _add(closed.value, row.currency, row.amount)


def _win_rate(won: int, lost: int) -> str:
    if not won + lost:
        return "no deals closed"
    return f"{_percent(won, won + lost)} ({won} won, {lost} lost)"


def _averages(ctx: Context, won: Closed) -> str:
    return " · ".join(
        f"{money(_divide(won.value[c], won.priced[c]), c, _locale(ctx))} ({won.priced[c]})"
        for c in _ordered(ctx, won.value)
    )


def _cycle(won: Closed) -> str:
    if not won.count:
        return "no deals won"
    return f"{_days(won.seconds / won.count)} from created to won ({won.count} deals)"


def _conversion_and_time(
    ctx: Context, reply: Reply, stages: Sequence[Stage], scope: Scope, period: Period
) -> None:
    moves = reports.stage_moves(
        ctx.session,
        team_id=ctx.team_id,
        stage_ids=[s.id for s in stages if s.id is not None],
        start=period.start,
        end=period.end,
        owner_id=scope.owner_id,
    )
    by_id = {stage.id: stage for stage in stages}
    open_stages = [s for s in stages if s.kind == StageKind.open]
    left: dict[int, int] = defaultdict(int)
    onward: dict[int, int] = defaultdict(int)
    stays: dict[int, tuple[int, float]] = defaultdict(lambda: (0, 0.0))
    for move in moves:
        source, target = by_id.get(move.from_stage_id), by_id.get(move.to_stage_id)
        if source is None or target is None:
            continue
        left[move.from_stage_id] += move.count
        if _forward(source, target):
            onward[move.from_stage_id] += move.count
        count, seconds = stays[move.from_stage_id]
        stays[move.from_stage_id] = (count + move.timed, seconds + move.seconds)
    reply.add(bold("Conversion"), " (of the deals that left each stage, those moving on)")
    for i, stage in enumerate(open_stages):
        following = open_stages[i + 1].name if i + 1 < len(open_stages) else _won_name(stages)
        out, on = left.get(stage.id or 0, 0), onward.get(stage.id or 0, 0)
        rate = f"{_percent(on, out)} ({on} of {out})" if out else "no deal left it"
        reply.item(f"{stage.name} → {following}: ", rate)
    reply.add(bold("Days in stage"), " (stays that ended in the period)")
    for stage in open_stages:
        count, seconds = stays.get(stage.id or 0, (0, 0.0))
        reply.item(
            f"{stage.name}: ", f"{_days(seconds / count)} ({count})" if count else "no stays"
        )


def _forward(source: Stage, target: Stage) -> bool:
    if target.kind == StageKind.won:
        return True
    return target.kind == StageKind.open and target.position > source.position


def _won_name(stages: Sequence[Stage]) -> str:
    return next((s.name for s in stages if s.kind == StageKind.won), "won")


def _per_rep(
    ctx: Context,
    reply: Reply,
    stages: Sequence[Stage],
    closed_rows: Sequence[reports.ClosedGroup],
    period: Period,
) -> None:
    kinds = {stage.id: StageKind(stage.kind) for stage in stages}
    reps: dict[int, RepLine] = defaultdict(RepLine)
    for row in closed_rows:
        if kinds.get(row.stage_id) == StageKind.won:
            _add_closed(reps[row.owner_id].won, row)
        else:
            reps[row.owner_id].lost += row.count
    open_ids = [s.id for s in stages if s.kind == StageKind.open and s.id is not None]
    for group in reports.open_groups(
        ctx.session, team_id=ctx.team_id, stage_ids=open_ids, created_before=period.end
    ):
        if group.currency is not None:
            _add(reps[group.owner_id].open_value, group.currency, group.amount)
    names = member_names(ctx)
    reply.add(bold("Per rep"))
    if not reps:
        reply.item("No deals yet.")
    ranked = sorted(reps.items(), key=lambda item: (-item[1].won.count, names.get(item[0], "")))
    for owner_id, rep in ranked:
        won = rep.won.count
        reply.item(
            bold(names.get(owner_id, "?")),
            f": won {won}",
            _and_value(ctx, rep.won.value),
            f" · open {_sums(ctx, rep.open_value) if rep.open_value else 'none'}",
            f" · win rate {_percent(won, won + rep.lost)}" if won + rep.lost else "",
        )


def _forecast(ctx: Context, reply: Reply, stages: Sequence[Stage], scope: Scope) -> None:
    today = ctx.now.astimezone(ctx.tz).date()
    firsts = _month_starts(today, FORECAST_MONTHS + 1)
    probability = {stage.id: stage.probability for stage in stages}
    buckets: dict[int, Sums] = defaultdict(dict)
    for group in reports.forecast_groups(
        ctx.session,
        team_id=ctx.team_id,
        stage_ids=[s.id for s in stages if s.kind == StageKind.open and s.id is not None],
        month_starts=firsts,
        owner_id=scope.owner_id,
    ):
        weighted = group.amount * probability.get(group.stage_id, 0)
        _add(buckets[group.bucket], group.currency, weighted)
    reply.add(bold("Forecast"), " (weighted open value by expected close)")
    if buckets.get(0):
        reply.item(f"Overdue (before {firsts[0]:%B}): ", _sums(ctx, _rounded(buckets[0])))
    for i, first in enumerate(firsts[:-1], 1):
        value = buckets.get(i)
        reply.item(f"{first:%B %Y}: ", _sums(ctx, _rounded(value)) if value else "nothing")


def _month_starts(today: date, count: int) -> list[date]:
    firsts = [today.replace(day=1)]
    while len(firsts) < count:
        firsts.append((firsts[-1] + timedelta(days=32)).replace(day=1))
    return firsts


# --- arithmetic and wording ----------------------------------------------------------------


def _add(sums: Sums, currency: str, amount: int) -> None:
    sums[currency] = sums.get(currency, 0) + amount


def _round(hundredths: int) -> int:
    """Hundredths of a minor unit to minor units, half up (weighted = amount × % / 100)."""
    return _divide(hundredths, 100)


def _divide(total: int, count: int) -> int:
    return int((Decimal(total) / count).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _rounded(sums: Mapping[str, int]) -> Sums:
    return {currency: _round(amount) for currency, amount in sums.items()}


def _ordered(ctx: Context, currencies: Iterable[str]) -> list[str]:
    """The team's currency first, then the others alphabetically."""
    assert ctx.team is not None
    home = ctx.team.currency
    return sorted(set(currencies), key=lambda c: (c != home, c))


def _sums(ctx: Context, sums: Mapping[str, int]) -> str:
    return " + ".join(money(sums[c], c, _locale(ctx)) for c in _ordered(ctx, sums))


def _locale(ctx: Context) -> str:
    assert ctx.team is not None
    return ctx.team.locale


def _count(count: int) -> str:
    return f"{count} deal{'' if count == 1 else 's'}"


def _percent(part: int, whole: int) -> str:
    """One decimal, rounded half up as a spreadsheet does, without a trailing .0: 62.5%."""
    rate = (Decimal(100 * part) / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{str(rate).removesuffix('.0')}%"


def _days(seconds: float) -> str:
    return f"{seconds / 86400:.1f} days"


def register(registry: Registry) -> None:
    registry.command("pipeline", pipeline)
    registry.command("stats", stats)
