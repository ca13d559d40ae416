"""Dates and times read in the member's timezone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from handlers.dates import parse_moment, read_day, take_day
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
