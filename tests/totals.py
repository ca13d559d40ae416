"""The running totals (storage/models.py), worked out here from the rows they count."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

import pytest
from sqlmodel import Session, select

from storage.models import ClosedMonth, Deal, DealTotal, ExpectedMonth, MovesMonth, StageChange

Sums = dict[tuple[object, ...], tuple[float, ...]]


def month_of(moment: datetime | date) -> date:
    day = moment.date() if isinstance(moment, datetime) else moment
    return day.replace(day=1)


def _expected(session: Session) -> tuple[Sums, Sums, Sums, Sums]:
    """The four tables' contents, added up here from the rows themselves."""
    totals: defaultdict[tuple[object, ...], list[float]] = defaultdict(lambda: [0, 0, 0])
    closed: defaultdict[tuple[object, ...], list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
    moves: defaultdict[tuple[object, ...], list[float]] = defaultdict(lambda: [0, 0, 0.0])
    expected: defaultdict[tuple[object, ...], list[float]] = defaultdict(lambda: [0, 0])
    for deal in session.exec(select(Deal).where(Deal.archived == False)):  # noqa: E712
        if deal.amount is not None and deal.currency and deal.expected_close:
            month = month_of(deal.expected_close)
            key: tuple[object, ...] = (deal.team_id, deal.stage_id, deal.currency, month)
            expected[key] = [expected[key][0] + 1, expected[key][1] + deal.amount]
        figures = (1, deal.amount is not None, deal.amount or 0)
        key = (deal.team_id, deal.stage_id, deal.owner_id, deal.currency or "")
        totals[key] = [a + b for a, b in zip(totals[key], figures, strict=True)]
        if deal.closed_at is not None:
            key = (deal.team_id, month_of(deal.closed_at), *key[1:])
            more = (*figures, deal.cycle_seconds or 0.0)
            closed[key] = [a + b for a, b in zip(closed[key], more, strict=True)]
    for change in session.exec(select(StageChange)):
        if change.from_stage_id is not None:
            key = (change.team_id, month_of(change.at), change.from_stage_id, change.to_stage_id)
            stay = (1, change.stay_seconds is not None, change.stay_seconds or 0.0)
            moves[key] = [a + b for a, b in zip(moves[key], stay, strict=True)]
    return _frozen(totals), _frozen(closed), _frozen(expected), _frozen(moves)


def _frozen(sums: defaultdict[tuple[object, ...], list[float]]) -> Sums:
    return {key: tuple(figures) for key, figures in sums.items()}


def _kept(session: Session) -> tuple[Sums, Sums, Sums, Sums]:
    """The four tables as the triggers left them (rows that came back to zero dropped)."""
    totals: Sums = {
        (t.team_id, t.stage_id, t.owner_id, t.currency): (t.deals, t.priced, t.amount)
        for t in session.exec(select(DealTotal))
        if t.deals
    }
    closed: Sums = {
        (c.team_id, c.month, c.stage_id, c.owner_id, c.currency): (
            c.deals,
            c.priced,
            c.amount,
            c.cycle_seconds,
        )
        for c in session.exec(select(ClosedMonth))
        if c.deals
    }
    moves: Sums = {
        (m.team_id, m.month, m.from_stage_id, m.to_stage_id): (m.moves, m.timed, m.seconds)
        for m in session.exec(select(MovesMonth))
        if m.moves
    }
    expected: Sums = {
        (e.team_id, e.stage_id, e.currency, e.month): (e.deals, e.amount)
        for e in session.exec(select(ExpectedMonth))
        if e.deals
    }
    return totals, closed, expected, moves


def _same(kept: Sums, expected: Sums) -> None:
    assert kept.keys() == expected.keys()
    for key, figures in expected.items():
        assert kept[key] == pytest.approx(figures), key


def assert_totals_match(session: Session) -> None:
    """Every running total equals the sum of the rows it counts."""
    session.expire_all()
    for kept, expected in zip(_kept(session), _expected(session), strict=True):
        _same(kept, expected)
    _, closed, expected, _ = _kept(session)
    assert closed and expected, "some deals closed, some have an expected close"
