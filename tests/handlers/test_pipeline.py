"""/pipeline and /stats on generated deals, every figure checked against answers worked
out here in plain Python from the generated rows, per period, per member and per currency;
who may see what; the chart."""

from __future__ import annotations

import random
import struct
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from handlers.charts import ChartUnavailable
from handlers.context import Request
from handlers.format import money
from handlers.periods import Period, parse_period
from handlers.reply import Attachment, Reply
from storage.db import transaction
from storage.keys import name_key
from storage.models import Deal, Member, Platform, Stage, StageChange, StageKind, Team
from tests.conftest import START, TestBot

CURRENCIES = ("EUR", "EUR", "EUR", "USD", "JPY", None)
DEALS = 160
PERIODS = ("this month", "last quarter", "2026", "since 2026-09-01", "last 30 days", "all time")


@dataclass
class Row:
    """A generated deal, as the test knows it (not as the database says)."""

    id: int
    owner: int
    stage: Stage
    amount: int | None
    currency: str | None
    created: datetime
    closed: datetime | None
    last_activity: datetime
    expected: date | None


@dataclass
class Move:
    deal: int
    source: Stage | None
    target: Stage
    at: datetime
    entered: datetime | None  # when the deal had entered `source`


@dataclass
class World:
    bot: TestBot
    members: dict[str, Member]
    stages: list[Stage]
    deals: list[Row]
    moves: list[Move]

    def names(self) -> dict[int, str]:
        return {m.id or 0: m.name for m in self.members.values()}


@pytest.fixture
def world(testbot: TestBot) -> World:
    for name, role in (("Bob", "rep"), ("Carla", "manager"), ("Deniz", "rep")):
        testbot.join(name, role)
    with transaction(testbot.dispatcher.engine) as session:
        members = {m.name: m for m in session.exec(select(Member))}
        stages = list(session.exec(select(Stage).order_by(col(Stage.position))))
        deals, moves = _generate(session, list(members.values()), stages, random.Random(8))
    return World(testbot, members, stages, deals, moves)


def _generate(
    session: Session, members: list[Member], stages: list[Stage], rng: random.Random
) -> tuple[list[Row], list[Move]]:
    """Deals with a random walk through the stages (forward, skipping, back, won, lost),
    amounts with odd cents in three currencies (and none), spread over 14 months."""
    open_stages = [s for s in stages if s.kind == StageKind.open]
    closing = [s for s in stages if s.kind != StageKind.open]
    rows: list[Row] = []
    moves: list[Move] = []
    for _ in range(DEALS):
        created = START - timedelta(seconds=rng.randrange(0, 420 * 86400))
        path = [(rng.choice(open_stages[:2]), created)]
        at = created
        for _ in range(rng.randrange(0, 5)):
            at += timedelta(seconds=rng.randrange(3600, 40 * 86400))
            if at >= START:
                break
            current = path[-1][0]
            if current.kind != StageKind.open:
                break
            following = [s for s in stages if s is not current]
            path.append((rng.choice(following), at))
        final = path[-1][0]
        currency = rng.choice(CURRENCIES)
        amount = None if currency is None else rng.randrange(1, 5_000_000)
        last_activity = min(path[-1][1] + timedelta(days=rng.randrange(0, 40)), START)
        owner = rng.choice(members)
        deal = Deal(
            team_id=owner.team_id,
            owner_id=owner.id or 0,
            title=f"Deal {len(rows)}",
            title_key=name_key(f"Deal {len(rows)}"),
            amount=amount,
            currency=currency,
            stage_id=final.id or 0,
            expected_close=(START + timedelta(days=rng.randrange(-60, 120))).date()
            if rng.random() < 0.8
            else None,
            stage_entered_at=path[-1][1],
            last_activity_at=last_activity,
            closed_at=path[-1][1] if final in closing else None,
            cycle_seconds=(path[-1][1] - created).total_seconds() if final in closing else None,
            created_at=created,
            updated_at=path[-1][1],
        )
        session.add(deal)
        session.flush()
        assert deal.id is not None
        rows.append(
            Row(
                deal.id,
                deal.owner_id,
                final,
                amount,
                currency,
                created,
                deal.closed_at,
                last_activity,
                deal.expected_close,
            )
        )
        previous: tuple[Stage, datetime] | None = None
        for stage, moment in path:
            source, entered = previous if previous else (None, None)
            moves.append(Move(deal.id, source, stage, moment, entered))
            session.add(
                StageChange(
                    team_id=deal.team_id,
                    deal_id=deal.id,
                    from_stage_id=source.id if source else None,
                    to_stage_id=stage.id or 0,
                    at=moment,
                    from_entered_at=entered,
                    stay_seconds=(moment - entered).total_seconds() if entered else None,
                )
            )
            previous = (stage, moment)
    return rows, moves


