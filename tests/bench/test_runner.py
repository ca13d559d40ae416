"""The runner: every case runs, through the dispatcher, on a generated team."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bench.cases import CASES, NEARBY_KM, Case, World, misspelt, nearby_the_naive_way
from bench.generate import generate
from bench.runner import CaseFailed, Timing, measure, select_cases
from handlers.contacts import wanted_statuses
from storage.nearby import nearby
from tests.bench import timing_names
from tests.conftest import START


def test_every_case_gets_a_real_answer(engine: Engine) -> None:
    generate(engine, contacts=300, now=START)
    run = measure(engine, cases=CASES, calls=3, warmup=1)
    assert [t.name for t in run.timings] == timing_names(CASES)
    assert all(t.calls == 3 and t.p50_ms > 0 and t.load is not None for t in run.timings)
    assert run.timings[0].ratio == 1.0
    assert run.contacts >= 300  # /add added some
    assert run.counts["deals"] > run.counts["contacts"]
    assert run.peak_rss_mb > 0


def test_percentiles() -> None:
    timing = Timing.of("x", "x", [i * 1_000_000 for i in range(1, 101)])
    assert (timing.p50_ms, timing.p95_ms, timing.p99_ms) == (50.5, 95.05, 99.01)
    assert timing.max_ms == 100.0 and timing.calls == 100


def test_cases_are_picked_by_pattern() -> None:
    assert {c.command for c in select_cases(["/show*"])} == {"show"}
    assert len(select_cases(None)) == len(CASES)


def test_a_misspelling_swaps_neighbouring_letters() -> None:
    typo = misspelt("Jane Doe", random.Random(1))
    assert typo != "Jane Doe"
    assert [sorted(word) for word in typo.split()] == [sorted("Jane"), sorted("Doe")]


def test_a_slow_case_makes_fewer_calls(engine: Engine) -> None:
    generate(engine, contacts=300, now=START)
    naive = next(c for c in CASES if c.naive_of)
    assert naive.calls is not None
    run = measure(engine, cases=[naive], calls=naive.calls + 2, warmup=5)
    assert run.timings[1].calls == naive.calls


def test_a_direct_call_that_finds_nothing_fails_the_run(engine: Engine) -> None:
    generate(engine, contacts=300, now=START)
    empty = Case("finds nothing", "x", lambda world: lambda session: [])
    with pytest.raises(CaseFailed, match="finds nothing"):
        measure(engine, cases=[empty], calls=1, warmup=0)


def test_the_naive_nearby_finds_what_nearby_finds(engine: Engine) -> None:
    generate(engine, contacts=300, now=START)
    world = World.load(engine)
    assert world.places
    with Session(engine) as session:
        for lat, lon in world.places[:20]:
            naive = nearby_the_naive_way(
                session, team_id=world.team_id, lat=lat, lon=lon, radius_km=NEARBY_KM, limit=5
            )
            fast = nearby(
                session,
                team_id=world.team_id,
                lat=lat,
                lon=lon,
                radius_km=NEARBY_KM,
                limit=5,
                statuses=wanted_statuses(None),
            )
            assert naive  # a place is a prospect's: it is always found
            assert [contact_id for _, contact_id in naive] == [n.contact_id for n in fast]
            assert [km for km, _ in naive] == pytest.approx([n.km for n in fast])
