"""Contacts: /add, /find, /show, /edit, /tag, /untag, /leads and shared contact cards."""

from __future__ import annotations

from handlers.context import SharedContact
from tests.conftest import TestBot
from tests.phones import LANDLINE, MOBILE


def test_add_reads_every_field(testbot: TestBot) -> None:
    reply = testbot.say(
        f'/add Jane Doe company:"Acme GmbH" title:CTO {LANDLINE.international} jane@acme.de '
        'addr:"Unter den Linden 1" city:Berlin country:Germany status:qualified source:fair #hot'
    )
    # The answer: what was stored, field by field, as the fields are typed.
    assert reply.splitlines() == [
        "Added Jane Doe (c1)",
        "company: Acme GmbH",
        "title: CTO",
        f"phone: {LANDLINE.international}",
        "email: jane@acme.de",
        "addr: Unter den Linden 1",
        "city: Berlin",
        "country: Germany · map",
        "status: qualified",
        "source: fair",
        "tags: #hot",
    ]
    card = testbot.say("/show c1")
    assert "CTO at Acme GmbH" in card
    assert f"{LANDLINE.international} · jane@acme.de" in card
    assert "Unter den Linden 1, Berlin, Germany" in card
    assert "Status qualified · owner Alice" in card
    assert "Tags: #hot" in card


def test_add_needs_a_name_and_says_how(testbot: TestBot) -> None:
    reply = testbot.send("/add company:Acme")
    assert reply.error
    assert "Give a name" in reply.plain_text
    assert "/add NAME" in reply.plain_text  # the usage


def test_add_refuses_bad_fields(testbot: TestBot) -> None:
    assert "not a valid phone number" in testbot.say("/add Jane phone:12")
    assert "does not look like a valid phone number" in testbot.say("/add Jane +49 12")
    assert "not an e-mail address" in testbot.say("/add Jane email:jane-at-acme")
    assert "no status “hot”" in testbot.say("/add Jane status:hot")
    assert "at most 200 characters" in testbot.say("/add " + "x" * 201)
    assert "added" not in testbot.say("/feed")  # nothing half-written


def test_duplicate_warning_by_email_phone_or_name(testbot: TestBot) -> None:
    testbot.say(f"/add Jane Doe company:Acme jane@acme.de {LANDLINE.international}")
    by_email = testbot.send("/add J. Doe JANE@acme.de")
    assert "already have" in by_email.plain_text and "same e-mail" in by_email.plain_text
    by_phone = testbot.say(f"/add Janet {LANDLINE.international}")
    assert "same phone" in by_phone
    assert "same name" in testbot.say("/add Jane Doe company:acme")
    assert "similar name" in testbot.say("/add Jane Dooe company:acme")
    # Same name at another company is another person.
    assert "Added Jane Doe" in testbot.say("/add Jane Doe company:Initech")


def test_the_same_name_warns_like_the_same_email_or_phone(testbot: TestBot) -> None:
    testbot.say("/add Klaus Weber company:Weber city:Bremen")
    warning = testbot.send("/add klaus  WEBER")
    assert warning.plain_text.splitlines() == [
        "This looks like a contact you already have:",
        "• Klaus Weber (c1) — same name",
    ]
    assert [b.label for b in warning.all_buttons] == ["Add anyway", "Open c1", "Merge into c1"]
    assert "Klaus Weber  (c1)" in testbot.press("Open c1").plain_text
    # Two companies that differ are two people; without a company, it may be either.
    assert "Added Klaus Weber (c2)" in testbot.say("/add Klaus Weber company:Initech")
    warning = testbot.send("/add Klaus Weber")
    assert "• Klaus Weber (c1) — same name\n• Klaus Weber (c2) — same name" in warning.plain_text
    assert "Added Klaus Weber (c3)" in testbot.press("Add anyway").plain_text


