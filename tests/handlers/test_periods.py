"""Reporting periods, read in the member's timezone into [start, end) UTC bounds."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from handlers.errors import UsageError
from handlers.periods import parse_period

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday
BERLIN, NEW_YORK, TOKYO = (
    ZoneInfo("Europe/Berlin"),
    ZoneInfo("America/New_York"),
    ZoneInfo("Asia/Tokyo"),
)


def utc(year: int, month: int, day: int, hour: int) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "start", "end", "label"),
    [
        ("this month", utc(2026, 10, 31, 23), utc(2026, 11, 30, 23), "November 2026"),
        ("last month", utc(2026, 9, 30, 22), utc(2026, 10, 31, 23), "October 2026"),
        ("this quarter", utc(2026, 9, 30, 22), utc(2026, 12, 31, 23), "Q4 2026"),
        ("last quarter", utc(2026, 6, 30, 22), utc(2026, 9, 30, 22), "Q3 2026"),
        ("next quarter", utc(2026, 12, 31, 23), utc(2027, 3, 31, 22), "Q1 2027"),
        ("this year", utc(2025, 12, 31, 23), utc(2026, 12, 31, 23), "2026"),
        ("2025", utc(2024, 12, 31, 23), utc(2025, 12, 31, 23), "2025"),
        ("Q3 2026", utc(2026, 6, 30, 22), utc(2026, 9, 30, 22), "Q3 2026"),
        ("2026-q1", utc(2025, 12, 31, 23), utc(2026, 3, 31, 22), "Q1 2026"),
        ("q2", utc(2026, 3, 31, 22), utc(2026, 6, 30, 22), "Q2 2026"),
        ("2026-09", utc(2026, 8, 31, 22), utc(2026, 9, 30, 22), "September 2026"),
        ("September", utc(2026, 8, 31, 22), utc(2026, 9, 30, 22), "September 2026"),
        ("sep 2025", utc(2025, 8, 31, 22), utc(2025, 9, 30, 22), "September 2025"),
        # A month on its own is the latest one that has begun: reports look back.
        ("december", utc(2025, 11, 30, 23), utc(2025, 12, 31, 23), "December 2025"),
        ("this week", utc(2026, 11, 22, 23), utc(2026, 11, 29, 23), "week of 23 Nov 2026"),
        ("today", utc(2026, 11, 22, 23), utc(2026, 11, 23, 23), "23 Nov 2026"),
        ("yesterday", utc(2026, 11, 21, 23), utc(2026, 11, 22, 23), "22 Nov 2026"),
        ("2026-09-01", utc(2026, 8, 31, 22), utc(2026, 9, 1, 22), "1 Sep 2026"),
        ("since 2026-09-01", utc(2026, 8, 31, 22), NOW, "since 1 Sep 2026"),
        ("since last month", utc(2026, 9, 30, 22), NOW, "since 1 Oct 2026"),
        ("since friday", utc(2026, 11, 19, 23), NOW, "since 20 Nov 2026"),  # looks back
        ("ytd", utc(2025, 12, 31, 23), NOW, "2026 to date"),
        (
            "last 30 days",
            utc(2026, 10, 24, 22),
            utc(2026, 11, 23, 23),
            "last 30 days (25 Oct – 23 Nov 2026)",
        ),
        (
            "last 3 months",
            utc(2026, 8, 23, 22),
            utc(2026, 11, 23, 23),
            "last 3 months (24 Aug – 23 Nov 2026)",
        ),
        (
            "2026-09-01 to 2026-10-15",
            utc(2026, 8, 31, 22),
            utc(2026, 10, 15, 22),
            "1 Sep – 15 Oct 2026",
        ),
        (
            "from september to october",
            utc(2026, 8, 31, 22),
            utc(2026, 10, 31, 23),
            "1 Sep – 31 Oct 2026",
        ),
        (
            "between Q1 and Q2 2026",
            utc(2025, 12, 31, 23),
            utc(2026, 6, 30, 22),
            "1 Jan – 30 Jun 2026",
        ),
    ],
)
def test_periods_in_berlin(text: str, start: datetime, end: datetime, label: str) -> None:
    period = parse_period(text, tz=BERLIN, now=NOW)
    assert (period.start, period.end, period.label) == (start, end, label)


def test_the_same_words_mean_different_instants_in_other_timezones() -> None:
    # 1 Dec 03:00 UTC is still November in New York (EST, UTC-5) but December in Tokyo.
    late = utc(2026, 12, 1, 3)
    new_york = parse_period("this month", tz=NEW_YORK, now=late)
    tokyo = parse_period("this month", tz=TOKYO, now=late)
    assert new_york.label == "November 2026" and tokyo.label == "December 2026"
    # November in New York begins in summer time (UTC-4) and ends in winter time (UTC-5).
    assert (new_york.start, new_york.end) == (utc(2026, 11, 1, 4), utc(2026, 12, 1, 5))
    assert tokyo.start == utc(2026, 11, 30, 15)
    assert parse_period("today", tz=TOKYO, now=NOW).label == "23 Nov 2026"
    assert parse_period("today", tz=TOKYO, now=utc(2026, 11, 23, 15)).label == "24 Nov 2026"


def test_slugs_name_files() -> None:
    assert parse_period("Q3 2026", tz=BERLIN, now=NOW).slug == "q3-2026"
    assert parse_period("since 2026-09-01", tz=BERLIN, now=NOW).slug == "since-1-sep-2026"


@pytest.mark.parametrize(
    "text", ["nonsense", "soon", "2026-13", "2026-02-30", "q5", "last 0 days", "1969"]
)
def test_unreadable_periods_are_refused_with_examples(text: str) -> None:
    with pytest.raises(UsageError, match="can't read the period") as refused:
        parse_period(text, tz=BERLIN, now=NOW)
    assert "last quarter" in refused.value.message


def test_periods_that_end_before_they_begin_are_refused() -> None:
    with pytest.raises(UsageError, match="ends before it starts"):
        parse_period("2026-10-15 to 2026-09-01", tz=BERLIN, now=NOW)
    with pytest.raises(UsageError, match="ends before it starts"):
        parse_period("since 2027-01-01", tz=BERLIN, now=NOW)


def test_numeric_days_in_the_teams_order() -> None:
    dotted = parse_period("01.09.2026 to 15.10.2026", tz=UTC, now=NOW, locale="de_DE")
    assert (dotted.start, dotted.end) == (utc(2026, 9, 1, 0), utc(2026, 10, 16, 0))
    # Day and month either way round: the one that is a date (the order is babel's, in
    # test_dates).
    for locale in ("en_US", "en_GB"):
        for typed in ("since 9/15/2026", "since 15/9/2026"):
            period = parse_period(typed, tz=UTC, now=NOW, locale=locale)
            assert period.start == utc(2026, 9, 15, 0)
    assert parse_period("since 15.12.", tz=UTC, now=NOW, locale="en_US").start == utc(
        2025, 12, 15, 0
    )  # looking back


@pytest.mark.parametrize("text", ["since 0001-01-01", "0001-01-01 to 9999-12-31"])
def test_days_at_the_calendars_edges_are_refused_clearly(text: str) -> None:
    with pytest.raises(UsageError, match="Reports cover the years 1970 to 9998"):
        parse_period(text, tz=BERLIN, now=NOW)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("dieses Jahr", "2026"),
        ("letzter Monat", "October 2026"),
        ("vorigen Monat", "October 2026"),
        ("diese Woche", "week of 23 Nov 2026"),
        ("vergangene Woche", "week of 16 Nov 2026"),
        ("dieses Quartal", "Q4 2026"),
        ("letzte 30 Tage", "last 30 days (25 Oct – 23 Nov 2026)"),
        ("seit 1.10.", "since 1 Oct 2026"),
        ("Oktober", "October 2026"),
        ("gestern", "22 Nov 2026"),
    ],
)
def test_a_german_team_names_its_periods_in_german(text: str, label: str) -> None:
    assert parse_period(text, tz=BERLIN, now=NOW, locale="de_DE").label == label
    with pytest.raises(UsageError):
        parse_period(text, tz=BERLIN, now=NOW)  # an English team's words are English


@pytest.mark.parametrize(
    ("text", "label", "first_day"),
    [
        ("KW 47", "week 47 2026", "2026-11-16"),
        ("kw48", "week 48 2026", "2026-11-23"),  # this one, so far
        ("KW 49", "week 49 2025", "2025-12-01"),  # not begun: reports look back
        ("KW 1/2026", "week 1 2026", "2025-12-29"),  # ISO weeks start on a Monday
        ("week 47", "week 47 2026", "2026-11-16"),
        ("calendar week 12 2026", "week 12 2026", "2026-03-16"),
    ],
)
def test_a_calendar_week_is_monday_to_sunday(text: str, label: str, first_day: str) -> None:
    period = parse_period(text, tz=BERLIN, now=NOW, locale="de_DE")
    assert period.label == label
    assert period.start.astimezone(BERLIN).date().isoformat() == first_day
    assert (period.end - period.start).days == 7
