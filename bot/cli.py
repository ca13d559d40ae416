"""`crmbot`: the command line (typer; `crmbot --help` and each command's `--help`).

Each command imports what it runs when it runs: `crmbot --help` loads typer and nothing of
the bot, `crmbot chat` no Telegram, Slack or web server (tests/bot/test_startup.py).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bot.config import LogLevel, Settings
    from bot.runtime import Adapter
    from bot.telegram_polling import Polling
    from handlers.context import TeamDefaults
    from handlers.dispatcher import Dispatcher
    from handlers.places import Geocoder
    from handlers.reply import Reply


def _untyped_flags(params: list[Any]) -> list[Any]:
    # Typer 0.29's rich help prints a flag's type beside it (`--demo <bool>`), as if the flag
    # took a value; an empty metavar leaves that column blank (older typers print none).
    for param in params:
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif isinstance(param, TyperArgument):
            # An argument's metavar (FILE) says what goes in it; `<str>` beside it, nothing.
            param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
    return params


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))


class _Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))


def _examples(*examples: tuple[str, str]) -> str:
    """A help epilog (Markdown): each example command and what it does."""
    return "**Examples**\n\n" + "\n".join(f"- `{command}` — {what}" for command, what in examples)


app = typer.Typer(
    name="crmbot",
    cls=_Group,
    help="A CRM that lives in chat: contacts, deals, reminders and the pipeline, from "
    "Telegram, Slack or this terminal. Settings come from the environment or a .env file "
    "(see .env.example).",
    epilog=_examples(
        ("crmbot chat --demo", "try it here, with a demo team"),
        ("crmbot chat --as Alice", "your own team, in crm.db in this folder"),
        ("crmbot run", "serve Telegram and/or Slack (tokens in .env)"),
        ("crmbot db upgrade", "create or migrate the database"),
        ("crmbot COMMAND --help", "more about one command"),
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)
db_app = typer.Typer(
    cls=_Group,
    help="Create, migrate and tune the database (DATABASE_URL, or --db).",
    epilog=_examples(
        ("crmbot db upgrade", "crm.db, or DATABASE_URL"),
        ("crmbot db upgrade --db postgresql+psycopg://crm@db.example/crm", "PostgreSQL"),
        ("crmbot db optimize", "nightly, e.g. from cron (SQLite)"),
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(db_app, name="db", rich_help_panel="Maintenance")

_SESSION, _STORAGE = "Session", "Storage and log"

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="PATH|URL",
        help="A SQLite file or a database URL (default: DATABASE_URL, else crm.db).",
        rich_help_panel=_STORAGE,
    ),
]


def _show_version(show: bool) -> None:
    if show:
        from importlib.metadata import version

        typer.echo(f"crmbot {version('crmbot')}")
        raise typer.Exit()


@app.callback()
def _main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", help="Show the version and exit.", callback=_show_version, is_eager=True
        ),
    ] = False,
) -> None:
    # Typer takes the options of `crmbot` itself (only --version) from a callback.
    pass


def database_url(db: str | None, settings: Settings) -> str:
    """`--db` as given (a URL, or a path to a SQLite file), else the setting."""
    if not db:
        return settings.database_url
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser()}"


def team_defaults(settings: Settings) -> TeamDefaults:
    from handlers.context import TeamDefaults

    return TeamDefaults(
        currency=settings.default_currency.upper(),
        timezone=settings.default_timezone,
        locale=settings.default_locale,
        region=settings.default_region.upper(),
        open_signup=settings.open_signup,
        import_max_bytes=int(settings.import_max_mb * 1024 * 1024),
        import_max_rows=settings.import_max_rows,
        **({"public_url": settings.public_url} if settings.public_url else {}),
    )


def geocoder(settings: Settings) -> Geocoder:
    """The GEOCODER provider, or a clear exit when its settings do not fit."""
    from bot.geocoding import GeocoderConfigError, make_geocoder, preload

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


def open_database(url: str) -> Engine:
    """The engine for `url`, its schema upgraded and known to be writable; a database
    that cannot be opened or written ends the command with one line saying why."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    from storage.db import check_writable, make_engine, upgrade

    parsed = make_url(url)
    where = url if parsed.password is None else parsed.render_as_string(hide_password=True)
    try:
        engine = make_engine(url)  # makes a SQLite file's directory
    except OSError as error:
        typer.echo(f"crmbot: cannot use the database {where}: {error}", err=True)
        raise typer.Exit(1) from None
    try:
        upgrade(engine)
        check_writable(engine)
    except DBAPIError as error:
        engine.dispose()
        typer.echo(f"crmbot: cannot use the database {where}: {error.orig}", err=True)
        raise typer.Exit(1) from None
    return engine


