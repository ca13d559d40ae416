"""Dates and times read in the member's timezone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel import localedata
from babel.dates import get_date_format

from handlers.dates import numeric_day, parse_moment, read_day, take_day
from handlers.errors import UsageError
from handlers.grammar import parse_args

NOW = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # Monday 23:30 UTC, already Tuesday in Tokyo
TOKYO, NEW_YORK = ZoneInfo("Asia/Tokyo"), ZoneInfo("America/New_York")


def test_relative_days_depend_on_the_members_timezone() -> None:
    assert read_day("tomorrow", tz=TOKYO, now=NOW) == date(2026, 11, 25)
    assert read_day("tomorrow", tz=NEW_YORK, now=NOW) == date(2026, 11, 24)
    assert read_day("next friday", tz=NEW_YORK, now=NOW) == date(2026, 11, 27)
    assert read_day("2026-12-15", tz=TOKYO, now=NOW) == date(2026, 12, 15)
    assert read_day("in 3 weeks", tz=NEW_YORK, now=NOW) == date(2026, 12, 14)
    assert read_day("someday maybe", tz=TOKYO, now=NOW) is None


def test_moments_are_aware_in_the_members_zone() -> None:
    moment = parse_moment("tomorrow 9am", tz=NEW_YORK, now=NOW)
    assert moment is not None
    assert moment.astimezone(UTC) == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    iso = parse_moment("2026-12-01T10:00", tz=TOKYO, now=NOW)
    assert iso is not None and iso.astimezone(UTC) == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    assert parse_moment("", tz=TOKYO, now=NOW) is None


def test_take_day_runs_over_the_following_words_only_as_far_as_needed() -> None:
    args = parse_args("Website close:next friday Jane Doe", keys=frozenset({"close"}))
    assert take_day(args, "close", tz=NEW_YORK, now=NOW) == date(2026, 11, 27)
    assert args.words == ["Website", "Jane", "Doe"]
    quoted = parse_args('close:"15 dec" x', keys=frozenset({"close"}))
    assert take_day(quoted, "close", tz=NEW_YORK, now=NOW) == date(2026, 12, 15)
    assert take_day(parse_args("x"), "close", tz=NEW_YORK, now=NOW) is None
    with pytest.raises(UsageError, match="can't read the date"):
        take_day(
            parse_args("close:soonish", keys=frozenset({"close"})), "close", tz=TOKYO, now=NOW
        )


def _month_first(locale: str) -> bool:
    """What babel says: does the locale's short date pattern put the month first?"""
    letters = [ch for ch in get_date_format("short", locale=locale).pattern if ch in "dM"]
    return letters.index("M") < letters.index("d")


@pytest.mark.parametrize("locale", ["en_US", "en_GB", "de_DE", "fr_FR", "ja_JP", "en_CA"])
def test_numeric_days_in_the_order_the_locale_writes_them(locale: str) -> None:
    today = date(2026, 11, 23)
    expected = date(2027, 5, 6) if _month_first(locale) else date(2027, 6, 5)
    assert numeric_day("05/06", locale=locale, today=today, prefer="future") == expected
    # Where only one order is a date, that one.
    for typed in ("15/12", "12/15", "15-12", "15/12/2026", "12/15/26"):
        assert numeric_day(typed, locale=locale, today=today, prefer="future") == date(
            2026, 12, 15
        ), typed


def test_dotted_days_are_day_first() -> None:
    today = date(2026, 11, 23)
    for typed in ("15.12.", "15.12", "15.12.2026", "15.12.26"):
        for locale in ("en_US", "de_DE", "en_GB"):
            assert numeric_day(typed, locale=locale, today=today, prefer="future") == date(
                2026, 12, 15
            )
    assert numeric_day("05.06.", locale="en_US", today=today, prefer="future") == date(2027, 6, 5)
    # `9.30` is half past nine, not a day: no month 30 and no swapping with dots.
    assert numeric_day("9.30", locale="en_US", today=today, prefer="future") is None
    # Year first: 2026/12/15.
    assert numeric_day("2026/12/15", locale="en_US", today=today, prefer="future") == date(
        2026, 12, 15
    )


