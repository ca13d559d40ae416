"""A realistic demo team for `crmbot chat --demo`: four people, companies and contacts in
real European cities, deals in every stage with their history, and a few weeks of activity."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from handlers.context import TeamDefaults
from handlers.scoring import rescore
from storage.activities import log_activity
from storage.contacts import add_tags, get_or_create_company, save_contact
from storage.db import transaction
from storage.deals import move_deal, open_deal
from storage.keys import name_key
from storage.models import (
    Activity,
    ActivityKind,
    Contact,
    ContactStatus,
    Deal,
    Platform,
    Role,
    StageKind,
)
from storage.teams import add_member, create_team, first_team, member_and_team, team_stages

MEMBERS = (
    ("Alice Meyer", Role.admin),
    ("Bob Schulz", Role.rep),
    ("Carla Rossi", Role.manager),
    ("Deniz Kaya", Role.rep),
)
# city, country, lat, lon, phone prefix
CITIES = (
    ("Berlin", "Germany", 52.5200, 13.4050, "+49 30 "),
    ("Munich", "Germany", 48.1351, 11.5820, "+49 89 "),
    ("Hamburg", "Germany", 53.5511, 9.9937, "+49 40 "),
    ("Cologne", "Germany", 50.9375, 6.9603, "+49 221 "),
    ("Vienna", "Austria", 48.2082, 16.3738, "+43 1 "),
    ("Zurich", "Switzerland", 47.3769, 8.5417, "+41 44 "),
    ("Paris", "France", 48.8566, 2.3522, "+33 1 "),
    ("Amsterdam", "Netherlands", 52.3676, 4.9041, "+31 20 "),
)
COMPANIES = (
    "Acme Logistics",
    "Brightside Dental",
    "Nordwind Energie",
    "Kaffeehaus Franz",
    "Alpenblick Hotels",
    "Rheinmetall Parts",
    "Blue Harbor Shipping",
    "Café Lumière",
    "Grüne Gärten",
    "Tulip Retail",
    "Helvetia Print",
    "Spree Analytics",
)
FIRST = (
    "Jana",
    "Lukas",
    "Sophie",
    "Maximilian",
    "Emma",
    "Paul",
    "Mia",
    "Felix",
    "Lea",
    "Jonas",
    "Clara",
    "Noah",
    "Marie",
    "Elias",
    "Hannah",
    "Ben",
    "Lina",
    "Tim",
    "Nora",
    "Julian",
)
LAST = (
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Dubois",
    "de Vries",
    "Huber",
    "Keller",
    "Moreau",
    "Bakker",
    "Lang",
    "Wolf",
)
TITLES = (
    "CEO",
    "Head of Operations",
    "Purchasing Manager",
    "CTO",
    "Office Manager",
    "Marketing Lead",
    None,
)
TAGS = ("hot", "referral", "trade-fair", "enterprise", "smb", "renewal")
DEALS = (
    "Fleet tracking rollout",
    "Annual support contract",
    "Website relaunch",
    "Loyalty app pilot",
    "POS upgrade",
    "Data platform",
    "Print subscription",
    "Booking engine",
    "Energy audit",
    "Training package",
)
NOTES = (
    "Asked for a quote with volume discount",
    "Wants a demo for the whole team next week",
    "Budget approved for Q1",
    "Compared us with two competitors",
    "Very happy with the pilot",
    "Decision maker is on holiday until Monday",
    "Needs the contract in German",
)


DEMO_TEAM = "Demo Sales"
# Of the 16 open deals (four rounds of the four open stages), these rot: a healthy team
# with a few deals to chase, in different stages.
ROTTING = frozenset((1, 7, 14))


def enter_demo(engine: Engine, *, defaults: TeamDefaults, now: datetime, name: str | None) -> str:
    """Who `crmbot chat --demo` chats as: `name` (default: the demo's admin), in the demo team,
    seeded first when the database is empty. A name new to the team joins it as an admin;
    a demo member's name is that member. Raises `DemoRefused` when the database holds
    another team."""
    seed_demo(engine, defaults=defaults, now=now)
    with transaction(engine) as session:
        team = first_team(session)
        assert team is not None and team.id is not None
        if team.name != DEMO_TEAM:
            raise DemoRefused(
                f"The database already has a team ({team.name}); not adding demo data."
            )
        admin = MEMBERS[0][0]
        if name is None or name_key(name) == name_key(admin):
            return admin
        if member_and_team(session, platform=Platform.console, external_id=name_key(name)) is None:
            add_member(
                session,
                team_id=team.id,
                name=name,
                role=Role.admin,
                platform=Platform.console,
                external_id=name_key(name),
                now=now,
            )
        return name


class DemoRefused(Exception):
    """The database holds a team that is not the demo's."""


def seed_demo(engine: Engine, *, defaults: TeamDefaults, now: datetime, seed: int = 7) -> bool:
    """Seed an empty database, its history laid out before `now`; False when it has a team."""
    rng = random.Random(seed)
    with transaction(engine) as session:
        if first_team(session) is not None:
            return False
        team = create_team(
            session,
            name=DEMO_TEAM,
            currency=defaults.currency,
            timezone=defaults.timezone,
            locale=defaults.locale,
            region=defaults.region,
            now=now - timedelta(days=400),
        )
        assert team.id is not None
        members = [
            add_member(
                session,
                team_id=team.id,
                name=name,
                role=role,
                platform=Platform.console,
                external_id=name_key(name),
                now=now - timedelta(days=400),
            )
            for name, role in MEMBERS
        ]
        member_ids = [m.id for m in members if m.id is not None]
        stages = team_stages(session, team_id=team.id)
        contacts: list[Contact] = []
        for i in range(36):
            city, country, lat, lon, prefix = CITIES[i % len(CITIES)]
            first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
            company = get_or_create_company(
                session, team_id=team.id, name=COMPANIES[i % len(COMPANIES)], now=now
            )
            created = now - timedelta(days=rng.randint(150, 400))
            contact = Contact(
                team_id=team.id,
                owner_id=rng.choice(member_ids),
                company_id=company.id,
                name=f"{first} {last}",
                name_key="",
                email=f"{first}.{last}@example.com".lower().replace(" ", "").replace("ü", "ue"),
                phone=_phone(prefix, rng),
                title=rng.choice(TITLES),
                status=rng.choice(list(ContactStatus)),
                city=city,
                country=country,
                lat=lat + rng.uniform(-0.06, 0.06),
                lon=lon + rng.uniform(-0.09, 0.09),
                created_at=created,
                updated_at=created,
            )
            save_contact(session, contact=contact)
            assert contact.id is not None
            add_tags(
                session,
                team_id=team.id,
                target="contact",
                target_id=contact.id,
                names=rng.sample(TAGS, rng.randint(0, 2)),
            )
            contacts.append(contact)
            _activity(
                session,
                team.id,
                contact.owner_id,
                ActivityKind.created,
                contact,
                contact.created_at,
            )
        open_seen = 0
        for i, stage in enumerate(stages * 4):
            contact = contacts[(i * 5) % len(contacts)]
            owner = contact.owner_id or member_ids[0]
            # Laid out backwards from when the deal reached its stage: recently for a
            # healthy open deal, longer ago than the stage's rot days for a rotting one.
            if stage.kind == StageKind.open:
                rotting = open_seen in ROTTING
                open_seen += 1
                days = (
                    rng.randint(stage.rot_days + 3, stage.rot_days + 20)
                    if rotting
                    else rng.randint(0, max(0, stage.rot_days - 4))
                )
            else:
                days = rng.randint(0, 30)
            entered = now - timedelta(days=days, hours=rng.randint(1, 8))
            path = [
                step
                for step in stages[1 : stages.index(stage) + 1]
                if step.kind == StageKind.open or step is stage
            ]
            # A deal still in the first stage entered it when it was opened.
            moves = [entered] if path else []
            for _ in path[1:]:
                moves.insert(0, moves[0] - timedelta(days=rng.randint(2, 12)))
            opened = moves[0] - timedelta(days=rng.randint(2, 12)) if moves else entered
            deal = Deal(
                team_id=team.id,
                owner_id=owner,
                contact_id=contact.id,
                company_id=contact.company_id,
                title=DEALS[i % len(DEALS)],
                title_key="",
                amount=rng.randrange(2_000, 90_000, 500) * 100,
                currency=team.currency,
                stage_id=stages[0].id or 0,
                expected_close=(now + timedelta(days=rng.randint(5, 90))).date(),
            )
            open_deal(session, deal=deal, member_id=owner, now=opened)
            for step, moved in zip(path, moves, strict=True):
                move_deal(
                    session,
                    deal=deal,
                    stage=step,
                    member_id=owner,
                    now=moved,
                    lost_reason="Went with a cheaper vendor"
                    if step.kind == StageKind.lost
                    else None,
                )
        for _ in range(60):
            contact = rng.choice(contacts)
            kind = rng.choice(
                (ActivityKind.call, ActivityKind.note, ActivityKind.meeting, ActivityKind.visit)
            )
            _activity(
                session,
                team.id,
                rng.choice(member_ids),
                kind,
                contact,
                now - timedelta(hours=rng.randint(1, 24 * 30)),
                rng.choice(NOTES),
            )
        rescore(session, team_id=team.id, contact_ids=[c.id for c in contacts], now=now)
        return True


def _activity(
    session: Session,
    team_id: int,
    member_id: int | None,
    kind: ActivityKind,
    contact: Contact,
    at: datetime,
    text: str | None = None,
) -> None:
    log_activity(
        session,
        activity=Activity(
            team_id=team_id,
            member_id=member_id,
            kind=kind,
            contact_id=contact.id,
            text=text,
            at=at,
        ),
    )


def _phone(prefix: str, rng: random.Random) -> str:
    digits = "".join(str(rng.randint(0, 9)) for _ in range(7))
    return (prefix + digits).replace(" ", "")
