"""`python -m bench`: generate the data (once per size) and time every case on it.

    python -m bench --quick                     # 10k contacts, 100 calls a case
    python -m bench --contacts 100000
    python -m bench --sizes 10000,100000,1000000 --json bench/results.json
    python -m bench --db postgresql+psycopg://localhost/crm_bench --contacts 100000
    python -m bench.report bench/results.json   # RESULTS.md and the plot

SQLite databases are generated under bench/data/ and kept there; each run measures a
fresh copy, so runs never see each other's changes. With --db the database is used in
place: generated into when it is empty, measured as it is otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import Engine, func, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from bench.generate import Generated, generate
from bench.report import machine, print_run, save
from bench.runner import measure_isolated, select_cases
from storage.db import make_engine, optimize, upgrade
from storage.models import Team

DATA_VERSION = 2  # bump when the generator changes, so old databases are not reused
DATA_DIR = Path(__file__).parent / "data"
QUICK_CONTACTS, QUICK_CALLS, QUICK_WARMUP = 10_000, 100, 10


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    console = Console()
    if args.quick:
        sizes = [QUICK_CONTACTS]
        calls, warmup = args.calls or QUICK_CALLS, args.warmup or QUICK_WARMUP
    else:
        sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [args.contacts]
        calls, warmup = args.calls or 300, args.warmup or 30
    if args.db and len(sizes) > 1:
        sys.exit("--sizes generates SQLite databases of each size; with --db give one size.")
    cases = select_cases(args.case)
    runs = []
    for contacts in sizes:
        if args.db:
            run_url, info = _prepare_in_place(args.db, contacts, console)
            cleanup: list[Path] = []
        else:
            run_url, info, cleanup = _prepare_copy(args.data_dir, contacts, console)
        console.print(f"[bold]measuring[/] {contacts:,} contacts: {len(cases)} cases × {calls}")
        try:
            run = measure_isolated(run_url, cases=cases, calls=calls, warmup=warmup)
        finally:
            for path in cleanup:
                path.unlink(missing_ok=True)
        run.contacts = contacts  # the size generated; the counts are taken after the run
        run.generate_seconds = info.get("seconds")
        run.database_mb = info.get("database_mb")
        run.extra["commit"] = machine()["commit"]
        print_run(run, console)
        runs.append(run)
    if args.json:
        save(args.json, runs)
        console.print(f"results in {args.json}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--contacts", type=int, default=100_000, help="data size (contacts)")
    parser.add_argument("--sizes", help="several sizes, comma-separated (SQLite)")
    parser.add_argument(
        "--quick", action="store_true", help="10k contacts, fewer calls: under a minute"
    )
    parser.add_argument("--db", help="a database URL to measure instead of a generated file")
    parser.add_argument("--calls", type=int, help="timed calls per case (default 300)")
    parser.add_argument("--warmup", type=int, help="untimed calls first (default 30)")
    parser.add_argument("--case", action="append", help="only cases matching (shell pattern)")
    parser.add_argument("--json", type=Path, help="merge the results into this JSON file")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="generated databases")
    return parser


def _generate_child(url: str, contacts: int) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        return asdict(generate(engine, contacts=contacts))
    finally:
        engine.dispose()


def _generate_isolated(url: str, contacts: int) -> Generated:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return Generated(**pool.submit(_generate_child, url, contacts).result())


def _prepare_copy(
    data_dir: Path, contacts: int, console: Console
) -> tuple[str, dict[str, float], list[Path]]:
    """A fresh copy of the generated database of this size (generated first if needed)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    pristine = data_dir / f"crm-v{DATA_VERSION}-{contacts}.db"
    sidecar = pristine.with_suffix(".json")
    if not pristine.exists() or not sidecar.exists():
        console.print(f"[bold]generating[/] {contacts:,} contacts into {pristine}")
        partial = pristine.with_suffix(".partial")
        for stale in _files(partial):
            stale.unlink(missing_ok=True)
        generated = _generate_isolated(f"sqlite:///{partial}", contacts)
        partial.rename(pristine)
        info = {"seconds": round(generated.seconds, 1), "optimized": True}
        sidecar.write_text(json.dumps(info), encoding="utf-8")
    info = json.loads(sidecar.read_text(encoding="utf-8"))
    # Migrations added since the data was generated (new indexes) go in once, here, and
    # the search index is compacted as `crmbot db optimize` keeps it.
    engine = make_engine(f"sqlite:///{pristine}")
    upgrade(engine)
    if not info.get("optimized"):
        optimize(engine)
        info["optimized"] = True
        sidecar.write_text(json.dumps(info), encoding="utf-8")
    engine.dispose()
    info["database_mb"] = round(pristine.stat().st_size / 2**20, 1)
    work = data_dir / f"run-{contacts}.db"
    for stale in _files(work):
        stale.unlink(missing_ok=True)
    shutil.copyfile(pristine, work)
    return f"sqlite:///{work}", info, _files(work)


def _files(db: Path) -> list[Path]:
    return [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]


def _prepare_in_place(url: str, contacts: int, console: Console) -> tuple[str, dict[str, float]]:
    """The database at `url`, generated into when it has no team yet."""
    if "://" not in url:
        url = f"sqlite:///{Path(url).expanduser()}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        with Session(engine) as session:
            empty = session.exec(select(func.count()).select_from(Team)).one() == 0
        info: dict[str, float] = {}
        if empty:
            engine.dispose()
            console.print(f"[bold]generating[/] {contacts:,} contacts into the database")
            info["seconds"] = round(_generate_isolated(url, contacts).seconds, 1)
        info["database_mb"] = _database_mb(engine)
    finally:
        engine.dispose()
    return url, info


def _database_mb(engine: Engine) -> float:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
        return round(float(size or 0) / 2**20, 1)
    database = make_url(str(engine.url)).database or ""
    return round(Path(database).stat().st_size / 2**20, 1) if Path(database).exists() else 0.0
