"""How typed references are scored and resolved (handlers/refs.py)."""

from __future__ import annotations

import pytest

from handlers.errors import CommandError
from handlers.refs import resolve_stage, search_score
from storage.models import Stage, StageKind
from tests.conftest import TestBot

STAGES = [
    Stage(id=i, team_id=1, name=name, position=i, probability=p, kind=kind)
    for i, (name, p, kind) in enumerate(
        [
            ("Lead", 10, StageKind.open),
            ("Qualified", 25, StageKind.open),
            ("Proposal sent", 50, StageKind.open),
            ("Won", 100, StageKind.won),
            ("Lost", 0, StageKind.lost),
        ],
        1,
    )
]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("won", "Won"),
        ("LOST", "Lost"),
        ("prop", "Proposal sent"),
        ("qualifed", "Qualified"),
        ("proposal sent", "Proposal sent"),
        # In German, as reps with an English pipeline type them.
        ("Angebot", "Proposal sent"),
        ("gewonnen", "Won"),
        ("Verloren", "Lost"),
        ("qualifiziert", "Qualified"),
    ],
)
def test_resolve_stage(typed: str, expected: str) -> None:
    assert resolve_stage(STAGES, typed).name == expected


def test_resolve_stage_lists_the_valid_ones() -> None:
    with pytest.raises(CommandError, match="Lead, Qualified, Proposal sent, Won, Lost"):
        resolve_stage(STAGES, "banana")


@pytest.mark.parametrize(
    ("typed", "key", "low", "high"),
    [
        ("jnae", "jane doe", 70, 100),
        ("jane doe", "jane doe", 100, 100),
        ("acm", "acme gmbh", 80, 100),
        ("jana", "spree analytics", 0, 69),
        ("", "x", 0, 0),
    ],
)
def test_search_score(typed: str, key: str, low: float, high: float) -> None:
    assert low <= search_score(typed, key) <= high


