"""Reading when a reminder is due, in several timezones and across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from handlers.when import find_when, read_when

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # Monday, 10:30 in Berlin


def _local(text: str, tz: ZoneInfo = BERLIN, now: datetime = NOW) -> str | None:
    moment = read_when(text, tz=tz, now=now)
    return None if moment is None else moment.astimezone(tz).strftime("%a %Y-%m-%d %H:%M:%S")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tomorrow 9am", "Tue 2026-11-24 09:00:00"),
        ("tomorrow", "Tue 2026-11-24 09:00:00"),  # a day without a time: 09:00
        ("next friday", "Fri 2026-11-27 09:00:00"),
        ("friday 14:30", "Fri 2026-11-27 14:30:00"),
        ("next friday at 3pm", "Fri 2026-11-27 15:00:00"),
        ("tomorrow at 9", "Tue 2026-11-24 09:00:00"),  # not September
        ("2026-12-15", "Tue 2026-12-15 09:00:00"),
        ("2026-12-15 10:00", "Tue 2026-12-15 10:00:00"),
        ("15 december", "Tue 2026-12-15 09:00:00"),
        ("in 2 hours", "Mon 2026-11-23 12:30:00"),
        ("in 10 seconds", "Mon 2026-11-23 10:30:10"),
        ("an hour", "Mon 2026-11-23 11:30:00"),
        ("30m", "Mon 2026-11-23 11:00:00"),
        ("2h", "Mon 2026-11-23 12:30:00"),
        ("in 3 days", "Thu 2026-11-26 10:30:00"),
        ("in a week", "Mon 2026-11-30 10:30:00"),
        ("15:00", "Mon 2026-11-23 15:00:00"),  # later today
        ("9am", "Tue 2026-11-24 09:00:00"),  # passed today: tomorrow
        ("at 9", "Tue 2026-11-24 09:00:00"),
        ("at 2", "Mon 2026-11-23 14:00:00"),  # in the afternoon, not the night
        ("tomorrow at 6", "Tue 2026-11-24 18:00:00"),
        ("at 2am", "Tue 2026-11-24 02:00:00"),
        ("at 7", "Tue 2026-11-24 07:00:00"),
        ("at 12", "Mon 2026-11-23 12:00:00"),
        ("tomorrow 10", "Tue 2026-11-24 10:00:00"),  # the hour, not a number to drop
        ("friday 3", "Fri 2026-11-27 15:00:00"),
        ("tomorrow 9.30", "Tue 2026-11-24 09:30:00"),  # not the time of now
        ("monday 15 december", "Tue 2026-12-15 09:00:00"),  # a day of December
        ("tonight", "Mon 2026-11-23 20:00:00"),
        ("this evening", "Mon 2026-11-23 18:00:00"),
        ("tomorrow morning", "Tue 2026-11-24 09:00:00"),
        ("friday afternoon", "Fri 2026-11-27 15:00:00"),
    ],
)
def test_reads_times_in_the_members_timezone(text: str, expected: str) -> None:
    assert _local(text) == expected


@pytest.mark.parametrize(
    "text", ["", "someday", "Jane", "call", "a", "42", "may", "now", "the", "am", "pm"]
)
def test_unreadable_or_vague_words_are_not_times(text: str) -> None:
    assert read_when(text, tz=BERLIN, now=NOW) is None


@pytest.mark.parametrize(
    ("zone", "utc"),
    [
        ("Europe/Berlin", "2026-11-24 08:00"),
        ("America/Los_Angeles", "2026-11-24 17:00"),
        ("Asia/Tokyo", "2026-11-24 00:00"),
        ("Asia/Kolkata", "2026-11-24 03:30"),
        ("UTC", "2026-11-24 09:00"),
    ],
)
def test_tomorrow_nine_in_several_timezones(zone: str, utc: str) -> None:
    moment = read_when("tomorrow 9am", tz=ZoneInfo(zone), now=NOW)
    assert moment is not None
    assert moment.strftime("%Y-%m-%d %H:%M") == utc


def test_across_the_autumn_dst_change_in_berlin() -> None:
    # 25 Oct 2026: clocks go back from 03:00 CEST to 02:00 CET (01:00 UTC).
    saturday_noon = datetime(2026, 10, 24, 10, 0, tzinfo=UTC)  # 12:00 CEST
    tomorrow = read_when("tomorrow 9am", tz=BERLIN, now=saturday_noon)
    assert tomorrow == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)  # 09:00 CET
    # A day later is the same wall-clock time, 25 real hours away.
    assert read_when("in 1 day", tz=BERLIN, now=saturday_noon) == datetime(
        2026, 10, 25, 11, 0, tzinfo=UTC
    )
    # Hours are real hours, however the clocks move.
    night = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    assert read_when("in 2 hours", tz=BERLIN, now=night) == datetime(
        2026, 10, 25, 2, 30, tzinfo=UTC
    )


def test_across_the_spring_dst_change_in_new_york() -> None:
    # 8 Mar 2026: clocks jump from 02:00 EST to 03:00 EDT.
    new_york = ZoneInfo("America/New_York")
    saturday = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)  # 10:00 EST
    assert read_when("tomorrow 9am", tz=new_york, now=saturday) == datetime(
        2026, 3, 8, 13, 0, tzinfo=UTC
    )  # 09:00 EDT
    # 02:30 does not exist that night; it is read as the moment after the jump.
    skipped = read_when("tomorrow 2:30am", tz=new_york, now=saturday)
    assert skipped == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_words_the_time_does_not_use_stay_in_the_text() -> None:
    words = ["in", "2", "hours", "second", "call"]
    [found, _] = find_when(words, tz=BERLIN, now=NOW, most_start=6)
    assert (found.start, found.end) == (0, 3)
    [morning] = find_when(["tomorrow", "morning", "call"], tz=BERLIN, now=NOW, most_start=6)
    assert (morning.start, morning.end) == (0, 2)


def test_find_when_gives_the_longest_phrase_at_each_start() -> None:
    words = ["Jane", "tomorrow", "9am", "call", "about", "the", "renewal"]
    found = find_when(words, tz=BERLIN, now=NOW, most_start=6)
    assert [(f.start, f.end) for f in found] == [(1, 3), (2, 3)]
    assert find_when(["call", "about", "the", "renewal"], tz=BERLIN, now=NOW, most_start=6) == []
    # "May" alone is a name, not a month; "42" an id, not a year.
    assert [
        f.start for f in find_when(["May", "Smith", "tomorrow"], tz=BERLIN, now=NOW, most_start=6)
    ] == [2]
    assert [
        f.start for f in find_when(["42", "tomorrow", "call"], tz=BERLIN, now=NOW, most_start=6)
    ] == [1]


def test_numeric_days_and_the_teams_order() -> None:
    words = ["15.12.", "call", "Łukasz"]
    [found] = find_when(words, tz=BERLIN, now=NOW, most_start=6, locale="en_US")
    assert (found.start, found.end) == (0, 1)
    assert found.at == datetime(2026, 12, 15, 8, 0, tzinfo=UTC)  # 09:00 in Berlin
    assert _local("05/06 3pm") == "Thu 2027-05-06 15:00:00"
    gb = read_when("05/06 3pm", tz=BERLIN, now=NOW, locale="en_GB")
    assert gb == datetime(2027, 6, 5, 13, 0, tzinfo=UTC)


def test_offsets_count_from_a_later_due_time_but_never_backwards() -> None:
    due = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert read_when("2h", tz=BERLIN, now=NOW, offset_from=due) == due + timedelta(hours=2)
    assert read_when("in 1 day", tz=BERLIN, now=NOW, offset_from=due) == due + timedelta(days=1)
    # A named time is that time, earlier or not.
    assert read_when("tomorrow 9am", tz=BERLIN, now=NOW, offset_from=due) == datetime(
        2026, 11, 24, 8, 0, tzinfo=UTC
    )
    # A negative offset is in the past, whatever it is counted from.
    assert read_when("in -5 minutes", tz=BERLIN, now=NOW, offset_from=due) == NOW - timedelta(
        minutes=5
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mo 9:00", "Mon 2026-11-30 09:00:00"),  # today's 9:00 has passed: next Monday
        ("Fr 14 Uhr", "Fri 2026-11-27 14:00:00"),
        ("Freitag 14:30 Uhr", "Fri 2026-11-27 14:30:00"),
        ("am Montag 9 Uhr", "Mon 2026-11-30 09:00:00"),
        ("nächsten Dienstag um 10 Uhr", "Tue 2026-11-24 10:00:00"),  # as "next tuesday"
        ("Do", "Thu 2026-11-26 09:00:00"),
        ("So 11 Uhr", "Sun 2026-11-29 11:00:00"),
        ("morgen früh", "Tue 2026-11-24 09:00:00"),
        ("morgen 8 Uhr", "Tue 2026-11-24 08:00:00"),
        ("heute 17 Uhr", "Mon 2026-11-23 17:00:00"),
        ("in 2 Stunden", "Mon 2026-11-23 12:30:00"),
        ("in einer Stunde", "Mon 2026-11-23 11:30:00"),
        ("am 15.12. um 14 Uhr", "Tue 2026-12-15 14:00:00"),
        ("15. Dezember", "Tue 2026-12-15 09:00:00"),
        ("in 1 Monat", "Wed 2026-12-23 10:30:00"),
        ("in 3 Monaten", "Tue 2027-02-23 10:30:00"),
        ("so", None),  # an everyday word, not Sunday
        ("übermorgen", "Wed 2026-11-25 09:00:00"),
        ("übermorgen um 15 Uhr", "Wed 2026-11-25 15:00:00"),
        ("heute Abend", "Mon 2026-11-23 18:00:00"),
        ("heute Morgen", "Mon 2026-11-23 09:00:00"),  # this morning: passed at 10:30
        ("heute Nachmittag", "Mon 2026-11-23 15:00:00"),
        ("morgen Vormittag", "Tue 2026-11-24 09:00:00"),
        ("nächste Woche Dienstag", "Tue 2026-12-01 09:00:00"),
        ("Dienstag kommende Woche 14 Uhr", "Tue 2026-12-01 14:00:00"),
        ("Ende der Woche", "Fri 2026-11-27 17:00:00"),
        ("Ende nächster Woche", "Fri 2026-12-04 17:00:00"),
        ("KW 49", "Mon 2026-11-30 09:00:00"),
        ("in KW 49 am Freitag um 14 Uhr", "Fri 2026-12-04 14:00:00"),
        ("übermorgen 14:30", "Wed 2026-11-25 14:30:00"),
        ("Fr Nachmittag", "Fri 2026-11-27 15:00:00"),
    ],
)
def test_a_german_team_writes_its_days_and_hours_in_german(
    text: str, expected: str | None
) -> None:
    moment = read_when(text, tz=BERLIN, now=NOW, locale="de_DE")
    local = None if moment is None else moment.astimezone(BERLIN)
    assert (local.strftime("%a %Y-%m-%d %H:%M:%S") if local else None) == expected
    assert read_when(text, tz=BERLIN, now=NOW, locale="en_US") is None  # English teams: words


def test_a_german_time_is_found_among_the_words_and_uhr_is_part_of_it() -> None:
    words = ["Hans", "Fr", "14", "Uhr", "so", "bald", "wie", "möglich", "anrufen"]
    [first, *_] = find_when(words, tz=BERLIN, now=NOW, most_start=3, locale="de_DE")
    assert (first.start, first.end) == (1, 4)
    assert first.at.astimezone(BERLIN).strftime("%a %H:%M") == "Fri 14:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tmrw 9", "Tue 2026-11-24 09:00:00"),
        ("2moro", "Tue 2026-11-24 09:00:00"),
        ("next wk", "Mon 2026-11-30 09:00:00"),
        ("in 1h30", "Mon 2026-11-23 12:00:00"),  # an hour and a half
        ("9h30", "Tue 2026-11-24 09:30:00"),  # half past nine, as the French write it
        ("14h30", "Mon 2026-11-23 14:30:00"),
        ("1.5h", "Mon 2026-11-23 12:00:00"),
        ("in 2,5 hours", "Mon 2026-11-23 13:00:00"),
        ("in 1 month", "Wed 2026-12-23 10:30:00"),
        ("in 3 months", "Tue 2027-02-23 10:30:00"),
        ("in 1.5 months", "Thu 2027-01-07 10:30:00"),  # a month and fifteen days
        ("next month", "Wed 2026-12-23 09:00:00"),
        ("+2h", "Mon 2026-11-23 12:30:00"),
        ("+1d", "Tue 2026-11-24 10:30:00"),
        ("in half an hour", "Mon 2026-11-23 11:00:00"),
        ("an hour and a half", "Mon 2026-11-23 12:00:00"),
        ("EOD", "Mon 2026-11-23 17:00:00"),
        ("by close of business", "Mon 2026-11-23 17:00:00"),
        ("friday eod", "Fri 2026-11-27 17:00:00"),
        ("tomorrow by end of day", "Tue 2026-11-24 17:00:00"),
        # A day of a named week: not that week's Monday, nor the day in this week.
        ("next week tuesday", "Tue 2026-12-01 09:00:00"),
        ("tuesday next week", "Tue 2026-12-01 09:00:00"),
        ("next week on thursday at 3pm", "Thu 2026-12-03 15:00:00"),
        ("wednesday this week", "Wed 2026-11-25 09:00:00"),
        ("end of the week", "Fri 2026-11-27 17:00:00"),
        ("end of next week", "Fri 2026-12-04 17:00:00"),
        ("EOW", "Fri 2026-11-27 17:00:00"),
        ("week 49 friday", "Fri 2026-12-04 09:00:00"),
        ("15th", "Tue 2026-12-15 09:00:00"),  # this month's has passed
        ("the 25th 3pm", "Wed 2026-11-25 15:00:00"),
    ],
)
def test_what_people_type_on_a_phone(text: str, expected: str) -> None:
    assert _local(text) == expected


def test_the_end_of_the_week_said_at_the_weekend_is_the_coming_fridays() -> None:
    saturday = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    assert _local("end of week", now=saturday) == "Fri 2026-12-04 17:00:00"
    # Said so, it is the one that has passed (and /remind says so).
    assert _local("end of this week", now=saturday) == "Fri 2026-11-27 17:00:00"


def test_a_month_later_is_the_months_last_day_when_it_has_no_such_day() -> None:
    january_31 = datetime(2027, 1, 31, 9, 0, tzinfo=UTC)
    assert _local("in 1 month", now=january_31) == "Sun 2027-02-28 10:00:00"
    assert _local("in 2 months", now=january_31) == "Wed 2027-03-31 10:00:00"
