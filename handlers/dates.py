"""Natural-language dates and times, read in the member's timezone."""

from __future__ import annotations

from datetime import date, datetime, tzinfo

import dateparser

from handlers.errors import UsageError

EXAMPLES = "e.g. 2026-12-15, next friday, in 3 weeks, end of month"


def parse_moment(text: str, *, tz: tzinfo, now: datetime) -> datetime | None:
    """`tomorrow 9am` -> an aware datetime in UTC terms, or None when unreadable."""
    text = text.strip()
    if not text:
        return None
    try:
        return (
            datetime.fromisoformat(text).replace(tzinfo=tz)
            if "T" in text
            else _natural(text, tz=tz, now=now)
        )
    except ValueError:
        return _natural(text, tz=tz, now=now)


def parse_day(text: str, *, tz: tzinfo, now: datetime) -> date:
    """A calendar day (`close:next friday`), or a clear refusal with examples."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        pass
    moment = parse_moment(text, tz=tz, now=now)
    if moment is None:
        raise UsageError(f"I can't read the date “{text}” ({EXAMPLES}).")
    return moment.astimezone(tz).date()


def _natural(text: str, *, tz: tzinfo, now: datetime) -> datetime | None:
    local_now = now.astimezone(tz)
    parsed = dateparser.parse(
        text,
        languages=["en"],
        settings={
            "RELATIVE_BASE": local_now.replace(tzinfo=None),
            "PREFER_DATES_FROM": "future",
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )
    if parsed is None:
        return None
    return parsed.replace(tzinfo=tz)
