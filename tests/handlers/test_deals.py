"""Deals: /deal, /deals, /stage (and its buttons), /won, /lost."""

from __future__ import annotations

from tests.conftest import TestBot


def test_deal_with_contact_amount_stage_close_and_tags(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe company:Acme")
    card = testbot.say(
        "/deal Website redesign Jane Doe €12,000 stage:proposal close:2026-12-15 #web"
    )
    assert card.splitlines() == [
        "Opened Website redesign (d1)",
        "amount: €12,000",
        "contact: Jane Doe (c1)",
        "company: Acme",
        "stage: Proposal (50%)",
        "close: Tue 15 Dec",
        "tags: #web",
    ]
    card = testbot.say("/show d1")
    assert "Website redesign  (d1)" in card
    assert "€12,000 · Proposal (50%) · owner Alice" in card
    assert "Contact: Jane Doe (c1) · Acme" in card
    assert "Expected close: Tue 15 Dec" in card
    assert "Tags: #web" in card


def test_deal_contact_option_currency_and_natural_close(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    card = testbot.say("/deal Support contract contact:jane 1.5k USD close:next friday")
    assert "Opened Support contract (d1)" in card and "contact: Jane Doe (c1)" in card
    assert "amount: $1,500" in card
    assert "close: Fri 27 Nov" in card  # the clock says Monday 23 Nov 2026


def test_a_close_date_of_several_words_is_all_the_close_date(testbot: TestBot) -> None:
    """`tuesday next week` was read as tomorrow, with `next week` put in the title and the
    contact lost."""
    testbot.say("/add Greta Lind, Nordic AB")
    reply = testbot.say("/deal Cloud Greta 5k close: tuesday next week")
    assert reply.startswith("Opened Cloud (d1)"), reply
    assert "contact: Greta Lind (c1)" in reply and "close: Tue 1 Dec" in reply
    assert "close: Fri 27 Nov" in testbot.say("/deal Support Greta 2k close: end of week")


def test_deal_without_contact_and_bad_input(testbot: TestBot) -> None:
    cold = testbot.say("/deal Cold outreach")
    assert "amount: none\ncontact: none" in cold and "/edit d1 contact:NAME" in cold
    assert "Give it a title" in testbot.say("/deal 12k")
    assert "can't read the date" in testbot.say("/deal X close:someday-ish")
    assert "no stage “Nowhere”" in testbot.say("/deal X stage:Nowhere")
    assert "starts in an open stage" in testbot.say("/deal X stage:won")
    assert "can't read the amount" in testbot.say("/deal X amount:lots")
    assert "No contact matches" in testbot.say("/deal X contact:Nobody")


def test_a_contact_named_by_its_id_before_or_after_the_title(testbot: TestBot) -> None:
    """`c1` as the bot writes it names the contact; another word of that shape (`C1`, an
    id nobody has) is part of the title."""
    assert "(c1)" in testbot.say("/add Jürgen Müller")
    for typed in ("/deal Wartung 2027 c1 3.000 €", "/deal c1 Wartung 2027 3.000 €"):
        opened = testbot.say(typed)
        assert "Opened Wartung 2027 (d" in opened and "contact: Jürgen Müller (c1)" in opened
    assert "contact: Jürgen Müller (c1)" in testbot.say("/deal Sofa c1 900")
    for typed, title in (("/deal Mercedes C1 40k", "Mercedes C1"), ("/deal Kit c9 5k", "Kit c9")):
        opened = testbot.say(typed)
        assert f"Opened {title} (d" in opened and "contact: none" in opened


def test_deals_refuses_what_it_cannot_filter_by_as_it_was_typed(testbot: TestBot) -> None:
    testbot.say("/deal Fleet 12k #web")
    testbot.say("/deal Cloud 5k")
    assert "I don't understand “closing this Month” here." in testbot.say(
        "/deals closing this Month"
    )
    refused = testbot.say("/deals #web")
    assert "Deals are not listed by tag" in refused and "Cloud" not in refused


def test_stage_next_moves_a_deal_on_by_one_open_stage(testbot: TestBot) -> None:
    testbot.say("/deal Fleet 12k")
    assert "stage: Qualified (25%), was Lead" in testbot.say("/stage d1 next")
    assert "stage: Proposal (50%), was Qualified" in testbot.say("/stage Fleet next")
    testbot.say("/stage d1 negotiation")
    assert "the last open stage: /won d1 or /lost d1" in testbot.say("/stage d1 next")
    testbot.say("/lost d1")
    assert "Fleet is Lost; name the open stage" in testbot.say("/stage d1 next")


def test_stage_buttons_move_and_edit_the_message(testbot: TestBot) -> None:
    testbot.say("/deal Website 5k")
    choices = testbot.send("/stage 1")
    labels = [b.label for b in choices.all_buttons]
    assert labels == ["Qualified", "Proposal", "Negotiation", "Won", "Lost"]
    moved = testbot.press("Proposal")
    assert moved.edit
    assert "Moved to Proposal." in moved.plain_text
    assert "Proposal (50%)" in moved.plain_text
    assert "Proposal" not in [b.label for b in moved.all_buttons]


def test_stage_by_name_prefix_and_misspelling(testbot: TestBot) -> None:
    testbot.say("/deal Website redesign 5k")
    assert "Moved to Qualified" in testbot.say("/stage Website redesign qual")
    assert "Moved to Negotiation" in testbot.say("/stage d1 negotation")
    assert "already in Negotiation" in testbot.say("/stage 1 Negotiation")
    unknown = testbot.say("/stage 1 nowhere")
    assert "no stage “nowhere”" in unknown
    assert "Lead, Qualified, Proposal, Negotiation, Won, Lost" in unknown
    assert "no deal 7" in testbot.say("/stage 7 won")


def test_won_and_lost_close_deals(testbot: TestBot) -> None:
    testbot.say("/deal Website 12k")
    testbot.say("/deal Hosting 2k")
    won = testbot.say("/won Website")
    assert "Won €12,000! Congratulations." in won and "stage: Won (100%), was Lead" in won
    assert "Closed just now" in testbot.say("/show Website")
    lost = testbot.say("/lost Hosting went with a cheaper vendor")
    assert "Marked as lost." in lost and "reason: went with a cheaper vendor" in lost
    assert "Closed just now: went with a cheaper vendor" in testbot.say("/show Hosting")
    testbot.say("/deal Backup 1k")
    # Written as a field, the reason is what follows its label.
    assert "Marked as lost." in testbot.say("/lost Backup reason: price too high")
    assert "Closed just now: price too high" in testbot.say("/show Backup")
    assert "No deals match" in testbot.say("/deals")
    assert "Website" in testbot.say("/deals won")
    assert "Hosting" in testbot.say("/deals lost")
    # In German, as the stages are typed.
    assert "Hosting" in testbot.say("/deals verloren") and "Website" in testbot.say(
        "/deals gewonnen"
    )
    assert "Website" in testbot.say("/deals meine gewonnen")
    # Reopening by moving back to an open stage clears the close.
    reopened = testbot.say("/stage Hosting proposal")
    assert "Closed" not in reopened and "Proposal" in reopened


def test_reopen_puts_a_closed_deal_back_where_it_was_closed_from(testbot: TestBot) -> None:
    testbot.say("/deal Website 12k")
    testbot.say("/stage d1 proposal")
    testbot.say("/won d1")
    assert "stage: Proposal (50%), was Won" in testbot.say("/reopen Website")
    assert "is open, in Proposal" in testbot.say("/reopen d1")
    testbot.say("/lost d1 price")
    assert "stage: Negotiation (75%), was Lost" in testbot.say("/reopen d1 negotiation")
    testbot.say("/lost d1")
    assert "closes a deal" in testbot.say("/reopen d1 won")
    # A reopening is undone as any move is: back to Lost.
    testbot.say("/reopen d1")
    assert "Undone: moved Website (d1) to Negotiation." in testbot.say("/undo")
    assert "Lost (0%)" in testbot.say("/show d1")


def test_won_at_the_amount_it_closed_at(testbot: TestBot) -> None:
    testbot.say("/deal Website relaunch 1,5k")
    won = testbot.say("/won Website relaunch 1.800 €")
    assert "Won €1,800! Congratulations." in won
    assert "amount: €1,800, was €1,500" in won
    assert "€1,800 · Won (100%)" in testbot.say("/show d1")
    testbot.say("/undo")
    assert "€1,500 · Lead (10%)" in testbot.say("/show d1")
    # A deal won already takes its final amount too; the same amount changes nothing.
    testbot.say("/won d1")
    assert "amount: €2,000, was €1,500" in testbot.say("/won d1 2k")
    assert "amount:" not in testbot.say("/won d1 €2,000")


def test_deals_lists_filters_and_totals(testbot: TestBot) -> None:
    testbot.join("Bob")
    testbot.say("/deal Website 12k")
    testbot.say("/deal Hosting 2k stage:proposal")
    testbot.say("/deal Dollars 1000 USD", who="Bob")
    listing = testbot.say("/deals")
    assert "Deals (3)" in listing
    assert "Total: €14,000, $1,000" in listing
    assert "Hosting" in testbot.say("/deals stage:proposal")
    assert "Website" not in testbot.say("/deals stage:proposal")
    mine = testbot.say("/deals mine", who="Bob")
    assert "Dollars" in mine and "Website" not in mine
    meine = testbot.say("/deals meine", who="Bob")
    assert "Dollars" in meine and "Website" not in meine
    by_option = testbot.say("/deals owner:@bob")
    assert "Dollars" in by_option and "Website" not in by_option
    by_mention = testbot.say("/deals @bob")  # as /pipeline @bob names him
    assert "Dollars" in by_mention and "Website" not in by_mention
    assert "One owner at a time" in testbot.say("/deals @bob mine")
    assert "One owner at a time" in testbot.say("/deals @bob owner:@bob")
    assert "don't understand" in testbot.say("/deals everything")


def test_rotting_deals_are_flagged(testbot: TestBot) -> None:
    testbot.say("/deal Website 12k")
    testbot.say("/deal Hosting 2k")
    testbot.clock.advance(days=15)  # Lead rots after 14 days
    testbot.say("/note Hosting still interested")
    listing = testbot.say("/deals")
    assert "Website (d1) · €12,000 · Lead · Alice · rotting" in listing
    assert "Hosting (d2) · €2,000 · Lead · Alice\n" in listing + "\n"
    rotting = testbot.say("/deals rotting")
    assert "Website" in rotting and "Hosting" not in rotting
    assert "Rotting: no activity since 15 days ago" in testbot.say("/show d1")


def test_reps_move_only_their_own_deals(testbot: TestBot) -> None:
    testbot.join("Bob")
    testbot.join("Carla", "manager")
    testbot.say("/deal Alices deal 1k")
    testbot.say("/deal Bobs deal 1k", who="Bob")
    assert "belongs to a teammate" in testbot.say("/won 1", who="Bob")
    assert "Won" in testbot.say("/won 2", who="Bob")
    # The card shows no stage buttons to someone who may not move the deal.
    assert not testbot.send("/show 1", who="Bob").buttons
    assert "Moved to Qualified" in testbot.say("/stage 1 qualified", who="Carla")
    assert "amount: €2,000, was €1,000" in testbot.say("/edit d1 amount:2k", who="Carla")
    assert "belongs to a teammate" in testbot.say("/edit d1 amount:3k", who="Bob")


def test_edit_deal_fields(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    testbot.say("/deal Website")
    card = testbot.say(
        "/edit d1 title:'Website relaunch' amount:12000EUR close:2027-01-31 contact:'Jane Doe'"
    )
    assert card.splitlines() == [
        "Updated Website relaunch (d1)",
        "title: Website relaunch, was Website",
        "amount: €12,000, was none",
        "contact: Jane Doe (c1), was none",
        "close: Sun 31 Jan 2027",
    ]
    card = testbot.say("/show d1")
    assert "Website relaunch  (d1)" in card and "€12,000" in card
    assert "Expected close: Sun 31 Jan 2027" in card and "Jane Doe (c1)" in card
    assert "amount: none, was €12,000" in testbot.say("/edit d1 amount:")
