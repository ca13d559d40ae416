"""Reporting periods, read in the member's timezone: `this month`, `last quarter`, `2026`,
`Q3 2026`, `september`, `since 2026-09-01`, `last 30 days`, `2026-09-01 to 2026-10-15`.

A period is a half-open interval [start, end) of UTC instants whose edges are local
midnights in the member's timezone, so "November" for a rep in New York starts at
04:00 UTC on 1 November and a deal closed at 03:00 UTC on 1 December still counts in it.
Labels name the calendar days, so a figure can be checked against a spreadsheet.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from handlers.dates import CALENDAR_WEEK, MONTHS, add_months, calendar_week, in_english, read_day
from handlers.errors import UsageError

EXAMPLES = (
    "this month, last quarter, this year, 2026, Q3 2026, september, last 30 days, "
    "since 2026-09-01, 2026-09-01 to 2026-10-15"
)
_RELATIVE = re.compile(r"(this|current|last|previous|next) (day|week|month|quarter|year)")
_TRAILING = re.compile(r"(?:(?:last|past) )?(\d{1,4}) (day|week|month)s?")
_QUARTER = re.compile(r"q([1-4])(?:[ -]?(\d{4}))?|(\d{4})[ -]?q([1-4])")
_MONTH = re.compile(r"([a-z]+)\.?(?: (\d{4}))?")
_RANGE = re.compile(r"(?:from |between )?(.+?) (?:to|until|till|and|-|–|\.\.) (.+)")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_EPOCH = date(1970, 1, 1)
_LAST_YEAR = 9998


@dataclass(frozen=True, slots=True)
class _Reading:
    """What a period is read against: today and now in the member's timezone, and the
    team's locale for numeric days."""

    today: date
    tz: tzinfo
    now: datetime
    locale: str


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    label: str

    @property
    def slug(self) -> str:
        """The label as a file-name part: `Q4 2026` -> `q4-2026`."""
        return re.sub(r"[^a-z0-9]+", "-", self.label.lower()).strip("-") or "period"


@dataclass(frozen=True, slots=True)
class _Days:
    """Local calendar days [first, stop) and how to name them; `until_now` ends the period
    at the present moment instead of at midnight after the last day."""

    first: date
    stop: date
    label: str
    until_now: bool = False


def parse_period(text: str, *, tz: tzinfo, now: datetime, locale: str = "en_US") -> Period:
    """The period `text` names, or a UsageError that lists what it understands. Numeric
    days are read in the order `locale` writes them (`01.09.2026`, `9/1/2026`)."""
    words = in_english(text.lower().replace(",", " ").split(), locale=locale)
    phrase = " ".join(word for word in words if word)
    today = now.astimezone(tz).date()
    days = _phrase(phrase, _Reading(today, tz, now, locale))
    if days is None:
        raise UsageError(f"I can't read the period “{text.strip()}”. Try: {EXAMPLES}.")
    start = _midnight(days.first, tz)
    end = now if days.until_now else _midnight(days.stop, tz)
    if end <= start:
        raise UsageError(f"The period “{text.strip()}” ends before it starts.")
    return Period(start, end, days.label)


def _phrase(phrase: str, reading: _Reading) -> _Days | None:
    today = reading.today
    if phrase.startswith("since "):
        since = _single(phrase[6:], reading)
        if since is None:
            return None
        return _Days(since.first, today, f"since {_day_label(since.first)}", until_now=True)
    single = _single(phrase, reading)
    if single is not None:
        return single
    ranged = _RANGE.fullmatch(phrase)
    if ranged is None:
        return None
    first = _single(ranged.group(1), reading)
    last = _single(ranged.group(2), reading)
    if first is None or last is None:
        return None
    return _Days(first.first, last.stop, _span_label(first.first, last.stop))


