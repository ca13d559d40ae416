"""A realistic sales team at any size, written in bulk.

`generate(engine, contacts=N)` fills an empty, migrated database with one team: members,
companies, N contacts (names, e-mails, E.164 phones, tags, coordinates in real cities),
about 2N deals spread over every stage with amounts and their stage history, and two
years of activity. Rows go in with executemany (SQLite) or COPY (PostgreSQL), a chunk of
contacts at a time; secondary indexes, the full-text triggers and the trigram indexes are
dropped for the load and rebuilt once at the end, which is several times faster than
keeping them up to date row by row.
"""

from __future__ import annotations

import logging
import math
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from faker import Faker
from sqlalchemy import Engine, Table, text
from sqlmodel import SQLModel

from bench.places import City, Gazetteer, country_name, currency_of, locale_of
from handlers.scoring import rescore_all_teams
from storage.db import optimize, transaction, upgrade
from storage.keys import city_key, name_key
from storage.models import (
    Activity,
    ActivityKind,
    Company,
    Contact,
    ContactStatus,
    ContactTag,
    Deal,
    DealTag,
    Identity,
    Platform,
    Role,
    StageChange,
    StageKind,
)
from storage.teams import add_member, create_team, first_team, team_stages

log = logging.getLogger(__name__)

HISTORY = timedelta(days=730)
CHUNK = 20_000  # contacts generated and written at a time
BULK_TABLES = ("company", "contact", "contacttag", "deal", "dealtag", "stagechange", "activity")

TAGS = (
    "hot", "warm", "cold", "referral", "trade-fair", "webinar", "newsletter", "enterprise",
    "smb", "startup", "public-sector", "renewal", "upsell", "churn-risk", "vip", "partner",
    "reseller", "inbound", "outbound", "linkedin", "event-2025", "event-2026", "pilot",
    "decision-maker", "champion", "budget-q1", "budget-q4", "competitor-a", "competitor-b",
    "needs-demo", "needs-quote", "follow-up", "dach", "benelux", "nordics", "uk", "iberia",
    "italy", "france", "do-not-call",
)  # fmt: skip
TITLES = (
    "CEO", "Managing Director", "CTO", "CFO", "Head of Operations", "Head of Sales",
    "Purchasing Manager", "Procurement Lead", "Office Manager", "Marketing Lead",
    "IT Manager", "Project Manager", "Facility Manager", "Founder", "Owner",
    "Head of Logistics", "Store Manager", "HR Manager", "Assistant to the CEO", "Consultant",
)  # fmt: skip
PRODUCTS = (
    "Fleet tracking rollout", "Annual support contract", "Website relaunch",
    "Loyalty app pilot", "POS upgrade", "Data platform", "Print subscription",
    "Booking engine", "Energy audit", "Training package", "Cloud migration",
    "Security review", "Licence renewal", "Hardware refresh", "Onboarding workshop",
    "Maintenance plan", "Analytics dashboard", "CRM integration", "Warehouse scanners",
    "Payroll service", "Office fit-out", "Solar panels", "Coffee machines",
    "Managed printing", "Video conferencing", "Field service app",
)  # fmt: skip
NOTES = (
    "Asked for a quote with volume discount", "Wants a demo for the whole team next week",
    "Budget approved for Q1", "Compared us with two competitors", "Very happy with the pilot",
    "Decision maker is on holiday until Monday", "Needs the contract in their language",
    "Sent the price list", "Call back after the board meeting", "Interested in the premium plan",
    "Complained about delivery times", "Asked for references in their industry",
    "Prefers e-mail over phone", "Wants to start before the end of the quarter",
    "Legal is reviewing the contract", "Met at the trade fair booth",
    "New procurement rules, needs three offers", "Follow up with the technical team",
)  # fmt: skip
LOST_REASONS = (
    "went with a cheaper vendor", "no budget this year", "project cancelled",
    "chose a competitor", "no decision", "timing", "missing feature",
)  # fmt: skip
SOURCES = ("referral", "website", "trade fair", "cold call", "linkedin", "newsletter", "partner")
STATUSES = (
    (ContactStatus.lead, 45),
    (ContactStatus.qualified, 20),
    (ContactStatus.customer, 22),
    (ContactStatus.inactive, 13),
)
TOUCHES = (ActivityKind.note, ActivityKind.call, ActivityKind.meeting, ActivityKind.email)
DEALS_PER_CONTACT = ((0, 15), (1, 25), (2, 25), (3, 17), (4, 10), (5, 8))  # about 2 on average
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Generated:
    """What went in, and how long it took."""

    contacts: int
    companies: int
    deals: int
    stage_changes: int
    activities: int
    members: int
    tags: int
    seconds: float

    def counts(self) -> dict[str, int]:
        return {
            "members": self.members,
            "companies": self.companies,
            "contacts": self.contacts,
            "deals": self.deals,
            "stage changes": self.stage_changes,
            "activities": self.activities,
            "tags": self.tags,
        }


