"""/board: the pipeline board, a web page served by `crmbot serve` (bot/board/).

In Telegram it opens inside the chat as a Mini App, which Telegram signs for the user. Slack
and the terminal have no such thing, so they get a link with a token: the identity that
asked (platform, workspace, user) and an expiry, HMAC-SHA256-signed with the installation's
key (storage/board.install_secret), which every process reads from the database, so a link
made by one process opens on any. The board looks the member up from that identity each
time; a member id from the page is never believed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers.context import ChatType, Context
from handlers.errors import UsageError
from handlers.grammar import Args
from handlers.registry import Registry
from handlers.reply import Button, Reply, link
from storage.board import install_secret
from storage.models import Platform

APP_PATH = "/app/"
LINK_LIFETIME = timedelta(hours=2)
MAX_TOKEN = 4096


@dataclass(frozen=True, slots=True)
class Viewer:
    """A verified identity: the member is whoever this identity belongs to."""

    platform: str
    user_id: str
    workspace_id: str = ""
    name: str = ""


def board(ctx: Context, args: Args) -> Reply:
    """The pipeline board: your deals as columns by stage, to move with a finger.

    /board

    In Telegram it opens inside the chat (the menu button opens it too); in Slack and the
    terminal you get a link of your own, good for two hours.
    """
    if args.raw.strip():
        raise UsageError("/board takes no arguments.")
    base = ctx.defaults.public_url.rstrip("/")
    request = ctx.request
    reply = Reply()
    if request.platform == Platform.telegram:
        if request.chat_type != ChatType.private:
            return reply.add("The board opens in a private chat with me: send /board there.")
        if not base.startswith("https://"):
            return reply.add(
                "Telegram opens the board only from an https:// address, and this bot has "
                "none yet: ask your admin to set PUBLIC_URL."
            )
        reply.add("Your pipeline, by stage:")
        return reply.button_row(Button("Open board", "", url=base + APP_PATH, web_app=True))
    url = board_link(ctx)
    reply.add(link("Your pipeline board", url), " (the link is yours; it works for two hours)")
    if request.platform == Platform.slack:
        reply.button_row(Button("Open board", "", url=url))
    return reply


def board_link(ctx: Context) -> str:
    """A signed link to the board for the member asking, from where they ask."""
    request = ctx.request
    viewer = Viewer(request.platform, request.user_id, request.workspace_id)
    token = link_token(viewer, install_secret(ctx.session), now=ctx.now)
    return f"{ctx.defaults.public_url.rstrip('/')}{APP_PATH}?t={token}"


def link_token(viewer: Viewer, key: bytes, *, now: datetime) -> str:
    """A token for a board link, good for LINK_LIFETIME."""
    expires = int((now + LINK_LIFETIME).timestamp())
    payload = json.dumps(
        [viewer.platform, viewer.workspace_id, viewer.user_id, expires], separators=(",", ":")
    ).encode()
    return f"{_b64(payload)}.{_b64(_sign(key, payload))}"


def link_viewer(token: str, key: bytes, *, now: datetime) -> Viewer | None:
    """The identity a link token was made for, or None (forged, altered, expired)."""
    if len(token) > MAX_TOKEN or token.count(".") != 1:
        return None
    body, signature = token.split(".")
    try:
        payload = _unb64(body)
        if not hmac.compare_digest(_sign(key, payload), _unb64(signature)):
            return None
        platform, workspace_id, user_id, expires = json.loads(payload)
    except (ValueError, TypeError):
        return None
    if not isinstance(expires, int) or now.timestamp() >= expires:
        return None
    return Viewer(str(platform), str(user_id), str(workspace_id))


def _sign(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, b"board-link\n" + payload, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def register(registry: Registry) -> None:
    registry.command("board", board)
