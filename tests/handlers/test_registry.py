"""The registry: docstrings are the help, names are unique."""

from __future__ import annotations

import pytest

from handlers import build_registry
from handlers.context import Context
from handlers.grammar import Args
from handlers.registry import Registry
from handlers.reply import Reply


def test_every_command_has_a_summary_and_usage() -> None:
    registry = build_registry()
    for command in registry.commands.values():
        assert command.summary and command.summary.endswith("."), command.name
        assert command.usage and command.usage[0].startswith(f"/{command.name}"), command.name
        # A docstring line that starts with a slash is usage: prose must not (a wrapped
        # "/edit" would be shown as /add's usage after a mistake).
        names = (command.name, *command.aliases)
        for usage in command.usage:
            assert usage.split()[0].lstrip("/") in names, (command.name, usage)
    assert registry.find("search") is registry.commands["find"]
    assert set(registry.events) == {"location", "contact", "file"}
    undoable = {name for name, command in registry.commands.items() if command.undoable}
    assert undoable == {
        *("add", "edit", "tag", "untag"),
        *("deal", "stage", "won", "lost", "reopen"),
        *("note", "call", "meet", "visit", "email"),
        "remind",
        "delete",
    }


def _undocumented(ctx: Context, args: Args) -> Reply:
    return Reply()


def test_commands_need_a_docstring_and_a_unique_name() -> None:
    registry = Registry()
    with pytest.raises(ValueError, match="docstring"):
        registry.command("x", _undocumented)
    registry.command("help", build_registry().commands["help"].func)
    with pytest.raises(ValueError, match="twice"):
        registry.command("help", build_registry().commands["help"].func)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        # Typos: an edit or two away.
        ("pipline", "pipeline"),
        ("dael", "deal"),
        ("remnd", "remind"),
        ("lead", "leads"),
        ("fnd", "find"),
        # The start of one.
        ("pipe", "pipeline"),
        ("remi", "remind"),
        # Words reps type for a command, which spelling alone would send elsewhere
        # (`/forecast` is no /forget, `/contacts` no /stats, `/new` no /near).
        ("forecast", "stats"),
        ("Forecast", "stats"),
        ("contacts", "leads"),
        ("new", "add"),
        ("neu", "add"),
        ("list", "leads"),
        ("report", "stats"),
        # An alias is offered as the command it stands for.
        ("serch", "find"),
    ],
)
def test_an_unknown_command_is_offered_the_one_meant(typed: str, meant: str) -> None:
    assert build_registry().closest(typed) == meant


@pytest.mark.parametrize("typed", ["xyz", "banana", "hello"])
def test_nothing_is_offered_for_what_is_no_command(typed: str) -> None:
    assert build_registry().closest(typed) is None
