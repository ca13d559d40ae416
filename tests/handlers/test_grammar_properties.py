"""Properties of the grammar for any message: every word is accounted for, fields land
where they were typed, and nothing raises but a clear answer."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType
from sqlalchemy import Engine

from handlers.contacts import CONTACT_KEYS
from handlers.errors import CommandError
from handlers.grammar import EMAIL, PHONE, QUOTES, normalize, parse_args
from tests.conftest import TestBot
from tests.handlers.stored import last_contact, team_of
from tests.phones import LANDLINE, MOBILE, US, example, typed

ADD_KEYS, ADD_SHAPES = frozenset(CONTACT_KEYS), frozenset({PHONE, EMAIL})
NAMES = [
    "Jane",
    "Doe",
    "Hans",
    "Müller",
    "Łukasz",
    "Wójcik",
    "Seán",
    "O’Brien",
    "D'Angelo",
    "José",
    "García",
    "Ömer",
    "Çelik",
    "Åsa",
    "Ødegård",
    "Γιώργος",
    "Дмитрий",
    "山田",
    "김민준",
    "Nguyễn",
    "Anna-Lena",
    "Zoë",
    "Dr.",
    "van",
    "der",
    "Berg",
    "🙂",
]
WORDS = [
    "Acme",
    "Corp",
    "GmbH",
    "&",
    "Co.",
    "KG",
    "Sales",
    "Head",
    "of",
    "Bäckerei",
    "3M",
    "Route",
    "66",
    "San",
    "Francisco",
    "Frankfurt",
    "am",
    "Main",
    "Kraków",
    "L'Oréal",
    "Société",
    "Générale",
    "トヨタ",
    "VP,",
    "EMEA",
    "(Oder)",
    "Sp.",
    "z",
    "o.o.",
    "🏔️",
]
# The installed phonenumbers' own example numbers, as people type them.
PHONES = [
    (typed(phone, form), phone.e164)
    for phone in (LANDLINE, MOBILE)
    for form in ("intl", "national", "trunk", "trunk-spaced", "slash", "grouped", "dashes")
] + [(typed(phone, "intl"), phone.e164) for phone in (US, example("FR", PhoneNumberType.MOBILE))]
EMAILS = ["jane@acme.de", "j.doe+crm@example.com", "Hans.Mueller@Firma.DE"]
TAGS = ["hot", "vip", "trade-fair", "berlin"]
PAIRS = [(o, c[0]) for o, c in QUOTES.items() if o not in "'"]
KEY_SPELLINGS = {
    "company": ["company", "Company", "org"],
    "title": ["title", "job"],
    "city": ["city", "CITY"],
    "phone": ["phone", "tel", "mobile"],
    "email": ["email", "mail", "e-mail"],
}


@dataclass(frozen=True)
class Typed:
    """A message and what it means."""

    text: str
    fields: dict[str, str]


@st.composite
def add_messages(draw: st.DrawFn) -> Typed:
    """/add messages as a rep might type them: a name first, then in any order fields
    whose values run on over several words (quoted or not, with a comma after or not),
    a phone and an e-mail with or without their key, tags."""
    name = " ".join(draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3)))
    fields = {"name": name}
    parts: list[str] = []
    for key in draw(st.sets(st.sampled_from(["company", "title", "city"]))):
        value = " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4)))
        opener, closer = draw(st.sampled_from([("", ""), *PAIRS]))
        if any(ch in value for ch in QUOTES.get(opener, "")):
            opener = closer = ""
        # Unquoted, a comma at the end separates the value from what follows.
        fields[key] = value if opener else value.rstrip(",")
        spelled = draw(st.sampled_from(KEY_SPELLINGS[key]))
        space = draw(st.sampled_from(["", " "])) if not opener else ""
        comma = draw(st.sampled_from(["", ","]))
        parts.append(f"{spelled}:{space}{opener}{value}{closer}{comma}")
    if draw(st.booleans()):
        typed, e164 = draw(st.sampled_from(PHONES))
        fields["phone"] = e164
        labelled = draw(st.booleans())
        parts.append(
            f"{draw(st.sampled_from(KEY_SPELLINGS['phone']))}:{typed}" if labelled else typed
        )
    if draw(st.booleans()):
        email = draw(st.sampled_from(EMAILS))
        fields["email"] = email.lower()
        labelled = draw(st.booleans())
        parts.append(
            f"{draw(st.sampled_from(KEY_SPELLINGS['email']))}:{email}" if labelled else email
        )
    tags = draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=2))
    if tags:
        fields["tags"] = " ".join(f"#{tag}" for tag in sorted(tags))
        parts += [f"#{tag}" for tag in tags]
    order = draw(st.permutations(parts))
    return Typed(" ".join(["/add", name, *order]), fields)


_counter = itertools.count()
# Examples sent through the dispatcher, each to the one database of the test.
ON_THE_BOT = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@settings(ON_THE_BOT, max_examples=60)
@given(message=add_messages())
def test_every_field_lands_where_it_was_typed(
    open_signup_bot: TestBot, engine: Engine, message: Typed
) -> None:
    who = f"rep{next(_counter)}"
    open_signup_bot.say("/start Props", who=who)
    reply = open_signup_bot.send(message.text, who=who)
    assert not reply.error, (message.text, reply.plain_text)
    stored = last_contact(engine, team_of(engine, who.lower()))
    stored.pop("status")
    assert stored == message.fields, message.text


# --- nothing is dropped --------------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [
        *NAMES,
        *WORDS,
        *(typed for typed, _ in PHONES),
        *EMAILS,
        "company:",
        "title:",
        "city:",
        "tel:",
        "compnay:",
        "colour:red",
        "#hot",
        "#Hot",
        "#42",
        "Acme:",
        "https://acme.com",
        "re:launch",
        "12k",
        "12.000",
        "€",
        "15.12.",
        '"',
        "“",
        "”",
        "„",
        "‘",
        "’",
        "«",
        "»",
        "「",
        "」",
        "'",
        ",",
        ";",
        '"Acme GmbH"',
        "„Lange Möbel“",
        "‘Berg Sports’",
        "\u200b",
        "\u202e",
        "Ｊａｎｅ",
    ]
)
messages = st.one_of(
    st.lists(_FRAGMENTS, max_size=12).map(" ".join),
    st.text(max_size=80),
    st.lists(st.one_of(_FRAGMENTS, st.text(max_size=6)), max_size=10).map(" ".join),
)
_QUOTE_CHARS = "".join(QUOTES) + "".join(QUOTES.values())


def _core(token: str) -> str:
    """A typed word without what only delimits it: a `key:`, quotes, `#`, commas."""
    token = re.sub(r"^[A-Za-z][A-Za-z_-]{1,19}:", "", token)
    return token.strip(_QUOTE_CHARS + " ,;.!?#").casefold()


@settings(max_examples=400, deadline=None)
@given(messages)
def test_every_word_is_kept_or_the_message_is_refused(text: str) -> None:
    """Whatever is typed, each word is a free word, in a field's value or a tag, or the
    parser refuses the message with a reason (which names what it refused)."""
    text = normalize(text)
    try:
        args = parse_args(text, keys=ADD_KEYS, shapes=ADD_SHAPES, region="DE")
    except CommandError as refused:
        assert refused.message
        return
    kept = " ".join([*args.words, *args.options.values(), *args.tags]).casefold()
    kept = kept.translate({ord(ch): None for ch in _QUOTE_CHARS})
    for token in text.split():
        core = _core(token).translate({ord(ch): None for ch in _QUOTE_CHARS})
        assert core in kept, (token, text, args)


@pytest.mark.parametrize(
    "command",
    [
        "add",
        "edit",
        "deal",
        "remind",
        "note",
        "leads",
        "deals",
        "nearby",
        "stats",
        "tz",
        "snooze",
        "stages",
        "find",
        "tag",
        "lost",
        "pipeline",
    ],
)
@settings(ON_THE_BOT, max_examples=12)
@given(text=messages)
def test_no_message_ends_in_an_apology(testbot: TestBot, command: str, text: str) -> None:
    """Any words after any command get an answer or a question, never "Sorry, something
    went wrong" (which is for bugs)."""
    reply = testbot.send(f"/{command} {text}")
    assert "something went wrong" not in reply.plain_text, (command, text)


