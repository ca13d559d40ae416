"""What the benchmark sends: one small function per case.

A case gets the `World` (the generated team and a sample of its records, loaded once per
run) and returns the chat message for one call. The runner sends it through the
dispatcher exactly as an adapter would and renders the reply as the terminal does; a
reply marked as an error fails the run, so a case always measures the real work. What the
function does before it returns is not timed (the speaker sharing a location first, say).
A reply's deferred attachments (a chart) are timed apart, as a second row "…: chart".

To add a case, write a function and decorate it:

    @case("/show deal", "show", targets=ID_COMMAND)
    def show_deal(world: World) -> str:
        return f"/show d{world.deal_id()}"

A case may instead return a function of a session, timed as it is, outside the
dispatcher: the naive way of a query, run beside the command (`naive_of`) for the ratio.
Such a function must return something non-empty.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from handlers.contacts import wanted_statuses
from handlers.location import DEFAULT_LIMIT
from storage.keys import name_key
from storage.models import (
    Company,
    Contact,
    Deal,
    Identity,
    Member,
    Platform,
    Role,
    Stage,
    StageKind,
    Tag,
)
from storage.nearby import distance_km
from storage.teams import first_team
from storage.types import utcnow

SAMPLE = 4000  # records drawn per run; each call picks among them
NEARBY_KM = 10.0


@dataclass(frozen=True)
class Target:
    """A latency goal from the issue, at a data size (contacts) on a backend."""

    contacts: int
    p50_ms: float
    p99_ms: float | None = None
    backend: str = "sqlite"


ID_COMMAND = (Target(100_000, 1.0, 5.0),)  # names a record by id or exact name
CREATE_COMMAND = (Target(100_000, 2.0),)
FUZZY_FIND = (Target(100_000, 5.0), Target(1_000_000, 15.0))
NEARBY = (Target(1_000_000, 10.0, 30.0),)
# The issue says 100k and 1M deals; the generator makes about two per contact, so the
# sizes here (contacts) hold twice that.
REPORT = (
    Target(100_000, 50.0),
    Target(1_000_000, 300.0),
    Target(100_000, 50.0, backend="postgresql"),
)

Direct = Callable[[Session], object]  # a call timed outside the dispatcher
Call = str | Direct


@dataclass(frozen=True)
class Case:
    name: str
    command: str  # the command it exercises, for grouping
    message: Callable[[World], Call]
    targets: tuple[Target, ...] = ()
    calls: int | None = None  # at most this many timed calls, after one warm-up: a slow case
    naive_of: str | None = None  # the case whose query this one does the naive way
    # Reads every deal of a period or every contact, so it grows with the data: left out
    # of the target that a case at 1M contacts stays within 3× of itself at 10k.
    grows: bool = False


CASES: list[Case] = []


def case(
    name: str,
    command: str,
    *,
    targets: tuple[Target, ...] = (),
    calls: int | None = None,
    naive_of: str | None = None,
    grows: bool = False,
) -> Callable[[Callable[[World], Call]], Callable[[World], Call]]:
    def register(message: Callable[[World], Call]) -> Callable[[World], Call]:
        CASES.append(Case(name, command, message, targets, calls, naive_of, grows))
        return message

    return register


@dataclass
class World:
    """The team the benchmark speaks to, and records for the cases to name."""

    team_id: int
    speaker: Identity  # an admin, so every change is allowed
    contacts: list[tuple[int, str]]  # (id, name)
    unique_names: list[str]  # contact names no other record shares
    open_deals: list[int]
    deals: list[int]
    companies: list[str]
    tags: list[str]
    cities: list[str]
    open_stages: dict[int, str]
    deal_stage: dict[int, int]
    places: list[tuple[float, float]]  # where prospects (lead, qualified) are
    engine: Engine
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    nonce: str = ""

    @classmethod
    def load(cls, engine: Engine, *, seed: int = 7) -> World:
        rng = random.Random(seed)
        with Session(engine) as session:
            team = first_team(session)
            if team is None or team.id is None:
                raise ValueError("the database has no team: generate one first")
            team_id = team.id
            speaker = session.exec(
                select(Identity)
                .join(Member, col(Member.id) == col(Identity.member_id))
                .where(
                    Member.team_id == team_id,
                    Member.role == Role.admin,
                    Identity.platform == Platform.telegram,
                )
                .order_by(col(Member.id))
            ).first()
            if speaker is None:
                raise ValueError("the team has no admin on Telegram to speak as")
            top = session.exec(select(func.max(Contact.id))).one() or 0
            contacts = [
                (row[0] or 0, row[1])
                for row in session.exec(
                    select(Contact.id, Contact.name).where(
                        Contact.team_id == team_id,
                        col(Contact.archived).is_(False),
                        col(Contact.id).in_(_sample(rng, top)),
                    )
                )
            ]
            keys = {name_key(name): name for _, name in contacts}
            unique = [
                keys[key]
                for key in session.exec(
                    select(Contact.name_key)
                    .where(Contact.team_id == team_id, col(Contact.name_key).in_(list(keys)))
                    .group_by(col(Contact.name_key))
                    .having(func.count() == 1)
                )
            ]
            stages = session.exec(select(Stage).where(Stage.team_id == team_id)).all()
            open_stages = {s.id: s.name for s in stages if s.kind == StageKind.open and s.id}
            top_deal = session.exec(select(func.max(Deal.id))).one() or 0
            deal_rows = session.exec(
                select(Deal.id, Deal.stage_id).where(
                    Deal.team_id == team_id, col(Deal.id).in_(_sample(rng, top_deal))
                )
            ).all()
            top_company = session.exec(select(func.max(Company.id))).one() or 0
            companies = list(
                session.exec(
                    select(Company.name).where(
                        Company.team_id == team_id,
                        col(Company.id).in_(_sample(rng, top_company, 500)),
                    )
                )
            )
            tags = list(session.exec(select(Tag.name).where(Tag.team_id == team_id)))
            cities = list(
                session.exec(
                    select(Contact.city).where(
                        col(Contact.id).in_([i for i, _ in contacts[:500]]),
                        col(Contact.city).is_not(None),
                    )
                )
            )
            places = [
                (lat, lon)
                for lat, lon in session.exec(
                    select(Contact.lat, Contact.lon).where(
                        col(Contact.id).in_([i for i, _ in contacts[:500]]),
                        col(Contact.status).in_(wanted_statuses(None)),
                    )
                )
                if lat is not None and lon is not None
            ]
        deals = {deal_id: stage_id for deal_id, stage_id in deal_rows if deal_id}
        return cls(
            team_id=team_id,
            speaker=speaker,
            contacts=sorted(contacts),
            unique_names=sorted(unique),
            open_deals=sorted(i for i, s in deals.items() if s in open_stages),
            deals=sorted(deals),
            companies=sorted(companies),
            tags=sorted(tags),
            cities=sorted(c for c in cities if c),
            open_stages=open_stages,
            deal_stage=deals,
            places=sorted(places),
            engine=engine,
            rng=rng,
            # Fresh each run: update ids and the run's tag must not repeat an earlier run's.
            nonce=secrets.token_hex(3),
        )

    def contact(self) -> tuple[int, str]:
        return self.rng.choice(self.contacts)

    def deal_id(self) -> int:
        return self.rng.choice(self.deals)

    def share_location(self) -> None:
        """The speaker shares where they are, as a phone does before /nearby: at one of
        the sampled prospects, so that a search around it finds at least that one."""
        with Session(self.engine) as session:
            member = session.get(Member, self.speaker.member_id)
            assert member is not None
            member.lat, member.lon = self.rng.choice(self.places)
            member.located_at = utcnow()
            session.add(member)
            session.commit()

    def take_open_deal(self) -> int:
        """An open deal no earlier call of this run has closed."""
        if not self.open_deals:
            raise ValueError("the sample has run out of open deals; use fewer calls")
        return self.open_deals.pop(self.rng.randrange(len(self.open_deals)))


def _sample(rng: random.Random, top: int, size: int = SAMPLE) -> list[int]:
    return rng.sample(range(1, top + 1), min(size, top))


def _slug(text: str) -> str:
    return "".join(ch for ch in name_key(text) if ch.isalnum()) or "x"


def nearby_the_naive_way(
    session: Session, *, team_id: int, lat: float, lon: float, radius_km: float, limit: int
) -> list[tuple[float, int]]:
    """What /nearby does without its index: every prospect of the team read and its
    geodesic distance computed, the nearest `limit` within the radius kept. The rows are
    streamed rather than listed, so that this comparison does not add a million rows to the
    peak RSS the run reports for the bot."""
    rows = session.execute(
        select(Contact.id, Contact.lat, Contact.lon).where(
            Contact.team_id == team_id,
            col(Contact.lat).is_not(None),
            col(Contact.lon).is_not(None),
            col(Contact.status).in_(wanted_statuses(None)),
            col(Contact.archived).is_(False),
        ),
        execution_options={"yield_per": 10_000},
    )
    found = [
        (km, contact_id or 0)
        for contact_id, c_lat, c_lon in rows
        if c_lat is not None
        and c_lon is not None
        and (km := distance_km(lat, lon, c_lat, c_lon)) <= radius_km
    ]
    return sorted(found)[:limit]


def misspelt(name: str, rng: random.Random) -> str:
    """The name as typed in a hurry: two neighbouring letters swapped in each long word."""
    words = []
    for word in name.split():
        spots = [i for i in range(len(word) - 1) if word[i] != word[i + 1]]
        if len(word) >= 4 and spots:
            i = rng.choice(spots)
            word = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        words.append(word)
    return " ".join(words)


# --- the cases ---------------------------------------------------------------------------


@case("/start (the floor: no query of its own)", "start")
def start(world: World) -> str:
    # A member's /start only says hello: what every message costs before its command
    # does anything (dedupe, identity, transaction, commit, render).
    return "/start"


@case("/find exact name", "find")
def find_exact(world: World) -> str:
    return f"/find {world.contact()[1]}"


@case("/find misspelt name", "find", targets=FUZZY_FIND)
def find_misspelt(world: World) -> str:
    return f"/find {misspelt(world.contact()[1], world.rng)}"


@case("/show contact by id", "show", targets=ID_COMMAND)
def show_contact(world: World) -> str:
    return f"/show c{world.contact()[0]}"


@case("/show contact by name", "show", targets=ID_COMMAND)
def show_contact_by_name(world: World) -> str:
    return f"/show {world.rng.choice(world.unique_names)}"


@case("/show deal by id", "show", targets=ID_COMMAND)
def show_deal(world: World) -> str:
    return f"/show d{world.deal_id()}"


@case("/add contact", "add", targets=CREATE_COMMAND)
def add_contact(world: World) -> str:
    # A new person: the first name of one contact and the last name of another.
    rng = world.rng
    first, last = world.contact()[1].split()[0], world.contact()[1].split()[-1]
    company = rng.choice(world.companies).replace('"', "")
    phone = f"+49 30 {rng.randrange(1000000, 9999999)}"
    email = f"{_slug(first)}.{_slug(last)}.{rng.randrange(10**4)}@example.com"
    city = rng.choice(world.cities).replace('"', "")
    return (
        f'/add {first} {last} company:"{company}" {phone} {email} city:"{city}" '
        f"#{rng.choice(world.tags)}"
    )


@case("/add as typed on a phone", "add", targets=CREATE_COMMAND)
def add_contact_typed(world: World) -> str:
    """The same contact as /add contact, typed the way a rep types it: no quotes, values
    of several words running on, a spaced phone number, an e-mail, two tags. Side by side
    with /add contact it is what the grammar costs (issue 14: at most 0.3 ms p50 more)."""
    rng = world.rng
    first, last = world.contact()[1].split()[0], world.contact()[1].split()[-1]
    company = rng.choice(world.companies).replace('"', "")
    email = f"{_slug(first)}.{_slug(last)}.{rng.randrange(10**4)}@example.com"
    city = rng.choice(world.cities).replace('"', "")
    tags = rng.sample(world.tags, 2)
    return (
        f"/add {first} {last} company:{company} Handels GmbH title:Senior Key Account "
        f"Manager EMEA city:{city} +49 151 {rng.randrange(10**7, 10**8)} {email} "
        f"#{tags[0]} #{tags[1]}"
    )


@case("/deal for a contact", "deal", targets=CREATE_COMMAND)
def open_deal(world: World) -> str:
    contact_id, _ = world.contact()
    return f"/deal Benchmark rollout contact:c{contact_id} {world.rng.randrange(1, 200)}k"


@case('/deal with close:"next friday"', "deal")
def open_deal_closing(world: World) -> str:
    contact_id, _ = world.contact()
    return f'/deal Benchmark pilot contact:c{contact_id} 8k close:"next friday"'


@case("/stage deal to stage", "stage", targets=ID_COMMAND)
def move_deal(world: World) -> str:
    deal_id = world.rng.choice(world.open_deals)
    current = world.deal_stage[deal_id]
    stage_id = world.rng.choice([s for s in world.open_stages if s != current])
    world.deal_stage[deal_id] = stage_id
    return f"/stage {deal_id} {world.open_stages[stage_id].lower()}"


@case("/won deal", "won", targets=ID_COMMAND)
def win_deal(world: World) -> str:
    return f"/won d{world.take_open_deal()}"


@case("/note contact by id", "note", targets=ID_COMMAND)
def note_by_id(world: World) -> str:
    return f"/note c{world.contact()[0]} Called back, wants the offer by Friday"


@case("/note contact by name", "note", targets=ID_COMMAND)
def note_by_name(world: World) -> str:
    return f"/note {world.rng.choice(world.unique_names)} Sent the price list as promised"


@case("/tag contact", "tag", targets=ID_COMMAND)
def tag_contact(world: World) -> str:
    return f"/tag c{world.contact()[0]} #bench-{world.nonce}"


@case("/today", "today")
def today(world: World) -> str:
    return "/today"


@case("/remind contact in 3 days", "remind")
def remind_contact(world: World) -> str:
    # As the serve mix's: a contact by id, an offset, the text.
    return f"/remind c{world.contact()[0]} in 3 days send the offer"


@case("/leads", "leads")
def leads(world: World) -> str:
    return "/leads"


@case("/leads #tag", "leads")
def leads_tagged(world: World) -> str:
    return f"/leads #{world.rng.choice(world.tags)}"


@case("/leads city:", "leads")
def leads_in_city(world: World) -> str:
    return f'/leads city:"{world.rng.choice(world.cities)}"'


@case("/deals", "deals")
def deals(world: World) -> str:
    return "/deals"


@case("/deals rotting", "deals")
def deals_rotting(world: World) -> str:
    return "/deals rotting"


@case("/deals mine", "deals")
def deals_mine(world: World) -> str:
    return "/deals mine"


@case("/feed", "feed")
def feed(world: World) -> str:
    return "/feed"


@case(f"/nearby {NEARBY_KM:g}km", "nearby", targets=NEARBY)
def nearby(world: World) -> str:
    world.share_location()
    return f"/nearby {NEARBY_KM:g}km"


@case(
    f"/nearby {NEARBY_KM:g}km the naive way (every prospect's distance)",
    "nearby",
    calls=3,
    naive_of=f"/nearby {NEARBY_KM:g}km",
    grows=True,
)
def nearby_naive(world: World) -> Direct:
    lat, lon = world.rng.choice(world.places)
    return partial(
        nearby_the_naive_way,
        team_id=world.team_id,
        lat=lat,
        lon=lon,
        radius_km=NEARBY_KM,
        limit=DEFAULT_LIMIT,
    )


@case("/pipeline team this year", "pipeline", targets=REPORT, grows=True)
def pipeline_team(world: World) -> str:
    return "/pipeline team this year"


@case("/stats", "stats", targets=REPORT, grows=True)
def stats(world: World) -> str:
    return "/stats"


@case("/stats this year", "stats", grows=True)
def stats_this_year(world: World) -> str:
    return "/stats this year"