def test_no_locale_writes_month_dot_day() -> None:
    """Why dots mean day first: of babel's locales whose own short dates use dots, those
    that do not start with the year put the day before the month."""
    month_dot_day = []
    for locale in localedata.locale_identifiers():
        pattern = get_date_format("short", locale=locale).pattern
        letters = [ch for ch in pattern if ch in "dMy"]
        if "." in pattern and letters[0] != "y" and _month_first(locale):
            month_dot_day.append((locale, pattern))
    assert month_dot_day == []


def test_a_day_without_a_year_is_the_next_one_or_the_last_one() -> None:
    today = date(2026, 11, 23)
    assert numeric_day("1.1.", locale="de_DE", today=today, prefer="future") == date(2027, 1, 1)
    assert numeric_day("1.1.", locale="de_DE", today=today, prefer="past") == date(2026, 1, 1)
    assert numeric_day("23.11.", locale="de_DE", today=today, prefer="future") == today
    assert numeric_day("29.02.", locale="de_DE", today=today, prefer="future") == date(2028, 2, 29)
    assert numeric_day("31.02.", locale="de_DE", today=today, prefer="future") is None


def test_written_dates_and_times_after_a_numeric_day() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    for typed, day in [
        ("15.12.", date(2026, 12, 15)),
        ("Dec 15", date(2026, 12, 15)),
        ("15 Dec", date(2026, 12, 15)),
        ("in 2 weeks", date(2026, 12, 8)),  # it is already Tuesday in Berlin
        ("next friday", date(2026, 11, 27)),
    ]:
        assert read_day(typed, tz=berlin, now=NOW, locale="en_US") == day, typed
    moment = parse_moment("15.12. 3pm", tz=berlin, now=NOW, locale="de_DE")
    assert moment == datetime(2026, 12, 15, 15, 0, tzinfo=berlin)
    assert parse_moment("15.12. tomorrow", tz=berlin, now=NOW, locale="de_DE") is None


def test_close_dates_far_away_are_refused_clearly() -> None:
    for typed in ("0001-01-01", "9999-12-31", "2040-01-01"):
        args = parse_args(f"close:{typed}", keys=frozenset({"close"}))
        with pytest.raises(UsageError, match="more than ten years from today"):
            take_day(args, "close", tz=TOKYO, now=NOW)
    assert read_day("1.1.0001", tz=TOKYO, now=NOW) is None
    assert parse_moment("0001-01-01T10:00", tz=TOKYO, now=NOW) is None


@pytest.mark.parametrize(
    ("text", "now", "expected"),
    [
        ("end of month", datetime(2028, 2, 10, 9, tzinfo=UTC), date(2028, 2, 29)),  # leap
        ("End of the quarter", datetime(2026, 11, 23, 9, tzinfo=UTC), date(2026, 12, 31)),
        ("eoq", datetime(2026, 4, 1, 9, tzinfo=UTC), date(2026, 6, 30)),
        ("EOY", datetime(2026, 12, 31, 9, tzinfo=UTC), date(2026, 12, 31)),
        # Already 1 December in Auckland: that month's end, not November's.
        ("end of month", datetime(2026, 11, 30, 12, tzinfo=UTC), date(2026, 12, 31)),
    ],
)
def test_the_end_of_a_period_is_its_last_day(text: str, now: datetime, expected: date) -> None:
    assert read_day(text, tz=ZoneInfo("Pacific/Auckland"), now=now) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Q1", date(2027, 3, 31)),
        ("q4", date(2026, 12, 31)),  # this one has not ended
        ("Q2 2027", date(2027, 6, 30)),
        ("Q3/27", date(2027, 9, 30)),
        ("end of Q1", date(2027, 3, 31)),
        ("by the end of March", date(2027, 3, 31)),
        ("end of Sept", date(2027, 9, 30)),
        ("end of November", date(2026, 11, 30)),  # today
        ("mid-April", date(2027, 4, 15)),
        ("mid May 2028", date(2028, 5, 15)),
        ("next quarter", date(2027, 3, 31)),
        ("end of next month", date(2026, 12, 31)),
        ("end of next year", date(2027, 12, 31)),
        ("end of 2027", date(2027, 12, 31)),
        # A day of a named week (dateparser: the week alone, or the day in this week).
        ("tuesday next week", date(2026, 12, 1)),
        ("next week tuesday", date(2026, 12, 1)),
        ("friday this week", date(2026, 11, 27)),
        ("end of week", date(2026, 11, 27)),
        ("by the end of next week", date(2026, 12, 4)),
        # A calendar week: its Friday, the next such week that has not ended.
        ("KW 50", date(2026, 12, 11)),
        ("KW48", date(2026, 11, 27)),
        ("kw 47", date(2027, 11, 26)),
        ("week 2", date(2027, 1, 15)),
        ("KW 53", date(2027, 1, 1)),  # 2026 has 53 weeks
        ("KW 2/2028", date(2028, 1, 14)),
        ("KW 54", None),
    ],
)
def test_close_dates_as_sales_people_give_them(text: str, expected: date | None) -> None:
    assert read_day(text, tz=NEW_YORK, now=NOW) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("March", date(2027, 3, 31)),  # not the 23rd, today's day of the month
        ("in Sept", date(2027, 9, 30)),
        ("November", date(2026, 11, 30)),  # this one, not next year's
        ("Dec 2027", date(2027, 12, 31)),
        ("Dec 15", date(2026, 12, 15)),  # a day of it is that day
    ],
)
def test_a_deal_closing_in_a_month_closes_by_its_end(text: str, expected: date) -> None:
    assert read_day(text, tz=NEW_YORK, now=NOW) == expected


