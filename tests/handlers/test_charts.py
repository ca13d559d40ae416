"""Charts are drawn by a helper process: the same PNG as drawn here, a clear failure when it
fails or hangs, and a lifetime of its own (the first chart, idling, closing, exiting)."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection

import pytest

from handlers.charts import CHARTS, Bar, ChartProcess, ChartUnavailable, Funnel, Panel, funnel_png

FUNNEL = Funnel(
    title="Pipeline · team",
    subtitle="2026 · 12 open deals",
    panels=(
        Panel(
            "Value in EUR",
            (
                Bar("Lead", "7 deals", "€70k · w. €7k", 70_000, 7_000),
                Bar("Proposal — a stage name long enough to be cut", "3 deals", "€30k", 30_000),
                Bar("Won", "2 deals", "€20k", 20_000, won=True),
            ),
        ),
    ),
    footer="$1,000 · $200 is money, not a formula",
)


def _helpers() -> list[multiprocessing.process.BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name == "crmbot-charts"]


@pytest.fixture
def charts() -> Iterator[ChartProcess]:
    CHARTS.close()  # the bot's own helper, if an earlier test started it: not counted here
    helper = ChartProcess()
    yield helper
    helper.close()


def test_the_helper_draws_the_same_png_as_this_process(charts: ChartProcess) -> None:
    assert charts.draw(FUNNEL) == funnel_png(FUNNEL)
    assert len(_helpers()) == 1
    assert charts.draw(FUNNEL) == funnel_png(FUNNEL)
    assert len(_helpers()) == 1  # kept for the next chart
    charts.close()
    assert not _helpers()


def test_a_chart_that_fails_in_the_helper_is_unavailable_and_the_next_is_drawn(
    charts: ChartProcess,
) -> None:
    nameless = Funnel("t", "s", (Panel("p", (Bar(None, "1", "x", 1.0),)),))  # type: ignore[arg-type]
    with pytest.raises(ChartUnavailable, match="could not be drawn"):
        charts.draw(nameless)
    assert charts.draw(FUNNEL) == funnel_png(FUNNEL)


def test_a_chart_too_slow_kills_the_helper_and_the_next_starts_another(
    charts: ChartProcess,
) -> None:
    charts.timeout = 0.001  # less than a new interpreter takes to import matplotlib
    with pytest.raises(ChartUnavailable, match="took too long"):
        charts.draw(FUNNEL)
    assert not _helpers()
    charts.timeout = 60.0
    assert charts.draw(FUNNEL) == funnel_png(FUNNEL)


def test_a_helper_that_died_is_replaced(charts: ChartProcess) -> None:
    charts.draw(FUNNEL)
    (helper,) = _helpers()
    helper.kill()
    helper.join()
    with pytest.raises(ChartUnavailable, match="could not be drawn"):
        charts.draw(FUNNEL)
    assert charts.draw(FUNNEL) == funnel_png(FUNNEL)


def test_an_idle_helper_ends(charts: ChartProcess) -> None:
    charts.idle = 0.2
    charts.draw(FUNNEL)
    for _ in range(600):
        if not _helpers():
            break
        time.sleep(0.05)
    assert not _helpers()
    assert charts.draw(FUNNEL) == funnel_png(FUNNEL)  # started again


def _draw_in_a_child(conn: Connection) -> None:
    from handlers.charts import draw_funnel

    conn.send(len(draw_funnel(FUNNEL)))


def test_a_multiprocessing_child_that_drew_a_chart_exits() -> None:
    # The bench measures in such a child. Its exit waits for its own children: a helper
    # left running would keep it from ever ending.
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=_draw_in_a_child, args=(theirs,))
    child.start()
    try:
        assert ours.poll(120) and ours.recv() > 20_000
        child.join(timeout=60)
        assert child.exitcode == 0
    finally:
        child.kill()