def test_a_similar_name_added_without_a_company_warns(testbot: TestBot) -> None:
    testbot.say("/add Greta Lind company:Nordic AB")
    warning = testbot.say("/add Greta Lindt")
    assert "• Greta Lind (c1) — similar name" in warning


def test_the_same_name_added_at_a_company_warns_of_one_without(testbot: TestBot) -> None:
    testbot.say("/add Greta Lind")  # logged in a hurry; her company comes later
    warning = testbot.send("/add Greta Lind company:Nordic AB +46 70 123 45 67")
    assert "• Greta Lind (c1) — same name" in warning.plain_text
    labels = [b.label for b in warning.all_buttons]
    assert labels == ["Add anyway", "Open c1", "Merge into c1"]
    merged = testbot.press("Merge into c1").plain_text
    assert "Updated Greta Lind (c1)" in merged and "company: Nordic AB" in merged
    # At another company, a similar name is someone else.
    testbot.say("/add Søren Berg company:Initech")
    assert "Added Søren Bergh" in testbot.say("/add Søren Bergh company:Nordic AB")


def test_a_similar_name_added_at_a_company_warns_of_one_without(testbot: TestBot) -> None:
    testbot.say("/add Greta Lind +46 70 123 45 67")  # logged in a hurry, without her company
    warning = testbot.send("/add Greta Lindh company:Nordic AB")
    assert "• Greta Lind (c1) — similar name" in warning.plain_text
    # A warning leaves nothing behind: no company made, nothing to undo.
    assert "Undo" not in [b.label for b in warning.all_buttons]
    assert "Nothing matches" in testbot.say("/find Nordic")
    testbot.say("/add Greta Lindh company:Nordic AB")
    added = testbot.press("Add anyway").plain_text
    assert "Added Greta Lindh (c2)" in added and "company: Nordic AB" in added
    # Another last name is someone else.
    assert "Added Greta Berg" in testbot.say("/add Greta Berg company:Nordic AB")


def test_a_company_written_without_its_legal_form_is_the_same_company(testbot: TestBot) -> None:
    testbot.say("/add Greta Lind company:Nordic AB")
    assert "same name" in testbot.say("/add Greta Lind company:Nordic")
    assert "company: Nordic AB" in testbot.say("/add Sven Berg company:nordic")
    testbot.say("/add Hans Weber company:Weber")
    assert "company: Weber\n" in testbot.say("/add Eva Weber company:Weber GmbH & Co. KG") + "\n"
    # Another word than a legal form makes another company.
    assert "company: Nordic Group" in testbot.say("/add Kim Ek company:Nordic Group")