def _single(phrase: str, reading: _Reading) -> _Days | None:
    """A period with no `since` or `to`: a named span, a year, quarter, month or day."""
    today = reading.today
    phrase = phrase.removeprefix("in ").strip()
    if phrase in ("today", "yesterday"):
        day = today - timedelta(days=phrase == "yesterday")
        return _Days(day, day + timedelta(days=1), _day_label(day))
    if phrase in ("all", "all time", "ever"):
        return _Days(_EPOCH, today, "all time", until_now=True)
    if phrase in ("ytd", "year to date"):
        return _Days(date(today.year, 1, 1), today, f"{today.year} to date", until_now=True)
    if relative := _RELATIVE.fullmatch(phrase):
        return _relative(relative.group(1), relative.group(2), today)
    if trailing := _TRAILING.fullmatch(phrase):
        return _trailing(int(trailing.group(1)), trailing.group(2), today)
    if re.fullmatch(r"\d{4}", phrase):
        return _year(int(phrase))
    if quarter := _QUARTER.fullmatch(phrase):
        number = int(quarter.group(1) or quarter.group(4))
        year = quarter.group(2) or quarter.group(3)
        return _quarter(int(year) if year else today.year, number)
    if week := CALENDAR_WEEK.fullmatch(phrase):
        monday = calendar_week(week, today, "past")
        if monday is None:
            return None
        iso = monday.isocalendar()
        return _Days(monday, monday + timedelta(days=7), f"week {iso.week} {iso.year}")
    if iso_month := re.fullmatch(r"(\d{4})-(\d{1,2})", phrase):
        return _month(int(iso_month.group(1)), int(iso_month.group(2)))
    if (month := _MONTH.fullmatch(phrase)) and month.group(1) in MONTHS:
        number = MONTHS[month.group(1)]
        if month.group(2):
            return _month(int(month.group(2)), number)
        # A month on its own is the latest one that has begun: in November, "december" is
        # last December, because reports look back.
        return _month(today.year if number <= today.month else today.year - 1, number)
    named = _day(phrase, reading)
    if named is None:
        return None
    return _Days(named, named + timedelta(days=1), _day_label(named))


def _day(phrase: str, reading: _Reading) -> date | None:
    """An ISO date, or a day in words or figures (`1 sep 2026`, `monday`, `01.09.2026`),
    read looking back. A day outside the years reports cover is refused."""
    day: date | None
    if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", phrase):
        try:
            day = date.fromisoformat("-".join(part.zfill(2) for part in phrase.split("-")))
        except ValueError:
            return None
    # Only phrases with a number or a weekday: a date parser makes a day out of anything.
    elif not re.search(r"\d", phrase) and not any(day in phrase for day in _WEEKDAYS):
        return None
    else:
        day = read_day(
            phrase, tz=reading.tz, now=reading.now, prefer="past", locale=reading.locale
        )
    if day is not None and not _EPOCH.year <= day.year <= _LAST_YEAR:
        raise UsageError(
            f"Reports cover the years {_EPOCH.year} to {_LAST_YEAR}; {day.isoformat()} is "
            "outside them."
        )
    return day


def _relative(which: str, unit: str, today: date) -> _Days | None:
    step = {"this": 0, "current": 0, "last": -1, "previous": -1, "next": 1}[which]
    if unit == "day":
        day = today + timedelta(days=step)
        return _Days(day, day + timedelta(days=1), _day_label(day))
    if unit == "week":
        monday = today - timedelta(days=today.weekday()) + timedelta(weeks=step)
        stop = monday + timedelta(days=7)
        return _Days(monday, stop, f"week of {_day_label(monday)}")
    if unit == "month":
        year, month = add_months(today.year, today.month, step)
        return _month(year, month)
    if unit == "quarter":
        year, month = add_months(today.year, (today.month - 1) // 3 * 3 + 1, 3 * step)
        return _quarter(year, (month - 1) // 3 + 1)
    return _year(today.year + step)


def _trailing(count: int, unit: str, today: date) -> _Days | None:
    """The last N days, weeks or months up to and including today."""
    if count < 1:
        return None
    stop = today + timedelta(days=1)
    if unit == "month":
        year, month = add_months(today.year, today.month, -count)
        first = date(year, month, min(today.day, monthrange(year, month)[1])) + timedelta(days=1)
    else:
        first = stop - timedelta(days=count * (7 if unit == "week" else 1))
    if first < _EPOCH:
        return None
    plural = "" if count == 1 else "s"
    return _Days(first, stop, f"last {count} {unit}{plural} ({_span_label(first, stop)})")


def _year(year: int) -> _Days | None:
    if not _EPOCH.year <= year <= _LAST_YEAR:
        return None
    return _Days(date(year, 1, 1), date(year + 1, 1, 1), str(year))


def _quarter(year: int, number: int) -> _Days | None:
    if not _EPOCH.year <= year <= _LAST_YEAR:
        return None
    first = date(year, 3 * number - 2, 1)
    stop_year, stop_month = add_months(year, first.month, 3)
    return _Days(first, date(stop_year, stop_month, 1), f"Q{number} {year}")


def _month(year: int, month: int) -> _Days | None:
    if not (_EPOCH.year <= year <= _LAST_YEAR and 1 <= month <= 12):
        return None
    stop_year, stop_month = add_months(year, month, 1)
    first = date(year, month, 1)
    return _Days(first, date(stop_year, stop_month, 1), first.strftime("%B %Y"))


def _midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def _day_label(day: date) -> str:
    return day.strftime("%-d %b %Y")


def _span_label(first: date, stop: date) -> str:
    """Calendar days [first, stop) as `1 Sep – 15 Oct 2026`."""
    last = stop - timedelta(days=1)
    if last <= first:
        return _day_label(first)
    head = first.strftime("%-d %b") if first.year == last.year else _day_label(first)
    return f"{head} – {_day_label(last)}"
