"""What the bot does, platform-neutral: one module per command family."""

from __future__ import annotations

from handlers.registry import Registry


def build_registry() -> Registry:
    """Every command, button and event handler, registered explicitly, family by family."""
    # Imported here, not with the package: a process that only needs a part of it (the
    # chart helper, a platform connecting before its first poll) does not pay for all.
    from handlers import (
        activities,
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
        imports,
        exports,
        cleanup,
        undo,
    )
    for family in families:
        family.register(registry)
    return registry
