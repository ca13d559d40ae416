"""What the benchmark sends: one small function per case.

A case gets the `World` (the generated team and a sample of its records, loaded once per
run) and returns the chat message for one call. The runner sends it through the
dispatcher exactly as an adapter would and renders the reply as the terminal does; a
reply marked as an error fails the run, so a case always measures the real work.

To add a case, write a function and decorate it:

    @case("/show deal", "show", targets=ID_COMMAND)
    def show_deal(world: World) -> str:
        return f"/show d{world.deal_id()}"
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

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
from storage.teams import first_team

SAMPLE = 4000  # records drawn per run; each call picks among them


@dataclass(frozen=True)
class Target:
    """A latency goal from the issue, at a data size (contacts, on SQLite)."""

    contacts: int
    p50_ms: float
    p99_ms: float | None = None


ID_COMMAND = (Target(100_000, 1.0, 5.0),)  # names a record by id or exact name
CREATE_COMMAND = (Target(100_000, 2.0),)
FUZZY_FIND = (Target(100_000, 5.0), Target(1_000_000, 15.0))


@dataclass(frozen=True)
class Case:
    name: str
    command: str  # the command it exercises, for grouping
    message: Callable[[World], str]
    targets: tuple[Target, ...] = ()


CASES: list[Case] = []


def case(
    name: str, command: str, *, targets: tuple[Target, ...] = ()
) -> Callable[[Callable[[World], str]], Callable[[World], str]]:
    def register(message: Callable[[World], str]) -> Callable[[World], str]:
        CASES.append(Case(name, command, message, targets))
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
            rng=rng,
            # Fresh each run: update ids and the run's tag must not repeat an earlier run's.
            nonce=secrets.token_hex(3),
        )

    def contact(self) -> tuple[int, str]:
        return self.rng.choice(self.contacts)

    def deal_id(self) -> int:
        return self.rng.choice(self.deals)

    def take_open_deal(self) -> int:
        """An open deal no earlier call of this run has closed."""
        if not self.open_deals:
            raise ValueError("the sample has run out of open deals; use fewer calls")
        return self.open_deals.pop(self.rng.randrange(len(self.open_deals)))


def _sample(rng: random.Random, top: int, size: int = SAMPLE) -> list[int]:
    return rng.sample(range(1, top + 1), min(size, top))


def _slug(text: str) -> str:
    return "".join(ch for ch in name_key(text) if ch.isalnum()) or "x"


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
    # does anything (dedupe, identity, transaction, savepoint, commit, render).
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