def configure_logging(
    settings: Settings,
    *,
    level: LogLevel = "INFO",
    log_file: Path | None = None,
    database: str | None = None,
) -> None:
    """The log goes to `log_file`, else LOG_FILE, else stderr; at LOG_LEVEL, else `level`
    (each command's own default; see `Settings.log_level`). No secret of the settings, nor
    the password of `database` (by default DATABASE_URL), appears in it."""
    from bot.logs import Redaction, secrets_of

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
    Redaction(secrets_of(settings, database)).install()
    # Request logs of HTTP clients can carry bot tokens in their URLs.
    for noisy in ("httpx", "httpcore", "sqlalchemy.engine", "alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Its warnings say a run was skipped because the last one still runs: what the jobs'
    # max_instances=1 asks for (bot/scheduler.py), not something to show in a chat.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)


@app.command(
    cls=_Command,
    rich_help_panel="Chat",
    epilog=_examples(
        ("crmbot chat --demo", "a demo team to try things on"),
        ("crmbot chat --as Alice", "chat as Alice (new names join the team)"),
        ("crmbot chat --db team.db --as Bob", "another database"),
        ("echo '/pipeline' | crmbot chat --as Alice", "piped: one reply block a line"),
    ),
)
def chat(
    user: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="NAME",
            help="Who you are; a new name joins the team (default: your login name).",
            rich_help_panel=_SESSION,
        ),
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Start with a demo team, its contacts, deals and reminders.",
            rich_help_panel=_SESSION,
        ),
    ] = False,
    db: DbOption = None,
    log_file: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Write the log to this file (default: LOG_FILE, else warnings on stderr).",
            rich_help_panel=_STORAGE,
        ),
    ] = None,
) -> None:
    """Talk to the CRM in this terminal, one message a line, as in a chat.

    Every command works as in Telegram or Slack: /help lists them. Buttons show as [1] Won
    and a number presses one; /as NAME switches who you are, /location LAT LON shares a
    place. Reminders and announcements print as they fall due. Tab completes a command,
    Ctrl-C drops the line being typed, Ctrl-D (or Ctrl-C on an empty line) quits. Piped,
    it reads stdin to the end and prints one reply block a line, blank-line separated.
    """
    import asyncio
    import getpass
    import io

    from bot.config import get_settings
    from bot.console import CONSOLE_HELP, ConsoleChat, run_console
    from handlers import build_registry
    from handlers.dispatcher import Dispatcher

    settings = get_settings()
    configure_logging(
        settings, level="WARNING", log_file=log_file, database=database_url(db, settings)
    )
    engine = open_database(database_url(db, settings))
    defaults = team_defaults(settings)
    clock = settings.clock()
    if demo:
        from bot.demo import DemoRefused, enter_demo

        try:
            user = enter_demo(engine, defaults=defaults, now=clock(), name=user)
        except DemoRefused as refused:
            typer.echo(str(refused), err=True)
    name = user or getpass.getuser().capitalize() or "Me"
    interactive = sys.stdin.isatty()
    if isinstance(sys.stdin, io.TextIOWrapper):
        # Bytes that are not UTF-8 (a script's Latin-1) become characters the dispatcher
        # drops, with a word in the answer, instead of ending the chat with an error.
        sys.stdin.reconfigure(errors="surrogateescape")
    places = geocoder(settings)
    registry = build_registry()
    dispatcher = Dispatcher(engine, registry, defaults=defaults, geocoder=places, clock=clock)
    console = ConsoleChat(
        dispatcher, name, styled=interactive and sys.stdout.isatty(), files=settings.charts_dir
    )

    def scheduler() -> Adapter:
        """Reminders and announcements print here while the session is open."""
        from bot.scheduler import Scheduler
        from bot.senders import ConsoleSender

        senders = [ConsoleSender(on_reply=console.delivered)]
        return Scheduler(engine, senders, geocoder=places, clock=clock)

    session = None
    if interactive:
        from bot.prompt import prompt_session

        typer.echo(CONSOLE_HELP)
        session = prompt_session(registry)
    try:
        asyncio.run(
            run_console(
                console,
                session=session,
                services=[scheduler],
            )
        )
    except KeyboardInterrupt:
        # Ctrl-C while a reply is on its way (at the prompt it is a key, not a signal).
        typer.echo()
    finally:
        dispatcher.close()
        engine.dispose()