def members_for(contacts: int) -> int:
    """A team grows with its book: 20 people at 10k contacts, 200 at a million."""
    return max(5, min(250, round(math.sqrt(contacts) / 5)))


def generate(
    engine: Engine,
    *,
    contacts: int,
    seed: int = 42,
    now: datetime | None = None,
    bulk: bool = True,
) -> Generated:
    """Fill an empty database with one team of `contacts` contacts.

    `bulk=False` keeps every index and trigger in place during the load (slower; kept to
    measure the difference).
    """
    started = time.perf_counter()
    upgrade(engine)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    gazetteer = Gazetteer()
    team = _Team.create(engine, gazetteer, contacts=contacts, seed=seed, now=now)
    loader = _loader(engine)
    with loader:
        if bulk:
            loader.drop_indexes()
        world = _World(team, gazetteer, random.Random(seed), now)
        loader.insert(Company, world.companies(max(10, contacts // 8)))
        for first in range(1, contacts + 1, CHUNK):
            rows = world.contacts(first, min(contacts, first + CHUNK - 1), total=contacts)
            for model, chunk in rows.items():
                loader.insert(model, chunk)
            log.info("generated %d of %d contacts", min(contacts, first + CHUNK - 1), contacts)
        if bulk:
            loader.restore_indexes()
        loader.finish()
    with transaction(engine) as session:
        rescore_all_teams(session, now=now)
    # As a team's database is kept: compacted now and then (crmbot db optimize).
    optimize(engine)
    return Generated(
        contacts=contacts,
        companies=world.counts["company"],
        deals=world.counts["deal"],
        stage_changes=world.counts["stagechange"],
        activities=world.counts["activity"],
        members=len(team.member_ids),
        tags=len(team.tag_ids),
        seconds=time.perf_counter() - started,
    )


# --- the team, made through the storage layer like any other team -----------------------


@dataclass(frozen=True)
class _Team:
    team_id: int
    member_ids: list[int]
    stages: dict[str, tuple[int, str]]  # name -> (id, kind)
    tag_ids: list[int]

    @classmethod
    def create(
        cls, engine: Engine, gazetteer: Gazetteer, *, contacts: int, seed: int, now: datetime
    ) -> _Team:
        rng = random.Random(seed)
        names = gazetteer.names["DE"]
        with transaction(engine) as session:
            if first_team(session) is not None:
                raise ValueError("the database already has a team; generate into an empty one")
            team = create_team(
                session,
                name="Northwind Sales",
                currency="EUR",
                timezone="Europe/Berlin",
                locale="en_US",
                region="DE",
                now=now,
            )
            assert team.id is not None
            member_ids: list[int] = []
            seen: set[str] = set()
            while len(member_ids) < members_for(contacts):
                name = names.full(rng)
                if name_key(name) in seen:
                    continue
                seen.add(name_key(name))
                # The first member is the admin the benchmark speaks as; one in eight is
                # a manager, the rest are reps.
                role = Role.manager if rng.random() < 0.125 else Role.rep
                if not member_ids:
                    role = Role.admin
                # On Telegram, like a field team; in the terminal too, so that
                # `crmbot chat --db ... --as NAME` can look around the generated team.
                member = add_member(
                    session,
                    team_id=team.id,
                    name=name,
                    role=role,
                    platform=Platform.telegram,
                    external_id=str(700_000_000 + len(member_ids)),
                    now=now,
                )
                assert member.id is not None
                session.add(
                    Identity(
                        member_id=member.id,
                        platform=Platform.console,
                        external_id=name_key(name),
                    )
                )
                member_ids.append(member.id)
            stages = {s.name: (s.id or 0, s.kind) for s in team_stages(session, team_id=team.id)}
            session.connection().execute(
                text("INSERT INTO tag (team_id, name) VALUES (:team_id, :name)"),
                [{"team_id": team.id, "name": tag} for tag in TAGS],
            )
            tag_ids = list(
                session.connection().scalars(
                    text("SELECT id FROM tag WHERE team_id = :t ORDER BY id"), {"t": team.id}
                )
            )
        return cls(team.id, member_ids, stages, tag_ids)


# --- the rows ----------------------------------------------------------------------------


@dataclass
class _Company:
    city: City
    domain: str
    short: str  # how people name it in a deal title: "Hermighausen"


@dataclass
class _World:
    team: _Team
    gazetteer: Gazetteer
    rng: random.Random
    now: datetime
    counts: dict[str, int] = field(default_factory=dict)
    _companies: list[_Company] = field(default_factory=list)
    _streets: dict[str, list[str]] = field(default_factory=dict)

    def _next_id(self, table: str) -> int:
        self.counts[table] = self.counts.get(table, 0) + 1
        return self.counts[table]

    def _street(self, country: str) -> str:
        if country not in self._streets:
            fake = Faker(locale_of(country))
            fake.seed_instance(self.rng.random())
            self._streets[country] = [fake.street_name() for _ in range(400)]
        return f"{self.rng.choice(self._streets[country])} {self.rng.randint(1, 180)}"

    def _place(self, city: City) -> tuple[float, float]:
        # Spread around the centre; bigger cities sprawl further.
        spread = 0.02 + 0.04 * math.sqrt(city.population / 1_000_000)
        return (
            round(city.lat + self.rng.gauss(0, spread), 6),
            round(city.lon + self.rng.gauss(0, spread * 1.5), 6),
        )

    def _moment(self, start: datetime, end: datetime) -> datetime:
        seconds = max(0.0, (end - start).total_seconds())
        return (start + timedelta(seconds=self.rng.random() * seconds)).replace(microsecond=0)

    def companies(self, count: int) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        fakers: dict[str, Faker] = {}
        seen: set[str] = set()
        start = self.now - HISTORY
        while len(rows) < count:
            city = self.gazetteer.city(self.rng)
            if city.country not in fakers:
                fakers[city.country] = Faker(locale_of(city.country))
                fakers[city.country].seed_instance(self.rng.random())
            name = fakers[city.country].company()
            key = name_key(name)
            if key in seen:
                name = f"{name} {city.name}"
                key = name_key(name)
                if key in seen:
                    continue
            seen.add(key)
            slug = _SLUG.sub("", key.split()[0])[:20] or "mail"
            domain = f"{slug}.{'co.uk' if city.country == 'GB' else city.country.lower()}"
            self._companies.append(_Company(city, domain, name.split()[0].strip(",")))
            lat, lon = self._place(city)
            rows.append(
                (
                    self._next_id("company"),
                    self.team.team_id,
                    name,
                    key,
                    domain,
                    self._street(city.country),
                    city.name,
                    country_name(city.country),
                    lat,
                    lon,
                    self._moment(start, self.now),
                )
            )
        return rows

    def contacts(self, first: int, last: int, *, total: int) -> dict[type[SQLModel], list[Any]]:
        rows: dict[type[SQLModel], list[Any]] = {
            model: [] for model in (Contact, ContactTag, Deal, DealTag, StageChange, Activity)
        }
        start = self.now - HISTORY
        for contact_id in range(first, last + 1):
            self._contact(contact_id, total, start, rows)
        return rows

    def _contact(
        self, contact_id: int, total: int, start: datetime, rows: dict[type[SQLModel], list[Any]]
    ) -> None:
        rng, team = self.rng, self.team
        # Contacts arrive steadily over the two years, in id order.
        created = start + HISTORY * ((contact_id - 1 + rng.random()) / total)
        created = min(created, self.now).replace(microsecond=0)
        company_id = None
        if rng.random() < 0.8:
            # A few big accounts, many small ones.
            index = int(len(self._companies) * rng.random() ** 2)
            company_id, company = index + 1, self._companies[index]
            city = company.city if rng.random() < 0.85 else self.gazetteer.city(rng)
            domain = company.domain
        else:
            city = self.gazetteer.city(rng)
            domain = rng.choice(("gmail.com", "outlook.com", "web.de", "gmx.net", "yahoo.com"))
        name = self.gazetteer.names[city.country].full(rng)
        key = name_key(name)
        owner = rng.choice(team.member_ids)
        email = f"{_SLUG.sub('.', key).strip('.')}@{domain}" if rng.random() < 0.7 else None
        phone = self.gazetteer.phone(rng, city.country) if rng.random() < 0.75 else None
        status = rng.choices([s for s, _ in STATUSES], weights=[w for _, w in STATUSES])[0]
        tags = sorted(
            {rng.choices(team.tag_ids, weights=_ZIPF[: len(team.tag_ids)])[0]
             for _ in range(rng.choice((0, 0, 0, 1, 1, 2, 3)))}
        )  # fmt: skip
        rows[ContactTag].extend((contact_id, tag_id) for tag_id in tags)
        activities = rows[Activity]
        touched = [created]
        activities.append(
            (self._next_id("activity"), team.team_id, owner, ActivityKind.created.value,
             contact_id, None, None, None, None, created)
        )  # fmt: skip
        for _ in range(_poisson(rng, 1.2)):
            touched.append(self._touch(contact_id, None, owner, created, city, activities))
        deal_count = rng.choices(
            [n for n, _ in DEALS_PER_CONTACT], weights=[w for _, w in DEALS_PER_CONTACT]
        )[0]
        for _ in range(deal_count):
            touched.append(self._deal(contact_id, company_id, owner, created, city, rows))
        last_activity = max(touched)
        lat, lon = self._place(city) if rng.random() < 0.9 else (None, None)
        address = self._street(city.country) if rng.random() < 0.5 else None
        score = 0  # scored in SQL once everything is loaded (rescore_all_teams)
        rows[Contact].append(
            (contact_id, team.team_id, owner, company_id, name, key, email, phone,
             rng.choice(TITLES) if rng.random() < 0.6 else None, status.value,
             rng.choice(SOURCES) if rng.random() < 0.7 else None, address, city.name,
             city_key(city.name), country_name(city.country), lat, lon,
             (f"{address}, {city.name}" if address else city.name) if lat is not None else None,
             score, last_activity, rng.random() < 0.005, created, last_activity)
        )  # fmt: skip
        self.counts["contact"] = contact_id

    def _touch(
        self,
        contact_id: int,
        deal_id: int | None,
        owner: int,
        after: datetime,
        city: City,
        activities: list[Any],
    ) -> datetime:
        rng = self.rng
        at = self._moment(after, self.now)
        member = owner if rng.random() < 0.75 else rng.choice(self.team.member_ids)
        visit = rng.random() < 0.15
        kind = ActivityKind.visit if visit else rng.choice(TOUCHES)
        lat, lon = self._place(city) if visit else (None, None)
        note = rng.choice(NOTES) if kind is not ActivityKind.email or rng.random() < 0.3 else None
        activities.append(
            (self._next_id("activity"), self.team.team_id, member, kind.value, contact_id,
             deal_id, note, lat, lon, at)
        )  # fmt: skip
        return at

    def _deal(
        self,
        contact_id: int,
        company_id: int | None,
        owner: int,
        contact_created: datetime,
        city: City,
        rows: dict[type[SQLModel], list[Any]],
    ) -> datetime:
        rng, team, stages = self.rng, self.team, self.team.stages
        deal_id = self._next_id("deal")
        created = self._moment(contact_created, self.now)
        age = (self.now - created).days
        open_names = [name for name, (_, kind) in stages.items() if kind == StageKind.open]
        won = next(name for name, (_, kind) in stages.items() if kind == StageKind.won)
        lost = next(name for name, (_, kind) in stages.items() if kind == StageKind.lost)
        if rng.random() < min(0.9, age / 120):
            final = won if rng.random() < 0.55 else lost
            reached = rng.randint(1, len(open_names)) if final == lost else len(open_names)
            path = [*open_names[:reached], final]
            end = min(self.now, created + timedelta(days=rng.uniform(5, 150)))
        else:
            final = rng.choices(open_names, weights=(40, 25, 20, 15)[: len(open_names)])[0]
            path = open_names[: open_names.index(final) + 1]
            end = self.now
        # Each step somewhere in the deal's life, in order.
        steps = sorted(self._moment(created, end) for _ in path[1:])
        moments = [created, *steps]
        previous: int | None = None
        entered: datetime | None = None
        lost_reason = rng.choice(LOST_REASONS) if final == lost and rng.random() < 0.7 else None
        activities = rows[Activity]
        for name, at in zip(path, moments, strict=True):
            stage_id, kind = stages[name]
            stay = (at - entered).total_seconds() if entered is not None else None
            rows[StageChange].append(
                (self._next_id("stagechange"), team.team_id, deal_id, previous, stage_id,
                 owner, at, entered, stay)
            )  # fmt: skip
            if previous is None:
                activity_kind, note = ActivityKind.created, None
            else:
                activity_kind = {
                    StageKind.open: ActivityKind.stage,
                    StageKind.won: ActivityKind.won,
                    StageKind.lost: ActivityKind.lost,
                }[StageKind(kind)]
                note = lost_reason if activity_kind is ActivityKind.lost and lost_reason else name
            activities.append(
                (self._next_id("activity"), team.team_id, owner, activity_kind.value,
                 contact_id, deal_id, note, None, None, at)
            )  # fmt: skip
            previous, entered = stage_id, at
        last_activity = moments[-1]
        if rng.random() < 0.3:
            last_activity = max(
                last_activity, self._touch(contact_id, deal_id, owner, created, city, activities)
            )
        closed = moments[-1] if final in (won, lost) else None
        if rng.random() < 0.08:
            amount, currency = None, None
        else:
            major = max(500, round(math.exp(rng.gauss(9.2, 1.0)), -2))
            amount = int(major) * 100
            local = currency_of(city.country)
            currency = local if local != "EUR" and rng.random() < 0.7 else "EUR"
        title = rng.choice(PRODUCTS)
        if company_id is not None and rng.random() < 0.5:
            title = f"{title} – {self._companies[company_id - 1].short}"
        expected: date | None = (
            closed.date()
            if closed
            else (self.now + timedelta(days=rng.randint(-20, 120))).date()
            if rng.random() < 0.8
            else None
        )
        cycle = (closed - created).total_seconds() if closed else None
        rows[Deal].append(
            (deal_id, team.team_id, owner, contact_id, company_id, title, name_key(title),
             amount, currency, stages[final][0], expected, moments[-1], last_activity, closed,
             cycle, lost_reason, created, last_activity)
        )  # fmt: skip
        if rng.random() < 0.15:
            rows[DealTag].append((deal_id, rng.choice(team.tag_ids)))
        return last_activity


_ZIPF = [1 / (rank + 1) for rank in range(len(TAGS))]


def _poisson(rng: random.Random, mean: float) -> int:
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


# --- writing -----------------------------------------------------------------------------

# The columns each generated row fills, in order.
COLUMNS: dict[type[SQLModel], tuple[str, ...]] = {
    Company: ("id", "team_id", "name", "name_key", "domain", "address", "city", "country",
              "lat", "lon", "created_at"),
    Contact: ("id", "team_id", "owner_id", "company_id", "name", "name_key", "email", "phone",
              "title", "status", "source", "address", "city", "city_key", "country", "lat",
              "lon", "geocoded_from", "score", "last_activity_at", "archived", "created_at",
              "updated_at"),
    ContactTag: ("contact_id", "tag_id"),
    Deal: ("id", "team_id", "owner_id", "contact_id", "company_id", "title", "title_key",
           "amount", "currency", "stage_id", "expected_close", "stage_entered_at",
           "last_activity_at", "closed_at", "cycle_seconds", "lost_reason", "created_at",
           "updated_at"),
    DealTag: ("deal_id", "tag_id"),
    StageChange: (
        "id", "team_id", "deal_id", "from_stage_id", "to_stage_id", "member_id", "at",
        "from_entered_at", "stay_seconds",
    ),
    Activity: ("id", "team_id", "member_id", "kind", "contact_id", "deal_id", "text", "lat",
               "lon", "at"),
}  # fmt: skip


class _Loader(Protocol):
    def __enter__(self) -> _Loader: ...
    def __exit__(self, *exc: object) -> None: ...
    def drop_indexes(self) -> None: ...
    def insert(self, model: type[SQLModel], rows: Sequence[tuple[Any, ...]]) -> None: ...
    def restore_indexes(self) -> None: ...
    def finish(self) -> None: ...


def _loader(engine: Engine) -> _Loader:
    if engine.dialect.name == "postgresql":
        return _PostgresLoader(engine)
    return _SQLiteLoader(engine)


def _converters(engine: Engine, model: type[SQLModel]) -> list[Callable[[Any], Any] | None]:
    """The same conversions SQLAlchemy applies when the ORM writes (UTC timestamps)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    dialect = engine.dialect
    return [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in COLUMNS[model]
    ]


def _converted(
    rows: Iterable[tuple[Any, ...]], converters: list[Callable[[Any], Any] | None]
) -> Iterator[tuple[Any, ...]]:
    active = [(i, f) for i, f in enumerate(converters) if f is not None]
    for row in rows:
        values = list(row)
        for i, convert in active:
            values[i] = convert(values[i])
        yield tuple(values)


class _SQLiteLoader:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.raw = engine.raw_connection()
        self.db: Any = self.raw.driver_connection
        self.saved: list[str] = []

    def __enter__(self) -> _SQLiteLoader:
        # The rows are consistent by construction; the load is one transaction that a
        # crash would throw away anyway.
        self.db.execute("PRAGMA foreign_keys=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("PRAGMA cache_size=-262144")
        self.db.execute("BEGIN")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.raw.close()

    def drop_indexes(self) -> None:
        tables = ", ".join(f"'{t}'" for t in BULK_TABLES)
        # The running totals' triggers stay: nothing else would fill the totals, and they
        # cost less than the full-text ones, which 'rebuild' replaces in one pass.
        dropped = (
            "type IN ('index', 'trigger') AND name NOT LIKE '%\\_totals\\_%' ESCAPE '\\' "
            f"AND tbl_name IN ({tables}) AND sql IS NOT NULL"
        )
        self.saved = [
            sql
            for (sql,) in self.db.execute(
                f"SELECT sql FROM sqlite_master WHERE {dropped} ORDER BY type, name"
            )
        ]
        for kind, name in self.db.execute(
            f"SELECT type, name FROM sqlite_master WHERE {dropped}"
        ).fetchall():
            self.db.execute(f"DROP {kind.upper()} {name}")

    def insert(self, model: type[SQLModel], rows: Sequence[tuple[Any, ...]]) -> None:
        columns = COLUMNS[model]
        table = model.__table__.name  # type: ignore[attr-defined]
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})"
        )
        self.db.executemany(sql, _converted(rows, _converters(self.engine, model)))

    def restore_indexes(self) -> None:
        for sql in self.saved:
            self.db.execute(sql)
        # The full-text tables are external-content: 'rebuild' reads the content tables.
        for (fts,) in self.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND sql LIKE 'CREATE VIRTUAL TABLE%USING fts5(%'"
        ).fetchall():
            self.db.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")

    def finish(self) -> None:
        self.db.execute("COMMIT")
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class _PostgresLoader:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.raw = engine.raw_connection()
        self.db: Any = self.raw.driver_connection
        self.saved: list[str] = []

    def __enter__(self) -> _PostgresLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc and exc[0] is not None:
            self.db.rollback()
        self.raw.close()

    def drop_indexes(self) -> None:
        # Everything but the indexes behind primary keys and unique constraints.
        rows = self.db.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = ANY(%s) AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            (list(BULK_TABLES),),
        ).fetchall()
        self.saved = [definition for _, definition in rows]
        for name, _ in rows:
            self.db.execute(f'DROP INDEX "{name}"')

    def insert(self, model: type[SQLModel], rows: Sequence[tuple[Any, ...]]) -> None:
        columns = ", ".join(COLUMNS[model])
        table = model.__table__.name  # type: ignore[attr-defined]
        with self.db.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in _converted(rows, _converters(self.engine, model)):
                copy.write_row(row)

    def restore_indexes(self) -> None:
        for definition in self.saved:
            self.db.execute(definition)

    def finish(self) -> None:
        for table in BULK_TABLES:
            if "id" in COLUMNS[_MODELS[table]]:
                self.db.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
                )
        self.db.commit()
        # As autovacuum would soon after a load this size: statistics for the planner, and
        # the visibility map that lets index-only scans skip the heap.
        self.db.autocommit = True  # VACUUM runs outside a transaction
        try:
            self.db.execute("VACUUM ANALYZE")
        finally:
            self.db.autocommit = False  # the connection goes back to the pool


_MODELS: dict[str, type[SQLModel]] = {m.__table__.name: m for m in COLUMNS}  # type: ignore[attr-defined]