# --- the answers, worked out from the generated rows ---------------------------------------


def half_up(total: int, count: int) -> int:
    return int((Decimal(total) / count).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def listed(sums: dict[str, int], home: str = "EUR") -> str:
    order = sorted(sums, key=lambda c: (c != home, c))
    return " + ".join(money(sums[c], c) for c in order)


def deals(n: int) -> str:
    return f"{n:,} deal{'' if n == 1 else 's'}"


def percent(part: int, whole: int) -> str:
    text = f"{(Decimal(100 * part) / whole).quantize(Decimal('0.1'), ROUND_HALF_UP)}"
    return (text[:-2] if text.endswith(".0") else text) + "%"


def expected_pipeline(w: World, period: Period, owner: int | None, who: str) -> list[str]:
    mine = [d for d in w.deals if owner is None or d.owner == owner]
    open_deals = [d for d in mine if d.stage.kind == StageKind.open and d.created < period.end]
    lines = [f"Pipeline · {who} · {period.label}"]
    total_value: dict[str, int] = defaultdict(int)
    total_weighted: dict[str, int] = defaultdict(int)
    for stage in (s for s in w.stages if s.kind == StageKind.open):
        here = [d for d in open_deals if d.stage is stage]
        value: dict[str, int] = defaultdict(int)
        weighted: dict[str, int] = defaultdict(int)
        for d in here:
            if d.currency is not None and d.amount is not None:
                value[d.currency] += d.amount
                weighted[d.currency] += d.amount * stage.probability
                total_value[d.currency] += d.amount
                total_weighted[d.currency] += d.amount * stage.probability
        text = deals(len(here))
        if value:
            rounded = {c: half_up(v, 100) for c, v in weighted.items()}
            text += f" · {listed(value)} · weighted {listed(rounded)}"
        lines.append(f"• {stage.name}: {text}")
    text = deals(len(open_deals))
    if total_value:
        rounded = {c: half_up(v, 100) for c, v in total_weighted.items()}
        text += f" · {listed(total_value)} · weighted {listed(rounded)}"
    lines.append(f"Open: {text}")
    for kind, word in ((StageKind.won, "Won"), (StageKind.lost, "Lost")):
        closed = [d for d in mine if d.stage.kind == kind and _within(d.closed, period)]
        value = defaultdict(int)
        for d in closed:
            if d.currency is not None and d.amount is not None:
                value[d.currency] += d.amount
        lines.append(
            f"{word} in {period.label}: {deals(len(closed))}"
            + (f" · {listed(value)}" if value else "")
        )
    rotting = [
        d
        for d in open_deals
        if d.stage.rot_days and d.last_activity < START - timedelta(days=d.stage.rot_days)
    ]
    if rotting:
        lines.append(f"Rotting: {deals(len(rotting))} with no recent activity (/deals rotting)")
    unpriced = sum(1 for d in open_deals if d.amount is None)
    note = "Weighted: amount × the stage's probability."
    lines.append(f"{deals(unpriced)} without an amount. {note}" if unpriced else note)
    return lines


def expected_stats(w: World, period: Period, owner: int | None, who: str) -> list[str]:
    mine = [d for d in w.deals if owner is None or d.owner == owner]
    won = [d for d in mine if d.stage.kind == StageKind.won and _within(d.closed, period)]
    lost = [d for d in mine if d.stage.kind == StageKind.lost and _within(d.closed, period)]
    lines = [f"Stats · {who} · {period.label}"]
    closed = len(won) + len(lost)
    lines.append(
        "Win rate: "
        + (
            f"{percent(len(won), closed)} ({len(won)} won, {len(lost)} lost)"
            if closed
            else "no deals closed"
        )
    )
    value: dict[str, int] = defaultdict(int)
    priced: dict[str, int] = defaultdict(int)
    for d in won:
        if d.currency is not None and d.amount is not None:
            value[d.currency] += d.amount
            priced[d.currency] += 1
    averages = " · ".join(
        f"{money(half_up(value[c], priced[c]), c)} ({priced[c]})"
        for c in sorted(value, key=lambda c: (c != "EUR", c))
    )
    lines.append(f"Average won deal: {averages or 'no won deals with an amount'}")
    if won:
        days = sum((d.closed - d.created).total_seconds() for d in won if d.closed) / len(won)
        lines.append(
            f"Cycle time: {days / 86400:.1f} days from created to won ({deals(len(won))})"
        )
    else:
        lines.append("Cycle time: no deals won")
    ids = {d.id for d in mine}
    moved = [
        m for m in w.moves if m.deal in ids and m.source is not None and _within(m.at, period)
    ]
    open_stages = [s for s in w.stages if s.kind == StageKind.open]
    lines.append("Conversion (of the deals that left each stage, those moving on)")
    for i, stage in enumerate(open_stages):
        following = open_stages[i + 1].name if i + 1 < len(open_stages) else "Won"
        out = [m for m in moved if m.source is stage]
        onward = [
            m
            for m in out
            if m.target.kind == StageKind.won
            or (m.target.kind == StageKind.open and m.target.position > stage.position)
        ]
        rate = f"{percent(len(onward), len(out))} ({len(onward)} of {len(out)})" if out else ""
        lines.append(f"• {stage.name} → {following}: {rate or 'no deal left it'}")
    lines.append("Days in stage (stays that ended in the period)")
    for stage in open_stages:
        stays = [
            (m.at - m.entered).total_seconds() for m in moved if m.source is stage and m.entered
        ]
        lines.append(
            f"• {stage.name}: "
            + (
                f"{sum(stays) / len(stays) / 86400:.1f} days ({len(stays)})"
                if stays
                else "no stays"
            )
        )
    if owner is None:
        lines += _expected_reps(w, period)
    lines += _expected_forecast(w, mine)
    return lines


@dataclass
class Rep:
    won: int = 0
    lost: int = 0
    value: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    open: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _expected_reps(w: World, period: Period) -> list[str]:
    names = w.names()
    table: dict[int, Rep] = {}
    for d in w.deals:
        closed_here = d.stage.kind != StageKind.open and _within(d.closed, period)
        is_open = d.stage.kind == StageKind.open and d.created < period.end
        if not closed_here and not is_open:
            continue
        rep = table.setdefault(d.owner, Rep())
        priced = d.currency is not None and d.amount is not None
        if closed_here and d.stage.kind == StageKind.won:
            rep.won += 1
            if priced:
                rep.value[d.currency or ""] += d.amount or 0
        elif closed_here:
            rep.lost += 1
        elif priced:
            rep.open[d.currency or ""] += d.amount or 0
    lines = ["Per rep"]
    for owner, rep in sorted(table.items(), key=lambda item: (-item[1].won, names[item[0]])):
        line = f"• {names[owner]}: won {rep.won}"
        line += f" · {listed(rep.value)}" if rep.value else ""
        line += f" · open {listed(rep.open) if rep.open else 'none'}"
        closed = rep.won + rep.lost
        line += f" · win rate {percent(rep.won, closed)}" if closed else ""
        lines.append(line)
    return lines


def _expected_forecast(w: World, mine: list[Row]) -> list[str]:
    firsts = [date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)]
    buckets: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for d in mine:
        if d.stage.kind != StageKind.open or d.expected is None or d.amount is None:
            continue
        if d.expected >= firsts[-1] or d.currency is None:
            continue
        bucket = next((i for i, first in enumerate(firsts) if d.expected < first), 4)
        buckets[bucket][d.currency] += d.amount * d.stage.probability
    lines = ["Forecast (weighted open value by expected close)"]
    if buckets.get(0):
        lines.append(f"• Overdue (before November): {listed(_rounded(buckets[0]))}")
    for i, first in enumerate(firsts[:-1], 1):
        value = buckets.get(i)
        lines.append(f"• {first:%B %Y}: {listed(_rounded(value)) if value else 'nothing'}")
    return lines