_ADD_FRAGMENTS = st.sampled_from(
    [
        *NAMES,
        *WORDS,
        *(typed for typed, _ in PHONES),
        *EMAILS,
        "company:",
        "title:",
        "city:",
        "addr:",
        "tel:",
        "status:qualified",
        "#hot",
        "#Vip",
        "Acme:",
        '"Acme GmbH"',
        "„Lange Möbel“",
        "‘Berg Sports’",
        "«Société Générale»",
        ",",
        "Ｊａｎｅ",
        "D'Angelo",
        "O’Brien",
        "12k",
        "15.12.",
    ]
)


@settings(ON_THE_BOT, max_examples=60)
@given(words=st.lists(_ADD_FRAGMENTS, min_size=1, max_size=10))
def test_every_word_of_an_added_contact_is_on_its_card(
    open_signup_bot: TestBot, engine: Engine, words: list[str]
) -> None:
    """An /add that succeeds shows the contact's card: every word typed is on it (in the
    name or a field), or was read into the stored phone number; one that does not succeed
    says why and stores nothing."""
    who = f"card{next(_counter)}"
    open_signup_bot.say("/start Props", who=who)
    text = "/add " + " ".join(words)
    reply = open_signup_bot.send(text, who=who)
    stored = last_contact(engine, team_of(engine, who.lower()))
    if reply.error or "Added" not in reply.plain_text:
        assert stored == {}, (text, reply.plain_text)
        return
    card = normalize(reply.plain_text).casefold().translate({ord(ch): None for ch in _QUOTE_CHARS})
    phone_digits = stored.get("phone", "").lstrip("+")
    for token in normalize(" ".join(words)).split():
        core = _core(token).translate({ord(ch): None for ch in _QUOTE_CHARS})
        digits = re.sub(r"\D", "", core)  # a trunk 0 or (0) is a part of the number too
        in_phone = bool(phone_digits and digits and digits.lstrip("0") in phone_digits)
        assert core in card or in_phone, (token, text, card)
