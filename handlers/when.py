"""When a reminder is due: `tomorrow 9am`, `in 2 hours`, `next friday`, `2h`, read in the
member's timezone.

Offsets in seconds, minutes and hours are real elapsed time (`in 2 hours` across a DST
change is still 120 minutes); days and weeks keep the local wall-clock time. A day without
a time means 09:00; a bare time that has already passed today means tomorrow. Everything
else goes to dateparser, phrase by phrase: inside `/remind` the time is found by trying
the words that can be part of a date, longest phrase first.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from handlers.dates import (
    CALENDAR_WEEK,
    DAY_OF_WEEK,
    MONTHS,
    WEEKDAY_NUMBER,
    add_months,
    calendar_week,
    day_of_week,
    in_english,
    numeric_day,
    parse_moment,
)

EXAMPLES = "tomorrow 9am, in 2 hours, next friday 14:30, 2026-12-15 10:00, 30m"
DEFAULT_TIME = time(9, 0)
MAX_PHRASE_WORDS = 8  # `in KW 51 am Freitag um 14 Uhr`
_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
}
_UNITS = {
    "seconds": ("s", "sec", "secs", "second", "seconds"),
    "minutes": ("m", "min", "mins", "minute", "minutes"),
    "hours": ("h", "hr", "hrs", "hour", "hours"),
    "days": ("d", "day", "days"),
    "weeks": ("w", "wk", "wks", "week", "weeks"),
    "months": ("month", "months"),
}
_UNIT = {alias: unit for unit, aliases in _UNITS.items() for alias in aliases}
_RELATIVE = re.compile(
    # A count in words is a word of its own: `am` is not "a m(inute)".
    r"^(?:in\s+)?(?P<n>[-+]?\d{1,4}(?:[.,]\d{1,2})?|(?:"
    + "|".join(_NUMBERS)
    + r")(?=\s))\s*(?P<unit>"
    + "|".join(sorted(_UNIT, key=len, reverse=True))
    + r")(?:\s+from\s+now)?$"
)
# Half hours said in words, and the end of the working day (`EOD`, `by close of business`):
# 17:00, as a working day ends.
_HALF_HOURS = {
    **dict.fromkeys(("half an hour", "a half hour", "half hour"), 30),
    **dict.fromkeys(("an hour and a half", "one and a half hours", "1 and a half hours"), 90),
}
_HALF_HOUR = re.compile(r"^(?:in\s+)?(?P<said>" + "|".join(_HALF_HOURS) + r")$")
_SAID_END_OF_DAY = (
    r"(?:(?:by|at|until)\s+)?(?:(?:the\s+)?end\s+of\s+(?:the\s+)?(?:day|business(?:\s+day)?)"
    r"|eod|cob|close\s+of\s+business)"
)
_END_OF_DAY = re.compile(rf"^{_SAID_END_OF_DAY}$")
END_OF_DAY = time(17, 0)
# The same inside a longer phrase (`friday eod`, `tomorrow by end of day`): its hour.
_END_OF_DAY_WORDS = re.compile(rf"\b{_SAID_END_OF_DAY}\b")
# `in 1h30` is an hour and a half from now; `9h30` alone is half past nine, as French and
# German speakers write a time.
_HOURS_AND_MINUTES = re.compile(r"^in\s+(?P<h>\d{1,2})\s*h\s*(?P<m>[0-5]\d)$")
_H_TIME = re.compile(r"\b([01]?\d|2[0-3])h([0-5]\d)\b")
# How people shorten words on a phone.
_SHORTHAND = {
    **dict.fromkeys(("tmrw", "tmr", "tmrow", "2moro", "2morrow"), "tomorrow"),
    "wk": "week",
}
# `15th`, `the 3rd`: a day of this month, or of the next once this one's has passed.
_ORDINAL_DAY = re.compile(r"\b\d{1,2}(?:st|nd|rd|th)\b")
_TIME = re.compile(
    r"\d{1,2}:\d{2}|\d\s*(?:am|pm|a\.m\.|p\.m\.)(?:\W|$)|\bat\s+\d"
    r"|\b(?:noon|midnight|morning|afternoon|evening|tonight|night|o'clock)\b"
)
_TIME_ONLY = re.compile(
    r"^(?:at\s+)?(?:\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)?|\d{1,2}[:.]\d{2}|noon|midnight)$"
)
# `9.30` (half past nine, as many Europeans write it), unless it is a day (`15.12`).
_DOTTED_TIME = re.compile(r"\b\d{1,2}\.[0-5]\d\b(?!\.)")
_WEEKDAYS = (
    "monday tuesday wednesday thursday friday saturday sunday "
    "mon tue tues wed thu thur thurs fri sat sun"
)
_MONTHS = " ".join(MONTHS)
_AT_HOUR = re.compile(r"\bat (\d{1,2})(?![\d:])(?!\s*(?:am|pm|a\.m\.|p\.m\.))")
# `tomorrow 10`, `friday 3`: a bare number after a day is its hour (not a day of the month).
_DAY_HOUR = re.compile(
    r"\b(today|tomorrow|tmrw|"
    + _WEEKDAYS.replace(" ", "|")
    + r")\s+(?=(?:[01]?\d|2[0-3])(?![\d:.])(?!\s+(?:"
    + _MONTHS.replace(" ", "|")
    + r")\b))"
)
# Words that name a time on their own; a phrase needs at least one (or a digit).
_MONTH_WORDS = frozenset(_MONTHS.split())
# `KW 51`, `in week 51 on friday`: a calendar week's Monday, or the day named in it.
_IN_CALENDAR_WEEK = re.compile(
    r"(?:in\s+)?"
    + CALENDAR_WEEK.pattern
    + r"(?:\s+(?:on\s+)?(?P<weekday>"
    + "|".join(WEEKDAY_NUMBER)
    + r"))?\b"
)
_ANCHORS = frozenset(
    (
        "today tomorrow tmrw yesterday tonight noon midnight morning afternoon evening "
        "night weekend am pm o'clock " + _WEEKDAYS + " " + _MONTHS + " " + " ".join(_UNIT) + " "
        "twelve fifteen twenty thirty one two three four five six seven eight nine ten "
        "eod cob eow end business"
    ).split()
) | {"day after tomorrow"}  # one word in German (`übermorgen`), as in_english writes it
_COUNTED = frozenset(
    alias for unit in ("seconds", "minutes", "hours") for alias in _UNITS[unit]
) | frozenset(("d", "w", "wk", "wks"))
_TIME_OF_DAY = frozenset(("am", "pm", "o'clock", "noon", "midnight", "tonight"))
_TIME_OF_DAY |= frozenset(("morning", "afternoon", "evening", "night"))
_NUMBER_FOLLOWERS = frozenset(("am pm a.m. p.m. " + _MONTHS).split())
# Words that only join the others ("next friday at 9"); a phrase never ends with one.
_JOINERS = frozenset(
    [
        "in",
        "on",
        "at",
        "by",
        "the",
        "a",
        "an",
        "of",
        "this",
        "next",
        "from",
        "after",
        "half",
        "past",
        "now",
    ]
)
# Words that are dates to dateparser but ordinary words to people, when they stand alone.
_TOO_VAGUE = frozenset(
    ["may", "sat", "sun", "wed", "mar", "march", "second", "a", "an", "now", "am", "pm"]
)


# A time of day as a word of its own: `14:30`, `9:00`, `3pm`.
_CLOCK = re.compile(r"(?:[01]?\d|2[0-3]):[0-5]\d|(?:1[0-2]|0?[1-9])\s?(?:am|pm)", re.IGNORECASE)


def says_time(words: list[str], locale: str = "en_US") -> bool:
    """Whether a time phrase names the time of day (`tomorrow 9am`, `friday 14 Uhr`), not
    only the day (`tomorrow`, `15.12.`), which then means 09:00."""
    return bool(_TIME.search(" ".join(_plain_words([w.lower() for w in words], locale))))


def clock_time(word: str) -> bool:
    """Whether `word` is a time of day written as one (`14:30`, `3pm`, `9:00,`)."""
    return bool(_CLOCK.fullmatch(word.strip(",.;!?()")))


@dataclass(frozen=True, slots=True)
class Found:
    """A time phrase among the words: words[start:end] read as `at`."""

    start: int
    end: int
    at: datetime


def read_when(
    text: str,
    *,
    tz: tzinfo,
    now: datetime,
    locale: str = "en_US",
    offset_from: datetime | None = None,
) -> datetime | None:
    """The moment `text` names, as aware UTC; None when it names none. An offset (`2h`,
    `in 3 days`) counts from `offset_from` when given (a snoozed reminder due later than
    now moves on from its due time), else from now; `in -5 minutes` is in the past."""
    phrase = " ".join(word for word in _plain_words(text.lower().split(), locale) if word)
    if not phrase:
        return None
    if hours_and_minutes := _HOURS_AND_MINUTES.match(phrase):
        base = now if offset_from is None else offset_from
        later = timedelta(
            hours=int(hours_and_minutes.group("h")), minutes=int(hours_and_minutes.group("m"))
        )
        return base.astimezone(UTC) + later
    if half := _HALF_HOUR.match(phrase):
        base = now if offset_from is None else offset_from
        return base.astimezone(UTC) + timedelta(minutes=_HALF_HOURS[half.group("said")])
    if _END_OF_DAY.match(phrase):
        return _utc(datetime.combine(now.astimezone(tz).date(), END_OF_DAY), tz)
    relative = _RELATIVE.match(phrase)
    if relative:
        backwards = relative.group("n").startswith("-")
        base = now if offset_from is None or backwards else offset_from
        return _offset(relative.group("n"), _UNIT[relative.group("unit")], tz=tz, now=base)
    if not _plausible(phrase.split()):
        return None
    # dateparser reads "at 9" as September; people mean nine o'clock. It reads `9.30`
    # after a day as nothing (keeping the time of now): the time is written with a colon.
    today = now.astimezone(tz).date()
    if week := _IN_CALENDAR_WEEK.match(phrase):
        monday = calendar_week(week, today, "future")
        if monday is None:
            return None
        day = monday + timedelta(days=WEEKDAY_NUMBER.get(week.group("weekday") or "", 0))
        phrase = day.isoformat() + phrase[week.end() :]
    elif week_day := DAY_OF_WEEK.match(phrase):
        day, week_end = day_of_week(week_day, today)
        at_end = f" {END_OF_DAY:%H:%M}" if week_end else ""
        phrase = day.isoformat() + at_end + phrase[week_day.end() :]
    phrase = _END_OF_DAY_WORDS.sub(f"at {END_OF_DAY:%H:%M}", phrase)
    phrase = _H_TIME.sub(r"\1:\2", phrase)
    phrase = _DOTTED_TIME.sub(lambda dotted: _colon_time(dotted, locale, today), phrase)
    phrase = _AT_HOUR.sub(_working_hour, _DAY_HOUR.sub(r"\1 at ", phrase))
    moment = parse_moment(phrase, tz=tz, now=now, locale=locale)
    if moment is None:
        return None
    local = moment.replace(tzinfo=None)
    if not _TIME.search(phrase):
        local = datetime.combine(local.date(), DEFAULT_TIME)
    elif _TIME_ONLY.match(phrase) and _utc(local, tz) <= now:
        local += timedelta(days=1)
    if (
        local.date() < today
        and _ORDINAL_DAY.search(phrase)
        and not _MONTH_WORDS & set(phrase.split())
    ):
        local = _next_month(local)
    return _utc(local, tz)


def _plain_words(words: list[str], locale: str) -> list[str]:
    """The words as dateparser is asked them: German in English (a German team's), and
    shorthand written out (`tmrw`)."""
    return [_SHORTHAND.get(word, word) for word in in_english(words, locale=locale)]


def _next_month(local: datetime) -> datetime:
    """The same day and time in the next month that has that day (the 31st skips April)."""
    year, month = local.year, local.month
    for _ in range(3):
        year, month = year + month // 12, month % 12 + 1
        try:
            return local.replace(year=year, month=month)
        except ValueError:
            continue
    return local


def _colon_time(match: re.Match[str], locale: str, today: date) -> str:
    """`9.30` as `9:30`, unless it is a day (`15.12`)."""
    dotted = match.group()
    if numeric_day(dotted, locale=locale, today=today, prefer="future") is not None:
        return dotted
    return dotted.replace(".", ":")


def _working_hour(match: re.Match[str]) -> str:
    """`at 2` without am or pm is two in the afternoon: in a working day nobody means two
    in the night (`at 2am` says so). From 7 on, the hour is taken as written."""
    hour = int(match.group(1))
    return f"at {hour + 12 if 1 <= hour <= 6 else hour}:00"


def find_when(
    words: list[str], *, tz: tzinfo, now: datetime, most_start: int, locale: str = "en_US"
) -> list[Found]:
    """For each start position up to `most_start`, the longest readable time phrase there."""
    found = []
    cleaned = _plain_words([word.lower().rstrip(",.;!") for word in words], locale)
    for start in range(min(most_start, len(words) - 1) + 1):
        if not _possible_word(cleaned[start]):
            continue
        longest = min(MAX_PHRASE_WORDS, len(words) - start)
        for length in range(longest, 0, -1):
            phrase = cleaned[start : start + length]
            if not all(_possible_word(word) for word in phrase):
                continue
            at = read_when(" ".join(phrase), tz=tz, now=now, locale=locale)
            if at is not None:
                length = _without_ignored_tail(phrase, at, tz=tz, now=now, locale=locale)
                found.append(Found(start, start + length, at))
                break
    return found


def _without_ignored_tail(
    phrase: list[str], at: datetime, *, tz: tzinfo, now: datetime, locale: str
) -> int:
    """How many words of `phrase` make the time: dateparser ignores trailing words it
    cannot place ("in 2 hours second"), which then belong to the text."""
    length = len(phrase)
    while (
        length > 1
        and phrase[length - 1]  # "" is a German `Uhr`: part of the time before it
        and not any(ch.isdigit() for ch in phrase[length - 1])
        and phrase[length - 1] not in _TIME_OF_DAY
        and read_when(" ".join(phrase[: length - 1]), tz=tz, now=now, locale=locale) == at
    ):
        length -= 1
    return length


def _possible_word(word: str) -> bool:
    # A German word may stand for several (`übermorgen`: "day after tomorrow").
    return all(
        part in _ANCHORS or part in _JOINERS or any(ch.isdigit() for ch in part)
        for part in word.split()
    )


def _plausible(words: list[str]) -> bool:
    if not all(_possible_word(word) for word in words) or words[-1] in _JOINERS:
        return False
    if len(words) == 1 and words[0] in _TOO_VAGUE:
        return False
    # A unit alone (`days` after `/remind c12 in 3`) counts nothing: dateparser reads none
    # of them as a time, after its costliest try (0.4 ms, the most of a /remind's phrases).
    if len(words) == 1 and words[0] in _UNIT:
        return False
    # "in 2" and "on 2" are a month to dateparser (February); to people, a count whose
    # unit is missing ("in 2 Stunden" in another language): no time, rather than a guess.
    if len(words) == 2 and words[0] in ("in", "on") and words[1].isdigit():
        return False
    # A leading bare number is an id or a count ("42 tomorrow"), unless a month or am/pm
    # follows it ("15 december", "3 pm").
    if words[0].isdigit() and (len(words) == 1 or words[1] not in _NUMBER_FOLLOWERS):
        return False
    # "hours" and "min" count something: a number comes first ("2 hours", "an hour").
    for before, word in zip(["", *words], words, strict=False):
        if word in _COUNTED and not (before.isdigit() or before in _NUMBERS):
            return False
    return any(word in _ANCHORS or any(ch.isdigit() for ch in word) for word in words)


def _offset(count: str, unit: str, *, tz: tzinfo, now: datetime) -> datetime:
    n = _NUMBERS[count] if count in _NUMBERS else float(count.replace(",", "."))
    if unit == "months":
        # The same day of the month (or the month's last) at the same wall-clock time; a
        # part of a month (`1.5 months`) as days of thirty.
        local = now.astimezone(tz).replace(tzinfo=None)
        year, month = add_months(local.year, local.month, int(n))
        day = min(local.day, monthrange(year, month)[1])
        later = local.replace(year=year, month=month, day=day)
        return _utc(later + timedelta(days=round((n - int(n)) * 30)), tz)
    if unit in ("days", "weeks"):
        local = now.astimezone(tz).replace(tzinfo=None) + timedelta(**{unit: n})
        return _utc(local, tz)
    return now.astimezone(UTC) + timedelta(**{unit: n})


def _utc(local: datetime, tz: tzinfo) -> datetime:
    """A local wall-clock time in `tz` as UTC (a time skipped by DST moves forward)."""
    return local.replace(tzinfo=tz).astimezone(UTC)