def _rounded(sums: dict[str, int]) -> dict[str, int]:
    return {c: half_up(v, 100) for c, v in sums.items()}


def _within(moment: datetime | None, period: Period) -> bool:
    return moment is not None and period.start <= moment < period.end


def _period(text: str) -> Period:
    return parse_period(text, tz=UTC, now=START)


# --- the tests -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", PERIODS)
def test_team_pipeline_figures(world: World, text: str) -> None:
    reply = world.bot.send(f"/pipeline team {text}")
    assert reply.plain_text.splitlines() == expected_pipeline(world, _period(text), None, "team")


@pytest.mark.parametrize("text", PERIODS)
def test_team_stats_figures(world: World, text: str) -> None:
    reply = world.bot.send(f"/stats {text}")
    assert reply.plain_text.splitlines() == expected_stats(world, _period(text), None, "team")


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kathmandu"])
def test_team_figures_in_a_timezone_off_utc_months(world: World, zone: str) -> None:
    """Local months start hours off UTC months, where the monthly totals are cut: the
    figures still count exactly the deals and moves of the local period."""
    with Session(world.bot.dispatcher.engine) as session:
        alice = session.get(Member, world.members["Alice"].id)
        assert alice is not None
        alice.timezone = zone
        session.add(alice)
        session.commit()
    for text in ("this month", "last quarter", "2026", "since 2026-09-15", "last 45 days"):
        period = parse_period(text, tz=ZoneInfo(zone), now=START)
        pipeline = world.bot.send(f"/pipeline team {text}").plain_text
        assert pipeline.splitlines() == expected_pipeline(world, period, None, "team")
        stats = world.bot.send(f"/stats {text}").plain_text
        assert stats.splitlines() == expected_stats(world, period, None, "team")


