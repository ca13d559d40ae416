"""The corpus: messages typed the way people type them on a phone, each with what it must
store, run through the dispatcher (the real parsing, the real commands, the database).

tests/handlers/corpus/*.tsv are tables. The header row names the columns: `message`, the
fields the command stores (as tests/handlers/stored.py reads them back), and `reply`,
text the answer must contain (empty: any answer that is not an error). An empty field
cell means the field stays empty. Lines starting with # are comments, or settings:

    # reads: contact            what the fields are of: contact, deal, reminder or nothing
    # team: locale=de_DE        the team's locale, currency, region (else TeamDefaults')
    # setup: /add Greta         sent first, in every row's team (one line per message)

In a message, \\uXXXX stands for that character (the invisible ones), and {de.intl} for a
phone number: the installed phonenumbers' own example for the region (de, de-mobile,
fr-mobile, us, ...), in one of the forms of tests/phones.py's `typed` (intl, national,
e164, trunk, slash, ...), so that no row depends on one release's numbering plans; and
{berlin.commas} for Berlin's coordinates as the installed gazetteer has them, typed with
decimal commas (or comma-pair, degrees, semicolon). Every row runs in a team of its own,
so that no row sees another's records.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from phonenumbers import PhoneNumberType
from sqlalchemy import Engine

from bot.geocoding import OfflineGeocoder
from handlers import build_registry
from handlers.context import Request, TeamDefaults
from handlers.dispatcher import Dispatcher
from storage.db import make_engine
from storage.models import Platform
from tests.conftest import POSTGRES_URL, Clock, _truncate_all
from tests.handlers.stored import last_contact, last_deal, last_reminder, team_of
from tests.phones import example, typed
from tests.towns import BERLIN, point

CORPUS = Path(__file__).parent / "corpus"
FIXED_LINE, MOBILE = PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE
READERS: dict[str, Callable[[Engine, int], dict[str, str]]] = {
    "contact": last_contact,
    "deal": last_deal,
    "reminder": last_reminder,
    "nothing": lambda engine, team_id: {},
}
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_PHONE = re.compile(r"\{([a-z]{2})(-mobile)?\.([a-z0-9-]+)\}")
_BERLIN = re.compile(r"\{berlin\.([a-z-]+)\}")


@dataclass(frozen=True)
class Row:
    sheet: str
    line: int
    message: str
    fields: dict[str, str]
    reply: str
    reads: str
    team: TeamDefaults
    setup: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.sheet}:{self.line}"


@dataclass
class _Sheet:
    name: str
    reads: str = "nothing"
    team: TeamDefaults = field(default_factory=lambda: TeamDefaults(open_signup=True))
    setup: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)


def load(path: Path) -> list[Row]:
    sheet = _Sheet(path.name)
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            _setting(sheet, line[1:].strip())
            continue
        cells = line.split("\t")
        if not sheet.header:
            sheet.header = cells
            assert cells[0] == "message" and cells[-1] == "reply", path
            continue
        assert len(cells) <= len(sheet.header), f"{path.name}:{number}: too many cells"
        cells += [""] * (len(sheet.header) - len(cells))
        values = dict(zip(sheet.header, (cell.strip() for cell in cells), strict=True))
        rows.append(
            Row(
                sheet=path.name,
                line=number,
                message=_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), _phones(cells[0])),
                fields={k: _phones(v) for k, v in values.items() if k not in ("message", "reply")},
                reply=_phones(values["reply"]),
                reads=sheet.reads,
                team=sheet.team,
                setup=tuple(sheet.setup),
            )
        )
    return rows


def _setting(sheet: _Sheet, text: str) -> None:
    name, _, value = text.partition(":")
    if name == "reads":
        assert value.strip() in READERS, text
        sheet.reads = value.strip()
    elif name == "team":
        settings = dict(part.split("=", 1) for part in value.split())
        team = sheet.team
        sheet.team = replace(
            team,
            locale=settings.pop("locale", team.locale),
            currency=settings.pop("currency", team.currency),
            region=settings.pop("region", team.region),
        )
        assert not settings, f"unknown team settings {settings}"
    elif name == "setup":
        sheet.setup.append(_phones(value.strip()))


def _phones(text: str) -> str:
    text = _BERLIN.sub(lambda m: _point(point(BERLIN), m.group(1)), text)
    return _PHONE.sub(
        lambda m: typed(
            example(m.group(1).upper(), MOBILE if m.group(2) else FIXED_LINE), m.group(3)
        ),
        text,
    )


def _point(where: tuple[float, float], form: str) -> str:
    lat, lon = (f"{value:.2f}" for value in where)
    forms = {
        "commas": f"{lat} {lon}".replace(".", ","),
        "comma-pair": f"{lat}, {lon}",
        "degrees": f"{lat}°N {lon}°E",
        "semicolon": f"{lat}; {lon}".replace(".", ","),
    }
    return forms[form]


ROWS = [row for path in sorted(CORPUS.glob("*.tsv")) for row in load(path)]


def test_the_corpus_is_big_enough() -> None:
    assert len(ROWS) >= 300
    assert len({row.message for row in ROWS}) == len(ROWS), "a message is there twice"


@dataclass
class _Bots:
    """One database for the module; one dispatcher per team settings; a new user, and
    so a new team, per row."""

    engine: Engine
    clock: Clock
    dispatchers: dict[TeamDefaults, Dispatcher] = field(default_factory=dict)

    def send(self, row: Row, text: str) -> tuple[str, bool]:
        dispatcher = self.dispatchers.get(row.team)
        if dispatcher is None:
            dispatcher = Dispatcher(
                self.engine,
                build_registry(),
                defaults=row.team,
                clock=self.clock,
                geocoder=OfflineGeocoder(),
            )
            self.dispatchers[row.team] = dispatcher
        reply = dispatcher.handle_sync(
            Request(
                platform=Platform.telegram,
                user_id=_user(row),
                user_name="Rita",
                chat_id=_user(row),
                text=text,
            )
        )
        assert reply is not None
        return reply.plain_text, reply.error


def _user(row: Row) -> str:
    return f"{row.sheet}-{row.line}"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def bots(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[_Bots]:
    if request.param == "postgres":
        if not POSTGRES_URL:
            pytest.skip("CRM_TEST_POSTGRES_URL is not set")
        engine: Engine = request.getfixturevalue("postgres_engine")
        _truncate_all(engine)
    else:
        path = tmp_path_factory.mktemp("corpus") / "crm.db"
        shutil.copy(sqlite_template, path)
        engine = make_engine(f"sqlite:///{path}")
    found = _Bots(engine, Clock())
    yield found
    for dispatcher in found.dispatchers.values():
        dispatcher.close()
    if request.param == "sqlite":
        engine.dispose()


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_corpus(bots: _Bots, row: Row) -> None:
    welcome, _ = bots.send(row, "/start Corpus")
    assert "created the team" in welcome
    for text in row.setup:
        answer, error = bots.send(row, text)
        assert not error, f"setup {text!r}: {answer}"
    answer, error = bots.send(row, row.message)
    if row.reply:
        assert row.reply in answer, answer
    else:
        assert not error, answer
    stored = READERS[row.reads](bots.engine, team_of(bots.engine, _user(row)))
    assert {name: stored.get(name, "") for name in row.fields} == row.fields, answer