def test_reference_by_first_name_when_it_is_unique(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    testbot.say("/add Max Mustermann")
    assert "Logged: called Jane Doe (c1)" in testbot.say("/call jane about pricing")
    testbot.say("/add Jane Roe")
    assert "Which one" in testbot.say("/call jane about pricing")


def test_reference_uses_the_longest_exact_name(testbot: TestBot) -> None:
    testbot.say("/add Jane")
    testbot.say("/add Jane Doe")
    assert "Logged: noted Jane Doe (c2)" in testbot.say("/note Jane Doe prefers e-mail")
    assert "Logged: noted Jane (c1)" in testbot.say("/note Jane Smith is her colleague")


def test_misspelt_reference_with_a_clear_winner_is_taken(testbot: TestBot) -> None:
    testbot.say("/add Maximilian Mustermann")
    testbot.say("/add Jane Doe")
    assert "Logged: called Maximilian Mustermann" in testbot.say(
        "/call Maximillian Musterman about the quote"
    )


def test_references_by_prefixed_id_check_the_kind(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    assert "c1 is a contact; this needs a deal" in testbot.say("/won c1")


# --- the examples, and the rules behind them --------------------------------------


def test_a_trailing_emoji_is_not_part_of_the_name(testbot: TestBot) -> None:
    testbot.say("/add José García")
    reply = testbot.send("/tag José 🍷 #vip")
    assert reply.plain_text == "Tagged José García (c1): #vip"  # not a choice of one
    assert "Logged: noted José García (c1)" in testbot.say("/note José 👍 great meeting")
    assert "noted on José García: great meeting" in testbot.say("/feed 1")
    assert "Logged: called José García (c1)" in testbot.say("/call José García, about the wine")
    assert "José García  (c1)" in testbot.say("/show José García!")


def test_a_deal_finds_its_contact_by_first_name_as_visit_does(testbot: TestBot) -> None:
    testbot.say("/add Łukasz Kowalski company:Nowak")
    assert "Logged: visited Łukasz Kowalski (c1)" in testbot.say("/visit Łukasz")
    opened = testbot.say("/deal Consulting Łukasz $3,500")
    assert "Opened Consulting (d1)" in opened
    assert "amount: $3,500\ncontact: Łukasz Kowalski (c1)\ncompany: Nowak" in opened
    # In lower case, by the last name, or the whole name: the same contact.
    for typed, deal in (("łukasz", "d2"), ("Kowalski", "d3"), ("Łukasz Kowalski", "d4")):
        opened = testbot.say(f"/deal Audit {typed} 2k")
        assert f"Opened Audit ({deal})" in opened and "contact: Łukasz Kowalski (c1)" in opened
    # Title words that are not a name stay in the title.
    opened = testbot.say("/deal Office chairs 12k")
    assert "Opened Office chairs (d5)" in opened and "contact: none" in opened


def test_a_first_name_two_contacts_share_asks_with_what_tells_them_apart(
    testbot: TestBot,
) -> None:
    testbot.say("/add Łukasz Kowalski company:Nowak city:Warsaw")
    testbot.say("/add Łukasz Zieliński company:Nowak city:Kraków")
    which = testbot.send("/deal Consulting Łukasz 3.5k")
    assert "Which one do you mean by “Łukasz”?" in which.plain_text
    # The company is the same, the city is not: the buttons show the city.
    assert [b.label for b in which.all_buttons] == [
        "Łukasz Kowalski · Warsaw (c1)",
        "Łukasz Zieliński · Kraków (c2)",
    ]
    opened = testbot.press("Łukasz Zieliński").plain_text
    assert "Opened Consulting (d1)" in opened and "contact: Łukasz Zieliński (c2)" in opened


def test_which_deal_buttons_show_contact_amount_or_stage(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    testbot.say("/add Max Mustermann")
    testbot.say("/deal Website Jane Doe 5k")
    testbot.say("/deal Website Max Mustermann 5k")
    which = testbot.send("/won Website")
    assert [b.label for b in which.all_buttons] == [
        "Website · Jane Doe (d1)",
        "Website · Max Mustermann (d2)",
    ]


def test_an_exact_full_name_wins_over_names_it_is_part_of(testbot: TestBot) -> None:
    testbot.say("/add José García")
    testbot.say("/add José")
    assert "Tagged José (c2): #vip" in testbot.say("/tag José #vip")
    assert "Tagged José García (c1): #wine" in testbot.say("/tag José García #wine")
    testbot.say("/add Anna Schmidt")
    testbot.say("/add Anna Schmidtke")
    assert "Logged: called Anna Schmidt (c3)" in testbot.say("/call Anna Schmidt about it")


def test_the_only_plausible_record_is_taken_without_asking(testbot: TestBot) -> None:
    testbot.say("/add Hans Müller")
    testbot.say("/add Jane Doe")
    reply = testbot.send("/call Mueller about the quote")
    assert reply.plain_text == "Logged: called Hans Müller (c1)."
    assert "No contact or deal matches “Xylophone”" in testbot.say("/call Xylophone")


@pytest.mark.parametrize(
    "command", ["/tag c1 c2 #vip", "/delete c1 c2", "/won d1 d2", "/merge c1 c2 c3", "/show c1 c2"]
)
def test_a_second_id_is_refused_not_dropped(testbot: TestBot, command: str) -> None:
    testbot.say("/add Anna Berg")
    testbot.say("/add Bert Car")
    testbot.say("/add Cleo Dunn")
    testbot.say("/deal Website 2k")
    testbot.say("/deal Hosting 1k")
    reply = testbot.send(command)
    assert reply.error
    assert reply.plain_text.startswith("I don't know what “")
    assert "one contact" in reply.plain_text or "one deal" in reply.plain_text
    assert "#vip" not in testbot.say("/show c1")
    assert "Won" not in testbot.say("/deals won")
    assert "Deleted" not in testbot.say("/deleted")


def test_a_name_typed_without_its_own_letters_is_found(testbot: TestBot) -> None:
    testbot.say("/add Łukasz Kowalski")
    testbot.say("/add Hans Müller")
    assert "visited Łukasz Kowalski (c1)" in testbot.say("/visit Lukasz")
    assert "noted Hans Müller (c2)" in testbot.say("/note Mueller called back")


def test_a_part_of_a_hyphenated_name_names_it(testbot: TestBot) -> None:
    """Reps type one half of a double name, or the name without its hyphen."""
    testbot.say("/add Søren Kjær-Hansen")
    testbot.say("/add Jean-Luc Picard")
    assert "noted Søren Kjær-Hansen (c1)" in testbot.say("/note Kjær wants an offer")
    assert "Søren Kjær-Hansen  (c1)" in testbot.say("/show Hansen")
    reminded = testbot.say("/remind Kjær tomorrow 9am send offer")
    assert "send offer — Søren Kjær-Hansen (c1)" in reminded
    assert "Jean-Luc Picard" in testbot.say("/find Jean Luc")
    assert "Jean-Luc Picard" in testbot.say("/find Luc")
    assert "called Jean-Luc Picard (c2)" in testbot.say("/call Jean Luc about the fleet")
    # After a deal's title, as before it.
    opened = testbot.say("/deal Lizenz Kjær 5k")
    assert "Opened Lizenz (d1)" in opened and "contact: Søren Kjær-Hansen (c1)" in opened


def test_a_nordic_letter_spelt_out_finds_the_name(testbot: TestBot) -> None:
    """`Kjaer` for Kjær and `Soeren` for Søren, as typed on a keyboard without them."""
    testbot.say("/add Søren Kjær")
    testbot.say("/add Bjørn Ærø")
    assert "Søren Kjær" in testbot.say("/find Kjaer")
    assert "noted Søren Kjær (c1)" in testbot.say("/note Kjaer wants an offer")
    assert "Søren Kjær  (c1)" in testbot.say("/show Soeren Kjaer")
    assert "called Bjørn Ærø (c2)" in testbot.say("/call Bjoern")


def test_a_stage_in_german_moves_an_english_pipeline(testbot: TestBot) -> None:
    testbot.say("/deal Website 5k")
    assert "stage: Proposal (50%), was Lead" in testbot.say("/stage Website Angebot")
    assert "stage: Negotiation (75%), was Proposal" in testbot.say("/stage d1 Verhandlung")
    assert "Website (d1)" in testbot.say("/deals stage:Verhandlung")


def test_two_names_joined_by_a_comma_are_asked_one_at_a_time(testbot: TestBot) -> None:
    """`/note Max,Greta …` named no one ("No contact matches Max,Greta"): it names two."""
    testbot.say("/add Greta Lind")
    testbot.say("/add Max Weber")
    for command in ("/note Max,Greta Kickoff besprochen", "/tag Greta,Max #vip"):
        reply = testbot.send(command)
        assert reply.error and "one contact or deal at a time" in reply.plain_text
        assert "“Max”" in reply.plain_text and "“Greta”" in reply.plain_text
