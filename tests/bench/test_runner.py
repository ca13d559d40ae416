"""The runner: every case runs, through the dispatcher, on a generated team."""

from __future__ import annotations

import random

from sqlalchemy import Engine

from bench.cases import CASES, misspelt
from bench.generate import generate
from bench.runner import BASELINE, Timing, measure, select_cases
from tests.conftest import START


def test_every_case_gets_a_real_answer(engine: Engine) -> None:
    generate(engine, contacts=300, now=START)
    run = measure(engine, cases=CASES, calls=3, warmup=1)
    assert [t.name for t in run.timings] == [BASELINE, *(c.name for c in CASES)]
    assert all(t.calls == 3 and t.p50_ms > 0 for t in run.timings)
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
