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

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import partial

from babel.numbers import format_decimal

from handlers.cards import member_names, rotting_cutoffs
from handlers.charts import Bar, Funnel, Panel, draw_funnel
from handlers.context import Context
from handlers.errors import UsageError
from handlers.format import money, money_short
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
_ME, _TEAM = ("me", "mine", "my", "myself"), ("team", "everyone")
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
class Figures:
    """Some deals and their money, exact and per currency."""

    count: int = 0
    counts: Sums = field(default_factory=dict)  # deals with an amount, per currency
    value: Sums = field(default_factory=dict)
    weighted: Sums = field(default_factory=dict)  # hundredths of minor units

    @property
    def priced(self) -> int:
        return sum(self.counts.values())

    def add(
        self, count: int, currency: str | None, priced: int, amount: int, probability: int = 0
    ) -> None:
        self.count += count
        if currency is not None and priced:
            _add(self.counts, currency, priced)
            _add(self.value, currency, amount)
            _add(self.weighted, currency, amount * probability)

    def absorb(self, other: Figures) -> None:
        self.count += other.count
        for mine, theirs in (
            (self.counts, other.counts),
            (self.value, other.value),
            (self.weighted, other.weighted),
        ):
            for currency, amount in theirs.items():
                _add(mine, currency, amount)


@dataclass
class RepLine:
    won: Figures = field(default_factory=Figures)
    lost: int = 0
    open: Figures = field(default_factory=Figures)


def pipeline(ctx: Context, args: Args) -> Reply:
    """The pipeline per stage: deals, value and weighted value; won, lost and rotting.

    /pipeline [me | team | @member] [PERIOD]

    @member: a first name, or first_last when two share it.
    PERIOD (default: this month): this month, last quarter, 2026, Q3 2026, september,
    last 30 days, since 2026-09-01, 2026-09-01 to 2026-10-15. Open deals are those in an
    open stage now (created by the period's end); won and lost are those closed in the
    period. Reps see their own pipeline, managers and admins the team's. A chart comes
    with it.
    """
    scope, period = _scope_and_period(ctx, args, PIPELINE_PERIOD)
    stages = team_stages(ctx.session, team_id=ctx.team_id)
    lines = _open_figures(ctx, stages, scope, period)
    total = Figures()
    for _, figures in lines:
        total.absorb(figures)
    won, lost = _closed_by_kind(stages, _closed_rows(ctx, stages, scope, period, by_owner=False))
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
    for stage, figures in lines:
        reply.item(bold(stage.name), ": ", _deals_and_value(ctx, figures))
    reply.add(bold("Open: "), _deals_and_value(ctx, total))
    for closed, word in ((won, "Won"), (lost, "Lost")):
        reply.add(
            bold(f"{word} in {period.label}: "),
            _count(ctx, closed.count),
            _and_value(ctx, closed.value),
        )
    if rotting:
        reply.add(
            bold("Rotting: "), f"{_count(ctx, rotting)} with no recent activity (/deals rotting)"
        )
    notes = ["Weighted: amount × the stage's probability."]
    if unpriced := total.count - total.priced:
        notes.insert(0, f"{_count(ctx, unpriced)} without an amount.")
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
    scope, period = _scope_and_period(ctx, args, STATS_PERIOD)
    stages = team_stages(ctx.session, team_id=ctx.team_id)
    closed_rows = _closed_rows(ctx, stages, scope, period, by_owner=True)
    won, lost = _closed_by_kind(stages, closed_rows)
    won_ids = _ids(stages, StageKind.won)
    won_seconds = sum(row.cycle_seconds for row in closed_rows if row.stage_id in won_ids)
    reply = Reply()
    if scope.note:
        reply.muted(scope.note)
    reply.heading(f"Stats · {scope.name}", f" · {period.label}")
    reply.add(bold("Win rate: "), _win_rate(won.count, lost.count))
    reply.add(bold("Average won deal: "), _averages(ctx, won) or "no won deals with an amount")
    reply.add(bold("Cycle time: "), _cycle(ctx, won.count, won_seconds))
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
    period = parse_period(
        " ".join(rest) or default_period, tz=ctx.tz, now=ctx.now, locale=_locale(ctx)
    )
    return _scope(ctx, asked), period


def _scope(ctx: Context, asked: str | None) -> Scope:
    """Reps get their own figures whatever they ask for (with a note when they asked for
    more); managers and admins get the team's by default, or whose they name."""
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
        return replace(mine, note="Team figures are for managers and admins; here are yours.")
    # `@bob_smith` and `@bob.smith` name a teammate whose first name is not unique.
    member = resolve_member(ctx, re.sub(r"[_.]+", " ", asked))
    if member.id == ctx.member_id:
        return mine
    if not manager:
        return replace(
            mine, note="A teammate's figures are for managers and admins; here are yours."
        )
    return Scope(member, member.name)


