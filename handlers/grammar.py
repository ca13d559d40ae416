"""The one argument grammar every command shares.

    /add Hans Müller company:Acme Corp city:San Francisco title:Head of Sales +49 151 2345678

The rule a person guesses without reading anything: free words, `#tags`, and `key:value`
fields whose value runs on over the following words until the next `key:`, the next `#tag`,
or a word the command recognises by its shape (a phone number, an e-mail address, a money
amount). Quotes still work, in every pair a phone keyboard types (`"…"` `“…”` `„…“` `‚…‘`
`‘…’` `«…»` `»…«` `「…」`); an apostrophe inside a word (O’Brien) is a letter. A field the
command does not know, but that looks like one it does (`compnay:`), is refused with a
did-you-mean instead of being read as words. Commands say which keys and shapes they take,
so `re:pricing` in a note or a URL stays an ordinary word.

Amounts are read in the team's locale (`12.000 €`, `12 000 EUR`, `€12.000,50`, `12,5k`,
`$3,500`); phones in the team's region. All text first goes through `normalize`, once, in
the dispatcher.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cache, lru_cache
from itertools import islice
from typing import TypeVar

import phonenumbers
from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.numbers import (
    format_currency,
    get_currency_precision,
    get_decimal_symbol,
    get_group_symbol,
    get_territory_currencies,
    list_currencies,
)
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from handlers.errors import Ambiguous, Candidate, CommandError, UsageError

MAX_INPUT = 6000
# The largest amount a deal may have, in minor units (a hundred billion euros, in cents).
# The running totals (migration 0014) add deals' amounts in 64-bit integers: it would take
# (2**63 - 1) // MAX_MINOR = 922,337 deals of the largest amount in one total to overflow.
MAX_MINOR = 10**13
# Shapes a command can recognise anywhere among its words.
PHONE, EMAIL, AMOUNT = "phone", "email", "amount"
# Keys whose value has a shape of its own: their run-on is not cut where that shape starts.
_OWN_SHAPE = {"phone": PHONE, "email": EMAIL, "amount": AMOUNT}
# Other spellings of a key, used when the command takes the key they stand for.
KEY_ALIASES = {
    "tel": "phone",
    "telephone": "phone",
    "telefon": "phone",
    "mobile": "phone",
    "cell": "phone",
    "handy": "phone",
    # Short forms on business cards: German `Mob.`/`Mobil`, Nordic `Tlf.`, Swiss `Natel`.
    **dict.fromkeys(("mob", "mobil", "fon", "tlf", "natel"), "phone"),
    "mail": "email",
    "e-mail": "email",
    "org": "company",
    "organisation": "company",
    "organization": "company",
    "position": "title",
    "job": "title",
    "due": "close",
}
# As German reps write them; a typo is matched to these after the others (`stat:` is a
# misspelt status:, not stadt:).
_GERMAN_KEYS = {
    "firma": "company",
    "unternehmen": "company",
    "titel": "title",
    "funktion": "title",
    "adresse": "addr",
    "anschrift": "addr",
    "stadt": "city",
    "ort": "city",
    "land": "country",
    "quelle": "source",
    "betrag": "amount",
    "summe": "amount",
    "abschluss": "close",
    "phase": "stage",
}
KEY_ALIASES |= _GERMAN_KEYS
# Opening quote -> the closing quotes that end it (phone keyboards and languages differ).
QUOTES = {
    '"': '"”“',
    "“": "”“",
    "”": "”",
    "„": "“”",
    "‚": "‘’",
    "‘": "’",
    "«": "»",
    "»": "«»",
    "「": "」",
    "『": "』",
    "'": "'",
}
_CLOSERS = frozenset("".join(QUOTES.values()))
_KEY = re.compile(r"([A-Za-z][A-Za-z_-]{1,19}):")
_TAG = re.compile(r"^#([^\W\d_][\w\-.]{0,63}|\d*[^\W\d][\w\-.]{0,62})$")
# Letters of any script (RFC 6531 addresses: louis.møller@example.dk, info@müller.de).
_EMAIL = re.compile(r"^<?([\w.%+\-']+@[^\W_][\w\-]*(?:\.[\w\-]+)*\.[^\W\d_]{2,})>?[,;]?$")
# After a closing quote: the end, a space, or punctuation then either.
_AFTER_CLOSER = re.compile(r"[,;.!?)]*(?:\s|$)")
_TRIM = " \t\n,;"
# A bare number that is a year of this era is part of a title, never an amount.
YEAR = re.compile(r"(?:19|20)\d\d")
_COORDINATE = re.compile(r"[-+]?\d{1,3}(?:[.,]\d+)?")
_PHONE_CHARS = re.compile(r"[\d\s+()\-./]+(?:\s*(?:ext\.?|x)\s*\d{1,6})?", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
CURRENCIES = frozenset(list_currencies())
# Lowercase codes collide with words ("bob", "all", "top"); these are typed that way.
_LOWERCASE_OK = frozenset(
    {"EUR", "USD", "GBP", "CHF", "JPY", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN"}
)
# `tsd`, `mrd` and `t` before a currency (`15 TEUR`, `15 T€`) are German business writing.
_MULTIPLIERS = {
    **dict.fromkeys(("k", "tsd", "t"), 10**3),
    **dict.fromkeys(("m", "mm", "mio"), 10**6),
    **dict.fromkeys(("bn", "mrd"), 10**9),
}
# A currency written out after an amount (`5.000 Euro`): of the names babel gives the
# currencies of the locales reps write in, the only ones of one word, and the names of
# those whose sign is not a word (`2 500 lei`, `900 złoty`). Not before one: `Euro 2028`
# is a tournament.
_CURRENCY_WORDS = {"euros": "EUR", "euro": "EUR", "franken": "CHF"}
_CURRENCY_WORDS |= {"lei": "RON", "leu": "RON", "zloty": "PLN", "złoty": "PLN"}
# A currency's abbreviation, before or after an amount (`SFr. 1200`), compared in lower
# case without its dot.
_ABBREVIATED = {"sfr": "CHF"}
# Words for a currency sign, after an amount (`3.000 Dollar`, `800 Pfund`): the currency the
# team's locale writes that sign for (`$` is USD in de_DE, CAD in en_CA).
_SIGN_WORDS = {
    **dict.fromkeys(("dollar", "dollars"), "$"),
    **dict.fromkeys(("pound", "pounds", "pfund"), "£"),
}
# Words that label a phone number or e-mail address typed after them, without a colon
# (`Tel. 030 1234567`): the field's name and its aliases, which with a colon are keys
# (KEY_ALIASES). Compared without `.` and `:`.
_PHONE_LABELS = frozenset(
    {"phone", "ph", *(a for a, key in KEY_ALIASES.items() if key == "phone")}
)
_EMAIL_LABELS = frozenset({"email", *(a for a, key in KEY_ALIASES.items() if key == "email")})
# Words before an amount that say it is a rough figure (`ca. 5.000 €`, `rund 5k`).
_ROUGHLY = frozenset({"ca.", "circa", "zirka", "etwa", "rund", "approx.", "approx", "~"})
T = TypeVar("T")


@cache
def _currency_signs() -> str:
    """Every currency sign Unicode has (category Sc), in the BMP: found on first use, as
    a scan of 65,536 characters costs every start 20 ms."""
    return "".join(chr(code) for code in range(0x10000) if unicodedata.category(chr(code)) == "Sc")


# --- normalisation -------------------------------------------------------------------------

# Characters that show nothing, beyond the format (Cf) category: Hangul fillers, the
# combining grapheme joiner and the braille blank, which are used to make "empty" names.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u034f\u2800")
_JOINERS = frozenset("\u200c\u200d")  # meaningful inside emoji and some scripts
_BLACK_FLAG = "\U0001f3f4"  # subdivision flags (Scotland) follow it with tag characters
_FLAG_TAGS = ("\U000e0020", "\U000e007f")


def normalize(text: str) -> str:
    """Text as the grammar reads it: NFKC (fullwidth `Ｊａｎｅ` is `Jane`, `１２ ０００` is
    `12 000`, a no-break space is a space), without control characters, zero-width
    characters, direction overrides or lone surrogates. A zero-width joiner stays where it
    joins two visible characters (emoji sequences, Indic and Persian words), and so do the
    tag characters of a subdivision flag."""
    text = _CONTROL.sub("", text)
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
    kept: list[str] = []
    for i, char in enumerate(text):
        if char.isascii() or not _invisible(char):
            kept.append(char)
        elif char in _JOINERS:
            after = text[i + 1] if i + 1 < len(text) else " "
            if kept and not kept[-1].isspace() and not after.isspace() and not _invisible(after):
                kept.append(char)
        elif (
            _FLAG_TAGS[0] <= char <= _FLAG_TAGS[1]
            and kept
            and (kept[-1] == _BLACK_FLAG or _FLAG_TAGS[0] <= kept[-1] <= _FLAG_TAGS[1])
        ):
            kept.append(char)
    return "".join(kept)


def invisible_words(text: str) -> int:
    """How many of the words of `text` are made only of characters `normalize` removes."""
    if text.isascii() and not _CONTROL.search(text):
        return 0
    return sum(1 for word in text.split() if not normalize(word).strip())


def _invisible(char: str) -> bool:
    return char in _INVISIBLE or unicodedata.category(char) in ("Cf", "Cs", "Cc")


# --- money ---------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class _Numbers:
    """How the team's locale writes numbers and money (babel's data for that locale)."""

    locale: str
    decimal: str
    group: str
    grouping: tuple[int, int]  # the sizes of the last group and of those before (3, 2 in en_IN)
    symbols: Mapping[str, str]  # currency symbol as typed (NFKC) -> ISO code
    amount: re.Pattern[str]

    def currency(self, token: str) -> str | None:
        """The ISO code a word names on its own (`€`, `EUR`, `eur`, `CA$`), or None."""
        if token in self.symbols:
            return self.symbols[token]
        if (named := _CURRENCY_WORDS.get(token.lower())) is not None:
            return named
        if (sign := _SIGN_WORDS.get(token.lower())) is not None:
            return self.symbols.get(sign)
        if (abbreviated := _ABBREVIATED.get(token.lower().rstrip("."))) is not None:
            return abbreviated
        upper = token.upper()
        if len(token) != 3 or upper not in CURRENCIES:
            return None
        return upper if token.isupper() or upper in _LOWERCASE_OK else None


@lru_cache(maxsize=64)
def _numbers(locale: str) -> _Numbers:
    parsed = Locale.parse(locale)
    # The single-character symbols of English ($, €, £, ¥, ₹ ...), overridden by the
    # locale's own (any length: CA$, zł, kr, R$), which win: "$" is CAD in en_CA, "¥" is CNY
    # in zh_CN. Where the locale gives one symbol to several currencies, its country's wins.
    symbols = {
        symbol: code
        for code, symbol in _symbols(Locale.parse("en"))
        if len(symbol) == 1 and not symbol.isalnum()
    }
    own: dict[str, str] = {}
    for code, symbol in _symbols(parsed):
        own.setdefault(symbol, code)
    for code in get_territory_currencies(parsed.territory)[:1] if parsed.territory else ():
        own.update((symbol, code) for c, symbol in _symbols(parsed) if c == code)
    symbols.update(own)
    decimal = unicodedata.normalize("NFKC", get_decimal_symbol(parsed))
    group = unicodedata.normalize("NFKC", get_group_symbol(parsed))
    marks = re.escape("".join(sorted({".", ",", "'", "’", decimal, group} - {" "})))
    currency = "|".join(
        [
            *(re.escape(s) for s in sorted(symbols, key=len, reverse=True)),
            *(rf"{abbreviation}\.?" for abbreviation in _ABBREVIATED),
            "[A-Za-z]{3}",
            f"[{re.escape(_currency_signs())}]",  # any other, to say it is not known
        ]
    )
    amount = re.compile(
        rf"[~≈]?(?P<pre>{currency})?\s?"
        rf"(?P<num>\d{{1,3}}(?:\s\d{{2,3}})+(?:[{marks}]\d+)?|\d[\d{marks}]*(?:[.,][-–])?)"
        rf"(?:\s?(?P<suffix>k|tsd|mm|mio|bn|mrd|m|t(?={currency}))\.?)?"
        rf"(?:\s?(?P<post>{'|'.join([*_CURRENCY_WORDS, *_SIGN_WORDS])}|{currency}))?",
        re.IGNORECASE,
    )
    return _Numbers(
        locale=str(parsed),
        decimal=decimal,
        group=group,
        grouping=parsed.decimal_formats[None].grouping,
        symbols=symbols,
        amount=amount,
    )


@cache
def _native_signs() -> Mapping[str, frozenset[str]]:
    """Each country's currency sign as it writes it after an amount (`zł`, `Kč`, `Ft`, `kr`),
    from babel's data for the likely locale of every territory: sign -> the currencies it
    stands for (`kr`: SEK, NOK and DKK). Found on first need: a locale each costs 0.4 s in
    all. Single letters (R, K) and capitals alone (KM, FC) are words and abbreviations
    far more often, and are left out."""
    likely = get_global("likely_subtags")
    signs: dict[str, set[str]] = {}
    for territory in get_global("territory_currencies"):
        currencies = get_territory_currencies(territory)
        tag = likely.get(f"und_{territory}")
        if not currencies or tag is None:
            continue
        try:
            symbols = dict(_symbols(Locale.parse(tag)))
        except UnknownLocaleError:
            continue  # a likely locale babel has no data for
        sign = symbols.get(currencies[0], "")
        letters = sign.replace(".", "")
        if len(letters) > 1 and " " not in sign and not (letters.isascii() and letters.isupper()):
            signs.setdefault(sign, set()).add(currencies[0])
    return {sign: frozenset(codes) for sign, codes in signs.items()}


def _signed_after(amount: _Amount, words: list[str]) -> _Amount:
    """`amount` with the currency sign typed after it that its country writes and the team's
    locale does not know (`5000 zł`, `12.000 Kč`); a sign several currencies share (`kr`) is
    refused with how to write it."""
    typed = words[amount.end].rstrip(",;!?") if amount.end < len(words) else ""
    if not typed or len(typed) > 5 or not _may_be_sign(typed):
        return amount
    signs = _native_signs()
    codes = signs.get(typed) or signs.get(typed.rstrip("."), frozenset())
    if len(codes) > 1:
        raise UsageError(
            f"I don't know which currency {typed} is here; write its code after the amount, "
            f"e.g. {amount.typed} {' or '.join(sorted(codes))}."
        )
    if not codes:
        return amount
    return replace(
        amount,
        end=amount.end + 1,
        typed=f"{amount.typed} {typed}",
        currency=next(iter(codes)),
        marked=True,
    )


def _may_be_sign(word: str) -> bool:
    """Whether `word` may be a sign of `_native_signs`: none has a digit or is a lowercase
    word of three letters or more, so the words most often after a figure (`20 cars`, `5
    pcs`) ask for no locale data."""
    if any(ch.isdigit() for ch in word):
        return False
    return not (word.isascii() and word.isalpha() and word.islower() and len(word) > 2)


def _symbols(locale: Locale) -> Iterator[tuple[str, str]]:
    """(ISO code, symbol as typed) for the currencies `locale` has a symbol of its own for."""
    for code, symbol in locale.currency_symbols.items():
        symbol = normalize(symbol).strip()
        if code in CURRENCIES and code != "XXX" and symbol and symbol.upper() != code:
            yield code, symbol


@dataclass(frozen=True, slots=True)
class _Amount:
    """An amount among words: words[start:end] as `typed`, its currency (None: the team's),
    the number and k/m suffix as typed, and whether something besides digits marks it as
    money (a currency, k/m, thousands groups)."""

    start: int
    end: int
    typed: str
    currency: str | None
    number: str
    suffix: str
    marked: bool


def read_amount(
    text: str, currency: str, *, locale: str, picks: Mapping[str, str] | None = None
) -> Money | None:
    """`text` read whole as an amount (`12 000 EUR`, `€12.000,50`, `12,5k`); None when it is
    not one. Raises a clear UsageError for a figure that is money but cannot be stored, and
    Ambiguous (buttons) when it could be read two ways."""
    words = text.split()
    if not words:
        return None
    numbers = _numbers(locale)
    found = _amount_at(words, 0, numbers)
    if found is None or found.end != len(words):
        return None
    return _money(found, currency, numbers, picks or {})


def _amount_at(words: list[str], i: int, numbers: _Numbers) -> _Amount | None:
    """The longest amount starting at word `i` (`EUR 1 200 000 000`: up to eight words),
    with the word that says it is a rough figure (`ca. 5.000 €`, `~5k`): that is no title's."""
    if words[i].lower() in _ROUGHLY and i + 1 < len(words):
        after = _amount_at(words, i + 1, numbers)
        return replace(after, start=i) if after is not None else None
    if not any(ch.isdigit() for ch in words[i]) and numbers.currency(words[i]) is None:
        return None
    for end in range(min(len(words), i + 8), i, -1):
        typed = " ".join(words[i:end])
        # Punctuation after an amount ends the sentence, unless it ends a symbol (د.ك.).
        match = numbers.amount.fullmatch(typed) or numbers.amount.fullmatch(typed.rstrip(".,;:!?"))
        if match is None:
            continue
        pre, post = match.group("pre"), match.group("post")
        currency = numbers.currency(pre) if pre else None
        currency = currency or (numbers.currency(post) if post else None)
        for sign in (pre, post):
            if sign and sign in _currency_signs() and not numbers.currency(sign):
                raise UsageError(
                    f"I don't know which currency {sign} is here; write its code after "
                    "the amount, e.g. 5000 RUB."
                )
        if (pre and not numbers.currency(pre)) or (post and not numbers.currency(post)):
            continue  # "abc123" is a word, not an amount
        suffix = (match.group("suffix") or "").lower()
        values, grouped = _readings(match.group("num"), suffix, numbers, precision=2)
        if values:
            marked = bool(currency or suffix or grouped)
            found = _Amount(i, end, typed, currency, match.group("num"), suffix, marked)
            return found if currency else _signed_after(found, words)
    return None


def _readings(
    text: str, suffix: str, numbers: _Numbers, *, precision: int
) -> tuple[list[Decimal], bool]:
    """The values a number can mean (none when it is not one; two when it could be read
    either way), and whether it was written with thousands groups.

    Both `.` and `,`: the last is the decimal point. One of them, several times: groups.
    One of them once, followed by exactly three digits: thousands (`12.000`, `3,500`) for
    a currency with up to two decimals; with three decimals, as the locale writes them; with
    k or m after it, either (`1.500k`), so the user is asked. Spaces, apostrophes and the
    locale's own group symbol (`12’000`) only ever group."""
    digits = re.sub(r"[,.][-–]$", "", text).rstrip(".,")  # `12,-` is twelve in German
    # The locale's own decimal symbol (Arabic ٫) is the decimal point wherever it is.
    certain = numbers.decimal not in ".," and numbers.decimal in digits
    digits = digits.replace(numbers.decimal, ".") if certain else digits
    for mark in {" ", "’", numbers.group} - {".", ","}:
        digits = digits.replace(mark, "'")  # marks that only ever group
    points = [ch for ch in digits if ch in ".,"]
    if len(set(points)) == 2 or (len(points) == 1 and ("'" in digits or certain)):
        whole, _, fraction = digits.rpartition(points[-1])
        if points[-1] in whole:
            return [], False
        options = [(whole.replace("," if points[-1] == "." else ".", "_"), fraction)]
    elif len(points) > 1:
        options = [(digits.replace(points[0], "_"), "")]
    elif points:
        whole, _, fraction = digits.partition(points[0])
        as_group = (f"{whole}_{fraction}", "")
        if len(fraction) != 3 or not 1 <= len(whole) <= 3:
            options = [(whole, fraction)]
        elif suffix or (precision == 3 and points[0] not in (numbers.decimal, numbers.group)):
            options = [(whole, fraction), as_group]
        elif precision == 3 and points[0] == numbers.decimal:
            options = [(whole, fraction)]
        else:
            options = [as_group]
    else:
        options = [(digits, "")]
    values = []
    for whole, fraction in options:
        groups = re.split(r"[_']", whole)
        # Babel writes Swiss millions 1234567'890: a first group of any size, where only a
        # mark that never is a decimal point groups.
        if len(groups) > 1 and not _groups_ok(groups, numbers, any_first="_" not in whole):
            return [], False
        plain = "".join(groups)
        if not re.fullmatch(r"\d+", plain) or not re.fullmatch(r"\d*", fraction):
            return [], False
        values.append(Decimal(f"{plain}.{fraction or 0}") * _MULTIPLIERS.get(suffix, 1))
    return values, any(len(re.split(r"[_']", whole)) > 1 for whole, _ in options)


def _groups_ok(parts: list[str], numbers: _Numbers, *, any_first: bool = False) -> bool:
    """Whether `parts` are digit groups in threes (1,234,567) or as the locale groups them
    (babel's grouping: 12,34,567 in en_IN)."""
    return any(
        (any_first or 1 <= len(parts[0]) <= secondary)
        and len(parts[-1]) == primary
        and all(len(part) == secondary for part in parts[1:-1])
        for primary, secondary in {(3, 3), numbers.grouping}
    )


def _money(
    found: _Amount, default_currency: str, numbers: _Numbers, picks: Mapping[str, str]
) -> Money:
    """The amount as Money; when its figure could be read two ways, the user's pick or the
    question (Ambiguous, answered with buttons)."""
    currency, locale = found.currency or default_currency, numbers.locale
    precision = get_currency_precision(currency)
    values, _ = _readings(found.number, found.suffix, numbers, precision=precision)
    if len(values) > 1:
        picked = _picked(picks, found.typed, len(values))
        if picked is None:
            raise Ambiguous(
                found.typed,
                [
                    Candidate(
                        "amount",
                        i,
                        _label(_minor(v, currency, found.typed, locale), currency, locale),
                    )
                    for i, v in enumerate(values)
                ],
            )
        values = [values[picked]]
    return Money(_minor(values[0], currency, found.typed, locale), currency)


def _picked(picks: Mapping[str, str], ref: str, count: int) -> int | None:
    """The button pressed for `ref` among `count` amounts (`a0`, `a1`, ...), if any."""
    picked = picks.get(ref, "")
    if picked[:1] == "a" and picked[1:].isdigit() and int(picked[1:]) < count:
        return int(picked[1:])
    return None


def _minor(value: Decimal, currency: str, typed: str, locale: str) -> int:
    precision = get_currency_precision(currency)
    minor = value.scaleb(precision)
    if minor != minor.to_integral_value():
        places = f"{precision} decimal{'s' if precision != 1 else ''}" if precision else "none"
        raise UsageError(
            f"“{typed}” has more decimals than {currency} has ({places}). "
            "Write it like 12000, 12.000 or 12,5k."
        )
    if minor > MAX_MINOR:
        raise UsageError(
            f"“{typed}” is more than one deal can hold: at most "
            f"{_label(MAX_MINOR, currency, locale)}."
        )
    return int(minor)


def _label(minor: int, currency: str, locale: str) -> str:
    major = Decimal(minor).scaleb(-get_currency_precision(currency))
    return format_currency(major, currency, locale=locale)


# --- the parsed arguments ------------------------------------------------------------------


@dataclass
class Args:
    """Parsed arguments. `take_*` methods consume what they recognise from the free words.

    A field's value is its text (`options`); the words it ran on over are kept apart, so a
    reader that needs only the first of them (`close:next friday Jane Doe`) gives the rest
    back to the free words, where they were typed."""

    raw: str
    words: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    # Where each free word ends in `raw` (kept in step with `words`), and each #tag typed.
    word_ends: list[int] = field(default_factory=list)
    tag_ends: list[int] = field(default_factory=list)
    # Per option: the text typed right after `key:`, and the words its value ran on over.
    heads: dict[str, str] = field(default_factory=dict)
    tails: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

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

    def first_run(self) -> int:
        """How many free words come first with no #tag typed between them (`Greta Lind
        #hot vip`: two; `#hot Greta Lind`: both)."""
        runs = [sum(tag < end for tag in self.tag_ends) for end in self.word_ends]
        return sum(run == runs[0] for run in runs) if runs else 0

    def quoted(self, n: int) -> bool:
        """Whether free word `n` was typed in quotes (`"Website relaunch"`)."""
        head = self.raw[: self.word_ends[n]].rstrip(",;.!?)")
        if not head or head[-1] not in _CLOSERS:
            return False
        inner = head[:-1].rstrip()
        if not inner.endswith(self.words[n]):
            return False
        before = inner[: len(inner) - len(self.words[n])].rstrip()
        return before[-1:] in QUOTES

    def option(self, *names: str) -> str | None:
        """Pop the first of `names` that was given (aliases, e.g. `addr` and `address`),
        with every word its value ran on over."""
        for name in names:
            if name in self.options:
                self.heads.pop(name, None)
                self.tails.pop(name, None)
                return self.options.pop(name).strip()
        return None

    def empty(self, name: str) -> None:
        """Make option `name` given empty (`phone: none`), with none of the words its value
        ran on over: a reader of the field's shape would give them back as words."""
        self.options[name] = ""
        self.heads[name] = ""
        self.tails[name] = []

    def take_phrase(
        self, name: str, read: Callable[[str], T | None], *, most: int = 6
    ) -> T | None:
        """Pop option `name` read by `read` from the start of its value: the longest
        readable run of at most `most` words after the text typed with the key
        (`close:next friday`, `phone:+49 151 23456789`). The words it does not need go back
        to the free words. None when the option was not given or is unreadable."""
        if name not in self.options:
            return None
        whole = self.options.pop(name)
        head = self.heads.pop(name, whole)
        tail = self.tails.pop(name, [])
        for n in range(min(most, len(tail)), -1, -1):
            text = " ".join([head, *(word for word, _ in tail[:n])]).strip(_TRIM)
            parsed = read(text) if text else None
            if parsed is not None:
                self._restore(tail[n:])
                return parsed
        self._restore(tail)
        return None

    def take_phone_field(self, region: str) -> str | None:
        """`phone:` (or `tel:` ...) in E.164, read up to where the number ends; None when not
        given or given empty; a clear refusal when it is not a phone number."""
        typed = self.options.get("phone", "").strip(_TRIM)
        number = self.take_phrase("phone", lambda text: read_phone(text, region))
        if number is None and typed:
            raise _not_a_phone(_phone_part(typed))
        return number

    def take_email_field(self) -> str | None:
        """`email:` (or `mail:`), its first word; None when not given or given empty."""
        typed = self.options.get("email", "").strip(_TRIM)
        email = self.take_phrase("email", _read_email, most=1)
        if email is None and typed:
            raise _not_an_email(typed.split()[0])
        return email

    def take_email(self) -> str | None:
        """The first e-mail address among the words, with the word that labels it (`Mail
        jane@acme.de`): that is no name's."""
        for i, word in enumerate(self.words):
            match = _EMAIL.match(word)
            if match:
                self._delete(range(_label_start(self.words, i, _EMAIL_LABELS), i + 1))
                return match.group(1).lower()
        return None

    def take_phone(self, region: str) -> str | None:
        """The first phone number among the words, in E.164 (`+4930123456`), with the word
        that labels it (`Tel. 030 1234567`, `Handy 0171 2345678`)."""
        for start, end, number in _phones(self.words, region):
            self._delete(range(_label_start(self.words, start, _PHONE_LABELS), end))
            return number
        return None

    def take_amount(
        self,
        default_currency: str,
        *,
        locale: str = "en_US",
        bare: bool = True,
        picks: Mapping[str, str] | None = None,
    ) -> Money | None:
        """The money amount among the words, read in `locale`: one written as money (with a
        currency, k/m or thousands groups), or, when `bare` is true, a bare number that is
        the last word and no year (`Website 12000`, not `Fleet 20 cars` or `Relaunch
        2026`). Two amounts written as money are asked about."""
        numbers = _numbers(locale)
        found = _amounts(self.words, numbers)
        chosen = [amount for amount in found if amount.marked]
        last = found[-1] if found else None
        if (
            not chosen
            and bare
            and last is not None
            and last.end == len(self.words)
            and not YEAR.fullmatch(last.number)
        ):
            chosen = [last]
        if not chosen:
            return None
        amount = chosen[0]
        if len(chosen) > 1:
            amount = _which_amount(chosen, default_currency, numbers, picks or {})
        money = _money(amount, default_currency, numbers, picks or {})
        self._delete(range(amount.start, amount.end))
        return money

    def _delete(self, indices: Iterable[int]) -> None:
        gone = set(indices)
        kept = [i for i in range(len(self.words)) if i not in gone]
        self.words = [self.words[i] for i in kept]
        self.word_ends = [self.word_ends[i] for i in kept]

    def _restore(self, words: list[tuple[str, int]]) -> None:
        """Give words back to the free words, each where it was typed."""
        for word, end in words:
            at = bisect.bisect(self.word_ends, end)
            self.words.insert(at, word)
            self.word_ends.insert(at, end)


def _which_amount(
    found: list[_Amount], currency: str, numbers: _Numbers, picks: Mapping[str, str]
) -> _Amount:
    """Several figures written as money (`5k then 20k`): the one the user picks."""
    ref = " / ".join(amount.typed for amount in found)
    picked = _picked(picks, ref, len(found))
    if picked is not None:
        return found[picked]
    labels = []
    for amount in found:
        try:
            money = _money(amount, currency, numbers, picks)
            labels.append(_label(money.minor, money.currency, numbers.locale))
        except (CommandError, Ambiguous):
            labels.append(amount.typed)
    raise Ambiguous(ref, [Candidate("amount", i, label) for i, label in enumerate(labels)])


def _amounts(words: list[str], numbers: _Numbers) -> list[_Amount]:
    """The amounts among the words, left to right, none overlapping."""
    found = []
    i = 0
    while i < len(words):
        amount = _amount_at(words, i, numbers)
        if amount is None:
            i += 1
            continue
        found.append(amount)
        i = amount.end
    return found


def _phones(words: list[str], region: str) -> Iterator[tuple[int, int, str]]:
    """Phone numbers among the words: (first word, after the last, E.164), found as they
    are asked for (every caller wants the first: the matcher's search for a next one
    costs as much again as its regex over the rest of the message)."""
    if sum(ch.isdigit() for word in words for ch in word) < 5:
        return
    # Words with letters are never part of a number, and one ending in a digit right before
    # it (`c5 030 1234567`) would stop phonenumbers from seeing the number at all.
    text, starts = _join_with_offsets(
        ["x" * len(word) if any(ch.isalpha() for ch in word) else word for word in words]
    )
    found = False
    for match in phonenumbers.PhoneNumberMatcher(text, region, phonenumbers.Leniency.VALID):
        number: str | None = _e164(match.number)
        first = bisect.bisect_right(starts, match.start) - 1
        last = bisect.bisect_left(starts, match.end)
        if _runs_into_word(text, match.end):
            # The match ends inside a word (`+49 30 123456 01512/3456789` read as one number
            # running into the next): only the whole words before it can be the number.
            last -= 1
            number = read_phone(" ".join(words[first:last]), region) if last > first else None
        if number is not None:
            found = True
            yield first, last, number
    if not found:
        yield from _dialled_after_digits(words, region)


def _dialled_after_digits(words: list[str], region: str) -> Iterator[tuple[int, int, str]]:
    """A number typed right after other digits (`company:Acme 66 030 123456`): the matcher
    takes the run of digit groups for one number, which is not valid, and finds none. From
    a group that starts as a number is dialled (0, +, a bracket) to the run's end, it may
    be one; the first such is the number."""
    i = 0
    while i < len(words):
        end = i
        while end < len(words) and PHONE_WORD.fullmatch(words[end]):
            end += 1
        for start in range(i + 1, end):
            if words[start][0] in "0+(":
                number = read_phone(" ".join(words[start:end]), region)
                if number is not None:
                    yield start, end, number
                    return
        i = max(end, i + 1)


# A word of a phone number as typed: digits with the separators people put between them,
# and a country code's + first (fullmatch).
PHONE_WORD = re.compile(r"(?:\+\d)?[\d()\-./]*\d[\d()\-./]*")


def _runs_into_word(text: str, end: int) -> bool:
    """Whether a match ending at `end` stops inside a word; punctuation closing the word
    (`+49 30 123456;`, `…123456),`) does not count."""
    if end >= len(text) or text[end].isspace():
        return False
    return text[end:].split(maxsplit=1)[0].strip(".,;:!?)]}»”’\"'") != ""


def limited(text: str, limit: int, what: str) -> str:
    """`text` stripped, or a clear refusal when it is longer than `limit`."""
    text = text.strip()
    if len(text) > limit:
        raise CommandError(f"{what} can be at most {limit} characters; this one has {len(text)}.")
    return text


def parse_email(text: str) -> str:
    email = _read_email(text)
    if email is None:
        raise _not_an_email(text)
    return email


def _not_an_email(text: str) -> UsageError:
    return UsageError(f"“{text}” is not an e-mail address I can read, e.g. jane@acme.com.")


def _read_email(text: str) -> str | None:
    match = _EMAIL.match(text.strip())
    return match.group(1).lower() if match else None


def read_phone(text: str, region: str) -> str | None:
    """`text` read whole as a phone number in E.164, or None. Only digits and what people
    put between them: phonenumbers would read letters as a keypad's (`Doe` as 363)."""
    if not _PHONE_CHARS.fullmatch(text) or not any(ch.isdigit() for ch in text):
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return _e164(number)


# Numbers read from messages lately, by their E.164 form: the answer to the command that
# read one shows it (`phone_number`), and parsing the stored form again for that cost
# 47 µs of an /add's ~2 ms (issue 17). Kept as E.164 holds them: no extension.
_READ: dict[str, phonenumbers.PhoneNumber] = {}
_READ_KEPT = 64


def _e164(number: phonenumbers.PhoneNumber) -> str:
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if len(_READ) >= _READ_KEPT:
        _READ.clear()
    _READ[e164] = phonenumbers.PhoneNumber(
        country_code=number.country_code,
        national_number=number.national_number,
        italian_leading_zero=number.italian_leading_zero,
        number_of_leading_zeros=number.number_of_leading_zeros,
    )
    return e164


def phone_number(phone: str) -> phonenumbers.PhoneNumber:
    """A stored phone number (E.164) as phonenumbers reads it: as a message just gave it,
    or parsed (raises NumberParseException)."""
    return _READ.get(phone) or phonenumbers.parse(phone)


def parse_phone(text: str, region: str) -> str:
    """A phone number in E.164, or a clear refusal."""
    number = read_phone(text, region)
    if number is None:
        raise _not_a_phone(text)
    return number


def _not_a_phone(text: str) -> UsageError:
    return UsageError(
        f"“{text}” is not a valid phone number. Write it with its country code, "
        "e.g. +49 30 1234567."
    )


def _phone_part(text: str) -> str:
    """The words of `text` that could belong to a phone number (the first word at least)."""
    words = text.split()
    n = 1
    while n < len(words) and _PHONE_CHARS.fullmatch(words[n]):
        n += 1
    return " ".join(words[:n])


def parse_coordinates(text: str) -> tuple[float, float] | None:
    """`52.52 13.40`, `52.52, 13.40`, `52.52,13.40`, `52,52 13,40` (decimal commas),
    `52.52°N 13.40°E`: a latitude and a longitude, or None when `text` is not two such
    numbers on Earth. `52,5` alone is a number with a decimal comma, not two."""
    spaced = re.sub(r"\s*;\s*|,\s+|°", " ", text.strip())
    parts = spaced.split()
    if len(parts) == 1 and parts[0].count(",") == 1 and parts[0].count(".") == 2:
        parts = parts[0].split(",")  # 52.52,13.40
    elif len(parts) == 1 and parts[0].count(",") == 3:
        numbers = parts[0].split(",")  # 52,52,13,40
        parts = [",".join(numbers[:2]), ",".join(numbers[2:])]
    values: list[float] = []
    for part in parts:
        hemisphere = part[-1:].upper()
        sign = -1.0 if hemisphere in ("S", "W") else 1.0
        if hemisphere in ("N", "S", "E", "W"):
            part = part[:-1]
            if not part and values:
                values[-1] *= sign  # "52.52 N"
                continue
        if not _COORDINATE.fullmatch(part):
            return None
        values.append(sign * float(part.replace(",", ".")))
    if len(values) != 2:
        return None
    lat, lon = values
    return (lat, lon) if -90 <= lat <= 90 and -180 <= lon <= 180 else None


_COMMAND_NAME = re.compile(r"[a-z][a-z0-9_]*")


def split_command(text: str) -> tuple[str, str] | None:
    """`/Stage@crm_bot 42 won` -> ("stage", "42 won"); None when it is not a command."""
    stripped = text.strip()
    if not stripped.startswith("/") or len(stripped) < 2:
        return None
    head, _, rest = stripped[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    if not name or not _COMMAND_NAME.fullmatch(name):
        return None
    return name, rest.strip()


# --- parsing -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Token:
    text: str  # as typed, or a quoted token's contents
    start: int
    end: int
    quoted: bool = False
    key: str | None = None  # the key of `key:value`, lowercased, as typed


def parse_args(
    text: str,
    *,
    keys: frozenset[str] = frozenset(),
    shapes: frozenset[str] = frozenset(),
    region: str = "ZZ",
    locale: str = "en_US",
) -> Args:
    """Split `text` into free words, tags and the options whose key is in `keys`, each
    option's value running on until the next key, tag or word of one of `shapes` (read with
    the team's `region` and `locale`)."""
    if len(text) > MAX_INPUT:
        raise CommandError(
            f"That message is too long ({len(text)} characters, at most {MAX_INPUT})."
        )
    args = Args(raw=text)
    current: str | None = None  # the option whose value is running on
    runs: list[tuple[str, list[_Token]]] = []  # option -> the plain words after its key
    for token in _tokens(text, keys=bool(keys)):
        key = _known_key(token.key, keys) if token.key is not None else None
        if token.key is not None and key is None:
            _refuse_unknown_key(token, keys)
            token = _Token(text[token.start : token.end], token.start, token.end)  # `Acme:`
        if key is not None:
            if key in args.options:
                raise UsageError(f"{key}: is there twice; give each field once.")
            args.options[key] = token.text
            args.heads[key] = token.text
            current = None if token.quoted else key
            if not token.quoted:
                runs.append((key, []))
        elif not token.quoted and (name := tag_name(token.text)):
            current = None
            args.tag_ends.append(token.end)
            if name not in args.tags:
                args.tags.append(name)
        elif current is not None:
            runs[-1][1].append(token)
        elif token.text:
            args.words.append(token.text)
            args.word_ends.append(token.end)
    for key, run in runs:
        words = [t.text for t in run]
        own = _OWN_SHAPE.get(key)
        cut = _shape_start(words, shapes - {own or ""}, region, locale)
        if own is not None:
            head = args.heads[key]
            # The field's own value read through all its words first: `phone:+46 70 123 45
            # 67` is one number, though `70 123` alone would read as an amount.
            whole = _own_end(head, words, own, region, locale)
            if whole is not None and whole > cut:
                cut = whole
            elif (found := _own_end(head, words[:cut], own, region, locale)) is not None:
                cut = found
        tail = [(t.text, t.end) for t in run[:cut]]
        args.tails[key] = tail
        # A comma after an unquoted value separates it from the next ("Acme, city:Berlin").
        # Quotes inside it are the value's (`company:Bodegas “El Sol” S.L.`).
        typed = (text[t.start : t.end] if t.quoted else t.text for t in run[:cut])
        run_on = " ".join([args.heads[key], *typed])
        args.options[key] = run_on.strip(_TRIM)
        args._restore([(t.text, t.end) for t in run[cut:] if t.text])
    return args


def _known_key(typed: str, keys: frozenset[str]) -> str | None:
    if typed in keys:
        return typed
    alias = KEY_ALIASES.get(typed)
    return alias if alias in keys else None


def _refuse_unknown_key(token: _Token, keys: frozenset[str]) -> None:
    """A `word:value` in a command that takes fields, whose word is not one of them: a
    misspelt field is named with the one meant; a value typed after an unknown key is
    refused rather than read as words (`position:CTO`). `Acme: …`, with nothing after the
    colon, stays a word, and so does anything in quotes."""
    assert token.key is not None
    aliases = {alias for alias, key in KEY_ALIASES.items() if key in keys}
    # Letters missing, extra, wrong or swapped; fewer when nothing follows the colon, which
    # is more often a word of its own ("Acme: new website").
    typos = 1 if len(token.key) <= 3 or not (token.text or token.quoted) else 2
    match = None
    for names in (sorted(keys | (aliases - _GERMAN_KEYS.keys())), sorted(aliases)):
        match = match or process.extractOne(
            token.key, names, scorer=DamerauLevenshtein.distance, score_cutoff=typos
        )
    if match is not None:
        meant = KEY_ALIASES.get(match[0], match[0])
        raise UsageError(f"I don't know the field {token.key}: — did you mean {meant}:?")
    if token.text or token.quoted:
        known = ", ".join(f"{key}:" for key in sorted(keys))
        raise UsageError(
            f"I don't know the field {token.key}: here (the fields are {known}). To keep "
            f"“{token.key}:{token.text}” as words, put it in quotes."
        )


def _shape_start(words: list[str], shapes: frozenset[str], region: str, locale: str) -> int:
    """Where the first word of one of `shapes` is among `words` (len(words) if none)."""
    first = len(words)
    if not words or not shapes:
        return first
    if EMAIL in shapes:
        at = next((i for i, word in enumerate(words) if _EMAIL.match(word)), first)
        first = _label_start(words, at, _EMAIL_LABELS)
    if AMOUNT in shapes:
        numbers = _numbers(locale)
        for amount in _amounts(words[:first], numbers):
            if amount.marked:
                first = min(first, amount.start)
                break
    if PHONE in shapes:
        start = next((start for start, _, _ in _phones(words[:first], region)), None)
        if start is None:
            # Not a valid number, but typed as one (`company:Acme (555) 123-4567`): no part of
            # the field, so that the command says what is wrong with it.
            start = _dialled_run_start(words[:first])
        if start is not None:
            first = min(first, _label_start(words, start, _PHONE_LABELS))
    return first


def _dialled_run_start(words: list[str]) -> int | None:
    """Where the words end in a run of digit groups typed as a phone number, if they do: one
    that begins with + or a bracket, or of seven digits or more with a dash or slash
    between them (`555-123-4567`). Not a house number and postcode (`Hauptstr. 12 10115`)."""
    start = len(words)
    while start and PHONE_WORD.fullmatch(words[start - 1]):
        start -= 1
    run = words[start:]
    if not run:
        return None
    digits = sum(ch.isdigit() for group in run for ch in group)
    marked = any(ch in "-/" for group in run for ch in group)
    return start if run[0][0] in "+(" or (digits >= 7 and marked) else None


def _label_start(words: list[str], start: int, labels: frozenset[str]) -> int:
    """Where a value found at word `start` begins with the label typed before it (`Tel.`
    before a phone, `E-Mail` before an address): a label is no part of the field before."""
    before = words[start - 1].lower().rstrip(".:") if 0 < start < len(words) else ""
    return start - 1 if before in labels else start


def _own_end(head: str, words: list[str], shape: str, region: str, locale: str) -> int | None:
    """How many of `words`, typed after `head`, belong to the first value of `shape` there
    (`phone:+49 30 1234567 Doe`: two; Doe is a word again); None when there is none."""
    together = [head, *words]
    if shape == EMAIL:
        ends = [i + 1 for i, word in enumerate(together) if _EMAIL.match(word)]
    elif shape == PHONE:
        ends = [end for _, end, _ in islice(_phones(together, region), 1)]
    else:
        ends = [amount.end for amount in _amounts(together, _numbers(locale))]
    return max(0, ends[0] - 1) if ends else None


def parse_tags(text: str) -> list[str]:
    """Tags typed into a form field, with or without #: `hot, #berlin` -> [hot, berlin]."""
    tags: list[str] = []
    for word in re.split(r"[\s,;]+", text.strip()):
        if not word:
            continue
        name = tag_name("#" + word.lstrip("#"))
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
    for opener, closer in (('"', '"'), ("“", "”"), ("«", "»"), ("「", "」")):
        if not any(ch in value for ch in QUOTES[opener]):
            return f"{opener}{value}{closer}"
    return '"' + value.replace('"', "").replace("”", "").replace("“", "") + '"'


def tag_name(token: str) -> str | None:
    """The tag `#Hot` names (`hot`), also listed with a comma (`#hot, #vip`); None when
    the token is no tag."""
    tag = _TAG.match(token.rstrip(",;"))
    return tag.group(1).lower().rstrip(".") if tag else None


def _tokens(text: str, *, keys: bool) -> list[_Token]:
    """Whitespace-separated tokens, each perhaps `key:` first (when the command takes
    keys); a quote at the start of a token (or of a key's value) runs to its closing quote,
    spaces included, when a closing quote ends a later word. An apostrophe inside a word
    (O'Brien, D’Angelo) is a letter, and so is a quote nothing closes."""
    tokens: list[_Token] = []
    n = len(text)
    i = _SPACES.match(text).end()  # type: ignore[union-attr]  # `\s*` always matches
    while i < n:
        start = i
        key_match = _KEY.match(text, i) if keys else None
        if key_match and text.startswith("//", key_match.end()):
            key_match = None  # a URL
        value_at = key_match.end() if key_match else i
        closed = _closing(text, value_at)
        key = key_match.group(1).lower() if key_match else None
        if closed is not None:
            close_at, end = closed
            inner = text[value_at + 1 : close_at].strip()
            tokens.append(_Token(inner, start, end, quoted=True, key=key))
            i = _SPACES.match(text, end).end()  # type: ignore[union-attr]
            continue
        i = _WORD.match(text, i).end()  # type: ignore[union-attr]  # `\S*` always matches
        value = text[value_at:i]
        if value[:1] in QUOTES and value[:1] not in "'‚‘":
            value = value[1:]  # an unclosed double quote: the words run on as if unquoted
        tokens.append(_Token(value, start, i, key=key))
        i = _SPACES.match(text, i).end()  # type: ignore[union-attr]
    return tokens


# Runs of what `str.isspace` calls space (`\s` in a str pattern is the same set), and of
# anything else: a message's words, found a run at a time rather than a letter at a time.
_SPACES = re.compile(r"\s*")
_WORD = re.compile(r"\S*")


def _closing(text: str, at: int) -> tuple[int, int] | None:
    """Where the quote opened at `at` closes, and where its token ends; None when there is
    no quote there or nothing closes it at the end of a word."""
    if at >= len(text) or text[at] not in QUOTES:
        return None
    closers = QUOTES[text[at]]
    for close_at in range(at + 1, len(text)):
        if text[close_at] in closers:
            after = _AFTER_CLOSER.match(text, close_at + 1)
            if after is not None:
                return close_at, after.start() + len(after.group().rstrip())
    return None


def _join_with_offsets(words: list[str]) -> tuple[str, list[int]]:
    starts, offset = [], 0
    for word in words:
        starts.append(offset)
        offset += len(word) + 1
    return " ".join(words), starts
