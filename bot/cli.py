"""`crmbot`: the command line."""

from __future__ import annotations

import asyncio
import getpass
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.config import Settings, get_settings
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


def configure_logging(settings: Settings, *, log_file: Path | None = None) -> None:
    handler: logging.Handler = (
        logging.FileHandler(log_file, encoding="utf-8") if log_file else logging.StreamHandler()
    )
    logging.basicConfig(
        level=settings.log_level.upper(),
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
        Path, typer.Option(help="Where the bot's log goes, so it does not mix with the chat.")
    ] = Path("crmbot.log"),
) -> None:
    """Talk to the CRM in this terminal (one message a line; works piped too)."""
    settings = get_settings()
    configure_logging(settings, log_file=log_file)
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


@app.command()
def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[
        int, typer.Option(min=1, help="Processes sharing the port (PostgreSQL only).")
    ] = 1,
) -> None:
    """Production: webhooks, health, metrics; several processes share one PostgreSQL."""
    from bot.serve import supervise, workers_refused

    settings = get_settings()
    configure_logging(settings)
    url = database_url(db, settings)
    refusal = workers_refused(url, workers)
    if refusal:
        typer.echo(refusal, err=True)
        raise typer.Exit(2)
    engine = make_engine(url)
    upgrade(engine)  # once, before the workers start
    engine.dispose()
    if workers == 1:
        serve_process(url, host, port, False)
    else:
        supervise(workers, serve_process, url, host, port, True)


def serve_process(url: str, host: str, port: int, reuse_port: bool) -> None:
    """One `crmbot serve` process (also the workers' entry point)."""
    from bot.logs import use_format
    from bot.serve import Listen, build

    settings = get_settings()
    configure_logging(settings)
    use_format(settings.log_format)
    engine = make_engine(url)
    serving = build(
        settings,
        engine,
        listen=Listen(host, port, reuse_port),
        defaults=team_defaults(settings),
        geocoder=geocoder(settings),
    )
    try:
        asyncio.run(serving.run())
    finally:
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
