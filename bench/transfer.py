"""Import and export at scale: rows a second and peak memory.

    python -m bench.transfer import --file FILE --db URL [--statements]
    python -m bench.transfer export --db URL [--format csv|xlsx] --out DIR [--via file|chat]
    python -m bench.transfer all [--rows 100000] [--contacts 100000] [--postgres URL]

`import` writes a realistic file (Faker names, a company for every eight people, valid
phone numbers, tags, statuses, a deal on every fifth row with an amount as people write
it and a close date), then runs `crmbot import`'s own path (`bot.transfer.import_path`:
the preview, then the rows written in one transaction) on an empty database and times
each part; `export` fills a database with bench.generate's team and writes the contacts
as CSV and XLSX with `bot.transfer.export_to` (`crmbot export`) and as `/export` in a
chat makes them (through the dispatcher, into the reply's temporary file). Each
measurement runs in a process of its own, so its peak RSS is its own. `all` runs them on
SQLite (and PostgreSQL) and prints a Markdown table for bench/NOTES.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from faker import Faker
from sqlalchemy import event, text

from storage.db import make_engine, upgrade
from storage.keys import name_key

STAGES = ("Lead", "Qualified", "Proposal", "Negotiation", "Won", "Lost")
STATUSES = ("Lead", "Marketing Qualified Lead", "Customer", "Sales Qualified Lead")
HEADER = (
    "First Name",
    "Last Name",
    "Email",
    "Phone Number",
    "Company Name",
    "Job Title",
    "City",
    "Lifecycle Stage",
    "Tags",
    "Deal Name",
    "Amount",
    "Deal Stage",
    "Close Date",
)


def sample_rows(count: int, seed: int = 7) -> list[list[str]]:
    fake = Faker(["de_DE", "en_US"])
    fake.seed_instance(seed)
    rng = random.Random(seed)
    companies = [fake.company() for _ in range(max(1, count // 8))]
    rows = []
    for i in range(count):
        first, last = fake.first_name(), fake.last_name()
        deal = i % 5 == 0
        rows.append(
            [
                first,
                last,
                f"{name_key(first)}.{name_key(last)}.{i}@example.com".replace(" ", ""),
                f"+49 30 {2000000 + i:07d}"[:15] if i < 8_000_000 else "",
                rng.choice(companies),
                fake.job()[:100],
                fake.city(),
                rng.choice(STATUSES),
                " ".join(rng.sample(["hot", "fair", "vip", "berlin", "cold"], 2)),
                f"{fake.bs()[:60]} {i}" if deal else "",
                f"{rng.randrange(1, 500) * 500:,} €".replace(",", ".") if deal else "",
                rng.choice(STAGES) if deal else "",
                f"2027-0{rng.randrange(1, 10)}-1{rng.randrange(0, 9)}" if deal else "",
            ]
        )
    return rows


def write_file(path: Path, rows: list[list[str]]) -> None:
    if path.suffix == ".xlsx":
        import xlsxwriter

        book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, HEADER)
        for line, row in enumerate(rows, start=1):
            sheet.write_row(line, 0, row)
        book.close()
        return
    with path.open("w", newline="", encoding="utf-8-sig") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(HEADER)
        writer.writerows(rows)


def measure_import(url: str, path: Path, *, statements: bool = False) -> dict[str, Any]:
    """In this process: import `path` into the (empty) database at `url`; with
    `statements`, the time the database took for each kind of statement, by part."""
    from bot.transfer import import_path
    from handlers.context import TeamDefaults

    engine = make_engine(url)
    upgrade(engine)
    marks: dict[str, float] = {}
    timer = _StatementTimer(engine) if statements else None
    start, cpu_start = time.perf_counter(), time.process_time()

    def confirm(_preview: object) -> bool:
        marks["preview"] = time.perf_counter() - start
        marks["preview_cpu"] = time.process_time() - cpu_start
        if timer is not None:
            timer.part = "import"
        return True

    reply, imported = import_path(
        engine,
        path=path,
        user="Bench",
        defaults=TeamDefaults(import_max_rows=1_000_000, import_max_bytes=1 << 30),
        confirm=confirm,
    )
    total, cpu_total = time.perf_counter() - start, time.process_time() - cpu_start
    assert imported, reply.plain_text
    with engine.connect() as connection:
        contacts = connection.execute(text("SELECT count(*) FROM contact")).scalar_one()
        deals = connection.execute(text("SELECT count(*) FROM deal")).scalar_one()
    if timer is not None:
        timer.part = "undo"
    undo_start, undo_cpu_start = time.perf_counter(), time.process_time()
    _undo(engine)
    undo, undo_cpu = time.perf_counter() - undo_start, time.process_time() - undo_cpu_start
    engine.dispose()
    return {
        "contacts": contacts,
        "deals": deals,
        "preview_s": marks["preview"],
        "import_s": total - marks["preview"],
        "undo_s": undo,
        # This process's CPU (not the database server's): steadier than the wall clock
        # on a shared machine.
        "preview_cpu_s": marks["preview_cpu"],
        "import_cpu_s": cpu_total - marks["preview_cpu"],
        "undo_cpu_s": undo_cpu,
        "peak_rss_mb": _peak_rss_mb(),
        **({"statements": timer.spent} if timer is not None else {}),
    }


class _StatementTimer:
    """The wall time of each statement (SQLAlchemy's cursor events, and the COPYs around
    `storage.imports._copy_rows`, which go past them), added up by part (preview, import,
    undo) and kind ("UPDATE contact", "COPY deal"): [count, seconds]."""

    _KIND = re.compile(r"\s*(COPY|INSERT INTO|UPDATE|DELETE FROM|SELECT|\w+)\s*(\"?\w+)?", re.I)

    def __init__(self, engine: Any) -> None:
        import storage.imports

        self.part = "preview"
        self.spent: dict[str, dict[str, list[float]]] = {}
        self._started: list[float] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        copy_rows = storage.imports._copy_rows

        def timed_copy(connection: Any, table: Any, rows: Any) -> None:
            began = time.perf_counter()
            copy_rows(connection, table, rows)
            self._add(f"COPY {table.name}", time.perf_counter() - began)

        storage.imports._copy_rows = timed_copy

    def _before(self, *_args: Any) -> None:
        self._started.append(time.perf_counter())

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        elapsed = time.perf_counter() - self._started.pop()
        found = self._KIND.match(statement)
        verb = found.group(1).split()[0].upper() if found else "?"
        table = found.group(2) if found and verb in ("COPY", "INSERT", "UPDATE", "DELETE") else ""
        self._add(f"{verb} {table or ''}".strip().replace('"', ""), elapsed)

    def _add(self, kind: str, seconds: float) -> None:
        entry = self.spent.setdefault(self.part, {}).setdefault(kind, [0, 0.0])
        entry[0] += 1
        entry[1] += seconds


def _undo(engine: Any) -> None:
    from handlers import build_registry
    from handlers.context import Request
    from handlers.dispatcher import Dispatcher
    from storage.models import Platform

    dispatcher = Dispatcher(engine, build_registry())
    reply = dispatcher.handle_sync(
        Request(platform=Platform.console, user_id="bench", user_name="Bench", text="/undo")
    )
    dispatcher.close()
    assert reply is not None and "Undone" in reply.plain_text, reply


def measure_export(url: str, fmt: str, folder: Path) -> dict[str, Any]:
    from bot.transfer import export_to

    engine = make_engine(url)
    with engine.connect() as connection:
        admin = connection.execute(
            text("SELECT name FROM member WHERE role = 'admin' ORDER BY id LIMIT 1")
        ).scalar_one()
        identity = connection.execute(
            text("SELECT count(*) FROM identity WHERE platform = 'console'")
        ).scalar_one()
    assert identity, "the generated team has console identities"
    start = time.perf_counter()
    written = export_to(engine, folder=folder, user=admin, kind="contacts", fmt=fmt)
    elapsed = time.perf_counter() - start
    assert not isinstance(written, str), written
    engine.dispose()
    [(path, rows)] = written
    return {
        "rows": rows,
        "seconds": elapsed,
        "mb": path.stat().st_size / 1e6,
        "peak_rss_mb": _peak_rss_mb(),
    }


def measure_chat_export(url: str, fmt: str) -> dict[str, Any]:
    """`/export contacts FMT` as a chat sends it: through the dispatcher, the file in the
    reply's temporary file (what the adapters send from)."""
    from handlers import build_registry
    from handlers.context import Request
    from handlers.dispatcher import Dispatcher
    from storage.models import Platform

    engine = make_engine(url)
    with engine.connect() as connection:
        admin = connection.execute(
            text(
                "SELECT i.external_id, m.name FROM member m JOIN identity i "
                "ON i.member_id = m.id AND i.platform = 'console' "
                "WHERE m.role = 'admin' ORDER BY m.id LIMIT 1"
            )
        ).one()
    dispatcher = Dispatcher(engine, build_registry())
    start = time.perf_counter()
    reply = dispatcher.handle_sync(
        Request(
            platform=Platform.console,
            user_id=admin[0],
            user_name=admin[1],
            text=f"/export contacts {fmt}",
        )
    )
    elapsed = time.perf_counter() - start
    dispatcher.close()
    engine.dispose()
    assert reply is not None and reply.attachments, reply
    [attachment] = reply.attachments
    return {
        "rows": int(reply.plain_text.rsplit(": ", 1)[-1].split()[0].replace(",", "")),
        "seconds": elapsed,
        "mb": attachment.size / 1e6,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.transfer", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run_all(rows: int, contacts: int, postgres: str | None, folder: Path) -> str:
    lines = [
        "| what | backend | rows | preview | import | rows/s | undo | peak RSS |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    backends = [("sqlite", None), *([("postgresql", postgres)] if postgres else [])]
    data = sample_rows(rows)
    for fmt in ("csv", "xlsx"):
        path = folder / f"import-{rows}.{fmt}"
        write_file(path, data)
        for name, url in backends:
            target = url or f"sqlite:///{folder / f'import-{fmt}.db'}"
            if url:
                _reset_postgres(url)
            result = _child("import", "--file", str(path), "--db", target)
            lines.append(
                f"| import {fmt} ({path.stat().st_size / 1e6:.0f} MB) | {name} | "
                f"{result['contacts']:,} | {result['preview_s']:.1f} s | "
                f"{result['import_s']:.1f} s | {rows / result['import_s']:,.0f} | "
                f"{result['undo_s']:.1f} s | {result['peak_rss_mb']:.0f} MB |"
            )
    lines += [
        "",
        "| export | backend | contacts | time | file | peak RSS |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for name, url in backends:
        target = url or f"sqlite:///{folder / 'export.db'}"
        if url:
            _reset_postgres(url)
        _generate(target, contacts)
        for fmt in ("csv", "xlsx"):
            for via in ("file", "chat"):
                result = _child(
                    "export", "--db", target, "--format", fmt, "--out", str(folder), "--via", via
                )
                lines.append(
                    f"| contacts as {fmt}, {'crmbot export' if via == 'file' else 'in a chat'} "
                    f"| {name} | {result['rows']:,} | {result['seconds']:.1f} s | "
                    f"{result['mb']:.0f} MB | {result['peak_rss_mb']:.0f} MB |"
                )
    return "\n".join(lines)


def _generate(url: str, contacts: int) -> None:
    from bench.generate import generate

    engine = make_engine(url)
    upgrade(engine)
    generate(engine, contacts=contacts)
    engine.dispose()


def _reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.transfer")
    sub = parser.add_subparsers(dest="what", required=True)
    one = sub.add_parser("import")
    one.add_argument("--file", required=True)
    one.add_argument("--db", required=True)
    one.add_argument(
        "--statements", action="store_true", help="time each kind of statement, by part"
    )
    out = sub.add_parser("export")
    out.add_argument("--db", required=True)
    out.add_argument("--format", default="csv")
    out.add_argument("--out", required=True)
    out.add_argument("--via", choices=("file", "chat"), default="file")
    every = sub.add_parser("all")
    every.add_argument("--rows", type=int, default=100_000)
    every.add_argument("--contacts", type=int, default=100_000)
    every.add_argument("--postgres")
    args = parser.parse_args()
    if args.what == "import":
        print(json.dumps(measure_import(args.db, Path(args.file), statements=args.statements)))
    elif args.what == "export":
        if args.via == "chat":
            print(json.dumps(measure_chat_export(args.db, args.format)))
        else:
            print(json.dumps(measure_export(args.db, args.format, Path(args.out))))
    else:
        with tempfile.TemporaryDirectory() as folder:
            print(run_all(args.rows, args.contacts, args.postgres, Path(folder)))


if __name__ == "__main__":
    main()