def test_a_quarter_or_month_looking_back_is_the_last_one() -> None:
    assert read_day("Q1", tz=NEW_YORK, now=NOW, prefer="past") == date(2026, 3, 31)
    assert read_day("end of December", tz=NEW_YORK, now=NOW, prefer="past") == date(2025, 12, 31)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ende März", date(2027, 3, 31)),
        ("Mitte April", date(2027, 4, 15)),
        ("nächstes Quartal", date(2027, 3, 31)),
        ("Ende nächsten Monats", date(2026, 12, 31)),
        ("Quartalsende", date(2026, 12, 31)),
        ("Ende des Jahres", date(2026, 12, 31)),
        ("Ende Q1", date(2027, 3, 31)),
        ("Dienstag nächste Woche", date(2026, 12, 1)),
        ("Ende der Woche", date(2026, 11, 27)),
        ("im März", date(2027, 3, 31)),
        ("Dezember", date(2026, 12, 31)),
    ],
)
def test_a_german_team_gives_close_dates_in_german(text: str, expected: date) -> None:
    assert read_day(text, tz=NEW_YORK, now=NOW, locale="de_DE") == expected
    assert read_day(text, tz=NEW_YORK, now=NOW) in (None, expected)


FRIDAY = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)  # a Friday in Berlin


@pytest.mark.parametrize(
    ("text", "on_friday", "on_saturday", "on_thursday"),
    [
        ("friday", date(2026, 3, 13), date(2026, 3, 13), date(2026, 3, 6)),
        ("next Friday", date(2026, 3, 13), date(2026, 3, 13), date(2026, 3, 6)),
        ("on friday", date(2026, 3, 13), date(2026, 3, 13), date(2026, 3, 6)),
        ("this friday", date(2026, 3, 6), date(2026, 3, 13), date(2026, 3, 6)),
        ("next monday", date(2026, 3, 9), date(2026, 3, 9), date(2026, 3, 9)),
        ("Sunday", date(2026, 3, 8), date(2026, 3, 8), date(2026, 3, 8)),
    ],
)
def test_a_weekday_is_the_next_one_this_week_s_with_this(
    text: str, on_friday: date, on_saturday: date, on_thursday: date
) -> None:
    berlin, auckland = ZoneInfo("Europe/Berlin"), ZoneInfo("Pacific/Auckland")
    assert read_day(text, tz=berlin, now=FRIDAY) == on_friday
    # 12:00 UTC on Friday is already Saturday in Auckland.
    assert read_day(text, tz=auckland, now=FRIDAY) == on_saturday
    assert read_day(text, tz=berlin, now=FRIDAY - timedelta(days=1)) == on_thursday


def test_a_weekday_in_german_and_looking_back() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert read_day("nächsten Freitag", tz=berlin, now=FRIDAY, locale="de_DE") == date(2026, 3, 13)
    assert read_day("am Freitag", tz=berlin, now=FRIDAY, locale="de_DE") == date(2026, 3, 13)
    assert read_day("friday", tz=berlin, now=FRIDAY, prefer="past") == date(2026, 2, 27)
