"""A drawn chart leaves nothing behind: its figure, canvas and pixel buffer are freed with
it, not whenever the garbage collector next runs in full."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from matplotlib.figure import Figure

from handlers.charts import Bar, Funnel, Panel, funnel_png


@pytest.fixture
def no_automatic_collection() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _figures() -> int:
    return sum(isinstance(thing, Figure) for thing in gc.get_objects())


def test_a_drawn_chart_leaves_no_figure_behind(no_automatic_collection: None) -> None:
    bars = tuple(
        Bar(f"Stage {i}", "3 deals", "€12,000 · weighted €6,000", 3 - i, 1.0) for i in range(3)
    )
    funnel = Funnel("Pipeline · team", "December 2026", (Panel("Open", bars),), "footer")
    before = _figures()
    for _ in range(3):
        assert funnel_png(funnel).startswith(b"\x89PNG")
    assert _figures() == before
