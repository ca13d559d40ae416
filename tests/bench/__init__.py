"""Helpers for the benchmark suite's tests."""

from collections.abc import Sequence

from bench.cases import Case
from bench.runner import BASELINE

CHARTED = {"pipeline"}  # the commands whose replies come with a chart


def timing_names(cases: Sequence[Case]) -> list[str]:
    """The rows a run of `cases` gives: the baseline, each case, each chart after its case."""
    names = [BASELINE]
    for bench_case in cases:
        names.append(bench_case.name)
        if bench_case.command in CHARTED:
            names.append(f"{bench_case.name}: chart")
    return names
