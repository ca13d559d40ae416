"""The command and button registry. A command's docstring is its help:

first line   one-line summary (the /help list, Telegram's command menu)
`/...` lines usage, shown after a malformed command
the rest     details and examples, shown by /help NAME
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from storage.models import Role

if TYPE_CHECKING:
    from handlers.context import Context
    from handlers.grammar import Args
    from handlers.reply import Reply

CommandFunc = Callable[["Context", "Args"], "Reply"]
ButtonFunc = Callable[["Context", tuple[str, ...]], "Reply"]
# Non-text input: a shared "location" or "contact" card.
EventFunc = Callable[["Context"], "Reply"]
# Words people type for a command that spelling alone would answer with another (`/forecast`
# is in /stats, not /forget; `/contacts` is no /stats, `/new` no /near): offered, not run.
SAID_FOR = {
    **dict.fromkeys(("new", "neu", "create", "contact", "kontakt"), "add"),
    **dict.fromkeys(("contacts", "kontakte", "list", "people", "customers", "kunden"), "leads"),
    **dict.fromkeys(("forecast", "prognose", "report", "reports", "kpi", "kpis"), "stats"),
    **dict.fromkeys(("dashboard", "funnel", "umsatz"), "pipeline"),
    **dict.fromkeys(("todo", "todos", "tasks", "aufgaben", "termine"), "reminders"),
    **dict.fromkeys(("suche", "lookup"), "find"),
    **dict.fromkeys(("notiz", "log"), "note"),
    **dict.fromkeys(("erinnerung", "erinnern"), "remind"),
}
# How alike a typed name must be to a command's (Damerau-Levenshtein, 0-1) to be offered:
# one slip in four letters (`/dael`, `/fnd`), not half the letters (`/forecast`: /forget).
_ALIKE = 0.6


@dataclass(frozen=True)
class Command:
    name: str
    func: CommandFunc
    family: str
    # None: open to people who are not members yet (/start, /join, /help).
    role: Role | None = Role.rep
    keys: frozenset[str] = frozenset()
    aliases: tuple[str, ...] = ()
    # What the command recognises by shape anywhere in its words (grammar.PHONE, ...).
    shapes: frozenset[str] = frozenset()
    # Its changes go into the undo journal, and its reply gets an Undo button.
    undoable: bool = False
    # False: it only reads, as a rule (dispatcher.py: on SQLite it then takes no lock, and
    # when it does write after all, it is run again as a writer if it has to).
    writes: bool = True

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.func.__doc__ or "")

    @property
    def summary(self) -> str:
        return self.doc.splitlines()[0] if self.doc else ""

    @property
    def usage(self) -> list[str]:
        return [line.strip() for line in self.doc.splitlines() if line.strip().startswith("/")]


@dataclass(frozen=True)
class ButtonAction:
    code: str
    func: ButtonFunc
    role: Role | None = Role.rep
    undoable: bool = False
    writes: bool = True


@dataclass(frozen=True)
class EventAction:
    kind: str
    func: EventFunc
    undoable: bool = False


@dataclass
class Registry:
    commands: dict[str, Command] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    buttons: dict[str, ButtonAction] = field(default_factory=dict)
    events: dict[str, EventAction] = field(default_factory=dict)

    def command(
        self,
        name: str,
        func: CommandFunc,
        *,
        role: Role | None = Role.rep,
        keys: tuple[str, ...] = (),
        aliases: tuple[str, ...] = (),
        shapes: tuple[str, ...] = (),
        undoable: bool = False,
        writes: bool = True,
    ) -> None:
        if not func.__doc__:
            raise ValueError(f"/{name} needs a docstring: it is the command's help")
        if name in self.commands or name in self.aliases:
            raise ValueError(f"/{name} is registered twice")
        family = func.__module__.rsplit(".", 1)[-1]
        self.commands[name] = Command(
            name,
            func,
            family,
            role,
            frozenset(keys),
            aliases,
            frozenset(shapes),
            undoable,
            writes,
        )
        for alias in aliases:
            self.aliases[alias] = name

    def button(
        self,
        code: str,
        func: ButtonFunc,
        *,
        role: Role | None = Role.rep,
        undoable: bool = False,
        writes: bool = True,
    ) -> None:
        if code in self.buttons:
            raise ValueError(f"button action {code!r} is registered twice")
        self.buttons[code] = ButtonAction(code, func, role, undoable, writes)

    def event(self, kind: str, func: EventFunc, *, undoable: bool = False) -> None:
        if kind in self.events:
            raise ValueError(f"event {kind!r} is registered twice")
        self.events[kind] = EventAction(kind, func, undoable)

    def find(self, name: str) -> Command | None:
        return self.commands.get(self.aliases.get(name, name))

    def names(self) -> list[str]:
        return [*self.commands, *self.aliases]

    def closest(self, typed: str) -> str | None:
        """The command someone most likely meant by an unknown `/typed`: the one its word
        stands for, the one it begins (`/pipe`), or one a slip or two away (`/dael`)."""
        typed = typed.lower()
        said = SAID_FOR.get(typed)
        started = [name for name in self.names() if len(typed) >= 3 and name.startswith(typed)]
        match = process.extractOne(
            typed,
            self.names(),
            scorer=DamerauLevenshtein.normalized_similarity,
            score_cutoff=_ALIKE,
        )
        name = said or (started[0] if started else match[0] if match else None)
        command = self.find(name) if name else None
        return command.name if command else None
