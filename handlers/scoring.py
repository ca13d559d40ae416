"""The lead score `/leads` sorts by, with the reasons `/show` gives for it.

The stored score depends only on the contact's own fields and tags, which change only by
writes that rescore it, so it can never go stale.
"""

from __future__ import annotations

from typing import Protocol

from sqlmodel import Session

from storage.contacts import tags_of
from storage.models import Contact, ContactStatus

STATUS_POINTS = {
    ContactStatus.lead: 10,
    ContactStatus.qualified: 30,
    ContactStatus.customer: 20,
    ContactStatus.inactive: 0,
}
TAG_POINTS, MAX_TAGGED = 5, 3
REACHABLE_POINTS = 5


class Scored(Protocol):
    """What the score looks at (a Contact, or a row the bench generator is writing)."""

    @property
    def status(self) -> str: ...
    @property
    def email(self) -> str | None: ...
    @property
    def phone(self) -> str | None: ...


def score_reasons(contact: Scored, tags: list[str]) -> list[tuple[str, int]]:
    """Each part of the score: (why, points)."""
    reasons = [(f"status {contact.status}", STATUS_POINTS.get(ContactStatus(contact.status), 0))]
    if tags:
        counted = min(len(tags), MAX_TAGGED)
        reasons.append((f"{counted} tag{'s' if counted > 1 else ''}", counted * TAG_POINTS))
    if contact.email:
        reasons.append(("has an e-mail", REACHABLE_POINTS))
    if contact.phone:
        reasons.append(("has a phone", REACHABLE_POINTS))
    return reasons


def rescore(session: Session, *, contact: Contact) -> None:
    """Store the contact's current score (after any change that moves it)."""
    assert contact.id is not None
    tags = tags_of(session, team_id=contact.team_id, target="contact", ids=[contact.id]).get(
        contact.id, []
    )
    contact.score = sum(points for _, points in score_reasons(contact, tags))
    session.add(contact)