def test_add_anyway_and_open_existing(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe jane@acme.de")
    testbot.say("/add Jane Dough jane@acme.de")
    assert "Jane Doe  (c1)" in testbot.press("Open c1").plain_text
    testbot.say("/add Jane Dough jane@acme.de")
    added = testbot.press("Add anyway").plain_text
    assert "Added Jane Dough" in added and "(c2)" in added


def test_find_by_misspelt_name_email_phone_company_and_deal(testbot: TestBot) -> None:
    testbot.say(f"/add Jane Doe company:Acme jane@acme.de {LANDLINE.international}")
    testbot.say("/add Max Mustermann company:Initech")
    testbot.say("/deal Website redesign Jane Doe 12k")
    assert "Jane Doe" in testbot.say("/find jnae doe")
    assert "Jane Doe" in testbot.say("/find Doe")
    assert "Jane Doe" in testbot.say("/find jane@acme.de")
    assert "Jane Doe" in testbot.say(f"/find {LANDLINE.national}")
    company = testbot.say("/find acme")
    assert "Acme (company): Jane Doe (c1)" in company
    assert "Website redesign" in testbot.say("/find websit redesing")
    assert "Nothing matches" in testbot.say("/find zzzqqq")
    assert "What should I look for" in testbot.say("/find")


def test_find_a_foreign_number_typed_without_its_country_code(testbot: TestBot) -> None:
    testbot.say("/add Jan Kowalski +48 601 234 567")
    testbot.say("/add Eva Berg +49 30 7654321")
    for typed in ("601 234 567", "0601-234567", "601234567"):
        found = testbot.say(f"/find {typed}")
        assert "Jan Kowalski" in found and "Eva Berg" not in found
    assert "Nothing matches" in testbot.say("/find 234 567")  # too few digits to tell
    assert "Nothing matches" in testbot.say("/find 601 234 568")


def test_find_buttons_open_cards(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe company:Acme")
    testbot.say("/find jane")
    assert "Jane Doe  (c1)" in testbot.press("Jane Doe").plain_text


def test_show_by_id_name_and_prefix(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    testbot.say("/deal Website Jane Doe 5k")
    assert "Jane Doe  (c1)" in testbot.say("/show c1")
    assert "Website  (d1)" in testbot.say("/show d1")
    assert "Jane Doe  (c1)" in testbot.say("/show jane doe")
    card = testbot.say("/show Jane Doe")
    assert "Open deals" in card and "Website — €5,000 · Lead (d1)" in card


def test_plain_id_matching_a_contact_and_a_deal_asks(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    testbot.say("/deal Website Jane Doe")
    which = testbot.send("/show 1")
    assert "Which one" in which.plain_text
    assert [b.label for b in which.all_buttons] == ["Jane Doe (c1)", "Website (d1)"]
    assert "Website  (d1)" in testbot.press("Website").plain_text


def test_ambiguous_name_gets_buttons_and_never_a_guess(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe company:Acme")
    testbot.say("/add Jane Doe company:Initech")
    which = testbot.send("/note Jane Doe called about the renewal")
    assert "Which one" in which.plain_text
    assert len(which.all_buttons) == 2
    assert "noted" not in testbot.say("/feed")
    testbot.send("/note Jane Doe called about the renewal")
    assert [b.label for b in which.all_buttons] == [
        "Jane Doe · Acme (c1)",
        "Jane Doe · Initech (c2)",
    ]
    logged = testbot.press("Jane Doe · Initech (c2)").plain_text
    assert "Logged: noted Jane Doe (c2)" in logged
    assert "noted on Jane Doe: called about the renewal" in testbot.say("/feed 1")


def test_unknown_reference(testbot: TestBot) -> None:
    reply = testbot.say("/show Nobody Atall")
    assert "No contact or deal matches" in reply and "/find" in reply
    assert "There is no contact or deal 99" in testbot.say("/show 99")


def test_edit_contact_fields(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    reply = testbot.say(
        f"/edit Jane Doe phone:{MOBILE.e164} email:jane@initech.com company:Initech "
        "city:Munich status:customer title:CEO"
    )
    assert reply.splitlines() == [
        "Updated Jane Doe (c1)",
        "company: Initech",
        "title: CEO",
        f"phone: {MOBILE.international}",
        "email: jane@initech.com",
        "city: Munich",
        "status: customer, was lead",
    ]
    card = testbot.say("/show c1")
    assert "CEO at Initech" in card and "Munich" in card and "Status customer" in card
    renamed = testbot.say("/edit c1 name:'Jane Smith'")
    assert "name: Jane Smith, was Jane Doe" in renamed
    assert "Nothing changed" in testbot.say("/edit c1 city:Munich")
    assert "Jane Smith" in testbot.say("/find jane smith")


def test_edit_refuses_bad_input(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    assert "Which fields" in testbot.say("/edit Jane Doe")
    assert "I don't know the field colour: here" in testbot.say("/edit Jane Doe colour:red")
    # With its value after a space, as phones often write it: the field is named, not
    # asked for ("Which fields?").
    testbot.say("/deal Website 5k")
    unknown = testbot.say("/edit d1 probability: 80%")
    assert "I don't know the field probability:." in unknown and "/stage" in unknown


def test_edit_empties_a_field_said_to_be_none(testbot: TestBot) -> None:
    """As the answer shows an empty field: `close: none`, like `close:`."""
    testbot.say("/add Jane Doe company:Acme")
    testbot.say("/deal Website 5k close:15.12.")
    assert "close: none, was Tue 15 Dec" in testbot.say("/edit d1 close: none")
    assert "company: none, was Acme" in testbot.say("/edit Jane Doe company: -")
    # A field of a shape of its own (phone, e-mail, amount) the same, with a space or not.
    testbot.say("/edit Jane Doe phone:+49 30 1234567 email:jane@acme.de")
    assert "phone: none, was +49 30 1234567" in testbot.say("/edit c1 phone: none")
    assert "email: none, was jane@acme.de" in testbot.say("/edit c1 email: keine")
    testbot.say("/edit d1 amount:5k")
    assert "amount: none, was" in testbot.say("/edit d1 amount: none")
    assert "did you mean city:?" in testbot.say("/edit Jane Doe cyti:Berlin")
    assert "not a valid phone" in testbot.say("/edit Jane Doe phone:1")
    assert "Jane Doe" in testbot.say("/show c1")


def test_edit_permissions(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    testbot.join("Bob")
    assert "belongs to a teammate" in testbot.say("/edit Jane Doe city:Rome", who="Bob")
    assert "Only managers and admins" in testbot.say("/add Max owner:Alice", who="Bob")
    testbot.join("Carla", "manager")
    assert "city: Rome" in testbot.say("/edit Jane Doe city:Rome", who="Carla")
    assert "owner: Bob, was Alice" in testbot.say("/edit Jane Doe owner:@bob", who="Carla")
    assert "city: Paris, was Rome" in testbot.say("/edit Jane Doe city:Paris", who="Bob")


def test_reps_tag_only_their_own_records(testbot: TestBot) -> None:
    """Tags move a lead's score: a rep cannot tag or untag a teammate's contact or deal."""
    testbot.say("/add Jane Doe #hot")
    testbot.say("/deal Website Jane Doe")
    testbot.join("Bob")
    for text in ("/tag Jane Doe #cold", "/untag Jane Doe #hot", "/tag d1 #q4", "/untag d1 #q4"):
        assert "belongs to a teammate; only they or a manager can" in testbot.say(text, who="Bob")
    assert "Tags: #hot" in testbot.say("/show c1")
    testbot.say("/add Max Muster", who="Bob")
    assert "Tagged Max Muster" in testbot.say("/tag Max Muster #warm", who="Bob")
    testbot.join("Carla", "manager")
    assert "Tagged Jane Doe (c1): #vip" in testbot.say("/tag Jane Doe #vip", who="Carla")


def test_tag_and_untag_contacts_and_deals(testbot: TestBot) -> None:
    testbot.say("/add Jane Doe")
    testbot.say("/deal Website Jane Doe")
    assert "Tagged Jane Doe (c1): #hot #vip" in testbot.say("/tag Jane Doe #hot #vip")
    assert "already has those tags" in testbot.say("/tag Jane Doe #hot")
    assert "Tagged Website (d1): #q4" in testbot.say("/tag d1 #q4")
    assert "Untagged Jane Doe (c1): #vip" in testbot.say("/untag c1 #vip #nope")
    assert "has none of those tags" in testbot.say("/untag c1 #vip")
    assert "Tags: #hot" in testbot.say("/show c1")
    assert "Tags: #q4" in testbot.say("/show d1")
    assert "Which tags" in testbot.say("/tag Jane Doe")


def test_leads_best_score_first_with_filters(testbot: TestBot) -> None:
    testbot.say("/add Low Lead city:Berlin")
    testbot.say("/add High Lead city:Berlin status:qualified jane@x.de #hot")
    testbot.say("/add Far Lead city:Paris #hot")
    testbot.say("/add Old Customer status:customer")
    leads = testbot.say("/leads")
    assert leads.index("High Lead") < leads.index("Low Lead")
    assert "Old Customer" not in leads
    assert "Far Lead" not in testbot.say("/leads city:berlin")
    hot = testbot.say("/leads #hot")
    assert "High Lead" in hot and "Far Lead" in hot and "Low Lead" not in hot
    assert "Old Customer" in testbot.say("/leads status:customer")
    assert "Old Customer" in testbot.say("/leads status:all")
    assert "limit: takes a number" in testbot.say("/leads limit:0")
    assert "No leads match #nothing." in testbot.say("/leads #nothing")
    assert "No leads match with status inactive." in testbot.say("/leads status:inactive")
    # A status as imports read one: German, or another CRM's.
    assert "Old Customer" in testbot.say("/leads status:Kunde")
    assert "status: qualified, was lead" in testbot.say("/edit Low Lead status:MQL")


def test_leads_mine_and_a_teammates(testbot: TestBot) -> None:
    testbot.join("Bob")
    testbot.say("/add Alice Lead city:Berlin")
    testbot.say("/add Bob Lead", who="Bob")
    mine = testbot.say("/leads mine")
    assert "Alice Lead" in mine and "Bob Lead" not in mine
    meine = testbot.say("/leads meine")
    assert "Alice Lead" in meine and "Bob Lead" not in meine
    bobs = testbot.say("/leads @bob")
    assert "Bob Lead" in bobs and "Alice Lead" not in bobs
    assert "Alice Lead" not in testbot.say("/leads mine", who="Bob")
    assert "No leads of yours match in Paris." in testbot.say("/leads mine city:Paris")
    by_option = testbot.say("/leads owner:@bob")  # as /deals owner:@bob
    assert "Bob Lead" in by_option and "Alice Lead" not in by_option
    assert "One owner at a time" in testbot.say("/leads mine @bob")
    assert "One owner at a time" in testbot.say("/leads mine owner:@bob")
    assert "don't understand" in testbot.say("/leads everything")
    assert "don't understand" in testbot.say("/leads mine please")


def test_leads_in_a_city_as_typed_without_its_letters(testbot: TestBot) -> None:
    testbot.say("/add Jana Novak city:Köln")
    testbot.say("/add Piotr Nowak city:Wrocław")
    testbot.say("/add Eva Berg city:Muenchen")
    assert "Jana Novak" in testbot.say("/leads city:Koeln")
    assert "Jana Novak" in testbot.say("/leads city:köln")
    assert "Piotr Nowak" in testbot.say("/leads city:Wroclaw")
    munich = testbot.say("/leads city:München")
    assert "Eva Berg" in munich and "Jana Novak" not in munich
    assert "No leads match in Paris." in testbot.say("/leads city:Paris")


def test_shared_contact_card_is_logged_with_duplicate_check(testbot: TestBot) -> None:
    card = SharedContact(
        name="Jane Doe",
        phone=LANDLINE.international,
        email="jane@acme.de",
        company="Acme",
        title="CTO",
    )
    logged = testbot.contact_card(card).plain_text
    assert "Added Jane Doe" in logged and "company: Acme" in logged and "title: CTO" in logged
    again = testbot.contact_card(card)
    assert "already have" in again.plain_text
    added = testbot.press("Add anyway").plain_text
    assert "Added Jane Doe" in added and "(c2)" in added


def test_find_does_not_drown_in_partial_matches(testbot: TestBot) -> None:
    testbot.say("/add Jana Müller company:Acme")
    testbot.say("/add Noah Bakker company:'Spree Analytics'")
    found = testbot.say("/find jana")
    assert "Jana Müller" in found and "Spree" not in found
    assert "Spree Analytics (company)" in testbot.say("/find analytcs")
    assert "Acme (company)" in testbot.say("/find acm")
