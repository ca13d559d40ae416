"""Charts as PNG bytes: the pipeline funnel, drawn with matplotlib's Agg renderer.

A chart is described as plain data (texts already formatted, bar sizes) so it can be drawn
after the command's transaction has ended (see `Reply.deferred`). It is drawn for a phone
screen: 1080 px wide, large type, one row per stage with its figures written above its bar.
Texts are drawn as they are, without mathtext (`$1,000 · $200` is money, not a formula).

Charts are drawn in a helper process (`ChartProcess`): matplotlib, FreeType and each
chart's pixel buffer took the bot's resident memory from about 100 MB to 200–280 MB, and
it stayed at that high-water mark (bench/NOTES.md). The helper imports only this module
and matplotlib; it starts on the first chart and ends after a while without one, or at
the exit of the process.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.util import Finalize
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

log = logging.getLogger(__name__)

WIDTH_PX, DPI = 1080, 100
ROW_IN, PANEL_HEAD_IN, TITLE_IN, FOOTER_IN = 1.15, 0.75, 1.35, 0.55
OPEN_COLOR, WEIGHTED_COLOR, WON_COLOR, TEXT_COLOR = "#a9c6e8", "#2f6db0", "#4caf6e", "#1f2933"
MUTED_COLOR = "#5f6b7a"
LABEL_CHARS = 26  # a stage name longer than this is cut, so it cannot run into the figures
# A chart takes 0.1–0.3 s to draw, the helper's start (a new interpreter importing
# matplotlib) 1–5 s on a busy machine: a chart later than this is given up.
CHART_TIMEOUT = 30.0
IDLE_SECONDS = 300.0  # the helper ends after this long without a chart


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
        axes = figure.add_axes((0.04, (top - panel_height) / height, 0.92, panel_height / height))
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


class ChartUnavailable(Exception):
    """The helper did not draw the chart; the message is the sentence for the reply."""


class ChartProcess:
    """One helper process that draws charts, one at a time, for every thread of this one.

    Started (spawned: nothing of this process is copied) on the first chart; ended after
    `idle` seconds without one, by `close`, and when this process exits. A multiprocessing
    child's exit waits for its own children, so the end is registered as a multiprocessing
    finalizer, which runs before that wait, as well as at the interpreter's exit. A chart
    that fails, or takes longer than `timeout` (the helper is then killed), raises
    `ChartUnavailable`; the next chart starts a new helper if needed.
    """

    def __init__(self, *, timeout: float = CHART_TIMEOUT, idle: float = IDLE_SECONDS) -> None:
        self.timeout = timeout
        self.idle = idle
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._last_used = 0.0
        self._idle_timer: threading.Timer | None = None
        Finalize(self, self.close, exitpriority=10)

    def draw(self, funnel: Funnel) -> bytes:
        with self._lock:
            conn = self._connection()
            try:
                conn.send(funnel)
                if not conn.poll(self.timeout):
                    self._stop(kill=True)
                    raise ChartUnavailable("The chart took too long to draw")
                drawn, result = conn.recv()
            except (EOFError, OSError) as error:
                self._stop(kill=True)
                raise ChartUnavailable("The chart could not be drawn") from error
            self._last_used = time.monotonic()
            self._schedule_idle_stop(self.idle)
        if not drawn:
            log.error("the chart process failed to draw a chart:\n%s", result)
            raise ChartUnavailable("The chart could not be drawn")
        return bytes(result)

    def close(self) -> None:
        with self._lock:
            self._stop(kill=False)

    def _connection(self) -> Connection:
        if self._conn is None:
            context = multiprocessing.get_context("spawn")
            ours, theirs = context.Pipe()
            process = context.Process(
                target=_serve_charts, args=(theirs,), name="crmbot-charts", daemon=False
            )
            process.start()
            theirs.close()
            self._process, self._conn = process, ours
        return self._conn

    def _schedule_idle_stop(self, delay: float) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = threading.Timer(delay, self._stop_if_idle)
        self._idle_timer.daemon = True
        self._idle_timer.start()

    def _stop_if_idle(self) -> None:
        with self._lock:
            if self._conn is None:
                return
            left = self._last_used + self.idle - time.monotonic()
            if left > 0:  # a chart came after this timer was set
                self._schedule_idle_stop(left)
                return
            self._stop(kill=False)

    def _stop(self, *, kill: bool) -> None:
        """End the helper: closing its pipe ends its loop; a helper busy drawing is killed."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is None:
            return
        if kill:
            process.kill()
        process.join(5.0)
        if process.is_alive():
            process.kill()
            process.join()


def _serve_charts(conn: Connection) -> None:
    """The helper's loop: a funnel in, (True, PNG) or (False, the traceback) out."""
    while True:
        try:
            funnel = conn.recv()
        except EOFError:  # the bot closed the pipe or exited
            return
        try:
            conn.send((True, funnel_png(funnel)))
        except Exception:
            conn.send((False, traceback.format_exc()))


CHARTS = ChartProcess()


def draw_funnel(funnel: Funnel) -> bytes:
    """The funnel as a PNG, drawn by the helper process."""
    return CHARTS.draw(funnel)
