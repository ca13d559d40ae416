"""What a command raises to answer the user instead of carrying on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


class CommandError(Exception):
    """Bad input or a refused action: the message goes to the user, the transaction is
    rolled back. `show_usage` appends the command's usage lines; `field` names the input
    that was wrong (a form shows the message on that field)."""

    def __init__(self, message: str, *, show_usage: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.show_usage = show_usage
        self.field: str | None = None


@contextmanager
def about(field: str) -> Iterator[None]:
    """Errors raised inside concern the input `field` (the option key, e.g. "email")."""
    try:
        yield
    except CommandError as error:
        error.field = error.field or field
        raise


class UsageError(CommandError):
    """The arguments do not fit the command: say what was wrong and show the usage."""

    def __init__(self, message: str) -> None:
        super().__init__(message, show_usage=True)


class Forbidden(CommandError):
    """The member's role does not allow this."""


@dataclass(frozen=True, slots=True)
class Candidate:
    kind: str  # "contact", "deal", "member", "company"
    id: int
    label: str


class Ambiguous(Exception):
    """A reference matched several records: the user picks one with a button."""

    def __init__(self, ref: str, candidates: list[Candidate]) -> None:
        super().__init__(ref)
        self.ref = ref
        self.candidates = candidates
