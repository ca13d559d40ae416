"""What the bot does, platform-neutral: one module per command family."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported by the builder: the chart process imports this package too
    from handlers.registry import Registry


def build_registry() -> Registry:
    """Every command, button and event handler, registered explicitly, family by family."""
    # Imported here, not with the package: what imports one module of it (the
    # dispatcher, an adapter) does not pay for every command family until it asks.
    from handlers import (
        activities,
        board,
        channels,
        cleanup,
        contacts,
        deals,
        exports,
        home,
        imports,
        links,
        location,
        notices,
        onboarding,
        pipeline,
        reminders,
        scoring,
        team,
        undo,
    )
    from handlers.registry import Registry

    registry = Registry()
    families = (
        onboarding,
        contacts,
        activities,
        deals,
        pipeline,
        reminders,
        location,
        team,
        links,
        scoring,
        channels,
        notices,
        home,
        board,
        imports,
        exports,
        cleanup,
        undo,
    )
    for family in families:
        family.register(registry)
    return registry
