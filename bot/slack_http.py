"""Slack's HTTP requests, checked before Bolt reads them.

Bolt checks signatures too, but a request it cannot read answers 500 with a traceback in
the log (a timestamp that is not a number, a body that is not UTF-8 or whose `payload` is
not JSON), and a request whose signature is wrong is logged with its whole body. Here:
a body over `MAX_BODY` gets 413 unread; a missing, malformed, stale or wrong signature
401, logged in one line without the body; a signed body Bolt cannot parse 400. What
passes is handed to Bolt as it arrived.

A signed slash command or button press can be replayed by whoever captured it, for the
five minutes its timestamp stays fresh (Slack's events are deduplicated by `event_id`,
these have none): `replay_key` names the request by its signature, and the dispatcher
records it like an update id, in the command's own transaction, so a replay changes
nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from slack_bolt.request.async_request import AsyncBoltRequest

log = logging.getLogger(__name__)

# Slack's payloads are a few kilobytes; a modal's submitted state a few dozen.
MAX_BODY = 256 * 1024
# How far a request's timestamp may be from the clock (Slack's own advice: five minutes).
MAX_SKEW_SECONDS = 300
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
_SIGNATURE_LENGTH = len("v0=") + 64


@dataclass(frozen=True)
class Refusal(Exception):
    status: int
    reason: str

    def response(self) -> web.Response:
        return web.Response(status=self.status, text=self.reason)


async def read_body(request: web.Request) -> bytes:
    """The body, at most MAX_BODY bytes of it read (Refusal 413 past that)."""
    too_large = Refusal(413, "request body too large")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise too_large
    body = bytearray()
    async for chunk in request.content.iter_any():
        body += chunk
        if len(body) > MAX_BODY:
            raise too_large
    return bytes(body)


def verified(body: bytes, headers: Mapping[str, str], *, secret: str, now: float) -> str:
    """The body as text when Slack signed it with `secret` within MAX_SKEW_SECONDS of
    `now`; a Refusal otherwise."""
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise _unsigned("no readable request timestamp")
    if abs(now - int(timestamp)) > MAX_SKEW_SECONDS:
        raise _unsigned("stale request timestamp")
    if len(signature) != _SIGNATURE_LENGTH or not signature.isascii():
        raise _unsigned("no readable signature")
    mac = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    if not hmac.compare_digest("v0=" + mac.hexdigest(), signature):
        raise _unsigned("wrong signature")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(400, "the body is not UTF-8") from None


def bolt_request(body: str, request: web.Request) -> AsyncBoltRequest:
    """Bolt's request (which parses the body as it is built); Refusal 400 when it cannot
    be parsed."""
    try:
        parsed = AsyncBoltRequest(
            body=body,
            query=request.query_string,
            headers=request.headers,  # type: ignore[arg-type]
        )
    except Exception as error:  # whatever parsing a hostile body raises: it is refused
        raise Refusal(400, "unreadable body") from error
    if not _well_formed(parsed.body):
        raise Refusal(400, "a body without the fields of its kind")
    return parsed


def _well_formed(body: Mapping[str, Any]) -> bool:
    """Whether what the listeners (bot/slack_listeners.py) take as given is there: the
    sender of a slash command, button press or form, and the event of an event."""
    if "command" in body:
        return _has_text(body, "user_id", "command")
    kind = body.get("type")
    if kind == "event_callback":
        return isinstance(body.get("event"), dict)
    if kind in ("block_actions", "view_submission"):
        user, views, actions = body.get("user"), body.get("view"), body.get("actions")
        return (
            isinstance(user, dict)
            and _has_text(user, "id")
            and (kind != "view_submission" or isinstance(views, dict))
            and (
                kind != "block_actions"
                or (
                    isinstance(actions, list)
                    and all(isinstance(a, dict) and _has_text(a, "value") for a in actions)
                )
            )
        )
    return True  # url_verification, and kinds no listener reads


def _has_text(values: Mapping[str, Any], *names: str) -> bool:
    return all(isinstance(values.get(name), str) for name in names)


def replay_key(headers: Mapping[str, Sequence[str]]) -> str | None:
    """The update id of a signed request (Bolt's headers: lower-case names, lists of
    values): its signature. None: not signed (Socket Mode)."""
    found = headers.get(SIGNATURE_HEADER.lower()) or []
    return f"sig:{found[0]}" if found and found[0] else None


def _unsigned(reason: str) -> Refusal:
    log.info("refused a Slack request: %s", reason)
    return Refusal(401, reason)
