"""RESULTS.md from the JSON: the tables, the targets, and the plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.cases import CASES
from bench.report import load, results_markdown, save, write_results
from bench.runner import BASELINE, Run, Timing


def _run(backend: str, contacts: int, p50: float, *, rss: float = 120.0) -> Run:
    timings = [Timing(BASELINE, "baseline", 10, 0.1, 0.1, 0.1, 0.1, 0.1, 1.0)]
    timings += [
        Timing(c.name, c.command, 10, p50, p50 * 2, p50 * 3, p50, p50 * 4, p50 / 0.1)
        for c in CASES
    ]
    counts = {
        "members": 5,
        "companies": contacts // 8,
        "contacts": contacts,
        "deals": contacts * 2,
        "stage changes": contacts * 7,
        "activities": contacts * 10,
    }
    return Run(backend, contacts, counts, rss, timings, 12.0, 30.0, f"{backend} 1")


def _data(*runs: Run) -> dict[str, Any]:
    machine = {
        "cpu": "Test CPU",
        "cores": "2",
        "memory": "24 GiB",
        "os": "Linux",
        "python": "3.11",
        "sqlalchemy": "2.0",
        "commit": "abc1234",
    }
    return {"machine": machine, "date": "2026-11-23", "runs": [r.to_json() for r in runs]}


def test_targets_met_and_missed() -> None:
    data = _data(
        _run("sqlite", 10_000, 0.4),
        _run("sqlite", 100_000, 0.8),
        _run("sqlite", 1_000_000, 2.0, rss=350),
        _run("postgresql", 100_000, 1.5),
    )
    text = results_markdown(data, plot="results.png", notes="## Notes\n\nWhy.")
    shown = "| /show contact by id at 100k: p50 ≤ 1 ms, p99 ≤ 5 ms | p50 0.800 ms, p99 2.40 ms |"
    assert shown + " ✅ |" in text
    assert "| /find misspelt name at 1M: p50 ≤ 15 ms | p50 2.00 ms | ✅ |" in text
    assert "| /add contact at 100k: p50 ≤ 2 ms | p50 0.800 ms | ✅ |" in text
    growth = next(line for line in text.splitlines() if "every case" in line)
    assert "worst 5.0×" in growth and growth.endswith("| ❌ |")
    assert "| peak RSS at 1M contacts ≤ 300 MB | 350 MB | ❌ |" in text
    assert "| case | sqlite 10k | sqlite 100k | sqlite 1M | postgresql 100k | 1M / 10k |" in text
    assert "| /feed | 0.400 | 0.800 | 2.00 | 1.50 | 5.0× |" in text
    assert "![p50 latency against data size](results.png)" in text
    assert "Test CPU (2 cores, 24 GiB)" in text
    assert "| /stats at 100k on postgresql: p50 ≤ 50 ms | p50 1.50 ms | ✅ |" in text
    assert "| /stats at 1M: p50 ≤ 300 ms | p50 2.00 ms | ✅ |" in text
    assert "every case but /nearby 10km the naive way" in growth
    assert text.rstrip().endswith("Why.")


def test_the_naive_way_beside_the_case() -> None:
    run = _run("sqlite", 1_000_000, 2.0)
    naive = next(c for c in CASES if c.naive_of)
    for timing in run.timings:
        if timing.name == naive.name:
            timing.p50_ms = 50_000.0
    text = results_markdown(_data(run), plot=None, notes="")
    assert f"| sqlite 1M | {naive.naive_of} | 2.00 | {naive.name} | 50,000 | 25,000× |" in text


def test_a_run_replaces_the_same_backend_and_size(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    save(path, [_run("sqlite", 10_000, 1.0), _run("postgresql", 100_000, 1.0)])
    save(path, [_run("sqlite", 10_000, 2.0)])
    runs = load(path)
    assert [(r.backend, r.contacts) for r in runs] == [("sqlite", 10_000), ("postgresql", 100_000)]
    assert runs[0].timings[1].p50_ms == 2.0
    assert json.loads(path.read_text())["machine"]["cores"]


def test_a_run_of_some_cases_is_merged_into_the_run_of_all(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    save(path, [_run("sqlite", 10_000, 1.0)])
    first = json.loads(path.read_text())["machine"]["commit"]  # what it was measured at
    some = _run("sqlite", 10_000, 2.0, rss=150.0)
    some.timings = [some.timings[0], some.timings[-1]]
    some.timings[0].p50_ms = 0.2
    some.timings.append(Timing("/new: chart", "new", 10, 9.0, 9.0, 9.0, 9.0, 9.0, 45.0))
    some.counts = {**some.counts, "contacts": 1}
    some.extra = {"commit": "def5678", "load average": [0.5, 0.6]}
    save(path, [some])
    (run,) = load(path)
    assert [t.name for t in run.timings] == [BASELINE, *(c.name for c in CASES), "/new: chart"]
    assert [t.p50_ms for t in run.timings[:-2]] == [0.2] + [1.0] * (len(CASES) - 1)
    assert run.timings[-2].p50_ms == 2.0
    # The newest run's baseline and data; the kept cases against that baseline.
    assert [t.ratio for t in run.timings[1:3]] == [5.0, 5.0]
    assert run.counts["contacts"] == 1
    assert run.peak_rss_mb == 150.0
    kept = [c.name for c in CASES[:-1]]
    assert run.extra["kept"] == [{"commit": first, "load average": None, "cases": kept}]
    text = results_markdown(_data(run), plot=None, notes="")
    assert "before and after the run (commit `def5678`): 0.5 and 0.6." in text
    assert f"Kept from an earlier run (commit `{first}`): {', '.join(kept)}." in text
    # Measured again, a kept case leaves the list of kept ones.
    again = _run("sqlite", 10_000, 3.0)
    again.timings = [again.timings[0], again.timings[1]]
    save(path, [again])
    (run,) = load(path)
    later = [CASES[-1].name, "/new: chart"]
    assert [part["cases"] for part in run.extra["kept"]] == [kept[1:], later]


def test_results_with_the_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    source = tmp_path / "results.json"
    source.write_text(json.dumps(_data(_run("sqlite", 10_000, 0.5), _run("sqlite", 100_000, 0.7))))
    (tmp_path / "NOTES.md").write_text("## Notes\n\nHand-written.\n")
    write_results(source, tmp_path / "RESULTS.md")
    assert (tmp_path / "RESULTS.png").read_bytes().startswith(b"\x89PNG")
    assert "Hand-written." in (tmp_path / "RESULTS.md").read_text()


def test_start_up_side_by_side_judged_on_the_last_checkout() -> None:
    def measured(help_s: float, rss: float, peak: float | None) -> dict[str, Any]:
        medians = {"help_s": help_s, "help_cpu_s": help_s / 2, "run_idle_rss_mb": rss}
        if peak is not None:
            medians["bench_peak_rss_mb"] = peak
        samples = {name: [value] * 5 for name, value in medians.items()}
        return {"medians": medians, "samples": samples, "load average": [1.5, 2.5]}

    startup = {"baseline": measured(2.9, 334, None), "change": measured(0.3, 130, 140)}
    startup["change"]["peak_db"] = "run-1000000.db"
    text = results_markdown(
        _data(_run("sqlite", 10_000, 0.4)), plot=None, notes="", startup=startup
    )
    assert "| figure | target | baseline | change | met |" in text
    assert (
        "| `crmbot --help`, wall time | ≤ 0.4 s | 2.9 s (CPU 1.45 s) | 0.3 s (CPU 0.15 s) | ✅ |"
        in text
    )
    assert "| `crmbot run`, idle RSS | ≤ 120 MB | 334 MB | 130 MB | ❌ |" in text
    peak = "| peak RSS of the bench (every case) on run-1000000.db | ≤ 150 MB | – | 140 MB | ✅ |"
    assert peak in text
    assert "chat" not in text.split("## Start-up")[1].split("\n\n")[1]  # not measured: no row
    assert "Medians of 5 fresh processes" in text and "baseline 1.5–2.5" in text
