"""Lead scores: the parts, worked out here from generated contacts; recency that decays
and is rescored exactly when it changes; team tag weights (/scoring); deal value; and
/show explaining the very score /leads sorts by."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from handlers.scoring import rescore_all_teams
from storage.contacts import add_tags
from storage.db import transaction
from storage.keys import name_key
from storage.models import Contact, ContactStatus, Deal, Member, Stage, StageKind, Tag, Team
from storage.scoring import set_tag_weight
from tests.conftest import START, TestBot

STATUS = {"lead": 10, "qualified": 30, "customer": 20, "inactive": 0}
WEIGHTS = {"hot": 20, "cold": -10, "vip": 35}
TAGS = ("hot", "cold", "vip", "berlin", "expo", "web", "print")


@dataclass
class Lead:
    id: int
    status: str
    email: bool
    phone: bool
    last_activity: datetime | None
    tags: list[str]
    deals: list[tuple[StageKind, int | None, str | None]] = field(default_factory=list)

    def score(self, now: datetime) -> int:
        """The score as the rules in handlers/scoring.py describe it."""
        points = STATUS[self.status]
        points += sum(WEIGHTS[t] for t in self.tags if t in WEIGHTS)
        points += 5 * min(3, sum(1 for t in self.tags if t not in WEIGHTS))
        points += 5 * self.email + 5 * self.phone
        if self.last_activity is not None:
            age = now - self.last_activity
            points += next(
                (p for days, p in ((7, 20), (30, 10), (90, 5)) if age <= timedelta(days=days)),
                0,
            )
        open_deals = [d for d in self.deals if d[0] == StageKind.open]
        if open_deals:
            points += 10
        euros = sum(amount or 0 for _, amount, currency in open_deals if currency == "EUR")
        points += next(
            (
                p
                for floor, p in ((10_000_000, 20), (1_000_000, 10), (100_000, 5))
                if euros >= floor
            ),
            0,
        )
        return points


def _generate(session: Session, rng: random.Random) -> list[Lead]:
    team = session.exec(select(Team)).one()
    owner = session.exec(select(Member)).first()
    stages = {s.kind: s for s in session.exec(select(Stage).order_by(col(Stage.position)))}
    assert team.id is not None and owner is not None
    # Rows written behind the bot's back: have the next read score everyone, as it does
    # after the upgrade that introduced scores.
    team.scores_at = None
    session.add(team)
    for name, points in WEIGHTS.items():
        (tag,) = _tags(session, team.id, [name])
        set_tag_weight(session, team_id=team.id, tag=tag, points=points)
    leads: list[Lead] = []
    for i in range(40):
        activity = (
            START - timedelta(hours=rng.randrange(0, 24 * 120)) if rng.random() < 0.8 else None
        )
        contact = Contact(
            team_id=team.id,
            owner_id=owner.id,
            name=f"Lead {i}",
            name_key=name_key(f"Lead {i}"),
            status=rng.choice(list(STATUS)),
            email=f"l{i}@x.de" if rng.random() < 0.5 else None,
            phone="+4930123456" if rng.random() < 0.5 else None,
            last_activity_at=activity,
        )
        session.add(contact)
        session.flush()
        assert contact.id is not None
        tags = rng.sample(TAGS, rng.randrange(0, 6))
        add_tags(session, team_id=team.id, target="contact", target_id=contact.id, names=tags)
        lead = Lead(
            contact.id,
            contact.status,
            bool(contact.email),
            bool(contact.phone),
            activity,
            tags,
        )
        for _ in range(rng.randrange(0, 3)):
            kind = rng.choice([StageKind.open, StageKind.open, StageKind.won])
            currency = rng.choice(["EUR", "EUR", "USD", None])
            amount = rng.randrange(1, 12_000_000) if currency else None
            session.add(
                Deal(
                    team_id=team.id,
                    owner_id=owner.id or 0,
                    contact_id=contact.id,
                    title="d",
                    title_key="d",
                    amount=amount,
                    currency=currency,
                    stage_id=stages[kind].id or 0,
                )
            )
            lead.deals.append((kind, amount, currency))
        leads.append(lead)
    return leads


def _tags(session: Session, team_id: int, names: list[str]) -> list[Tag]:
    from storage.contacts import ensure_tags

    return ensure_tags(session, team_id=team_id, names=names)


def _score_on_card(text: str) -> tuple[int, int]:
    """The score /show states, and the sum of the reasons it gives."""
    score = re.search(r"· score (-?\d+)", text)
    assert score is not None, text
    stated = int(score.group(1))
    why = re.search(r"^Score: (.*)$", text, re.MULTILINE)
    parts = re.findall(r" ([+-]\d+)(?:,|$)", why.group(1)) if why else []
    return stated, sum(int(p) for p in parts)


def test_scores_add_up_as_the_rules_say_and_show_explains_them(testbot: TestBot) -> None:
    with transaction(testbot.dispatcher.engine) as session:
        leads = _generate(session, random.Random(5))
    listing = testbot.say("/leads status:all limit:100")
    for lead in leads:
        expected = lead.score(START)
        assert re.search(rf"\(c{lead.id}\) · [a-z]+ · score {expected}\b", listing), lead
        stated, explained = _score_on_card(testbot.say(f"/show c{lead.id}"))
        assert stated == explained == expected, (lead, testbot.say(f"/show c{lead.id}"))
    scores = [int(s) for s in re.findall(r"score (-?\d+)", listing)]
    assert scores == sorted(scores, reverse=True)
    assert len({lead.score(START) for lead in leads}) > 15  # the data spreads the scores


def test_recency_decays_and_is_rescored_when_it_changes(testbot: TestBot) -> None:
    testbot.say("/add Old Qualified status:qualified")  # 30, +20 for being active now
    testbot.clock.advance(days=25)
    testbot.say("/add Fresh Lead fresh@lead.de #a #b #c")  # 10 + 15 + 5 + 20
    listing = testbot.say("/leads")
    assert "Fresh Lead (c2) · lead · score 50" in listing
    assert "Old Qualified (c1) · qualified · score 40" in listing  # 25 days ago: +10
    assert listing.index("Fresh Lead") < listing.index("Old Qualified")
    testbot.clock.advance(days=15)
    listing = testbot.say("/leads")
    assert "Old Qualified (c1) · qualified · score 35" in listing  # 40 days ago: +5
    assert "Fresh Lead (c2) · lead · score 40" in listing  # 15 days ago: +10
    testbot.say("/note Old Qualified called back, wants a quote")
    listing = testbot.say("/leads")
    assert "Old Qualified (c1) · qualified · score 50" in listing
    assert listing.index("Old Qualified") < listing.index("Fresh Lead")
    testbot.clock.advance(days=80)
    card = testbot.say("/show Fresh Lead")
    assert "score 30" in card and "last activity" not in card  # 95 days: nothing
    assert "last activity 2 months ago +5" in testbot.say("/show Old Qualified")


def test_the_periodic_rescoring_touches_only_what_changed(open_signup_bot: TestBot) -> None:
    bot = open_signup_bot
    bot.say("/start Red", who="Ann")
    bot.say("/add Rita", who="Ann")
    bot.say("/start Blue", who="Ben")
    bot.say("/add Bert", who="Ben")
    bot.clock.advance(days=3)
    bot.say("/add Bea", who="Ben")
    engine = bot.dispatcher.engine
    with transaction(engine) as session:
        assert rescore_all_teams(session, now=bot.clock.now) == 0  # nobody's recency moved
    bot.clock.advance(days=5)  # Rita and Bert were last active 8 days ago now, Bea 5
    with transaction(engine) as session:
        assert rescore_all_teams(session, now=bot.clock.now) == 2
        scores = {c.name: c.score for c in session.exec(select(Contact))}
        teams = session.exec(select(Team)).all()
        assert all(t.scores_at == bot.clock.now - timedelta(minutes=5) for t in teams)
    assert scores == {"Rita": 20, "Bert": 20, "Bea": 30}
    with transaction(engine) as session:
        assert rescore_all_teams(session, now=bot.clock.now) == 0
        for team in session.exec(select(Team)):
            team.scores_at = None  # as after the upgrade that introduced the new rules
            session.add(team)
    with transaction(engine) as session:
        assert rescore_all_teams(session, now=bot.clock.now) == 3  # everyone, once


def test_admins_weigh_tags_and_contacts_are_rescored(testbot: TestBot) -> None:
    testbot.join("Bob")
    testbot.say("/add Plain Lead #expo")
    testbot.say("/add Hot Lead #hot")
    testbot.say("/add Cold Lead #cold #expo")
    assert "score 35" in testbot.say("/show Plain Lead")
    reply = testbot.say("/scoring #hot 25")
    assert "#hot now counts +25; 1 contact rescored." in reply
    assert "Tags: #hot +25" in reply
    assert "#cold now counts -10; 1 contact rescored." in testbot.say("/scoring #cold -10")
    listing = testbot.say("/leads")
    assert "Hot Lead (c2) · lead · score 55" in listing
    assert "Cold Lead (c3) · lead · score 25" in listing
    assert listing.index("Hot Lead") < listing.index("Plain Lead") < listing.index("Cold Lead")
    card = testbot.say("/show Cold Lead")
    assert "Score: status lead +10, #cold -10, 1 more tag +5, last activity just now +20" in card
    assert "#hot is back to +5; 1 contact rescored." in testbot.say("/scoring #hot off")
    assert "score 35" in testbot.say("/show Hot Lead")
    assert "Only admins and above can weigh tags" in testbot.say("/scoring #hot 90", who="Bob")
    assert "Lead score" in testbot.say("/scoring", who="Bob")
    assert "from -100 to 100" in testbot.say("/scoring #hot 101")
    assert "from -100 to 100" in testbot.say("/scoring #hot lots")
    assert "How many points" in testbot.say("/scoring #hot")
    assert "one tag at a time" in testbot.say("/scoring #hot #cold 5")


def test_open_deals_and_their_value_count(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")  # 10 + 20
    testbot.say("/deal Website Jane Doe 12k")
    card = testbot.say("/show Jane Doe")
    assert "score 50" in card
    assert "1 open deal +10, €12,000 in open deals +10" in card
    testbot.say("/deal Hosting Jane Doe 90k USD")  # other currencies count as a deal only
    assert "2 open deals +10, €12,000 in open deals +10" in testbot.say("/show Jane Doe")
    testbot.say("/edit d1 amount:120k")
    assert "€120,000 in open deals +20" in testbot.say("/show Jane Doe")
    testbot.say("/won Website")
    testbot.say("/lost Hosting")
    card = testbot.say("/show Jane Doe")
    assert "score 30" in card and "open deal" not in card
    testbot.say("/add John Roe")
    testbot.say("/deal Print 5k contact:'John Roe'")
    assert "score 45" in testbot.say("/show John Roe")
    testbot.say("/edit d3 contact:'Jane Doe'")  # the deal moves to Jane: John loses it
    assert "score 30" in testbot.say("/show John Roe")
    assert "score 45" in testbot.say("/show Jane Doe")


@pytest.mark.parametrize("status", [s.value for s in ContactStatus])
def test_status_points(testbot: TestBot, status: str) -> None:
    testbot.say(f"/add Somebody status:{status}")
    assert f"score {STATUS[status] + 20}" in testbot.say("/show Somebody")
