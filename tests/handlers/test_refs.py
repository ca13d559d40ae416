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
