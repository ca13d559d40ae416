"""What geocoders answered, and the records still waiting for an answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import Company, Contact, GeocodeCache


def cached_answer(
    session: Session, *, provider: str, query: str, misses_since: datetime
) -> GeocodeCache | None:
    """The stored answer for `query`; a "nothing found" older than `misses_since` is
    ignored (places get added to maps), coordinates are kept for good."""
    row = session.exec(
        select(GeocodeCache).where(GeocodeCache.provider == provider, GeocodeCache.query == query)
    ).first()
    if row is None or (row.lat is None and row.at < misses_since):
        return None
    return row


def remember_answer(
    session: Session,
    *,
    provider: str,
    query: str,
    lat: float | None,
    lon: float | None,
    label: str | None,
    at: datetime,
) -> None:
    """Store (or refresh) the answer for `query`."""
    row = session.exec(
        select(GeocodeCache).where(GeocodeCache.provider == provider, GeocodeCache.query == query)
    ).first()
    if row is None:
        row = GeocodeCache(provider=provider, query=query)
    row.lat, row.lon, row.label, row.at = lat, lon, label, at
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        pass  # another request stored the same answer a moment ago


Placed = Contact | Company


def pending_geocodes(session: Session, *, limit: int) -> list[Placed]:
    """Contacts and companies whose geocoding failed (oldest first), across all teams."""
    contacts = list(
        session.exec(
            select(Contact)
            .where(col(Contact.geocode_pending).is_(True))
            .order_by(col(Contact.id))
            .limit(limit)
        )
    )
    companies = session.exec(
        select(Company)
        .where(col(Company.geocode_pending).is_(True))
        .order_by(col(Company.id))
        .limit(limit - len(contacts))
    )
    return [*contacts, *companies]


def placed(session: Session, *, kind: type[Placed], record_id: int) -> Placed | None:
    """A contact or company by id (any team: the retry job serves every team)."""
    return session.get(Contact, record_id) if kind is Contact else session.get(Company, record_id)
