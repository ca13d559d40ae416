"""The argument grammar: turning form fields into a command and back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.errors import UsageError
from handlers.grammar import parse_args, parse_tags, quote

# What a form field can hold: one line of text, spaces inside, none at either end; and
# not all three closing quotes at once (the grammar has no escape for that, see below).
field_text = (
    st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=60)
    .map(str.strip)
    .filter(lambda text: bool(text) and not all(closer in text for closer in '"”»'))
)


@given(field_text, field_text)
def test_a_quoted_value_is_read_back_whole(word: str, value: str) -> None:
    args = parse_args(f"{quote(word)} city:{quote(value)}", keys=frozenset({"city"}))
    assert args.words == [word]
    assert args.options == {"city": value}
    assert args.tags == []


def test_quote_with_every_kind_of_quote_inside() -> None:
    value = 'a "b" “c” «d»'
    assert parse_args(quote(value)).words == [value]  # in corner brackets, whole
    every = value + " 「e」"
    assert parse_args(quote(every)).words == ["a b c «d» 「e」"]  # only " ” “ had to go


def test_tags_from_a_form_field() -> None:
    assert parse_tags("hot, #Berlin  trade-fair;#hot") == ["hot", "berlin", "trade-fair"]
    assert parse_tags("  ") == []
    with pytest.raises(UsageError, match="“#1” is not a tag"):
        parse_tags("hot #1")
