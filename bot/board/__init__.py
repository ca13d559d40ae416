"""The pipeline board: a web app under `/app/` of `crmbot serve` (a Telegram Mini App, and a
signed link from Slack and the terminal; see handlers/board.py).

The page is one static HTML file, a stylesheet and one small hand-written script
(static/board.js) that asks a JSON API and draws the columns; SortableJS (drag and drop)
and Leaflet (the map) are vendored under static/vendor with their licences. Every API call
carries its credential (`Authorization: tma <initData>` from Telegram, `Bearer <token>`
from a link); it is checked on every call and the member looked up from the identity it
proves, else 401 with no data.

Reads go straight to storage (bot/board/view.py) in a worker thread. Every change goes
through the dispatcher as the chat command would, with the same permissions, activities,
stage history, totals and won-deal announcements: a move is the stage button (`st`), a
note `/note d42 ...`, won `/won d42`. The answer goes back to the page only, so the chat
gets nothing twice; the page's idempotency key is the update id, so a tap sent twice
changes the deal once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web
from sqlalchemy import Engine
from sqlmodel import Session

from bot.board import view
from bot.board.auth import telegram_viewer
from bot.board.view import Asked, BadQuery, Json, Seat
from bot.web import Server
from handlers.board import APP_PATH, Viewer, link_viewer
from handlers.context import Request
from handlers.dispatcher import Dispatcher
from storage.board import install_secret
from storage.db import transaction
from storage.teams import member_and_team

if TYPE_CHECKING:
    from telegram import Bot

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
_KEY = re.compile(r"[A-Za-z0-9-]{8,64}")
_ID = re.compile(r"[0-9]{1,18}")
MAX_TEXT = 1000
# Scripts from here and Telegram's own, data from here, map tiles from OpenStreetMap; inline
# styles for Leaflet's positioning. Whatever a deal's title holds, it runs nothing.
CSP = (
    "default-src 'self'; script-src 'self' https://telegram.org; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: https://tile.openstreetmap.org; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'"
)
T = TypeVar("T")


class Unauthorized(Exception):
    """No credential, a forged or expired one, or nobody of a team behind it."""


class BoardApp:
    """The board's routes; `register` adds them to the server."""

    def __init__(
        self,
        engine: Engine,
        dispatcher: Dispatcher,
        *,
        telegram_token: str | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.dispatcher = dispatcher
        self.telegram_token = telegram_token
        self.clock = clock
        self._key: bytes | None = None

    def register(self, server: Server) -> None:
        router = server.app.router
        router.add_get("/app", self._to_page)
        router.add_get(APP_PATH, self.page)
        router.add_static(APP_PATH + "static/", STATIC)
        router.add_get(APP_PATH + "api/board", self.api_board)
        router.add_get(APP_PATH + "api/column", self.api_column)
        router.add_get(APP_PATH + r"api/deal/{deal_id:[0-9]{1,18}}", self.api_deal)
        router.add_get(APP_PATH + r"api/contact/{contact_id:[0-9]{1,18}}", self.api_contact)
        router.add_get(APP_PATH + "api/nearby", self.api_nearby)
        router.add_post(APP_PATH + "api/act", self.api_act)

    async def _to_page(self, request: web.Request) -> web.StreamResponse:
        query = request.query_string
        raise web.HTTPMovedPermanently(APP_PATH + (f"?{query}" if query else ""))

    async def page(self, request: web.Request) -> web.StreamResponse:
        # The page holds no data: what it shows comes from the API, with the credential.
        return web.FileResponse(
            STATIC / "index.html",
            headers={
                "Cache-Control": "no-cache",
                # A link's token is in the address: it goes to no other site.
                "Referrer-Policy": "no-referrer",
                "Content-Security-Policy": CSP,
            },
        )

    async def api_board(self, request: web.Request) -> web.Response:
        asked = _asked(request)
        return await self._read(request, lambda session, seat: view.board(session, seat, asked))

    async def api_column(self, request: web.Request) -> web.Response:
        asked = _asked(request)
        stage = request.query.get("stage", "")
        after = request.query.get("after", "")
        if not _ID.fullmatch(stage) or not after:
            return _error(400, "stage and after are needed")
        return await self._read(
            request,
            lambda session, seat: view.column(
                session, seat, asked, stage_id=int(stage), after=after
            ),
        )

    async def api_deal(self, request: web.Request) -> web.Response:
        deal_id = int(request.match_info["deal_id"])
        return await self._read(
            request, lambda session, seat: view.deal_sheet(session, seat, deal_id)
        )

    async def api_contact(self, request: web.Request) -> web.Response:
        contact_id = int(request.match_info["contact_id"])
        return await self._read(
            request, lambda session, seat: view.contact_sheet(session, seat, contact_id)
        )

    async def api_nearby(self, request: web.Request) -> web.Response:
        origin: tuple[float, float] | None = None
        if "lat" in request.query:
            try:
                origin = float(request.query["lat"]), float(request.query["lon"])
            except (KeyError, ValueError):
                return _error(400, "lat and lon are numbers")
            if not (-90 <= origin[0] <= 90 and -180 <= origin[1] <= 180):
                return _error(400, "lat and lon are out of range")
        return await self._read(
            request, lambda session, seat: view.prospects_nearby(session, seat, origin)
        )

    async def api_act(self, request: web.Request) -> web.Response:
        """One action on a deal or contact, as its chat command:
        {action, deal or contact, stage?, text?, key}."""
        try:
            viewer = await self._viewer(request)
            # A signed identity that is nobody's in a team gets what a forgery gets.
            await asyncio.to_thread(self._in_session, viewer, lambda session, seat: None)
        except Unauthorized:
            return _error(401, "Please open the board again from the chat.")
        try:
            body = await request.json()
            encoded = _command(body)
            key = str(body.get("key", ""))
        except (ValueError, TypeError, AttributeError) as error:
            return _error(400, str(error) or "bad request")
        if not _KEY.fullmatch(key):
            return _error(400, "key: 8-64 letters, digits or dashes")
        button, text = encoded
        reply = await self.dispatcher.handle(
            Request(
                platform=viewer.platform,  # type: ignore[arg-type]
                user_id=viewer.user_id,
                user_name=viewer.name,
                workspace_id=viewer.workspace_id,
                chat_id=f"board:{viewer.user_id}",
                text=text,
                button=button,
                update_id=f"board:{key}",
            )
        )
        if reply is None:  # the same key again: done the first time
            return web.json_response({"ok": True, "message": "Done."})
        # Done: its first line ("Moved to Proposal."); refused: all of it, the reason too.
        message = reply.plain_text if reply.error else reply.plain_text.split("\n", 1)[0]
        return web.json_response({"ok": not reply.error, "message": message})

    async def _read(
        self, request: web.Request, work: Callable[[Session, Seat], Json | None]
    ) -> web.Response:
        try:
            viewer = await self._viewer(request)
            answer = await asyncio.to_thread(self._in_session, viewer, work)
        except Unauthorized:
            return _error(401, "Please open the board again from the chat.")
        except BadQuery as error:
            return _error(400, str(error))
        if answer is None:
            return _error(404, "not found")
        return web.json_response(answer, dumps=_dumps)

    def _in_session(self, viewer: Viewer, work: Callable[[Session, Seat], T]) -> T:
        with transaction(self.engine, reads=True) as session:
            found = member_and_team(
                session,
                platform=viewer.platform,
                external_id=viewer.user_id,
                workspace_id=viewer.workspace_id,
            )
            if found is None or not found[0].active:
                raise Unauthorized
            member, team = found
            return work(session, Seat(member, team, self.clock()))

    async def _viewer(self, request: web.Request) -> Viewer:
        """The identity the request's credential proves (Unauthorized: none)."""
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        viewer: Viewer | None = None
        if scheme == "tma" and self.telegram_token:
            viewer = telegram_viewer(credential, self.telegram_token, now=self.clock())
        elif scheme == "Bearer":
            viewer = link_viewer(credential, await self._link_key(), now=self.clock())
        if viewer is None:
            raise Unauthorized
        return viewer

    async def _link_key(self) -> bytes:
        if self._key is None:
            self._key = await asyncio.to_thread(self._read_key)
        return self._key

    def _read_key(self) -> bytes:
        with transaction(self.engine) as session:
            return install_secret(session)


async def set_menu_button(bot: Bot, public_url: str) -> None:
    """Make the bot's menu button (beside the message field) open the board, which
    Telegram does only for an https:// address; the "/" command list stays typeable."""
    from telegram import MenuButtonWebApp, WebAppInfo
    from telegram.error import TelegramError

    if not public_url.startswith("https://"):
        log.info("telegram: the menu button stays the command list (PUBLIC_URL is not https)")
        return
    button = MenuButtonWebApp("Board", WebAppInfo(public_url.rstrip("/") + APP_PATH))
    try:
        await bot.set_chat_menu_button(menu_button=button)
    except TelegramError as error:
        # A convenience: /board opens it too.
        log.warning("telegram: could not set the board's menu button: %s", error)


def _asked(request: web.Request) -> Asked:
    query = request.query
    return Asked(
        who=query.get("who", "")[:20],
        tag=query.get("tag", "").strip()[:64],
        text=query.get("q", "").strip()[:100],
    )


_TEXT_COMMANDS = frozenset({"note", "call", "visit", "remind"})


def _command(body: Any) -> tuple[str | None, str | None]:
    """The button or the command text an action is (ValueError: not one the page sends).
    A deal's: {"deal": 42}; a contact's (note, call, visit, remind): {"contact": 7}."""
    action = body.get("action")
    text = body.get("text") or ""
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise ValueError(f"text: at most {MAX_TEXT} characters")
    text = " ".join(text.split())
    if "contact" in body and action in _TEXT_COMMANDS:
        return None, f"/{action} c{_id(body, 'contact')} {text}".rstrip()
    deal = _id(body, "deal")
    if action == "move":
        return f"st:{deal}:{_id(body, 'stage')}", None
    if action == "won":
        return None, f"/won d{deal}"
    if action == "lost":
        return None, f"/lost d{deal} {text}".rstrip()
    if action in _TEXT_COMMANDS:
        return None, f"/{action} d{deal} {text}".rstrip()
    raise ValueError("action: move, won, lost, note, call, visit or remind")


def _id(body: Any, name: str) -> int:
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**62:
        raise ValueError(f"{name}: an id")
    return value


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
