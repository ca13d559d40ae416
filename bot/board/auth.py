"""Who is asking the board from Telegram: its signed `initData` (a link's token, for Slack
and the terminal, is handlers/board.py's).

Telegram (https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app):
the data-check-string is every field but `hash`, sorted by key, as `key=value` joined by
newlines; the secret key is HMAC-SHA256 of the bot token keyed with the word "WebAppData";
`hash` is the hex HMAC-SHA256 of the data-check-string under that key. It is accepted for
a day after its `auth_date` (the Mini App is reopened more often than that).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

from handlers.board import Viewer
from storage.models import Platform

INIT_DATA_MAX_AGE = timedelta(days=1)
# A little of the page's clock running ahead of ours is not a forgery.
CLOCK_SKEW = timedelta(minutes=5)
MAX_CREDENTIAL = 4096


def telegram_viewer(init_data: str, bot_token: str, *, now: datetime) -> Viewer | None:
    """The Telegram user `init_data` was signed for, or None (forged, altered, too old)."""
    if not init_data or len(init_data) > MAX_CREDENTIAL:
        return None
    fields = dict(parse_qsl(init_data, keep_blank_values=True))
    given = fields.pop("hash", "")
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    expected = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        return None
    try:
        signed_at = datetime.fromtimestamp(int(fields["auth_date"]), UTC)
        user = json.loads(fields["user"])
        user_id = int(user["id"])
    except (KeyError, ValueError, TypeError, OverflowError):
        return None
    if not now - INIT_DATA_MAX_AGE <= signed_at <= now + CLOCK_SKEW:
        return None
    name = " ".join(str(user.get(part) or "") for part in ("first_name", "last_name")).strip()
    return Viewer(Platform.telegram, str(user_id), "", name)
