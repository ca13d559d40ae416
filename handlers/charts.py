"""Charts as PNG bytes: the pipeline funnel, drawn with matplotlib's Agg renderer.

A chart is described as plain data (texts already formatted, bar sizes) so it can be drawn
after the command's transaction has ended (see `Reply.deferred`). It is drawn for a phone
screen: 1080 px wide, large type, one row per stage with its figures written above its bar.
Texts are drawn as they are, without mathtext (`$1,000 · $200` is money, not a formula).
matplotlib is imported on first use, so starting the bot does not pay for it.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

WIDTH_PX, DPI = 1080, 100
ROW_IN, PANEL_HEAD_IN, TITLE_IN, FOOTER_IN = 1.15, 0.75, 1.35, 0.55
OPEN_COLOR, WEIGHTED_COLOR, WON_COLOR, TEXT_COLOR = "#a9c6e8", "#2f6db0", "#4caf6e", "#1f2933"
MUTED_COLOR = "#5f6b7a"
LABEL_CHARS = 26  # a stage name longer than this is cut, so it cannot run into the figures
# matplotlib is not thread-safe (shared font cache and text layout): the dispatcher's
# worker threads draw one chart at a time.
_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Bar:
    name: str  # left, bold, with the count: "Proposal · 12 deals"
    count: str
    figures: str  # right: "€120,000 · weighted €60,000"
    size: float  # the bar's length, in the panel's unit
    inner: float = 0.0  # a darker part drawn inside it (the weighted value)
    won: bool = False


@dataclass(frozen=True, slots=True)
class Panel:
    heading: str
    bars: tuple[Bar, ...]


@dataclass(frozen=True, slots=True)
class Funnel:
    title: str
    subtitle: str
    panels: tuple[Panel, ...]
    footer: str = ""


def funnel_png(funnel: Funnel) -> bytes:
    """The funnel as a PNG: per panel, one centred bar per row, widest row full width."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = sum(len(panel.bars) for panel in funnel.panels)
    height = TITLE_IN + FOOTER_IN + len(funnel.panels) * PANEL_HEAD_IN + rows * ROW_IN
    with _LOCK:
        figure = Figure(figsize=(WIDTH_PX / DPI, height), dpi=DPI, facecolor="white")
        FigureCanvasAgg(figure)
        figure.text(
            0.04,
            1 - 0.55 / height,
            funnel.title,
            fontsize=30,
            weight="bold",
            color=TEXT_COLOR,
            va="center",
            parse_math=False,
        )
        figure.text(
            0.04,
            1 - 1.05 / height,
            funnel.subtitle,
            fontsize=20,
            color=MUTED_COLOR,
            va="center",
            parse_math=False,
        )
        top = height - TITLE_IN
        for panel in funnel.panels:
            panel_height = PANEL_HEAD_IN + len(panel.bars) * ROW_IN
            axes = figure.add_axes(
                (0.04, (top - panel_height) / height, 0.92, panel_height / height)
            )
            _draw_panel(axes, panel)
            top -= panel_height
        if funnel.footer:
            figure.text(
                0.04,
                0.3 / height,
                funnel.footer,
                fontsize=15,
                color=MUTED_COLOR,
                va="center",
                parse_math=False,
            )
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _draw_panel(axes: Axes, panel: Panel) -> None:
    rows = len(panel.bars)
    head = PANEL_HEAD_IN / ROW_IN  # the heading's height, in rows
    widest = max((bar.size for bar in panel.bars), default=0.0) or 1.0
    axes.set_xlim(-0.5, 0.5)
    axes.set_ylim(rows + head, 0)
    axes.axis("off")
    axes.text(
        -0.5,
        head * 0.45,
        panel.heading,
        fontsize=22,
        weight="bold",
        color=TEXT_COLOR,
        va="center",
        parse_math=False,
    )
    for i, bar in enumerate(panel.bars):
        y = head + i
        width = bar.size / widest
        color = WON_COLOR if bar.won else OPEN_COLOR
        # A sliver for an empty stage keeps the funnel's outline readable.
        axes.barh(
            y + 0.68, max(width, 0.004), height=0.42, left=-max(width, 0.004) / 2, color=color
        )
        if bar.inner > 0:
            inner = bar.inner / widest
            axes.barh(y + 0.68, inner, height=0.42, left=-inner / 2, color=WEIGHTED_COLOR)
        name = bar.name if len(bar.name) <= LABEL_CHARS else bar.name[: LABEL_CHARS - 1] + "…"
        axes.text(
            -0.5,
            y + 0.24,
            f"{name} · {bar.count}",
            fontsize=21,
            weight="bold",
            color=TEXT_COLOR,
            va="center",
            parse_math=False,
        )
        axes.text(
            0.5,
            y + 0.24,
            bar.figures,
            fontsize=20,
            color=TEXT_COLOR,
            va="center",
            parse_math=False,
            ha="right",
        )
