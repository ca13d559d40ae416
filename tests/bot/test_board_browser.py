"""The board in a real browser: Debian's Chromium driven by Playwright at a phone's size,
inside a stand-in for Telegram's Mini App script that hands the page signed initData, with
every address but the board's own refused (no internet: no map tiles, no CDN).

One scenario, one browser start (CI's time): the board renders; dragging a card onto a
stage moves the deal (stage history, activity); the "Move to…" sheet does the same; a rep's
page cannot move a teammate's deal; a forged initData gets 401 and no cards; the nearby
list appears with the map's tiles unreachable. Screenshots at 390×844 are kept under
CRM_SCREENSHOTS (default: the test's tmp folder) for a person to look at; never committed.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from handlers.context import Request
from handlers.dispatcher import Dispatcher
from storage.models import Activity, Deal, Platform, Stage, StageChange
from tests.bot.board_site import BOB, board_site, init_data, make_team, say
from tests.conftest import Clock

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}

if not Path(CHROMIUM).exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI needs Chromium at {CHROMIUM} for the board's browser tests")
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

playwright_api = pytest.importorskip("playwright.async_api")


def telegram_script(init: str) -> str:
    """What telegram-web-app.js gives a page, as far as the board uses it."""
    stub = (
        "window.Telegram = {WebApp: {initData: INIT, themeParams: {}, ready() {}, expand() {},"
        " BackButton: {show() {}, hide() {}, onClick() {}},"
        " HapticFeedback: {notificationOccurred() {}}}};"
    )
    return stub.replace("INIT", json.dumps(init))


def _stage_of(engine: Engine, deal_id: int) -> str:
    with Session(engine) as session:
        deal = session.get(Deal, deal_id)
        assert deal is not None
        stage = session.get(Stage, deal.stage_id)
        assert stage is not None
        return stage.name


async def _until(check: Callable[[], bool], what: str) -> None:
    for _ in range(100):
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
async def test_board_in_a_phone_browser(
    engine: Engine, dispatcher: Dispatcher, clock: Clock, tmp_path: Path
) -> None:
    shots = Path(os.environ.get("CRM_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    team = make_team(dispatcher, other_team=False)
    oven, cafe = team.deals["Bäckerei Groß oven <b>"], team.deals["Café Sonne espresso bar"]
    kiosk = team.deals["Carol's kiosk"]
    say(dispatcher, BOB, "/add Anna Schmidt company:Schmidt & Söhne city:Berlin #hot")
    say(dispatcher, BOB, "/remind Café Sonne espresso bar tomorrow 9am bring samples")
    dispatcher.handle_sync(
        Request(
            platform=Platform.telegram,
            user_id=str(BOB),
            user_name="Bob",
            chat_id=str(BOB),
            location=(52.52, 13.405),
        )
    )
    signed = init_data(BOB, at=clock.now - timedelta(minutes=1))
    async with (
        board_site(engine, dispatcher, clock) as url,
        playwright_api.async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = await _phone(browser, url, signed)
            await page.goto(url + "/app/")
            await page.locator(".card", has_text="Bäckerei Groß oven <b>").wait_for()
            assert await page.locator(".column.shown .card").count() == 2
            assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            await page.screenshot(path=shots / "board.png")
            await page.set_viewport_size({"width": 360, "height": 640})  # a small phone
            assert await page.evaluate("document.documentElement.scrollWidth") <= 360
            await page.set_viewport_size(PHONE)

            # Drag and drop: the card onto the Qualified chip.
            card = await page.locator(".card", has_text="Bäckerei").bounding_box()
            chip = await page.locator(".chip", has_text="Qualified").bounding_box()
            assert card is not None and chip is not None
            await page.mouse.move(card["x"] + 40, card["y"] + 20)
            await page.mouse.down()
            await page.mouse.move(card["x"] + 50, card["y"] + 10, steps=4)
            await page.mouse.move(chip["x"] + chip["width"] / 2, chip["y"] + 10, steps=12)
            await page.mouse.up()
            await _until(lambda: _stage_of(engine, oven) == "Qualified", "the drag's move")
            await page.locator(".chip", has_text="Qualified · 1").wait_for()

            # The Move to… sheet.
            await page.locator(".card", has_text="Café Sonne").click()
            await page.get_by_role("button", name="Move to…").wait_for()
            await page.screenshot(path=shots / "deal-sheet.png")
            await page.get_by_role("button", name="Move to…").click()
            await page.screenshot(path=shots / "move-sheet.png")
            await page.locator(".stages button", has_text="Proposal").click()
            await _until(lambda: _stage_of(engine, cafe) == "Proposal", "the sheet's move")
            await page.locator(".chip", has_text="Proposal · 1").wait_for()

            # A teammate's deal: not on a rep's board, and refused if the page asks anyway.
            assert await page.locator(".card", has_text="Carol's kiosk").count() == 0
            answer = await page.evaluate(
                """async ([deal, stage]) => {
                    const r = await fetch('api/act', {method: 'POST',
                        headers: {Authorization: 'tma ' + Telegram.WebApp.initData},
                        body: JSON.stringify({action: 'move', deal, stage, key: 'kiosk-move-1'})});
                    return await r.json();
                }""",
                [kiosk, _stage_id(engine, oven)],
            )
            assert answer["ok"] is False and "teammate" in answer["message"]

            # Nearby, with the internet unreachable: the list, no map.
            await page.get_by_role("button", name="Nearby").click()
            await page.locator("#nearby-list li", has_text="Anna Schmidt").wait_for()
            await page.locator("#map-note").wait_for()
            await page.screenshot(path=shots / "nearby.png")
            await page.locator("#nearby-list a", has_text="Anna Schmidt").click()
            await page.locator(".sheet h3", has_text="Anna Schmidt").wait_for()
            await page.screenshot(path=shots / "contact-sheet.png")

            # A forged initData: 401, and no deal reaches the page.
            forged = signed[:-1] + ("0" if signed[-1] != "0" else "1")  # the hash's end
            page = await _phone(browser, url, forged)
            statuses: list[int] = []
            page.on("response", lambda r: statuses.append(r.status) if "/api/" in r.url else None)
            await page.goto(url + "/app/")
            await page.locator("#denied").wait_for()
            assert statuses == [401] and await page.locator(".card").count() == 0
            assert "Bäckerei" not in await page.content()
            await page.screenshot(path=shots / "denied.png")
        finally:
            await browser.close()

    _check_history(engine, oven, cafe, kiosk)


async def _phone(browser: Any, url: str, init: str) -> Any:
    context = await browser.new_context(viewport=PHONE, device_scale_factor=1)

    async def route(route: Any) -> None:
        if route.request.url.startswith("https://telegram.org/js/"):
            await route.fulfill(content_type="text/javascript", body=telegram_script(init))
        elif route.request.url.startswith(url):
            await route.continue_()
        else:
            await route.abort("internetdisconnected")

    await context.route("**/*", route)
    return await context.new_page()


def _stage_id(engine: Engine, deal_id: int) -> int:
    with Session(engine) as session:
        deal = session.get(Deal, deal_id)
        assert deal is not None
        return deal.stage_id


def _check_history(engine: Engine, oven: int, cafe: int, kiosk: int) -> None:
    assert _stage_of(engine, kiosk) == "Lead"
    with Session(engine) as session:
        for deal_id, stage in ((oven, "Qualified"), (cafe, "Proposal")):
            change = session.exec(select(StageChange).where(StageChange.deal_id == deal_id)).all()[
                -1
            ]
            assert session.get(Stage, change.to_stage_id).name == stage  # type: ignore[union-attr]
            last = session.exec(
                select(Activity)
                .where(Activity.deal_id == deal_id)
                .order_by(col(Activity.id).desc())
            ).first()
            assert last is not None and (last.kind, last.text) == ("stage", stage)