@pytest.mark.parametrize("name", ["Alice", "Bob", "Carla", "Deniz"])
def test_each_members_pipeline_and_stats(world: World, name: str) -> None:
    owner = world.members[name].id
    pipeline = world.bot.send(f"/pipeline @{name} last quarter").plain_text
    assert pipeline.splitlines() == expected_pipeline(world, _period("last quarter"), owner, name)
    stats = world.bot.send(f"/stats 2026 @{name}").plain_text
    assert stats.splitlines() == expected_stats(world, _period("2026"), owner, name)


def test_the_data_exercises_every_figure(world: World) -> None:
    """The generated data is rich enough for the checks above to mean something."""
    year = _period("2026")
    kinds = {d.stage.kind for d in world.deals}
    assert kinds == {StageKind.open, StageKind.won, StageKind.lost}
    assert {d.currency for d in world.deals} == set(CURRENCIES)
    assert any(m.source and m.target.position < m.source.position for m in world.moves)
    assert any(_within(d.closed, year) and d.stage.kind == StageKind.won for d in world.deals)
    # Some weighted sums need rounding: amounts with cents at 10%, 25% or 75%.
    assert any(d.amount and d.amount * d.stage.probability % 100 for d in world.deals)


def test_defaults_and_who_sees_what(world: World) -> None:
    bot = world.bot
    month, quarter = _period("this month"), _period("this quarter")
    bob = world.members["Bob"].id
    # Reps see their own; asking for the team or a teammate gives their own and a note.
    assert bot.say("/pipeline", who="Bob").splitlines() == expected_pipeline(
        world, month, bob, "Bob"
    )
    for ask in ("/pipeline team", "/pipeline @Alice"):
        lines = bot.say(ask, who="Bob").splitlines()
        assert "figures are for managers and admins; here are yours" in lines[0]
        assert lines[1:] == expected_pipeline(world, month, bob, "Bob")
    stats = bot.say("/stats team", who="Bob").splitlines()
    assert "here are yours" in stats[0]
    assert stats[1:] == expected_stats(world, quarter, bob, "Bob")
    assert "Per rep" not in stats
    # Managers and admins see the team, or whom they name, or themselves.
    assert bot.say("/pipeline", who="Carla").splitlines() == expected_pipeline(
        world, month, None, "team"
    )
    assert bot.say("/stats", who="Carla").splitlines() == expected_stats(
        world, quarter, None, "team"
    )
    carla = world.members["Carla"].id
    assert bot.say("/pipeline me", who="Carla").splitlines() == expected_pipeline(
        world, month, carla, "Carla"
    )
    assert bot.say("/pipeline @bob", who="Carla").splitlines() == expected_pipeline(
        world, month, bob, "Bob"
    )


def test_bad_arguments_say_what_is_wrong(world: World) -> None:
    bot = world.bot
    assert "can't read the period “lately”" in bot.say("/pipeline lately")
    assert "Usage:\n/pipeline [me | team | @member] [PERIOD]" in bot.say("/pipeline lately")
    assert "No single teammate matches “zed”" in bot.say("/pipeline @zed")
    assert "Name a teammate with @" in bot.say("/stats #hot")
    assert "ends before it starts" in bot.say("/stats 2026-10-01 to 2026-09-01")


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_every_pipeline_comes_with_a_chart(world: World) -> None:
    reply = world.bot.send("/pipeline team 2026")
    (chart,) = reply.attachments
    assert not reply.deferred
    assert chart.mime_type == "image/png" and chart.filename == "pipeline-2026.png"
    assert chart.caption == "Pipeline · team · 2026"
    width, height = png_size(chart.content)
    # Phone-sized: 1080 px wide; a panel per currency (3 here), tall but not absurd.
    assert width == 1080 and 1500 < height < 4000
    assert 20_000 < len(chart.content) < 1_000_000


