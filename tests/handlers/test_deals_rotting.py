"""/deals: open deals latest first, and the rotting ones per their stage's limit."""

from __future__ import annotations

from tests.conftest import TestBot


def test_rotting_deals_per_stage(testbot: TestBot) -> None:
    testbot.say("/deal Old lead 1k")  # Lead rots after 14 days
    testbot.say("/deal Old proposal 2k stage:proposal")  # Proposal: 14 days too
    testbot.say("/deal Old negotiation 3k stage:negotiation")  # Negotiation: 10 days
    testbot.say("/deal Closed one 4k")
    testbot.say("/won Closed one")
    testbot.clock.advance(days=12)
    testbot.say("/deal Fresh lead 5k")
    rotting = testbot.say("/deals rotting")
    assert "Rotting deals (1)" in rotting and "Old negotiation" in rotting
    testbot.clock.advance(days=3)
    rotting = testbot.say("/deals rotting")
    assert "Rotting deals (3)" in rotting
    # Latest activity first; the won deal and the fresh lead are not rotting.
    assert rotting.index("Old negotiation") < rotting.index("Old proposal")
    assert rotting.index("Old proposal") < rotting.index("Old lead")
    assert "Closed one" not in rotting and "Fresh lead" not in rotting
    listed = testbot.say("/deals")
    assert listed.index("Fresh lead") < listed.index("Old negotiation")
    assert "Deals (4)" in listed
