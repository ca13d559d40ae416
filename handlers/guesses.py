"""Wrong guesses of a secret (an invite or a link code), counted per sender in the
database, so that every process of an installation sees them: after `LIMIT` wrong ones in
`WINDOW`, further tries are refused until the oldest has aged out.

A command that counts a wrong guess answers its refusal rather than raising it: a raised
error rolls the command's savepoint back, and the recorded guess with it.
"""

from __future__ import annotations

from datetime import timedelta

from handlers.context import Context
from storage.links import latest_failed_attempts, record_failed_attempt

LIMIT = 5
WINDOW = timedelta(minutes=15)


def guessing_wait(ctx: Context) -> timedelta | None:
    """How long the sender must wait before guessing again; None: they may now."""
    latest = latest_failed_attempts(
        ctx.session, **_sender(ctx), since=ctx.now - WINDOW, limit=LIMIT
    )
    return latest[-1] + WINDOW - ctx.now if len(latest) >= LIMIT else None


def wrong_guess(ctx: Context) -> None:
    record_failed_attempt(ctx.session, **_sender(ctx), now=ctx.now)


def _sender(ctx: Context) -> dict[str, str]:
    request = ctx.request
    return {
        "platform": request.platform,
        "workspace_id": request.workspace_id,
        "external_id": request.user_id,
    }
