"""Natural-language dates and times, read in the member's timezone."""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from typing import Literal

import dateparser

from handlers.errors import UsageError
from handlers.grammar import Args

Prefer = Literal["future", "past"]
EXAMPLES = "e.g. 2026-12-15, next friday, in 3 weeks, 15 jan"
# What `tomorrow morning` and `tonight` mean is ours to say rather than a default that a
# release of dateparser may change (these are 1.5's): the morning starts the working day at
# nine, as a day named without a time does.
PARTS_OF_DAY = dateparser.PartsOfDay(
    morning=time(9), afternoon=time(15), evening=time(18), night=time(20)
)


def parse_moment(
    text: str, *, tz: tzinfo, now: datetime, prefer: Prefer = "future"
) -> datetime | None:
    """`tomorrow 9am` -> an aware datetime in UTC terms, or None when unreadable.

    `prefer` settles phrases that could go either way (`monday`, `1 sep`): reminders and
    close dates look ahead, reports (`since monday`) look back."""
    text = text.strip()
    if not text:
        return None
    try:
        return (
            datetime.fromisoformat(text).replace(tzinfo=tz)
            if "T" in text
            else _natural(text, tz=tz, now=now, prefer=prefer)
        )
    except ValueError:
        return _natural(text, tz=tz, now=now, prefer=prefer)


def read_day(text: str, *, tz: tzinfo, now: datetime, prefer: Prefer = "future") -> date | None:
    """A calendar day (`next friday`, `2026-12-15`), or None when unreadable."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        pass
    moment = parse_moment(text, tz=tz, now=now, prefer=prefer)
    return None if moment is None else moment.astimezone(tz).date()


def take_day(args: Args, name: str, *, tz: tzinfo, now: datetime) -> date | None:
    """Option `name` as a day (`close:next friday`, also unquoted); None when not given."""
    if name not in args.options:
        return None
    typed = args.options[name]
    day = args.take_phrase(name, lambda text: read_day(text, tz=tz, now=now))
    if day is None:
        raise UsageError(f"I can't read the date “{typed}” ({EXAMPLES}).")
    return day


def _natural(text: str, *, tz: tzinfo, now: datetime, prefer: Prefer) -> datetime | None:
    local_now = now.astimezone(tz)
    parsed = dateparser.parse(
        text,
        languages=["en"],
        settings={
            "RELATIVE_BASE": local_now.replace(tzinfo=None),
            "PREFER_DATES_FROM": prefer,
            "RETURN_AS_TIMEZONE_AWARE": False,
            "PARTS_OF_DAY": PARTS_OF_DAY,
        },
    )
    if parsed is None:
        return None
    return parsed.replace(tzinfo=tz)