def test_the_chart_draws_each_currency_from_its_own_deals(world: World) -> None:
    reply = world.bot.dispatcher.respond(
        Request(Platform.telegram, "alice", "Alice", chat_id="alice", text="/pipeline 2026")
    )
    assert reply is not None and not reply.attachments  # drawn after the transaction
    (draw,) = reply.deferred
    assert isinstance(draw, partial)
    funnel = draw.args[0]
    assert [panel.heading for panel in funnel.panels] == [
        "Value in EUR",
        "Value in JPY",
        "Value in USD",
    ]
    period = _period("2026")
    for panel in funnel.panels:
        currency = panel.heading[-3:]
        for bar, stage in zip(panel.bars, world.stages[:4], strict=False):
            here = [
                d
                for d in world.deals
                if d.stage is stage and d.currency == currency and d.created < period.end
            ]
            assert (bar.name, bar.count) == (stage.name, deals(len(here)))
            assert bar.size == sum(d.amount or 0 for d in here)
            weighted = sum((d.amount or 0) * stage.probability for d in here)
            assert bar.inner == half_up(weighted, 100)
        won = [
            d
            for d in world.deals
            if d.stage.kind == StageKind.won
            and d.currency == currency
            and _within(d.closed, period)
        ]
        assert panel.bars[-1].won and panel.bars[-1].count == deals(len(won))
        assert panel.bars[-1].size == sum(d.amount or 0 for d in won)


def test_a_pipeline_without_amounts_is_charted_by_count(testbot: TestBot) -> None:
    testbot.say("/deal Website")
    testbot.say("/deal Hosting stage:proposal")
    reply = testbot.send("/pipeline")
    assert "• Lead: 1 deal\n• Qualified: 0 deals\n• Proposal: 1 deal" in reply.plain_text
    assert "2 deals without an amount." in reply.plain_text
    width, height = png_size(reply.attachments[0].content)
    assert width == 1080 and 600 < height < 1500


def test_periods_follow_the_members_timezone(testbot: TestBot) -> None:
    """A deal won at 03:00 UTC on 1 December was won in November in New York."""
    testbot.join("Bob", "manager")
    with Session(testbot.dispatcher.engine) as session:
        bob = session.exec(select(Member).where(Member.name == "Bob")).one()
        bob.timezone = "America/New_York"
        session.add(bob)
        session.commit()
    testbot.clock.now = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    testbot.say("/deal Website 12k")
    testbot.clock.now = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    testbot.say("/won Website")
    testbot.clock.now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    alice_december = testbot.say("/pipeline this month")
    assert "Won in December 2026: 1 deal · €12,000" in alice_december
    bob_november = testbot.say("/pipeline team last month", who="Bob")
    assert "Won in November 2026: 1 deal · €12,000" in bob_november
    assert "Won in December 2026: 0 deals" in testbot.say("/pipeline team", who="Bob")


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (RuntimeError("no fonts"), "The chart could not be drawn"),
        (ChartUnavailable("The chart took too long to draw"), "The chart took too long to draw"),
    ],
)
def test_a_chart_that_fails_to_draw_leaves_the_text(
    world: World, error: Exception, said: str
) -> None:
    """A chart that breaks, or that the helper process gave up on, leaves the text and
    says so."""
    from handlers.dispatcher import finish

    def broken() -> Attachment:
        raise error

    reply = Reply().add("Pipeline")
    reply.deferred.append(broken)
    finished = finish(reply)
    assert finished.plain_text.startswith(f"Pipeline\n({said}; error ")
    assert not finished.attachments and not finished.deferred


def test_team_currency_and_locale_format_the_money(world: World) -> None:
    with transaction(world.bot.dispatcher.engine) as session:
        team = session.exec(select(Team)).one()
        team.locale = "de_DE"
        session.add(team)
    lead = world.stages[0]
    euros = sum(
        d.amount or 0
        for d in world.deals
        if d.stage is lead and d.currency == "EUR" and d.created < _period("2026").end
    )
    text = world.bot.say("/pipeline team 2026")
    assert "• Lead: " in text and money(euros, "EUR", "de_DE") in text
    assert money(euros, "EUR", "de_DE").endswith("\xa0€")  # 470.544,81 € in German
