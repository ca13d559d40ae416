"""What the bot does, platform-neutral: one module per command family."""

from __future__ import annotations

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

FAMILIES = (
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


def build_registry() -> Registry:
    """Every command, button and event handler, registered explicitly, family by family."""
    registry = Registry()
    for family in FAMILIES:
        family.register(registry)
    return registry