@app.command(
    cls=_Command,
    rich_help_panel="Chat",
    epilog=_examples(
        ("crmbot run", "every platform whose tokens are set"),
        ("crmbot run --port 8080", "Slack's HTTP mode behind your TLS proxy"),
        ("crmbot run --db postgresql+psycopg://crm@db.example/crm", "production database"),
    ),
)
def run(
    db: DbOption = None,
    port: Annotated[
        int,
        typer.Option(
            metavar="PORT",
            help="Port of Slack's HTTP mode (POST /slack/events), when SLACK_APP_TOKEN is unset.",
        ),
    ] = 3000,
) -> None:
    """Serve the team on Telegram and/or Slack, as configured in the environment.

    Telegram (long polling) when TELEGRAM_BOT_TOKEN is set; Slack when SLACK_BOT_TOKEN is,
    in Socket Mode with SLACK_APP_TOKEN, else over HTTP on --port. Reminders,
    announcements and digests go out from here too. Ctrl-C or SIGTERM stops it cleanly.
    """
    import asyncio

    from bot.config import get_settings

    settings = get_settings()
    url = database_url(db, settings)
    configure_logging(settings, database=url)
    if not settings.telegram_bot_token and not settings.slack_configured:
        typer.echo(
            "No chat platform is configured: set TELEGRAM_BOT_TOKEN and/or SLACK_BOT_TOKEN "
            "(see .env.example). To try crmbot without one: crmbot chat --demo",
            err=True,
        )
        raise typer.Exit(2)
    asyncio.run(run_platforms(settings, url, port))


async def run_platforms(settings: Settings, url: str, port: int) -> None:
    """`crmbot run` from its first poll to its shutdown. Telegram's first getUpdates goes
    out first; while it waits, the database is checked and the dispatcher made (importing
    them and the command families is most of a start), and what the poll brought is
    handled from then on, in order. A start that fails confirms none of it to Telegram."""
    import asyncio

    polling = None
    if settings.telegram_bot_token:
        from bot.telegram_polling import Polling

        token = settings.telegram_bot_token.get_secret_value()
        polling = Polling(token, base_url=settings.telegram_api_base_url)
    try:
        if polling is not None:
            await polling.start()
        engine, dispatcher, places = await asyncio.to_thread(_dispatching, settings, url)
        try:
            await _serve(settings, engine, dispatcher, places, polling=polling, port=port)
        finally:
            dispatcher.close()
            engine.dispose()
    finally:
        if polling is not None:
            await polling.stop()  # a no-op once its adapter has stopped it


def _dispatching(settings: Settings, url: str) -> tuple[Engine, Dispatcher, Geocoder]:
    """The database (its schema upgraded), the geocoder and the dispatcher of `crmbot run`;
    the command families are imported once polling has started (the registry's builder)."""
    from handlers import build_registry
    from handlers.dispatcher import Dispatcher

    engine = open_database(url)
    places = geocoder(settings)
    dispatcher = Dispatcher(
        engine,
        build_registry,
        defaults=team_defaults(settings),
        geocoder=places,
        clock=settings.clock(),
    )
    return engine, dispatcher, places


