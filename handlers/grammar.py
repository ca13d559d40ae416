"""The one argument grammar every command shares.

    /add Jane Doe company:"Acme GmbH" +49 30 1234567 jane@acme.de #hot #berlin

Free words, `#tags`, `key:value` options (the value may be quoted), and on demand: phone
numbers and e-mail addresses anywhere, money amounts (`12k`, `1.5m`, `€12,000`,
`12000 EUR`). Commands say which option keys they accept, so `re:pricing` in a note or a
URL stays an ordinary word.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TypeVar

import phonenumbers
from babel.numbers import get_currency_precision, list_currencies

from handlers.errors import CommandError, UsageError

MAX_INPUT = 6000
QUOTES = {'"': '"', "“": "”", "«": "»", "'": "'"}
_KEY = re.compile(r"^([A-Za-z_]{2,20}):(.*)$", re.DOTALL)
_TAG = re.compile(r"^#([^\W\d_][\w\-.]{0,63}|\d*[^\W\d][\w\-.]{0,62})$")
_EMAIL = re.compile(
    r"^<?([A-Za-z0-9._%+\-']+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,})>?[,;]?$"
)
_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY", "₹": "INR", "₽": "RUB", "₩": "KRW"}
_AMOUNT = re.compile(
    r"^(?P<pre>[€$£¥₹₽₩]|[A-Za-z]{3})?"
    r"(?P<num>\d[\d,.'\u00a0\u202f]*)"
    r"(?P<suffix>k|m|mm|bn)?"
    r"(?P<post>[€$£¥₹₽₩]|[A-Za-z]{3})?$",
    re.IGNORECASE,
)
_MULTIPLIERS = {"k": 1_000, "m": 1_000_000, "mm": 1_000_000, "bn": 1_000_000_000}
CURRENCIES = frozenset(list_currencies())
T = TypeVar("T")
_LOWERCASE_OK = frozenset(
    {"EUR", "USD", "GBP", "CHF", "JPY", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN"}
)


@dataclass(frozen=True, slots=True)
class Money:
    minor: int
    currency: str

    @property
    def precision(self) -> int:
        return get_currency_precision(self.currency)

    @property
    def major(self) -> Decimal:
        return Decimal(self.minor).scaleb(-self.precision)


@dataclass
class Args:
    """Parsed arguments. `take_*` methods consume what they recognise from the free words."""

    raw: str
    words: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    # Where each free word ends in `raw` (kept in step with `words`), and where each option
    # ends: a date option may run on over the words typed after it (`close:next friday`).
    word_ends: list[int] = field(default_factory=list)
    option_ends: dict[str, int] = field(default_factory=dict)

    @property
    def rest(self) -> str:
        return " ".join(self.words)

    def text_after(self, n: int) -> str:
        """The raw text after the first `n` free words, exactly as typed (a note's text)."""
        if n <= 0:
            return self.raw.strip()
        if n > len(self.word_ends):
            return ""
        return self.raw[self.word_ends[n - 1] :].strip()

    def option(self, *names: str) -> str | None:
        """Pop the first of `names` that was given (aliases, e.g. `close` and `due`)."""
        for name in names:
            if name in self.options:
                return self.options.pop(name).strip()
        return None

    def take_phrase(
        self, name: str, read: Callable[[str], T | None], *, most: int = 4
    ) -> T | None:
        """Pop option `name` read by `read`, extended over up to `most` of the words typed
        right after it when that is what makes it readable: `close:next friday`. The longest
        readable phrase wins; None when the option was not given or is unreadable."""
        if name not in self.options:
            return None
        value = self.options.pop(name).strip()
        end = self.option_ends.pop(name)
        first = next(
            (i for i, word_end in enumerate(self.word_ends) if word_end > end), len(self.words)
        )
        for n in range(min(most, len(self.words) - first), -1, -1):
            parsed = read(" ".join([value, *self.words[first : first + n]]))
            if parsed is not None:
                self._delete(range(first, first + n))
                return parsed
        return None

    def take_email(self) -> str | None:
        for i, word in enumerate(self.words):
            match = _EMAIL.match(word)
            if match:
                self._delete([i])
                return match.group(1).lower()
        return None

    def take_phone(self, region: str) -> str | None:
        """The first phone number among the words, in E.164 (`+4930123456`)."""
        text, starts = _join_with_offsets(self.words)
        for match in phonenumbers.PhoneNumberMatcher(text, region, phonenumbers.Leniency.VALID):
            number = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            self._delete(
                i
                for i, (word, offset) in enumerate(zip(self.words, starts, strict=True))
                if offset >= match.start and offset + len(word) <= match.end
            )
            return number
        return None

    def take_amount(self, default_currency: str, *, bare: bool = True) -> Money | None:
        """The last money amount among the words. Bare numbers count when `bare` is true."""
        for i in range(len(self.words) - 1, -1, -1):
            found = _amount_at(self.words, i, default_currency, bare=bare)
            if found is not None:
                money, start, end = found
                self._delete(range(start, end))
                return money
        return None

    def _delete(self, indices: Iterable[int]) -> None:
        gone = set(indices)
        kept = [i for i in range(len(self.words)) if i not in gone]
        self.words = [self.words[i] for i in kept]
        self.word_ends = [self.word_ends[i] for i in kept]


def limited(text: str, limit: int, what: str) -> str:
    """`text` stripped, or a clear refusal when it is longer than `limit`."""
    text = text.strip()
    if len(text) > limit:
        raise CommandError(f"{what} can be at most {limit} characters; this one has {len(text)}.")
    return text


def parse_email(text: str) -> str:
    match = _EMAIL.match(text.strip())
    if not match:
        raise UsageError(f"“{text}” is not an e-mail address I can read, e.g. jane@acme.com.")
    return match.group(1).lower()


def parse_phone(text: str, region: str) -> str:
    """A phone number in E.164, or a clear refusal."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise UsageError(
            f"“{text}” is not a valid phone number. Write it with its country code, "
            "e.g. +49 30 1234567."
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def split_command(text: str) -> tuple[str, str] | None:
    """`/Stage@crm_bot 42 won` -> ("stage", "42 won"); None when it is not a command."""
    stripped = text.strip()
    if not stripped.startswith("/") or len(stripped) < 2:
        return None
    head, _, rest = stripped[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    if not name or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        return None
    return name, rest.strip()


def parse_args(text: str, *, keys: frozenset[str] = frozenset()) -> Args:
    """Split `text` into words, tags and the options whose key is in `keys`."""
    if len(text) > MAX_INPUT:
        raise CommandError(
            f"That message is too long ({len(text)} characters, at most {MAX_INPUT})."
        )
    args = Args(raw=text)
    for token, quoted, end in _tokens(text):
        key_match = _KEY.match(token)
        if key_match and key_match.group(1).lower() in keys:
            key = key_match.group(1).lower()
            args.options[key] = _unquote(key_match.group(2))
            args.option_ends[key] = end
        elif not quoted and (name := _tag_name(token)):
            if name not in args.tags:
                args.tags.append(name)
        elif token:
            args.words.append(_unquote(token) if quoted else token)
            args.word_ends.append(end)
    return args


def parse_tags(text: str) -> list[str]:
    """Tags typed into a form field, with or without #: `hot, #berlin` -> [hot, berlin]."""
    tags: list[str] = []
    for word in re.split(r"[\s,;]+", text.strip()):
        if not word:
            continue
        name = _tag_name("#" + word.lstrip("#"))
        if name is None:
            raise UsageError(
                f"“{word}” is not a tag: a tag is one word of letters, digits, - or ., "
                "e.g. hot or trade-fair."
            )
        if name not in tags:
            tags.append(name)
    return tags


def quote(value: str) -> str:
    """`value` as a single token of this grammar (a free word or an option's value), with
    whatever spaces, quotes, #, @ or : it holds."""
    for opener, closer in (('"', '"'), ("“", "”"), ("«", "»")):
        if closer not in value:
            return f"{opener}{value}{closer}"
    return '"' + value.replace('"', "") + '"'


def _tag_name(token: str) -> str | None:
    tag = _TAG.match(token)
    return tag.group(1).lower().rstrip(".") if tag else None


def _tokens(text: str) -> list[tuple[str, bool, int]]:
    """(token, quoted, end offset): whitespace-separated, except that a quote opening a token
    (or a `key:` value) runs to its closing quote, spaces included. An apostrophe inside a
    word (O'Brien) is just a letter."""
    tokens: list[tuple[str, bool, int]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        key_match = re.match(r"[A-Za-z_]{2,20}:", text[i:])
        quote_at = i + key_match.end() if key_match else i
        opener = text[quote_at] if quote_at < n else ""
        if opener in QUOTES and (opener != "'" or key_match):
            closer = QUOTES[opener]
            end = text.find(closer, quote_at + 1)
            end = n if end == -1 else end + 1
            tokens.append((text[start:end], not key_match, end))
            i = end
            continue
        while i < n and not text[i].isspace():
            i += 1
        tokens.append((text[start:i], False, i))
    return tokens


def _unquote(value: str) -> str:
    if value and value[0] in QUOTES:
        closer = QUOTES[value[0]]
        value = value[1:-1] if len(value) > 1 and value.endswith(closer) else value[1:]
    return value.strip()


def _join_with_offsets(words: list[str]) -> tuple[str, list[int]]:
    starts, offset = [], 0
    for word in words:
        starts.append(offset)
        offset += len(word) + 1
    return " ".join(words), starts


def _amount_at(
    words: list[str], i: int, default_currency: str, *, bare: bool
) -> tuple[Money, int, int] | None:
    """The amount whose number is word `i`, and the span of words it covers
    (`12000 EUR` and `EUR 12000` cover two)."""
    match = _AMOUNT.match(words[i])
    if not match:
        return None
    pre, post = match.group("pre"), match.group("post")
    currency = _currency(pre) or _currency(post)
    if pre and not currency:
        return None  # "abc123" is a word, not an amount
    start, end = i, i + 1
    if currency is None and i + 1 < len(words) and (after := _currency(words[i + 1])):
        currency, end = after, i + 2
    elif currency is None and i > 0 and (before := _currency(words[i - 1])):
        currency, start = before, i - 1
    if currency is None and not match.group("suffix") and not bare:
        return None
    value = _number(match.group("num"), match.group("suffix"))
    if value is None:
        return None
    return _money(value, currency or default_currency), start, end


def _currency(token: str | None) -> str | None:
    if not token:
        return None
    if token in _SYMBOLS:
        return _SYMBOLS[token]
    upper = token.upper()
    if len(token) != 3 or upper not in CURRENCIES:
        return None
    # Lowercase codes collide with words ("bob", "all", "top"); accept them only for the
    # currencies people actually type that way.
    return upper if token.isupper() or upper in _LOWERCASE_OK else None


def _number(text: str, suffix: str | None) -> Decimal | None:
    digits = text.replace("'", "").replace("\u00a0", "").replace("\u202f", "").rstrip(".,")
    if "," in digits and "." in digits:
        decimal_sep = "," if digits.rfind(",") > digits.rfind(".") else "."
        thousands = "." if decimal_sep == "," else ","
        digits = digits.replace(thousands, "").replace(decimal_sep, ".")
    elif "," in digits:
        groups = digits.split(",")
        if len(groups) > 1 and all(len(g) == 3 for g in groups[1:]):
            digits = digits.replace(",", "")
        elif len(groups) == 2:
            digits = digits.replace(",", ".")
        else:
            return None
    elif digits.count(".") > 1:
        groups = digits.split(".")
        if not all(len(g) == 3 for g in groups[1:]):
            return None
        digits = digits.replace(".", "")
    try:
        value = Decimal(digits)
    except InvalidOperation:
        return None
    if suffix:
        value *= _MULTIPLIERS[suffix.lower()]
    return value


def _money(value: Decimal, currency: str) -> Money:
    precision = get_currency_precision(currency)
    return Money(int(value.scaleb(precision).to_integral_value()), currency)
