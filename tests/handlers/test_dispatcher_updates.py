"""The dispatcher's door: a redelivered update is answered once."""

from __future__ import annotations

from handlers.context import Request
from handlers.dispatcher import Dispatcher
from storage.models import Platform
from tests.conftest import TestBot


def _note(update_id: str) -> Request:
    return Request(
        platform=Platform.telegram,
        user_id="alice",
        user_name="Alice",
        text="/add Jane Doe",
        update_id=update_id,
    )


def test_a_redelivered_update_changes_nothing(testbot: TestBot, dispatcher: Dispatcher) -> None:
    first = dispatcher.handle_sync(_note("u-1"))
    assert first is not None and "Added Jane Doe" in first.plain_text
    assert dispatcher.handle_sync(_note("u-1")) is None  # the same update again
    again = dispatcher.handle_sync(_note("u-2"))  # a new message: the duplicate warning
    assert again is not None and "looks like a contact you already have" in again.plain_text
    # The same id from another platform is another update.
    other = Request(
        platform=Platform.slack, user_id="U1", user_name="Alice", text="/help", update_id="u-1"
    )
    assert dispatcher.handle_sync(other) is not None