async def _serve(
    settings: Settings,
    engine: Engine,
    dispatcher: Dispatcher,
    places: Geocoder,
    *,
    polling: Polling | None,
    port: int,
) -> None:
    """Serve every configured platform, and the scheduler, until SIGINT or SIGTERM."""
    from bot.runtime import run_adapters
    from bot.scheduler import Scheduler
    from bot.senders import senders_among

    adapters: list[Adapter] = []
    if polling is not None:
        from bot.telegram_adapter import TelegramAdapter

        adapters.append(TelegramAdapter(dispatcher, polling.token, polling=polling))
    if settings.slack_configured:
        from bot.slack_adapter import SlackAdapter  # Bolt is slow to import: only when used

        try:
            adapters.append(SlackAdapter.from_settings(settings, dispatcher, port=port))
        except ValueError as error:
            typer.echo(str(error), err=True)
            raise typer.Exit(2) from None
    # The scheduler sends reminders, announcements and digests through the adapters
    # that can speak first; it starts after them and stops before them.
    services = [
        *adapters,
        Scheduler(engine, senders_among(adapters), geocoder=places, clock=dispatcher.clock),
    ]
    await run_adapters(services)


@app.command(
    cls=_Command,
    rich_help_panel="Chat",
    epilog=_examples(
        ("crmbot serve --port 8081", "behind your TLS proxy (README: Production)"),
        ("crmbot serve --port 8081 --workers 2", "two processes on one port (PostgreSQL)"),
    ),
)
def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option(metavar="ADDRESS", help="Address to listen on.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(metavar="PORT", help="Port to listen on.")] = 8080,
    workers: Annotated[
        int,
        typer.Option(min=1, metavar="N", help="Processes sharing the port (PostgreSQL only)."),
    ] = 1,
) -> None:
    """Production: Telegram's webhook, Slack's events, /healthz and /metrics over HTTP.

    Any number of these processes may share one PostgreSQL database (SQLite: one).
    SIGTERM stops it cleanly: requests in flight are finished, outbox claims given back.
    """
    from bot.config import get_settings
    from bot.serve import supervise, workers_refused

    settings = get_settings()
    url = database_url(db, settings)
    configure_logging(settings, database=url)
    refusal = workers_refused(url, workers)
    if refusal:
        typer.echo(refusal, err=True)
        raise typer.Exit(2)
    open_database(url).dispose()  # upgraded once, before the workers start
    if workers == 1:
        serve_process(url, host, port, False)
    else:
        supervise(workers, serve_process, url, host, port, True)


def serve_process(url: str, host: str, port: int, reuse_port: bool) -> None:
    """One `crmbot serve` process (also the workers' entry point)."""
    import asyncio

    from bot.config import get_settings
    from bot.logs import use_format
    from bot.serve import Listen, build
    from storage.db import make_engine

    settings = get_settings()
    configure_logging(settings, database=url)
    use_format(settings.log_format)
    engine = make_engine(url)
    serving = build(
        settings,
        engine,
        listen=Listen(host, port, reuse_port),
        defaults=team_defaults(settings),
        geocoder=geocoder(settings),
        settle_heap=True,
    )
    try:
        asyncio.run(serving.run())
    finally:
        engine.dispose()


