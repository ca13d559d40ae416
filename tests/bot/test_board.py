"""The board's API and its credentials, without a browser: Telegram's initData (the
published vector and our own), link tokens, 401 with no data, roles as /pipeline has
them, team isolation, moves and notes through the dispatcher, pages of 50, /board."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from bot.board import set_menu_button
from bot.board.auth import telegram_viewer
from bot.console import render_text
from bot.slack_render import LINK_ACTION, actions
from handlers.board import Viewer, link_token, link_viewer
from handlers.context import ChatType, Request
from handlers.dispatcher import Dispatcher
from storage.board import install_secret
from storage.models import Activity, Deal, Outbox, Platform, Stage, StageChange
from tests.bot.board_site import (
    ALICE,
    BOB,
    BOT_TOKEN,
    MALLORY,
    board_site,
    init_data,
    make_team,
    say,
)
from tests.conftest import START, Clock

# Published with a validation library's documentation (sanvew/telegram-init-data), made by
# Telegram for that bot token: our check agrees with Telegram's, not only with itself.
PUBLISHED_TOKEN = "5768337691:AAH5YkoiEuPk8-FZa32hStHTqXiLPtAEhx8"
PUBLISHED = (
    "query_id=AAHdF6IQAAAAAN0XohDhrOrc&user=%7B%22id%22%3A279058397%2C%22first_name%22%3A"
    "%22Vladislav%22%2C%22last_name%22%3A%22Kibenko%22%2C%22username%22%3A%22vdkfrost%22%2C"
    "%22language_code%22%3A%22ru%22%2C%22is_premium%22%3Atrue%7D&auth_date=1662771648"
    "&hash=c501b71e775f74ce10e377dea85a7ea24ecd640b223ea86dfe453e0eaed2e2b2"
)


def test_init_data_as_telegram_signs_it() -> None:
    signed_at = START - timedelta(hours=3)
    published_at = START.fromtimestamp(1662771648, START.tzinfo)
    viewer = telegram_viewer(PUBLISHED, PUBLISHED_TOKEN, now=published_at + timedelta(hours=1))
    assert viewer == Viewer(Platform.telegram, "279058397", "", "Vladislav Kibenko")
    assert (
        telegram_viewer(PUBLISHED, PUBLISHED_TOKEN, now=published_at + timedelta(days=2)) is None
    )
    ours = init_data(ALICE, at=signed_at)
    assert telegram_viewer(ours, BOT_TOKEN, now=START) == Viewer(
        Platform.telegram, str(ALICE), "", "Alice"
    )
    forged = [
        telegram_viewer(ours, "7000002:AnotherBotsToken", now=START),  # another bot's
        telegram_viewer(ours.replace("111", "222"), BOT_TOKEN, now=START),  # someone else
        telegram_viewer(
            init_data(ALICE, at=START - timedelta(days=1, seconds=1)), BOT_TOKEN, now=START
        ),
        telegram_viewer(init_data(ALICE, at=START + timedelta(hours=1)), BOT_TOKEN, now=START),
        telegram_viewer(ours.rsplit("&hash=", 1)[0], BOT_TOKEN, now=START),
        telegram_viewer("", BOT_TOKEN, now=START),
        telegram_viewer("hash=00&auth_date=x", BOT_TOKEN, now=START),
    ]
    assert forged == [None] * len(forged)


def test_link_tokens_are_bound_signed_and_short_lived() -> None:
    key, other_key = b"k" * 32, b"o" * 32
    viewer = Viewer(Platform.slack, "U0ALICE", "T0ACME")
    token = link_token(viewer, key, now=START)
    assert link_viewer(token, key, now=START + timedelta(hours=1)) == viewer
    assert link_viewer(token, key, now=START + timedelta(hours=2)) is None
    assert link_viewer(token, other_key, now=START) is None
    body, signature = token.split(".")
    tampered = link_token(Viewer(Platform.slack, "U0BOB", "T0ACME"), key, now=START)
    assert link_viewer(f"{tampered.split('.')[0]}.{signature}", key, now=START) is None
    assert link_viewer(f"{body}.", key, now=START) is None
    assert link_viewer("not a token", key, now=START) is None
    assert link_viewer("a.b.c", key, now=START) is None


def test_one_key_for_every_process(engine: Engine) -> None:
    with Session(engine) as first, Session(engine) as second:
        key = install_secret(first)
        first.commit()
        assert install_secret(second) == key and len(key) == 32


async def _get(url: str, path: str, credential: str | None) -> tuple[int, Any]:
    headers = {"Authorization": credential} if credential else {}
    async with aiohttp.ClientSession() as http, http.get(url + path, headers=headers) as answer:
        if answer.content_type != "application/json":  # no route matched: aiohttp's 404
            return answer.status, None
        return answer.status, await answer.json()


async def _act(url: str, credential: str, **body: Any) -> tuple[int, Any]:
    body.setdefault("key", f"k-{body.get('action')}-{body.get('deal')}-{body.get('stage', 0)}")
    headers = {"Authorization": credential}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url + "/app/api/act", json=body, headers=headers) as answer,
    ):
        return answer.status, await answer.json()


def _tma(user_id: int, clock: Clock) -> str:
    return "tma " + init_data(user_id, at=clock.now - timedelta(minutes=5))


def _stage(engine: Engine, name: str, team_deal: int) -> int:
    with Session(engine) as session:
        deal = session.get(Deal, team_deal)
        assert deal is not None
        return session.exec(
            select(Stage.id).where(Stage.team_id == deal.team_id, Stage.name == name)
        ).one()  # type: ignore[return-value]


async def test_board_api(engine: Engine, dispatcher: Dispatcher, clock: Clock) -> None:
    team = make_team(dispatcher)
    oven, cafe = team.deals["Bäckerei Groß oven <b>"], team.deals["Café Sonne espresso bar"]
    kiosk, rival = team.deals["Carol's kiosk"], team.deals["rival"]
    async with board_site(engine, dispatcher, clock) as url:
        # Nothing without a valid credential; the page itself holds no data.
        for credential in (
            None,
            "tma " + init_data(BOB, at=clock.now - timedelta(days=2)),
            "tma " + init_data(BOB, at=clock.now, token="7000002:NotThisBot"),
            "Bearer " + link_token(Viewer(Platform.telegram, str(BOB)), b"x" * 32, now=clock.now),
            "tma " + init_data(444, at=clock.now),  # signed, but nobody of any team
        ):
            status, body = await _get(url, "/app/api/board", credential)
            assert (status, list(body)) == (401, ["error"])
            status, body = await _act(url, credential or "", action="won", deal=oven)
            assert (status, list(body)) == (401, ["error"])
        async with aiohttp.ClientSession() as http, http.get(url + "/app/") as page:
            assert page.status == 200 and "Bäckerei" not in await page.text()

        # A rep sees their own deals, with a note when they ask for the team's.
        status, board = await _get(url, "/app/api/board?who=team", _tma(BOB, clock))
        assert status == 200 and board["who"] == "mine" and "managers" in board["note"]
        lead = board["columns"][0]
        assert [c["title"] for c in lead["cards"]] == [
            "Café Sonne espresso bar",
            "Bäckerei Groß oven <b>",
        ]
        assert lead["count"] == 2 and lead["totals"] == [
            {"currency": "EUR", "total": "€24,000", "weighted": "€2,400"}
        ]
        assert [c["kind"] for c in board["columns"]][-2:] == ["won", "lost"]
        assert board["members"] == []
        # The admin sees the team's, a teammate's, by words in the title or a tag.
        status, board = await _get(url, "/app/api/board", _tma(ALICE, clock))
        assert board["who"] == "team" and board["columns"][0]["count"] == 4
        bob = next(m["id"] for m in board["members"] if m["name"] == "Bob")
        status, board = await _get(url, f"/app/api/board?who={bob}", _tma(ALICE, clock))
        assert board["who"] == str(bob) and board["columns"][0]["count"] == 2
        status, board = await _get(url, "/app/api/board?q=GROSS", _tma(ALICE, clock))
        assert [c["id"] for c in board["columns"][0]["cards"]] == [oven]
        assert board["columns"][0]["totals"][0]["total"] == "€12,000"
        status, board = await _get(url, "/app/api/board?tag=%23nothing", _tma(ALICE, clock))
        assert board["columns"][0]["count"] == 0
        say(dispatcher, BOB, f"/tag d{oven} #hot")
        status, board = await _get(url, "/app/api/board?tag=%23Hot", _tma(ALICE, clock))
        assert [c["id"] for c in board["columns"][0]["cards"]] == [oven]
        assert board["columns"][0]["count"] == 1
        status, _ = await _get(url, "/app/api/board?who=999999", _tma(ALICE, clock))
        assert status == 400

        # Team isolation: another team's deal is not found, not movable.
        status, _ = await _get(url, f"/app/api/deal/{rival}", _tma(ALICE, clock))
        assert status == 404
        status, answer = await _act(url, _tma(MALLORY, clock), action="won", deal=oven)
        assert status == 200 and not answer["ok"]

        # A move is the stage button: stage history, activity, totals; twice is once.
        proposal = _stage(engine, "Proposal", oven)
        for _ in range(2):
            status, answer = await _act(
                url, _tma(BOB, clock), action="move", deal=oven, stage=proposal, key="move-oven-1"
            )
            assert status == 200 and answer["ok"], answer
        # A rep cannot move a teammate's deal.
        status, answer = await _act(
            url, _tma(BOB, clock), action="move", deal=kiosk, stage=proposal
        )
        assert not answer["ok"] and "teammate" in answer["message"]
        # Notes and won, as the commands.
        status, answer = await _act(
            url, _tma(BOB, clock), action="note", deal=cafe, text="Liked the “crema” ☕"
        )
        assert answer["ok"], answer
        status, answer = await _act(url, _tma(BOB, clock), action="won", deal=cafe)
        assert answer["ok"] and "Won €12,000" in answer["message"]
        status, answer = await _act(url, _tma(BOB, clock), action="fly", deal=cafe)
        assert status == 400

        # A contact's sheet, and a call logged on the contact.
        added = say(dispatcher, BOB, "/add Jürgen O’Neil company:Groß & Co +49 30 1234567 #vip")
        jurgen = int(added.split("(c", 1)[1].split(")", 1)[0])
        status, answer = await _act(
            url, _tma(BOB, clock), action="call", contact=jurgen, text="wants  12.000 €"
        )
        assert answer["ok"], answer
        status, contact = await _get(url, f"/app/api/contact/{jurgen}", _tma(BOB, clock))
        assert (contact["name"], contact["company"], contact["tags"]) == (
            "Jürgen O’Neil",
            "Groß & Co",
            ["vip"],
        )
        assert contact["timeline"][0]["kind"] == "call"
        assert contact["timeline"][0]["text"] == "wants 12.000 €"
        status, _ = await _get(url, f"/app/api/contact/{jurgen}", _tma(MALLORY, clock))
        assert status == 404
        status, _ = await _act(url, _tma(BOB, clock), action="won", contact=jurgen)
        assert status == 400

        status, sheet = await _get(url, f"/app/api/deal/{cafe}", _tma(BOB, clock))
        assert [t["kind"] for t in sheet["timeline"]][:2] == ["won", "note"]
        assert sheet["timeline"][0]["who"] == "Bob" and sheet["contact"] == ""
        status, board = await _get(url, "/app/api/board", _tma(BOB, clock))
        won = next(c for c in board["columns"] if c["kind"] == "won")
        assert [c["id"] for c in won["cards"]] == [cafe] and won["count"] == 1
        oven_card = next(c for c in board["columns"][2]["cards"] if c["id"] == oven)
        assert not oven_card["rotting"] and oven_card["days"] == 0
        clock.advance(days=45)  # no activity since: rotting; and November is over
        status, board = await _get(url, "/app/api/board", _tma(BOB, clock))
        oven_card = next(c for c in board["columns"][2]["cards"] if c["id"] == oven)
        assert oven_card["rotting"] and oven_card["days"] == 45
        assert next(c for c in board["columns"] if c["kind"] == "won")["count"] == 0

    with Session(engine) as session:
        changes = session.exec(select(StageChange).where(StageChange.deal_id == oven)).all()
        assert [c.to_stage_id for c in changes][-1:] == [proposal] and len(changes) == 2
        kinds = session.exec(
            select(Activity.kind).where(Activity.deal_id == oven).order_by(col(Activity.id))
        ).all()
        assert kinds[-1] == "stage" and kinds.count("stage") == 1
        assert session.get(Deal, kiosk).stage_id != proposal  # type: ignore[union-attr]
        announced = session.exec(select(func.count()).select_from(Outbox)).one()
        assert announced == 1  # the won deal, to the team's channel; nothing else


async def test_columns_page_by_50(engine: Engine, dispatcher: Dispatcher, clock: Clock) -> None:
    make_team(dispatcher, other_team=False)
    for n in range(57):
        clock.advance(minutes=1)
        say(dispatcher, ALICE, f"/deal Deal number {n} 1k")
    async with board_site(engine, dispatcher, clock) as url:
        _, board = await _get(url, "/app/api/board", _tma(ALICE, clock))
        lead = board["columns"][0]
        assert len(lead["cards"]) == 50 and lead["count"] == 61 and lead["next"]
        seen = {c["id"] for c in lead["cards"]}
        query = f"/app/api/column?stage={lead['id']}&after={lead['next']}"
        _, page = await _get(url, query.replace("+", "%2B"), _tma(ALICE, clock))
        assert len(page["cards"]) == 11 and page["next"] is None
        assert not seen & {c["id"] for c in page["cards"]}
        for query in (
            f"column?stage={lead['id']}&after=x",
            f"column?stage={lead['id']}&after=2026-11-23T09:00:00~1",  # no time zone
            f"column?stage={lead['id']}&after=2026-11-23T09:00:00%2B00:00~{'9' * 30}",
            "column?stage=%C2%B2&after=2026-11-23T09:00:00%2B00:00~1",  # a superscript two
            "board?who=%C2%B2",
            f"deal/{'9' * 30}",
        ):
            status, _ = await _get(url, "/app/api/" + query, _tma(ALICE, clock))
            assert status in (400, 404), query


def test_board_command(engine: Engine, dispatcher: Dispatcher, clock: Clock) -> None:
    def board(platform: Platform, user: str, chat_type: ChatType = ChatType.private) -> Any:
        request = Request(
            platform=platform, user_id=user, user_name="Alice", chat_type=chat_type, text="/board"
        )
        reply = dispatcher.handle_sync(request)
        assert reply is not None
        return reply

    # The terminal: a signed link to the local server, that opens as the one who asked.
    say_console = Request(
        platform=Platform.console, user_id="alice", user_name="Alice", text="/start Acme"
    )
    dispatcher.handle_sync(say_console)
    printed = render_text(board(Platform.console, "alice"))
    assert printed.startswith("Your pipeline board (http://127.0.0.1:8080/app/?t=")
    token = printed.split("?t=", 1)[1].split(")", 1)[0]
    with Session(engine) as session:
        key = install_secret(session)
    assert link_viewer(token, key, now=clock.now) == Viewer(Platform.console, "alice")
    # Telegram: a Mini App button, from an https address in a private chat only.
    code = invite_code_for_telegram(dispatcher)
    say(dispatcher, ALICE, f"/join {code}")
    assert "PUBLIC_URL" in board(Platform.telegram, str(ALICE)).plain_text
    dispatcher.defaults = replace(dispatcher.defaults, public_url="https://crm.example.test/")
    (button,) = board(Platform.telegram, str(ALICE)).all_buttons
    assert button.web_app and button.url == "https://crm.example.test/app/"
    assert "private chat" in board(Platform.telegram, str(ALICE), ChatType.group).plain_text


def invite_code_for_telegram(dispatcher: Dispatcher) -> str:
    reply = dispatcher.handle_sync(
        Request(platform=Platform.console, user_id="alice", user_name="Alice", text="/invite rep")
    )
    assert reply is not None
    return next(w for w in reply.plain_text.split() if w.isupper() and len(w) >= 6)


class _MenuBot:
    def __init__(self) -> None:
        self.buttons: list[Any] = []

    async def set_chat_menu_button(self, *, menu_button: Any) -> bool:
        self.buttons.append(menu_button.to_dict())
        return True


async def test_menu_button_opens_the_board() -> None:
    bot = _MenuBot()
    await set_menu_button(bot, "http://127.0.0.1:8080")  # type: ignore[arg-type]
    assert bot.buttons == []  # Telegram opens Mini Apps from https only
    await set_menu_button(bot, "https://crm.example.test/")  # type: ignore[arg-type]
    assert bot.buttons == [
        {"type": "web_app", "text": "Board", "web_app": {"url": "https://crm.example.test/app/"}}
    ]


def test_slack_home_opens_the_board(engine: Engine, dispatcher: Dispatcher, clock: Clock) -> None:
    def slack(text: str) -> Any:
        request = Request(
            platform=Platform.slack,
            user_id="U0ALICE",
            user_name="Alice",
            workspace_id="T0ACME",
            chat_id="D0ALICE",
            text=text,
        )
        reply = dispatcher.handle_sync(request)
        assert reply is not None
        return reply

    slack("/start Acme")
    for command in ("/home", "/board"):
        (button,) = slack(command).all_buttons
        assert button.label == "Open board" and not button.web_app and button.url
        with Session(engine) as session:
            key = install_secret(session)
        token = button.url.split("/app/?t=", 1)[1]
        assert link_viewer(token, key, now=clock.now) == Viewer(
            Platform.slack, "U0ALICE", "T0ACME"
        )
        (block,) = actions([[button]])[0]["elements"]
        assert block["url"] == button.url and block["action_id"].startswith(LINK_ACTION)
        assert "value" not in block
