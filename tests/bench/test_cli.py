"""`python -m bench`: the quick mode CI runs, and a run on a database given by URL."""

from __future__ import annotations

import json
from pathlib import Path

from bench.cases import CASES
from bench.cli import DATA_VERSION, QUICK_CONTACTS, main
from bench.runner import BASELINE
from tests.bench import timing_names


def test_quick_mode(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    main(
        [
            "--quick",
            "--calls",
            "5",
            "--warmup",
            "1",
            "--data-dir",
            str(tmp_path),
            "--json",
            str(results),
        ]
    )
    (run,) = json.loads(results.read_text())["runs"]
    assert run["backend"] == "sqlite"
    assert run["counts"]["contacts"] >= QUICK_CONTACTS
    assert [t["name"] for t in run["timings"]] == timing_names(CASES)
    assert run["generate_seconds"] > 0 and run["database_mb"] > 0
    # The generated database is kept for the next run; the measured copy is gone.
    assert (tmp_path / f"crm-v{DATA_VERSION}-{QUICK_CONTACTS}.db").exists()
    assert not list(tmp_path.glob("run-*"))


def test_a_database_given_by_url_is_generated_into_and_measured(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    db = tmp_path / "given.db"
    args = ["--db", f"sqlite:///{db}", "--contacts", "200", "--calls", "2", "--warmup", "0"]
    main([*args, "--case", "/show*", "--json", str(results)])
    main([*args, "--case", "/feed", "--json", str(results)])  # measured as it is now
    (run,) = json.loads(results.read_text())["runs"]  # same backend and size: merged
    shows = [c.name for c in CASES if c.command == "show"]
    assert [t["name"] for t in run["timings"]] == [BASELINE, *shows, "/feed"]
    assert run["counts"]["contacts"] == 200