@app.command(
    "import",
    cls=_Command,
    rich_help_panel="Data",
    epilog=_examples(
        ("crmbot import contacts.csv --as Alice", "preview, confirm, import"),
        ("crmbot import hubspot.xlsx --yes", "no question (scripts)"),
        ("crmbot import phone.vcf --db postgresql+psycopg://crm@db/crm", "into PostgreSQL"),
    ),
)
def import_file(
    file: Annotated[
        str, typer.Argument(metavar="FILE", help="A CSV, Excel (.xlsx) or vCard (.vcf) file.")
    ],
    user: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="MEMBER",
            help="Whose import it is (default: your login name).",
            rich_help_panel=_SESSION,
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Import without asking after the preview.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Import contacts and deals from a file, after a preview, as /import does in a chat.

    Columns are recognised by their names (English, German, and the exports of HubSpot,
    Pipedrive, Salesforce, Zoho, Google Contacts and Outlook). Rows that match contacts
    you have fill in their empty fields; the rows left out are saved as a CSV file to fix.
    """
    import getpass
    from dataclasses import replace

    from rich.progress import Progress

    from bot.config import get_settings
    from bot.console import render_text, save_attachment
    from bot.transfer import import_path

    settings = get_settings()
    url = database_url(db, settings)
    configure_logging(settings, level="WARNING", database=url)
    engine = open_database(url)
    path = Path(file).expanduser()
    if not path.is_file():
        typer.echo(f"There is no file {file}.", err=True)
        raise typer.Exit(2)

    def confirm(preview: Reply) -> bool:
        typer.echo(render_text(replace(preview, buttons=[])))
        if yes:
            return True
        if not sys.stdin.isatty():
            typer.echo("Not importing: add --yes to import without being asked.", err=True)
            return False
        return typer.confirm("Import these rows?")

    try:
        with Progress(transient=True) as bar:
            task = bar.add_task("Importing", total=None)
            reply, imported = import_path(
                engine,
                path=path,
                user=user or getpass.getuser().capitalize() or "Me",
                defaults=team_defaults(settings),
                confirm=lambda preview: _paused(bar, confirm, preview),
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                clock=settings.clock(),
            )
    finally:
        engine.dispose()
    if imported:
        saved = [save_attachment(a, settings.charts_dir) for a in reply.attachments]
        typer.echo(render_text(replace(reply, buttons=[]), saved=saved))
    elif reply.error:
        typer.echo(render_text(reply), err=True)
    raise typer.Exit(0 if imported else 1)


@app.command(
    "export",
    cls=_Command,
    rich_help_panel="Data",
    epilog=_examples(
        ("crmbot export --as Alice", "everything, as an Excel workbook, in this folder"),
        ("crmbot export deals --format csv --out backups", "the deals as CSV"),
    ),
)
def export_records(
    what: Annotated[
        str, typer.Argument(metavar="WHAT", help="contacts, deals, activities or all.")
    ] = "all",
    fmt: Annotated[
        str, typer.Option("--format", metavar="xlsx|csv", help="The file format.")
    ] = "xlsx",
    out: Annotated[
        str, typer.Option("--out", metavar="FOLDER", help="Where to write the files.")
    ] = ".",
    user: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="MEMBER",
            help="Whose export (a rep gets their own records; default: your login name).",
            rich_help_panel=_SESSION,
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Export contacts, deals and activities to Excel or CSV files, as /export does.

    Managers and admins get the team's records, reps their own. The rows are written as
    they are read, so a million contacts take no more memory than a thousand.
    """
    import getpass

    from bot.config import get_settings
    from bot.transfer import export_to
    from handlers.exports import FORMATS, KINDS
    from handlers.format import counted

    if what not in (*KINDS, "all") or fmt not in FORMATS:
        typer.echo("WHAT is contacts, deals, activities or all; --format xlsx or csv.", err=True)
        raise typer.Exit(2)
    settings = get_settings()
    url = database_url(db, settings)
    configure_logging(settings, level="WARNING", database=url)
    engine = open_database(url)
    try:
        written = export_to(
            engine,
            folder=Path(out).expanduser(),
            user=user or getpass.getuser().capitalize() or "Me",
            kind=what,
            fmt=fmt,
            clock=settings.clock(),
        )
    finally:
        engine.dispose()
    if isinstance(written, str):
        typer.echo(written, err=True)
        raise typer.Exit(1)
    for path, count in written:
        typer.echo(f"{path}: {counted(count, 'row')}")


def _paused(bar: Any, confirm: Any, preview: Reply) -> bool:
    """Ask with the progress bar stopped, so the question is not drawn over."""
    bar.stop()
    try:
        return bool(confirm(preview))
    finally:
        bar.start()


@db_app.command("upgrade", cls=_Command)
def db_upgrade(db: DbOption = None) -> None:
    """Create the database or bring its schema up to date (chat and run do it too)."""
    from bot.config import get_settings

    settings = get_settings()
    url = database_url(db, settings)
    configure_logging(settings, database=url)
    engine = open_database(url)
    typer.echo("Database schema is up to date.")
    engine.dispose()


@db_app.command("optimize", cls=_Command)
def db_optimize(db: DbOption = None) -> None:
    """Compact the search indexes (SQLite), so name searches stay fast: run it nightly."""
    from bot.config import get_settings
    from storage.db import make_engine, optimize

    settings = get_settings()
    url = database_url(db, settings)
    configure_logging(settings, database=url)
    engine = make_engine(url)
    optimize(engine)
    typer.echo("Search indexes compacted.")
    engine.dispose()


def main() -> None:
    app()
