"""`crmbot`: the command line."""

from __future__ import annotations

import asyncio
import getpass
import logging
import sys
from pathlib import Path
from typing import Annotated, TextIO

import typer

from bot.config import LogLevel, Settings, get_settings
from bot.console import CONSOLE_HELP, ConsoleChat, run_console
from bot.demo import seed_demo
from bot.geocoding import GeocoderConfigError, make_geocoder, preload
from bot.runtime import Adapter, run_adapters
from bot.scheduler import Scheduler
from bot.senders import ConsoleSender, senders_among
from handlers import build_registry
from handlers.context import TeamDefaults
from handlers.dispatcher import Dispatcher
from handlers.places import Geocoder
from storage.db import make_engine, optimize, upgrade

app = typer.Typer(
    help="crmbot: a CRM that lives in chat.", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database: a SQLite file path or a URL (default: DATABASE_URL)."),
]


def database_url(db: str | None, settings: Settings) -> str:
    """`--db` as given (a URL, or a path to a SQLite file), else the setting."""
    if not db:
        return settings.database_url
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser()}"


def team_defaults(settings: Settings) -> TeamDefaults:
    return TeamDefaults(
        currency=settings.default_currency.upper(),
        timezone=settings.default_timezone,
        locale=settings.default_locale,
        region=settings.default_region.upper(),
        open_signup=settings.open_signup,
    )


def geocoder(settings: Settings) -> Geocoder:
    """The GEOCODER provider, or a clear exit when its settings do not fit."""
    try:
        chosen = make_geocoder(settings)
    except GeocoderConfigError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    preload(chosen)
    return chosen


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes each record to `sys.stderr` as it is at that moment: in an interactive chat
    prompt_toolkit's `patch_stdout` swaps it for a proxy that prints above the prompt."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(
    settings: Settings, *, level: LogLevel = "INFO", log_file: Path | None = None
) -> None:
    """The log goes to `log_file`, else LOG_FILE, else stderr; at LOG_LEVEL, else `level`
    (each command's own default; see `Settings.log_level`)."""
    target = log_file or settings.log_file
    handler: logging.Handler
    if target is None:
        handler = _StderrHandler()
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(target, encoding="utf-8")
    logging.basicConfig(
        level=settings.log_level or level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[handler],
        force=True,
    )
    # Request logs of HTTP clients can carry bot tokens in their URLs.
    for noisy in ("httpx", "httpcore", "sqlalchemy.engine", "alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.command()
def chat(
    user: Annotated[
        str | None, typer.Option("--as", help="Who you are (created on first use).")
    ] = None,
    db: DbOption = None,
    demo: Annotated[bool, typer.Option("--demo", help="Seed a demo team first.")] = False,
    log_file: Annotated[
        Path | None,
        typer.Option(help="Write the log to this file (default: LOG_FILE, else stderr)."),
    ] = None,
) -> None:
    """Talk to the CRM in this terminal (one message a line; works piped too)."""
    settings = get_settings()
    configure_logging(settings, level="WARNING", log_file=log_file)
    engine = make_engine(database_url(db, settings))
    upgrade(engine)
    defaults = team_defaults(settings)
    if demo:
        admin = seed_demo(engine, defaults=defaults)
        if admin is None:
            typer.echo("The database already has a team; not adding demo data.", err=True)
        user = user or admin
    name = user or getpass.getuser().capitalize() or "Me"
    interactive = sys.stdin.isatty()
    places = geocoder(settings)
    dispatcher = Dispatcher(engine, build_registry(), defaults=defaults, geocoder=places)
    console = ConsoleChat(
        dispatcher, name, styled=interactive and sys.stdout.isatty(), files=settings.charts_dir
    )
    # Reminders and announcements print here while the session is open.
    scheduler = Scheduler(engine, [ConsoleSender(on_reply=console.delivered)], geocoder=places)
    if interactive:
        import readline  # noqa: F401  (history and line editing for input())

        typer.echo(CONSOLE_HELP)
    try:
        asyncio.run(
            run_console(
                console,
                prompt=(lambda: f"{console.user}> ") if interactive else None,
                services=[scheduler],
            )
        )
    except KeyboardInterrupt:
        typer.echo()
    finally:
        dispatcher.close()
        engine.dispose()


@app.command()
def run(
    db: DbOption = None,
    port: Annotated[
        int, typer.Option(help="Port of Slack's HTTP mode (POST /slack/events).")
    ] = 3000,
) -> None:
    """Run the bot on every chat platform configured in the environment."""
    settings = get_settings()
    configure_logging(settings)
    engine = make_engine(database_url(db, settings))
    upgrade(engine)
    places = geocoder(settings)
    dispatcher = Dispatcher(
        engine, build_registry(), defaults=team_defaults(settings), geocoder=places
    )
    adapters: list[Adapter] = []
    if settings.telegram_bot_token:
        from bot.telegram_adapter import TelegramAdapter

        adapters.append(
            TelegramAdapter(
                dispatcher,
                settings.telegram_bot_token.get_secret_value(),
                base_url=settings.telegram_api_base_url,
            )
        )
    if settings.slack_bot_token:
        from bot.slack_adapter import SlackAdapter  # Bolt is slow to import: only when used

        try:
            adapters.append(SlackAdapter.from_settings(settings, dispatcher, port=port))
        except ValueError as error:
            typer.echo(str(error), err=True)
            raise typer.Exit(2) from None
    if not adapters:
        typer.echo(
            "No chat platform is configured: set TELEGRAM_BOT_TOKEN and/or SLACK_BOT_TOKEN "
            "(see .env.example). To try crmbot without one: crmbot chat --demo",
            err=True,
        )
        raise typer.Exit(2)
    # The scheduler sends reminders, announcements and digests through the adapters
    # that can speak first; it starts after them and stops before them.
    services = [*adapters, Scheduler(engine, senders_among(adapters), geocoder=places)]
    try:
        asyncio.run(run_adapters(services))
    finally:
        dispatcher.close()
        engine.dispose()


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Create the database or bring its schema up to date."""
    settings = get_settings()
    configure_logging(settings)
    engine = make_engine(database_url(db, settings))
    upgrade(engine)
    typer.echo("Database schema is up to date.")
    engine.dispose()


@db_app.command("optimize")
def db_optimize(db: DbOption = None) -> None:
    """Compact the search indexes (SQLite), so name searches stay fast; run it nightly."""
    settings = get_settings()
    configure_logging(settings)
    engine = make_engine(database_url(db, settings))
    optimize(engine)
    typer.echo("Search indexes compacted.")
    engine.dispose()


def main() -> None:
    app()
