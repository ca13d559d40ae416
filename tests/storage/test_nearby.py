"""The nearby query: distances, bounding boxes at the awkward places, and results equal to
a brute-force search, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from geopy.distance import geodesic
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, event
from sqlmodel import col, select

from storage.contacts import add_tags
from storage.db import make_engine, transaction, upgrade
from storage.models import Contact, ContactStatus
from storage.nearby import (
    MAX_RADIUS_KM,
    Box,
    bounding_boxes,
    distance_km,
    lat_band,
    lower_bound_km,
    nearby,
)
from storage.teams import create_team
from tests.conftest import START

PROSPECTS = ("lead", "qualified")


def _inside(boxes: list[Box], lat: float, lon: float) -> bool:
    return any(b.south <= lat <= b.north and b.west <= lon <= b.east for b in boxes)


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [
        # A quarter of the equator: a·π/2 on WGS84.
        ((0.0, 0.0), (0.0, 90.0), 10018.754),
        # Equator to pole along a meridian: the meridian quadrant.
        ((0.0, 0.0), (90.0, 0.0), 10001.966),
        ((90.0, 0.0), (-90.0, 0.0), 20003.931),
        # Newport, RI to Cleveland, OH: 538.39 miles in geopy's documentation.
        ((41.49008, -71.312796), (41.499498, -81.695391), 538.390445 * 1.609344),
        # Across the antimeridian: one degree of longitude at Fiji's latitude.
        ((-17.7, 179.5), (-17.7, -179.5), 106.1),
    ],
)
def test_distances_against_known_pairs(
    a: tuple[float, float], b: tuple[float, float], km: float
) -> None:
    assert distance_km(*a, *b) == pytest.approx(km, abs=0.05)


def test_the_lower_bound_is_close_below_the_geodesic_distance() -> None:
    berlin, munich = (52.52, 13.405), (48.137, 11.575)
    exact = distance_km(*berlin, *munich)
    assert exact == pytest.approx(504.4, abs=0.5)
    assert exact * 0.99 < lower_bound_km(*berlin, *munich) <= exact


def test_the_box_at_the_equator_is_as_wide_as_it_is_tall() -> None:
    [box] = bounding_boxes(0.0, 0.0, 10)
    assert box.north == pytest.approx(-box.south)
    assert box.east == pytest.approx(box.north, rel=1e-6)
    assert box.west == pytest.approx(-box.east)
    # 10 km is 0.0899° of latitude; the box errs on the large side, by less than 1%.
    assert 0.0899 < box.north < 0.0905


def test_the_box_at_fiji_is_split_at_the_antimeridian() -> None:
    boxes = bounding_boxes(-17.7, 179.9, 50)
    assert len(boxes) == 2
    east_of_line, west_of_line = boxes
    assert east_of_line.east == 180.0 and east_of_line.west < 179.9
    assert west_of_line.west == -180.0 and -180 < west_of_line.east < -179.0
    across = (-17.7, -179.8)  # 32 km away, on the other side of the line
    assert distance_km(-17.7, 179.9, *across) < 50
    assert _inside(boxes, *across)


def test_the_box_near_a_pole_spans_every_longitude() -> None:
    [box] = bounding_boxes(89.9, 10.0, 50)
    assert (box.west, box.east, box.north) == (-180.0, 180.0, 90.0)
    assert box.south == pytest.approx(89.9 - 0.452, abs=0.01)
    [southern] = bounding_boxes(-89.95, -120.0, 20)
    assert (southern.south, southern.west, southern.east) == (-90.0, -180.0, 180.0)


@settings(max_examples=300, deadline=None)
@given(
    lat=st.floats(-89.99, 89.99),
    lon=st.floats(-180, 180),
    radius=st.floats(0.01, MAX_RADIUS_KM),
    share=st.floats(0, 1),
    bearing=st.floats(0, 360),
)
def test_every_point_within_the_radius_is_in_a_box(
    lat: float, lon: float, radius: float, share: float, bearing: float
) -> None:
    point = geodesic(kilometers=radius * share).destination((lat, lon), bearing)
    boxes = bounding_boxes(lat, lon, radius)
    assert _inside(boxes, point.latitude, point.longitude)


@settings(max_examples=300, deadline=None)
@given(
    a=st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
    b=st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
)
def test_the_lower_bound_never_exceeds_the_distance(
    a: tuple[float, float], b: tuple[float, float]
) -> None:
    assert lower_bound_km(*a, *b) <= distance_km(*a, *b) + 1e-9


# --- the query ---------------------------------------------------------------------------


def _team(engine: Engine, name: str = "Acme") -> int:
    with transaction(engine) as session:
        team = create_team(
            session,
            name=name,
            currency="EUR",
            timezone="UTC",
            locale="en_US",
            region="DE",
            now=START,
        )
        assert team.id is not None
        return team.id


def _add(
    engine: Engine,
    team_id: int,
    points: list[tuple[float, float]],
    *,
    status: str = "lead",
    archived: bool = False,
) -> list[int]:
    with transaction(engine) as session:
        contacts = [
            Contact(
                team_id=team_id,
                name=f"c{i}",
                name_key=f"c{i}",
                lat=lat,
                lon=lon,
                status=status,
                archived=archived,
            )
            for i, (lat, lon) in enumerate(points)
        ]
        session.add_all(contacts)
        session.flush()
        return [c.id for c in contacts if c.id is not None]


def _brute_force(
    points: dict[int, tuple[float, float]], lat: float, lon: float, radius: float, limit: int
) -> list[int]:
    within = sorted(
        (distance_km(lat, lon, *point), contact_id)
        for contact_id, point in points.items()
        if distance_km(lat, lon, *point) <= radius
    )
    return [contact_id for _, contact_id in within[:limit]]


def test_nearby_equals_a_brute_force_search(engine: Engine) -> None:
    team_id = _team(engine)
    rng = random.Random(7)
    # A dense city, a sparse countryside around it, and a far cluster.
    points = [(52.52 + rng.gauss(0, 0.03), 13.40 + rng.gauss(0, 0.05)) for _ in range(250)]
    points += [(52.52 + rng.uniform(-1, 1), 13.40 + rng.uniform(-1.6, 1.6)) for _ in range(80)]
    points += [(48.14 + rng.gauss(0, 0.02), 11.58 + rng.gauss(0, 0.03)) for _ in range(50)]
    ids = _add(engine, team_id, points)
    by_id = dict(zip(ids, points, strict=True))
    with transaction(engine) as session:
        for lat, lon, radius, limit in [
            (52.52, 13.40, 10, 5),
            (52.52, 13.40, 10, 20),
            (52.52, 13.40, 0.5, 20),
            (52.80, 13.90, 30, 7),
            (51.00, 12.50, 500, 10),
            (50.00, 5.00, 100, 5),
        ]:
            found = nearby(
                session,
                team_id=team_id,
                lat=lat,
                lon=lon,
                radius_km=radius,
                limit=limit,
                statuses=PROSPECTS,
            )
            assert [near.contact_id for near in found] == _brute_force(
                by_id, lat, lon, radius, limit
            )
            assert all(a.km <= b.km for a, b in itertools.pairwise(found))
            for near in found:
                assert near.km == pytest.approx(distance_km(lat, lon, *by_id[near.contact_id]))


def test_nearby_across_the_antimeridian_and_over_the_pole(engine: Engine) -> None:
    team_id = _team(engine)
    suva, across, far = _add(engine, team_id, [(-18.14, 178.44), (-18.0, -179.9), (-18.0, -178)])
    polar, over_the_pole = _add(engine, team_id, [(89.95, 20.0), (89.9, -160.0)])
    with transaction(engine) as session:
        fiji = nearby(
            session,
            team_id=team_id,
            lat=-18.0,
            lon=179.9,
            radius_km=200,
            limit=10,
            statuses=PROSPECTS,
        )
        assert [near.contact_id for near in fiji] == [across, suva]
        north = nearby(
            session,
            team_id=team_id,
            lat=89.92,
            lon=20.0,
            radius_km=50,
            limit=10,
            statuses=PROSPECTS,
        )
        assert [near.contact_id for near in north] == [polar, over_the_pole]
    assert far not in [near.contact_id for near in fiji]


def test_nearby_filters_by_team_status_tag_archive_and_exclusions(engine: Engine) -> None:
    team_id, other_team = _team(engine), _team(engine, "Rivals")
    here = (52.52, 13.40)
    [lead] = _add(engine, team_id, [here])
    [customer] = _add(engine, team_id, [here], status=ContactStatus.customer)
    _add(engine, team_id, [here], archived=True)
    [theirs] = _add(engine, other_team, [here])
    with transaction(engine) as session:
        add_tags(session, team_id=team_id, target="contact", target_id=customer, names=["hot"])
        add_tags(session, team_id=other_team, target="contact", target_id=theirs, names=["hot"])
    everyone = tuple(s.value for s in ContactStatus)

    def ids(
        statuses: tuple[str, ...] = PROSPECTS,
        tag: str | None = None,
        exclude: tuple[int, ...] = (),
    ) -> list[int]:
        with transaction(engine) as session:
            found = nearby(
                session,
                team_id=team_id,
                lat=here[0],
                lon=here[1],
                radius_km=1,
                limit=10,
                statuses=statuses,
                tag=tag,
                exclude_ids=exclude,
            )
            return sorted(near.contact_id for near in found)

    assert ids() == [lead]
    assert ids(everyone) == sorted([lead, customer])  # never the archived one nor theirs
    assert ids(everyone, tag="hot") == [customer]
    assert ids(everyone, exclude=(lead,)) == [customer]


def test_a_radius_outside_the_limits_is_refused(engine: Engine) -> None:
    with transaction(engine) as session, pytest.raises(ValueError):
        nearby(session, team_id=1, lat=0, lon=0, radius_km=501, limit=5, statuses=PROSPECTS)


TRICKY_LATITUDES = [-90.0, -89.95, -17.7, -0.05, -1e-9, 0.0, 0.1, 0.30000000000000004, 52.5]
TRICKY_LATITUDES += [52.59999999999, 52.6, 89.99, 90.0]


def test_the_database_bands_latitudes_as_the_query_does(engine: Engine) -> None:
    team_id = _team(engine)
    ids = _add(engine, team_id, [(lat, 0.0) for lat in TRICKY_LATITUDES])
    with transaction(engine) as session:
        stored = session.exec(
            select(Contact.lat, Contact.lat_band).where(col(Contact.id).in_(ids))
        ).all()
    assert sorted(stored) == sorted((lat, lat_band(lat)) for lat in TRICKY_LATITUDES)
    assert lat_band(-90) == 0 and lat_band(52.55) == 1425


def test_the_box_is_searched_through_the_band_index(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    upgrade(engine)
    statements: list[tuple[str, Sequence[Any]]] = []  # SQLite's parameters are positional

    @event.listens_for(engine, "before_cursor_execute")
    def capture(
        conn: object, cursor: object, sql: str, params: Sequence[Any], *rest: object
    ) -> None:
        statements.append((sql, params))

    with transaction(engine) as session:
        nearby(session, team_id=1, lat=52.5, lon=13.4, radius_km=10, limit=5, statuses=PROSPECTS)
        sql, params = statements[-1]
        plan = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
    assert "ix_contact_team_band_lon (team_id=? AND lat_band=? AND lon>? AND lon<?)" in str(plan)
    engine.dispose()