# --- /pipeline -----------------------------------------------------------------------------


def _open_figures(
    ctx: Context, stages: Sequence[Stage], scope: Scope, period: Period
) -> list[tuple[Stage, Figures]]:
    """Per open stage, in pipeline order, the figures of the deals in it."""
    lines = {stage.id: (stage, Figures()) for stage in stages if stage.kind == StageKind.open}
    for row in reports.open_groups(
        ctx.session,
        team_id=ctx.team_id,
        stage_ids=_ids(stages, StageKind.open),
        created_before=period.end,
        owner_id=scope.owner_id,
        by_owner=False,
    ):
        stage, figures = lines[row.stage_id]
        figures.add(row.count, row.currency, row.priced, row.amount, stage.probability)
    return list(lines.values())


def _closed_rows(
    ctx: Context, stages: Sequence[Stage], scope: Scope, period: Period, *, by_owner: bool
) -> list[reports.DealGroup]:
    """The closed deals' groups; `by_owner` for a line per rep and the cycle times."""
    return reports.closed_groups(
        ctx.session,
        team_id=ctx.team_id,
        stage_ids=[s.id for s in stages if s.kind != StageKind.open and s.id is not None],
        start=period.start,
        end=period.end,
        now=ctx.now,
        owner_id=scope.owner_id,
        by_owner=by_owner,
    )


def _closed_by_kind(
    stages: Sequence[Stage], rows: Iterable[reports.DealGroup]
) -> tuple[Figures, Figures]:
    """Won and lost, from the closed deals' groups."""
    kinds = {stage.id: stage.kind for stage in stages}
    won, lost = Figures(), Figures()
    for row in rows:
        kind = kinds.get(row.stage_id)
        if kind in (StageKind.won, StageKind.lost):
            closed = won if kind == StageKind.won else lost
            closed.add(row.count, row.currency, row.priced, row.amount)
    return won, lost


def _deals_and_value(ctx: Context, figures: Figures) -> str:
    text = _count(ctx, figures.count)
    if figures.value:
        weighted = _sums(ctx, _rounded(figures.weighted))
        text += f" · {_sums(ctx, figures.value)} · weighted {weighted}"
    return text


def _and_value(ctx: Context, value: Sums) -> str:
    return f" · {_sums(ctx, value)}" if value else ""


def _funnel(
    ctx: Context,
    title: str,
    period: Period,
    lines: Sequence[tuple[Stage, Figures]],
    won: Figures,
) -> Funnel:
    """The chart's data: a panel per currency (the team's first) with the deals in that
    currency, or one panel by deal count when no deal has an amount."""
    currencies = _ordered(ctx, {c for _, f in lines for c in f.value} | set(won.value))
    locale = _locale(ctx)
    panels = [
        Panel(
            f"Value in {currency}",
            (
                *(
                    Bar(
                        stage.name,
                        _count(ctx, figures.counts.get(currency, 0)),
                        _chart_figures(figures, currency, locale),
                        figures.value.get(currency, 0),
                        _round(figures.weighted.get(currency, 0)),
                    )
                    for stage, figures in lines
                ),
                Bar(
                    "Won",
                    _count(ctx, won.counts.get(currency, 0)),
                    money_short(won.value.get(currency, 0), currency, locale),
                    won.value.get(currency, 0),
                    won=True,
                ),
            ),
        )
        for currency in currencies[:MAX_CHART_CURRENCIES]
    ]
    if not panels:
        bars = [Bar(s.name, _count(ctx, f.count), "", f.count) for s, f in lines]
        bars.append(Bar("Won", _count(ctx, won.count), "", won.count, won=True))
        panels.append(Panel("Deals (no amounts yet)", tuple(bars)))
    footer = "Light: value · dark: weighted by stage probability"
    if left_out := currencies[MAX_CHART_CURRENCIES:]:
        footer += f" · not drawn: {', '.join(left_out)}"
    return Funnel(title, f"Open now · won in {period.label}", tuple(panels), footer)


def _chart_figures(figures: Figures, currency: str, locale: str) -> str:
    value = figures.value.get(currency)
    if not value:
        return "—"
    weighted = money_short(_round(figures.weighted.get(currency, 0)), currency, locale)
    return f"{money_short(value, currency, locale)} · w. {weighted}"


def _chart(funnel: Funnel, filename: str, caption: str) -> Attachment:
    return Attachment(filename, draw_funnel(funnel), "image/png", caption)


# --- /stats --------------------------------------------------------------------------------


def _win_rate(won: int, lost: int) -> str:
    if not won + lost:
        return "no deals closed"
    return f"{_percent(won, won + lost)} ({won} won, {lost} lost)"


