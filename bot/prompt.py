"""The interactive chat's line editor (prompt_toolkit): loaded only when a person types, so
that a piped chat and `crmbot run` do not pay for it."""

from __future__ import annotations

from collections.abc import Iterable

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion, WordCompleter
from prompt_toolkit.document import Document
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

from bot.console import ConsoleChat, command_names
from handlers.registry import Registry


class CommandCompleter(Completer):
    """Tab completes the command a line starts with (`/de` offers /deal and /deals, each
    with its summary), and nothing in the words after it."""

    def __init__(self, commands: dict[str, str]) -> None:
        self._words = WordCompleter(
            sorted(commands), meta_dict=commands, WORD=True, ignore_case=True
        )

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        if " " not in document.text_before_cursor.lstrip():
            yield from self._words.get_completions(document, complete_event)


class LineDropped(Exception):
    """Ctrl-C on a half-typed line."""


def prompt_session(registry: Registry) -> PromptSession[str]:
    """The line editor of an interactive chat: emacs keys, history in memory, Tab
    completion of commands, and Ctrl-C as in a shell."""
    keys = KeyBindings()

    @keys.add("c-c")
    @keys.add("<sigint>")
    def _interrupt(event: KeyPressEvent) -> None:
        # A shell's Ctrl-C: drop the line being typed; on an empty line, end the chat.
        if event.app.current_buffer.text:
            event.app.exit(exception=LineDropped(), style="class:aborting")
        else:
            event.app.exit(exception=EOFError(), style="class:exiting")

    return PromptSession(
        completer=CommandCompleter(command_names(registry)),
        complete_while_typing=False,
        key_bindings=keys,
    )


async def prompt_lines(chat: ConsoleChat, session: PromptSession[str]) -> None:
    while True:
        try:
            line = await session.prompt_async(f"{chat.user}> ")
        except LineDropped:
            continue
        except EOFError:
            return
        await chat.say(line)
