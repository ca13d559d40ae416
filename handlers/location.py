"""Location: who is near me, and in which order to visit them.

A shared location (Telegram's, or /location LAT LON in the terminal) is remembered as the
member's position and answered with the prospects around it; /nearby searches around it
or around a named place; /route orders the nearest open prospects into a short round.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handlers.activities import FRESH_LOCATION, record_activity
from handlers.cards import SHOW_BUTTON
from handlers.contacts import parse_limit, wanted_statuses
from handlers.context import Context
from handlers.errors import CommandError, UsageError
from handlers.format import ago, contact_ref, distance, map_url, money
from handlers.grammar import Args, parse_coordinates
from handlers.places import GeocoderUnavailable, find_place
from handlers.refs import CONTACT, resolve
from handlers.registry import Registry
from handlers.reply import Button, Reply, bold, link
from storage.activities import latest_touches, visited_since
from storage.contacts import companies_by_ids, contacts_by_ids, lock_record, tags_of
from storage.deals import open_value_by_contact
from storage.models import ActivityKind, Contact, ContactStatus
from storage.nearby import MAX_RADIUS_KM, Near, distance_km
from storage.nearby import nearby as nearby_contacts

if TYPE_CHECKING:
    from timezonefinder import TimezoneFinder

VISIT_BUTTON, ROUTE_BUTTON = "vi", "ro"
DEFAULT_RADIUS_KM = 10.0
DEFAULT_LIMIT, MOST_RESULTS = 5, 20
DEFAULT_STOPS, MOST_STOPS = 5, 10
STALE_LOCATION = timedelta(hours=12)
HOW_TO_SHARE = (
    "I don't know where you are yet. Share your location: in Telegram tap 📎 and then "
    "Location (in the terminal: /location 52.52 13.40). Or name a place: "
    "/nearby 20km Munich."
)
_RADIUS = re.compile(r"^(-?\d+(?:[.,]\d+)?)(km|m|mi)?$", re.IGNORECASE)
_UNITS = {"km": 1.0, "m": 0.001, "mi": 1.609344}
# The units written out, after a number and a space (`10 Meilen`, `5 miles`, `20 Kilometer`).
_UNIT_WORDS = {
    **dict.fromkeys(("kilometer", "kilometers", "kilometre", "kilometres", "kilometern"), "km"),
    **dict.fromkeys(("meter", "meters", "metre", "metres", "metern"), "m"),
    **dict.fromkeys(("mile", "miles", "meile", "meilen"), "mi"),
    **{unit: unit for unit in _UNITS},
}
_TOUCHED = {
    ActivityKind.note: "noted",
    ActivityKind.call: "called",
    ActivityKind.meeting: "met",
    ActivityKind.visit: "visited",
}


@dataclass(frozen=True, slots=True)
class Origin:
    lat: float
    lon: float
    label: str
    place: str = ""  # as typed, when the search is around a named place


def nearby(ctx: Context, args: Args) -> Reply:
    """Prospects near you or near a place, nearest first.

    /nearby [RADIUS] [PLACE] [#tag] [status:S] [limit:N]

    Around your last shared location (share it in Telegram, or /location LAT LON in the
    terminal), around a place: /nearby 20km Munich, /nearby Paris, TX, or around a point:
    /nearby 52.52 13.40 (decimal commas work too: 52,52 13,40). The radius is
    10km unless you say (500m, 2.5km, 3mi, 10 miles; at most 500km). Leads and qualified contacts
    unless status: says otherwise (status:all for everyone); the nearest 5 unless limit:.
    """
    words = list(args.words)
    point = _take_coordinates(words)
    radius = _take_radius(words) or DEFAULT_RADIUS_KM
    if len(args.tags) > 1:
        raise UsageError("One #tag at a time, please.")
    statuses = wanted_statuses(args.option("status"))
    limit = parse_limit(args.option("limit"), default=DEFAULT_LIMIT, most=MOST_RESULTS)
    if point is not None:
        if words:
            raise UsageError(
                f"Around {point.label} or around “{' '.join(words)}”? Give one of them."
            )
        origin = point
    elif words:
        origin = _place_origin(ctx, " ".join(_without_lead_in(words)))
    else:
        mine = _my_origin(ctx)
        if mine is None:
            return Reply().add(HOW_TO_SHARE)
        origin = mine
    return _nearby_reply(ctx, origin, radius, statuses, args.tags[0] if args.tags else None, limit)


def shared_location(ctx: Context) -> Reply:
    """A location shared from a phone (or /location in the terminal): remembered as yours
    and answered with the prospects around it."""
    location = ctx.request.location
    assert location is not None
    lat, lon = location
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise UsageError("That is not a place on Earth: latitude is -90..90, longitude -180..180.")
    me = ctx.me
    me.lat, me.lon, me.located_at = lat, lon, ctx.now
    hours = int(FRESH_LOCATION.total_seconds() // 3600)
    reply = Reply().add(f"Got your location; visits you log in the next {hours} hours carry it.")
    if me.timezone is None and (zone := timezone_at(lat, lon)) is not None:
        me.timezone = zone
        reply.muted(f"Your time zone is now {zone}, from where you are.")
    ctx.session.add(me)
    origin = Origin(lat, lon, "you")
    return reply.blank().extend(
        _nearby_reply(ctx, origin, DEFAULT_RADIUS_KM, wanted_statuses(None), None, DEFAULT_LIMIT)
    )


def route(ctx: Context, args: Args) -> Reply:
    """A visiting order through the nearest open prospects, from where you are.

    /route [N] [#tag]

    The N nearest leads and qualified contacts (5 unless you say, at most 10) within
    500km of your shared location, skipping those you visited today, in the order that
    keeps the drive short: nearest neighbour first, then improved by 2-opt. Each leg, the
    total, and how much shorter it is than visiting them nearest first.
    """
    if len(args.words) > 1 or (args.words and not args.words[0].isdigit()):
        raise UsageError(f"I don't understand “{args.rest}” here: give a number of stops.")
    stops = int(args.words[0]) if args.words else DEFAULT_STOPS
    if not 1 <= stops <= MOST_STOPS:
        raise UsageError(f"A route has 1 to {MOST_STOPS} stops.")
    if len(args.tags) > 1:
        raise UsageError("One #tag at a time, please.")
    return _route_reply(ctx, stops, args.tags[0] if args.tags else None)


def press_visit(ctx: Context, args: tuple[str, ...]) -> Reply:
    """The "Log visit" button: a visit to that contact, now, where you are."""
    record, _ = resolve(ctx, list(args[:1]), (CONTACT,), whole=True)
    assert isinstance(record, Contact) and record.id is not None
    # A second tap (or one at once from another chat) is the same visit, logged once.
    lock_record(ctx.session, target="contact", target_id=record.id)
    visited = visited_since(
        ctx.session, team_id=ctx.team_id, member_id=ctx.member_id, since=_start_of_today(ctx)
    )
    if record.id in visited:
        return Reply().add(f"Your visit to {record.name} today is logged already.")
    reply = record_activity(ctx, record, ActivityKind.visit, "")
    reply.muted(f"Add what was said with /note {contact_ref(record)} …")
    return reply.button_row(Button("Route through the rest", ROUTE_BUTTON))


def _start_of_today(ctx: Context) -> datetime:
    return datetime.combine(ctx.now.astimezone(ctx.tz).date(), time(), ctx.tz)


def press_route(ctx: Context, args: tuple[str, ...]) -> Reply:
    return _route_reply(ctx, DEFAULT_STOPS, None)


# --- answers ---------------------------------------------------------------------------


def _nearby_reply(
    ctx: Context,
    origin: Origin,
    radius: float,
    statuses: Sequence[str],
    tag: str | None,
    limit: int,
) -> Reply:
    found = nearby_contacts(
        ctx.session,
        team_id=ctx.team_id,
        lat=origin.lat,
        lon=origin.lon,
        radius_km=radius,
        limit=limit,
        statuses=statuses,
        tag=tag,
    )
    what = _what(statuses, tag)
    if not found:
        reply = Reply().add(f"No {what} within {distance(radius)} of {origin.label}.")
        if radius < MAX_RADIUS_KM:
            wider = [f"{min(MAX_RADIUS_KM, radius * 5):g}km", origin.place]
            wider.append(f"#{tag}" if tag else "")
            if list(statuses) != wanted_statuses(None):
                everyone = len(statuses) == len(ContactStatus)
                wider.append(f"status:{'all' if everyone else statuses[0]}")
            reply.add(f"Look further with /nearby {' '.join(part for part in wider if part)}.")
        return reply
    reply = Reply().heading(f"Nearest {what} within {distance(radius)} of {origin.label}")
    _list_contacts(ctx, reply, found, legs=None)
    if len(found) == limit and limit < MOST_RESULTS:
        reply.muted(f"The nearest {limit}; limit:{MOST_RESULTS} shows more.")
    return reply


def _route_reply(ctx: Context, stops: int, tag: str | None) -> Reply:
    origin = _my_origin(ctx)
    if origin is None:
        return Reply().add(HOW_TO_SHARE)
    visited = visited_since(
        ctx.session, team_id=ctx.team_id, member_id=ctx.member_id, since=_start_of_today(ctx)
    )
    found = nearby_contacts(
        ctx.session,
        team_id=ctx.team_id,
        lat=origin.lat,
        lon=origin.lon,
        radius_km=MAX_RADIUS_KM,
        limit=stops,
        statuses=wanted_statuses(None),
        tag=tag,
        exclude_ids=visited,
    )
    skipped = (
        f"Skipping {len(visited)} contact{'s' if len(visited) > 1 else ''} you visited today."
        if visited
        else ""
    )
    if not found:
        reply = Reply().add(
            f"No {_what(wanted_statuses(None), tag)} left within "
            f"{distance(MAX_RADIUS_KM)} of {origin.label}."
        )
        return reply.muted(skipped) if skipped else reply
    points = [(origin.lat, origin.lon), *((near.lat, near.lon) for near in found)]
    matrix = _distances(points)
    order = plan_route(matrix)
    total = path_length(matrix, order)
    nearest_first = path_length(matrix, list(range(1, len(points))))
    ordered = [found[i - 1] for i in order]
    legs = [matrix[a][b] for a, b in zip([0, *order], order, strict=False)]
    reply = Reply().heading(
        f"Route through {len(found)} prospect{'s' if len(found) > 1 else ''} from "
        f"{origin.label}: {distance(total)}"
    )
    _list_contacts(ctx, reply, ordered, legs=legs)
    if nearest_first - total >= 0.05:
        saved = nearest_first - total
        reply.add(
            f"Nearest first would be {distance(nearest_first)}: this order saves "
            f"{distance(saved)} ({saved / nearest_first:.0%})."
        )
    elif len(found) > 1:
        reply.add("Visiting them nearest first is already the shortest order I found.")
    if skipped:
        reply.muted(skipped)
    return reply


def _list_contacts(
    ctx: Context, reply: Reply, found: Sequence[Near], *, legs: Sequence[float] | None
) -> None:
    """One entry per contact: distance (or the leg to it), who, where, status, tags, open
    deals, last touch, a map link; buttons to open the card and to log a visit."""
    assert ctx.team is not None
    ids = [near.contact_id for near in found]
    contacts = {c.id: c for c in contacts_by_ids(ctx.session, team_id=ctx.team_id, ids=ids)}
    companies = companies_by_ids(
        ctx.session,
        team_id=ctx.team_id,
        ids=[c.company_id for c in contacts.values() if c.company_id],
    )
    tags = tags_of(ctx.session, team_id=ctx.team_id, target="contact", ids=ids)
    values = open_value_by_contact(ctx.session, team_id=ctx.team_id, contact_ids=ids)
    touches = latest_touches(ctx.session, team_id=ctx.team_id, contact_ids=ids)
    for number, near in enumerate(found, 1):
        contact = contacts[near.contact_id]
        ref = contact_ref(contact)
        company = companies.get(contact.company_id or 0)
        how_far = f"+{distance(legs[number - 1])}" if legs is not None else distance(near.km)
        reply.item(
            f"{number}. " if legs is not None else "",
            bold(how_far),
            "  ",
            bold(contact.name),
            f" ({ref})",
            f" · {company.name}" if company else "",
        )
        details = [contact.city or "", contact.status]
        details.append(" ".join(f"#{t}" for t in tags.get(near.contact_id, [])))
        open_value = values.get(near.contact_id)
        if open_value:
            amounts = " + ".join(
                money(amount, currency, ctx.team.locale) for currency, amount in open_value.items()
            )
            details.append(f"{amounts} open")
        touch = touches.get(near.contact_id)
        details.append(
            f"{_TOUCHED[ActivityKind(touch.kind)]} {ago(touch.at, ctx.now)}"
            if touch
            else "not contacted yet"
        )
        reply.muted(
            " · ".join(part for part in details if part),
            " · ",
            link("map", map_url(near.lat, near.lon)),
        )
        reply.button_row(
            Button(f"Open {ref}", SHOW_BUTTON, (ref,)),
            Button(f"Log visit {ref}", VISIT_BUTTON, (ref,)),
        )


def _what(statuses: Sequence[str], tag: str | None) -> str:
    if list(statuses) == wanted_statuses(None):
        what = "prospects"
    elif len(statuses) == len(ContactStatus):
        what = "contacts"
    else:
        what = f"{statuses[0]} contacts"
    return f"#{tag} {what}" if tag else what


# --- where from ------------------------------------------------------------------------


def _take_coordinates(words: list[str]) -> Origin | None:
    """Coordinates typed among the words (`52.52 13.40`, `52,52 13,40`), taken out of them."""
    for start in range(len(words)):
        for end in range(min(len(words), start + 4), start, -1):
            typed = " ".join(words[start:end])
            found = parse_coordinates(typed)
            if found is not None:
                del words[start:end]
                return Origin(found[0], found[1], typed, typed)
    return None


# How a place is said after the radius: `/nearby 20 km around Lund`, `im Umkreis von Köln`.
_LEAD_INS = frozenset(["near", "around", "of", "from", "in", "at", "bei", "um", "von", "nahe"])


def _without_lead_in(words: list[str]) -> list[str]:
    """The place's words without the words that lead into it (not a place's own first
    word when nothing follows: `/nearby Nahe` is a river)."""
    start = 0
    while start < len(words) - 1 and words[start].lower() in _LEAD_INS:
        start += 1
    return words[start:]


def _take_radius(words: list[str]) -> float | None:
    """Remove the radius (`10km`, `2.5 km`, `500m`, `3mi`; a bare number first) from the
    words and return it in km."""
    for i, word in enumerate(words):
        match = _RADIUS.match(word)
        if match is None:
            continue
        unit = match.group(2)
        taken = 1
        if unit is None and i + 1 < len(words) and words[i + 1].lower() in _UNIT_WORDS:
            unit, taken = _UNIT_WORDS[words[i + 1].lower()], 2
        if unit is None and i > 0:
            continue  # a bare number later on is part of the place ("Route 66")
        del words[i : i + taken]
        km = float(match.group(1).replace(",", ".")) * _UNITS[(unit or "km").lower()]
        if km <= 0:
            raise UsageError("The radius must be more than 0, e.g. /nearby 5km.")
        if km > MAX_RADIUS_KM:
            raise CommandError(
                f"The radius can be at most {MAX_RADIUS_KM:g} km; you asked for "
                f"{distance(km)}. For a whole region, try /leads city:…"
            )
        return km
    return None


def _my_origin(ctx: Context) -> Origin | None:
    me = ctx.me
    if me.lat is None or me.lon is None or me.located_at is None:
        return None
    label = f"your location (shared {ago(me.located_at, ctx.now)})"
    if ctx.now - me.located_at > STALE_LOCATION:
        label += "; share a fresh one if you have moved"
    return Origin(me.lat, me.lon, label)


def _place_origin(ctx: Context, text: str) -> Origin:
    if len(text) > 200:
        raise CommandError("A place name can be at most 200 characters.")
    if ctx.geocoder is None:
        raise CommandError("No map service is configured here; share your location instead.")
    try:
        place = find_place(ctx.session, ctx.geocoder, text, now=ctx.now)
    except GeocoderUnavailable:
        raise CommandError(
            "The map service did not answer. Try again in a moment, or share your location."
        ) from None
    if place is None:
        raise CommandError(
            f"I could not find a place called “{text}”. Try a town, e.g. /nearby 20km "
            "Munich, or add the country or US state: /nearby Paris, TX."
        )
    return Origin(place.lat, place.lon, place.label, text)


_finder: TimezoneFinder | None = None
_finder_lock = threading.Lock()


def timezone_at(lat: float, lon: float) -> str | None:
    """The IANA time zone at a point on land (None at sea, where zones are nautical)."""
    global _finder
    with _finder_lock:
        if _finder is None:
            # Imported here: timezonefinder brings numpy, 0.3 s of every start otherwise.
            from timezonefinder import TimezoneFinder

            _finder = TimezoneFinder()
        zone = _finder.timezone_at(lat=lat, lng=lon)
    if not zone or zone.startswith("Etc/"):
        return None
    try:
        ZoneInfo(zone)
    except ZoneInfoNotFoundError:
        return None
    return str(zone)


# --- the route -------------------------------------------------------------------------


def _distances(points: Sequence[tuple[float, float]]) -> list[list[float]]:
    matrix = [[0.0] * len(points) for _ in points]
    for i, a in enumerate(points):
        for j in range(i + 1, len(points)):
            matrix[i][j] = matrix[j][i] = distance_km(*a, *points[j])
    return matrix


def path_length(matrix: Sequence[Sequence[float]], order: Sequence[int]) -> float:
    """From point 0 through `order`, not back."""
    total, here = 0.0, 0
    for stop in order:
        total += matrix[here][stop]
        here = stop
    return total


def plan_route(matrix: Sequence[Sequence[float]]) -> list[int]:
    """A short open path from point 0 through every other point (a symmetric distance
    matrix): nearest neighbour, then 2-opt. The nearest-first order, improved by 2-opt
    too, competes, so the answer is never longer than visiting them nearest first."""
    stops = list(range(1, len(matrix)))
    nearest_first = sorted(stops, key=lambda stop: (matrix[0][stop], stop))
    tries = [_two_opt(matrix, _nearest_neighbour(matrix)), _two_opt(matrix, nearest_first)]
    return min(tries, key=lambda order: path_length(matrix, order))


def _nearest_neighbour(matrix: Sequence[Sequence[float]]) -> list[int]:
    order: list[int] = []
    left = set(range(1, len(matrix)))
    while left:
        row = matrix[order[-1] if order else 0]
        nearest = min(left, key=lambda stop: (row[stop], stop))
        order.append(nearest)
        left.remove(nearest)
    return order


def _two_opt(matrix: Sequence[Sequence[float]], order: list[int]) -> list[int]:
    """Reverse stretches of the path while that shortens it (the start stays first)."""
    path = [0, *order]
    improved = True
    while improved:
        improved = False
        for i in range(1, len(path) - 1):
            for j in range(i + 1, len(path)):
                before, first, last = path[i - 1], path[i], path[j]
                after = path[j + 1] if j + 1 < len(path) else None
                old = matrix[before][first] + (matrix[last][after] if after is not None else 0)
                new = matrix[before][last] + (matrix[first][after] if after is not None else 0)
                if new < old - 1e-9:
                    path[i : j + 1] = reversed(path[i : j + 1])
                    improved = True
    return path[1:]


def register(registry: Registry) -> None:
    registry.command("nearby", nearby, keys=("status", "limit"), aliases=("near",), writes=False)
    registry.command("route", route, writes=False)
    registry.button(VISIT_BUTTON, press_visit, undoable=True)
    registry.button(ROUTE_BUTTON, press_route, writes=False)
    registry.event("location", shared_location)