def _averages(ctx: Context, won: Figures) -> str:
    return " · ".join(
        f"{money(_divide(won.value[c], won.counts[c]), c, _locale(ctx))} ({won.counts[c]})"
        for c in _ordered(ctx, won.value)
    )


def _cycle(ctx: Context, count: int, seconds: float) -> str:
    if not count:
        return "no deals won"
    return f"{_days(seconds / count)} from created to won ({_count(ctx, count)})"


def _conversion_and_time(
    ctx: Context, reply: Reply, stages: Sequence[Stage], scope: Scope, period: Period
) -> None:
    moves = reports.stage_moves(
        ctx.session,
        team_id=ctx.team_id,
        start=period.start,
        end=period.end,
        now=ctx.now,
        owner_id=scope.owner_id,
    )
    by_id = {stage.id: stage for stage in stages}
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
    open_stages = [s for s in stages if s.kind == StageKind.open and s.id is not None]
    won_name = next((s.name for s in stages if s.kind == StageKind.won), "won")
    reply.add(bold("Conversion"), " (of the deals that left each stage, those moving on)")
    for i, stage in enumerate(open_stages):
        following = open_stages[i + 1].name if i + 1 < len(open_stages) else won_name
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
    """Won, or a later open stage: skipping stages is moving forward too."""
    if target.kind == StageKind.won:
        return True
    return target.kind == StageKind.open and target.position > source.position


def _per_rep(
    ctx: Context,
    reply: Reply,
    stages: Sequence[Stage],
    closed_rows: Sequence[reports.DealGroup],
    period: Period,
) -> None:
    kinds = {stage.id: stage.kind for stage in stages}
    reps: dict[int, RepLine] = defaultdict(RepLine)

    def line_of(group: reports.DealGroup) -> RepLine:
        assert group.owner_id is not None, "the groups here are by owner"
        return reps[group.owner_id]

    for row in closed_rows:
        if kinds.get(row.stage_id) == StageKind.won:
            line_of(row).won.add(row.count, row.currency, row.priced, row.amount)
        elif kinds.get(row.stage_id) == StageKind.lost:
            line_of(row).lost += row.count
    for group in reports.open_groups(
        ctx.session,
        team_id=ctx.team_id,
        stage_ids=_ids(stages, StageKind.open),
        created_before=period.end,
    ):
        line_of(group).open.add(group.count, group.currency, group.priced, group.amount)
    names = member_names(ctx, reps)
    reply.add(bold("Per rep"))
    if not reps:
        reply.item("No deals yet.")
    ranked = sorted(reps.items(), key=lambda item: (-item[1].won.count, names.get(item[0], "")))
    for owner_id, rep in ranked:
        won, closed = rep.won.count, rep.won.count + rep.lost
        reply.item(
            bold(names.get(owner_id, "?")),
            f": won {won}",
            _and_value(ctx, rep.won.value),
            f" · open {_sums(ctx, rep.open.value) if rep.open.value else 'none'}",
            f" · win rate {_percent(won, closed)}" if closed else "",
        )


def _forecast(ctx: Context, reply: Reply, stages: Sequence[Stage], scope: Scope) -> None:
    today = ctx.now.astimezone(ctx.tz).date()
    firsts = _month_starts(today, FORECAST_MONTHS + 1)
    probability = {stage.id: stage.probability for stage in stages}
    buckets: dict[int, Sums] = defaultdict(dict)
    for group in reports.forecast_groups(
        ctx.session,
        team_id=ctx.team_id,
        stage_ids=_ids(stages, StageKind.open),
        month_starts=firsts,
        owner_id=scope.owner_id,
    ):
        for bucket, amount in enumerate(group.buckets):
            if amount is not None:
                _add(buckets[bucket], group.currency, amount * probability[group.stage_id])
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


def _ids(stages: Iterable[Stage], kind: StageKind) -> list[int]:
    return [stage.id for stage in stages if stage.kind == kind and stage.id is not None]


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


def _count(ctx: Context, count: int) -> str:
    """`1 deal`, `15,778 deals` (digits grouped as the team's locale groups them)."""
    return f"{format_decimal(count, locale=_locale(ctx))} deal{'' if count == 1 else 's'}"


def _percent(part: int, whole: int) -> str:
    """One decimal, rounded half up as a spreadsheet does, without a trailing .0: 62.5%."""
    rate = (Decimal(100 * part) / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{str(rate).removesuffix('.0')}%"


def _days(seconds: float) -> str:
    return f"{seconds / 86400:.1f} days"


def register(registry: Registry) -> None:
    registry.command("pipeline", pipeline, writes=False)
    registry.command("stats", stats, writes=False)
