"""Contacts near a point, nearest first, without ever scanning the table in Python.

1. A bounding box in SQL on a covering index (team_id, lat_band, lon, lat, status, ...):
   one longitude range per 0.1° latitude band, so the index entries read are about those
   in the box. Across the antimeridian the box is split in two; when the circle reaches a
   pole it spans every longitude.
2. A cheap lower bound of the distance (great circle on a sphere of the Earth's smallest
   radius of curvature) ranks the candidates, and the exact geodesic distance (geographiclib) is
   computed only for those that can still make the cut.
3. The box starts small and grows to the asked radius only while it holds too few
   results, so a dense city answers from a few hundred index entries.

The bounds are exact, not tuned: on the WGS84 ellipsoid every radius of curvature lies
between a(1-e²) (the meridian at the equator) and a/√(1-e²) (at the poles), so a path's
length is at least MIN_RADIUS times its length on the unit sphere of the same latitudes
and longitudes.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

from geographiclib.geodesic import Geodesic
from sqlalchemy import and_, exists, select
from sqlmodel import Session, col

from storage.models import Contact, ContactTag, Tag

MIN_RADIUS_KM = 6335.439  # a(1 - e²), WGS84
MAX_RADIUS_KM = 500.0
# The first box is this fraction of the radius; each next one twice as large.
FIRST_RING = 1 / 16


@dataclass(frozen=True, slots=True)
class Box:
    """Latitude and longitude ranges in degrees, west <= east (never across ±180)."""

    south: float
    north: float
    west: float
    east: float


@dataclass(frozen=True, slots=True)
class Near:
    contact_id: int
    km: float
    lat: float
    lon: float


def bounding_boxes(lat: float, lon: float, radius_km: float) -> list[Box]:
    """One or two boxes that hold every point within `radius_km` (geodesic) of lat/lon."""
    angle = radius_km / MIN_RADIUS_KM  # radians on the unit sphere, an upper bound
    delta = math.degrees(angle)
    south, north = lat - delta, lat + delta
    if north >= 90 or south <= -90:
        return [Box(max(south, -90.0), min(north, 90.0), -180.0, 180.0)]
    # The meridians tangent to the circle (Matuschek, "Finding points within a distance of
    # a latitude/longitude using bounding coordinates").
    spread = math.degrees(math.asin(math.sin(angle) / math.cos(math.radians(lat))))
    west, east = lon - spread, lon + spread
    if west < -180:
        return [Box(south, north, west + 360, 180.0), Box(south, north, -180.0, east)]
    if east > 180:
        return [Box(south, north, west, 180.0), Box(south, north, -180.0, east - 360)]
    return [Box(south, north, west, east)]


def lower_bound_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """A distance never longer than the geodesic one (haversine on the smallest radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * MIN_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


# WGS84 with its axis in kilometres, as geopy's `geodesic` has it (and computes with this
# same library): geopy itself would import every network geocoder it has, aiohttp with them.
_WGS84_KM = Geodesic(6378.137, 1 / 298.257223563)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The geodesic distance on the WGS84 ellipsoid."""
    return float(_WGS84_KM.Inverse(lat1, lon1, lat2, lon2, Geodesic.DISTANCE)["s12"])


def nearby(
    session: Session,
    *,
    team_id: int,
    lat: float,
    lon: float,
    radius_km: float,
    limit: int,
    statuses: Sequence[str],
    tag: str | None = None,
    exclude_ids: Sequence[int] = (),
) -> list[Near]:
    """Up to `limit` contacts within `radius_km`, nearest first."""
    if not 0 < radius_km <= MAX_RADIUS_KM:
        raise ValueError(f"radius {radius_km} km is outside (0, {MAX_RADIUS_KM}]")
    ring = radius_km * FIRST_RING
    while True:
        ring = min(ring, radius_km)
        found = _within(
            session,
            team_id=team_id,
            lat=lat,
            lon=lon,
            radius_km=ring,
            limit=limit,
            statuses=statuses,
            tag=tag,
            exclude_ids=exclude_ids,
        )
        # Enough inside this ring: nothing outside it can be nearer.
        if len(found) >= limit or ring >= radius_km:
            return found
        ring *= 2


def _within(
    session: Session,
    *,
    team_id: int,
    lat: float,
    lon: float,
    radius_km: float,
    limit: int,
    statuses: Sequence[str],
    tag: str | None,
    exclude_ids: Sequence[int],
) -> list[Near]:
    candidates = _candidates(
        session,
        team_id=team_id,
        boxes=bounding_boxes(lat, lon, radius_km),
        statuses=statuses,
        tag=tag,
        exclude_ids=exclude_ids,
    )
    ranked = sorted(
        (bound, contact_id, c_lat, c_lon)
        for contact_id, c_lat, c_lon in candidates
        if (bound := lower_bound_km(lat, lon, c_lat, c_lon)) <= radius_km
    )
    best: list[tuple[float, int, float, float]] = []
    for bound, contact_id, c_lat, c_lon in ranked:
        if len(best) >= limit and bound >= best[limit - 1][0]:
            break  # every candidate left is at least this far
        km = distance_km(lat, lon, c_lat, c_lon)
        if km <= radius_km:
            bisect.insort(best, (km, contact_id, c_lat, c_lon))
    return [Near(contact_id, km, c_lat, c_lon) for km, contact_id, c_lat, c_lon in best[:limit]]


def lat_band(lat: float) -> int:
    """The band of Contact.lat_band (the database computes the same floor)."""
    return math.floor(lat * 10 + 900)


def _candidates(
    session: Session,
    *,
    team_id: int,
    boxes: list[Box],
    statuses: Sequence[str],
    tag: str | None,
    exclude_ids: Sequence[int],
) -> list[tuple[int, float, float]]:
    rows: list[tuple[int, float, float]] = []
    for box in boxes:
        lat_col, lon_col = col(Contact.lat), col(Contact.lon)
        query = select(col(Contact.id), lat_col, lon_col).where(
            col(Contact.team_id) == team_id,
            # One index seek per band on the longitude range, rather than a scan of every
            # longitude in the latitude range (which holds all of Berlin at 52.5°N).
            col(Contact.lat_band).in_(range(lat_band(box.south), lat_band(box.north) + 1)),
            lon_col.between(box.west, box.east),
            lat_col.between(box.south, box.north),
            col(Contact.status).in_(statuses),
            col(Contact.archived).is_(False),
        )
        if exclude_ids:
            query = query.where(col(Contact.id).not_in(exclude_ids))
        if tag:
            query = query.where(
                exists().where(
                    and_(
                        col(ContactTag.contact_id) == col(Contact.id),
                        col(ContactTag.tag_id) == col(Tag.id),
                        col(Tag.team_id) == team_id,
                        col(Tag.name) == tag,
                    )
                )
            )
        rows.extend((row[0], row[1], row[2]) for row in session.execute(query))
    return rows
