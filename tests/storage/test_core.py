"""The hot path on the driver: what `core.execute` and `core.load` give is what SQLAlchemy's
own execution and the ORM's loading give, and what its combined statements store is what
the statements they replace stored, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from handlers.scoring import _rules, rules
from storage import core
from storage.contacts import add_tags
from storage.db import transaction
from storage.deals import open_deal
from storage.models import Contact, ContactStatus, Deal, Member, Outbox, Role, Team
from storage.scoring import rescore_contacts, these_contacts, touch_and_rescore
from storage.teams import add_member, create_team, stage_rows

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

_BY_ID = select(Contact).where(col(Contact.id) == bindparam("id"))
_TEAM_BY_ID = select(Team).where(col(Team.id) == bindparam("id"))
_STATUS_OF = select(col(Contact.status), col(Contact.created_at), col(Contact.archived)).where(
    col(Contact.team_id) == bindparam("team_id"), col(Contact.status) == ContactStatus.lead
)
_RENAME = (
    update(Contact).where(col(Contact.id) == bindparam("c_id")).values(name=bindparam("name"))
)
_SET_MEMBER_TEAM = (
    update(Member).where(col(Member.id) == bindparam("m_id")).values(team_id=bindparam("t"))
)


def _contact(session: Session, team: Team, name: str) -> Contact:
    contact = Contact(
        team_id=team.id or 0,
        name=name,
        name_key=name.lower(),
        status=ContactStatus.lead,
        created_at=START,
        updated_at=START,
    )
    session.add(contact)
    session.flush()
    return contact


def _score_and_activity(session: Session, contact_id: int) -> tuple[int, datetime | None]:
    contact = session.get(Contact, contact_id)
    assert contact is not None
    return contact.score, contact.last_activity_at


def _team(session: Session) -> Team:
    return create_team(
        session, name="T", currency="EUR", timezone="UTC", locale="en", region="DE", now=START
    )


def _member(session: Session, team: Team, name: str) -> Member:
    key = name.lower()
    return add_member(
        session,
        team_id=team.id or 0,
        name=name,
        role=Role.admin,
        platform="telegram",
        external_id=key,
        now=START,
    )


def _twice(session: Session, statement: object, params: dict[str, object]) -> list[tuple]:
    """The rows of the second execution, the first on the driver (statements are prepared
    for it when seen again), each compared with SQLAlchemy's own."""
    first = [tuple(row) for row in core.execute(session, statement, params)]  # type: ignore[arg-type]
    second = core.execute(session, statement, params)  # type: ignore[arg-type]
    assert isinstance(second, core.Rows)
    rows = [tuple(row) for row in second]
    assert rows == first
    return rows


def test_rows_on_the_driver_are_converted_as_sqlalchemy_converts_them(engine: Engine) -> None:
    with transaction(engine) as session:
        team = _team(session)
        _contact(session, team, "Anna Weiß 🌻")
        rows = _twice(session, _STATUS_OF, {"team_id": team.id})
    assert rows == [(ContactStatus.lead, START, False)]
    _status, created, archived = rows[0]
    assert created.tzinfo is not None
    assert archived is False


def test_rows_are_named_and_a_write_counts_its_rows(engine: Engine) -> None:
    with transaction(engine) as session:
        team = _team(session)
        contact = _contact(session, team, "Bo")
        _twice(session, _STATUS_OF, {"team_id": team.id})
        row = core.execute(session, _STATUS_OF, {"team_id": team.id}).one()
        assert row.status == ContactStatus.lead
        assert row.archived is False
        for name in ("Bo Ek", "Bo Eklund"):
            changed = core.execute(session, _RENAME, {"c_id": contact.id, "name": name})
        assert isinstance(changed, core.Rows)
        assert changed.rowcount == 1
        session.expire(contact)
        assert contact.name == "Bo Eklund"


def test_a_driver_error_is_sqlalchemys_error_and_the_transaction_rolls_back(
    engine: Engine,
) -> None:
    with transaction(engine) as session:
        team = _team(session)
        member = _member(session, team, "Al")
        team_id, member_id = team.id, member.id
        core.execute(session, _SET_MEMBER_TEAM, {"m_id": member_id, "t": team_id})
    with pytest.raises(IntegrityError), transaction(engine) as session:
        core.execute(session, _SET_MEMBER_TEAM, {"m_id": member_id, "t": 999_999})
    with transaction(engine) as session:
        assert session.get(Member, member_id).team_id == team_id  # type: ignore[union-attr]


def test_driver_writes_in_a_savepoint_that_rolls_back_are_rolled_back(engine: Engine) -> None:
    """A command runs in `begin_nested()`; what it wrote on the driver before it failed
    goes with its savepoint, while what was written before and after it stays."""
    with transaction(engine) as session:
        team = _team(session)
        anna, bo = _contact(session, team, "Anna").id, _contact(session, team, "Bo").id
        for name in ("Bo Ek", "Bo Eklund"):  # the second on the driver
            core.execute(session, _RENAME, {"c_id": bo, "name": name})
    for attempt in range(3):  # on the driver each time
        with transaction(engine) as session:
            core.execute(session, _RENAME, {"c_id": bo, "name": f"Bo {attempt}"})
            with pytest.raises(RuntimeError), session.begin_nested():
                renamed = core.execute(session, _RENAME, {"c_id": anna, "name": "Gone"})
                assert isinstance(renamed, core.Rows)
                raise RuntimeError
        with Session(engine) as session:
            names = [session.get(Contact, i).name for i in (anna, bo)]  # type: ignore[union-attr]
            assert names == ["Anna", f"Bo {attempt}"]


def test_loaded_instances_are_the_sessions_own(engine: Engine) -> None:
    with transaction(engine) as session:
        team = _team(session)
        contact_id = _contact(session, team, "Cai Berg").id
        team_id = team.id
    with transaction(engine) as session:
        for _ in range(2):  # the second on the driver
            (loaded,) = core.load(session, Contact, _BY_ID, {"id": contact_id})
        assert loaded is session.get(Contact, contact_id)
        assert loaded.name == "Cai Berg"
        assert loaded.status == ContactStatus.lead
        assert loaded.created_at == START
        assert not session.is_modified(loaded)
        loaded.name = "Cai Bergström"
        assert session.is_modified(loaded)
        # A row the session holds is not read over its pending change.
        assert core.load(session, Contact, _BY_ID, {"id": contact_id}) == [loaded]
        assert loaded.name == "Cai Bergström"
        (team_loaded,) = core.load(session, Team, _TEAM_BY_ID, {"id": team_id})
        assert team_loaded.weekly_digest is True
    with transaction(engine) as session:
        stored = session.get(Contact, contact_id)
        assert stored is not None and stored.name == "Cai Bergström"


def test_what_the_session_expired_is_read_again(engine: Engine) -> None:
    with transaction(engine) as session:
        team = _team(session)
        contact = _contact(session, team, "Dag")
        core.load(session, Contact, _BY_ID, {"id": contact.id})
        core.execute(session, _RENAME, {"c_id": contact.id, "name": "Dag Hammar"})
        session.expire(contact, ["name"])
        assert core.load(session, Contact, _BY_ID, {"id": contact.id}) == [contact]
        assert "name" in contact.__dict__
        assert contact.name == "Dag Hammar"


_NAME_BY_ID = select(col(Contact.id), col(Contact.name)).where(col(Contact.id) == bindparam("id"))
_MEMBER_AND_TEAM = (
    select(Member, Team)
    .join(Team, col(Team.id) == col(Member.team_id))
    .where(col(Member.id) == bindparam("id"))
)


def test_columns_not_selected_are_read_when_first_asked_for(engine: Engine) -> None:
    with transaction(engine) as session:
        team = _team(session)
        contact_id = _contact(session, team, "Eli Ness").id
    for _ in range(2):  # the second on the driver
        with transaction(engine) as session:
            (loaded,) = core.load(session, Contact, _NAME_BY_ID, {"id": contact_id})
            assert "created_at" not in loaded.__dict__
            assert loaded.name == "Eli Ness"
            assert loaded.created_at == START
            assert not session.is_modified(loaded)


def test_a_pair_of_models_is_loaded_as_the_sessions_own(engine: Engine) -> None:
    with transaction(engine) as session:
        team = _team(session)
        member = add_member(
            session,
            team_id=team.id or 0,
            name="Fay",
            role=Role.admin,
            platform="console",
            external_id="fay",
            now=START,
        )
        member_id, team_id = member.id, team.id
    for round_, name in enumerate(("Fay", "Fay 0")):  # the second on the driver
        with transaction(engine) as session:
            ((member, team),) = core.load_pair(
                session, Member, Team, _MEMBER_AND_TEAM, {"id": member_id}
            )
            assert member is session.get(Member, member_id)
            assert team is session.get(Team, team_id)
            assert (member.name, member.role, team.name, team.id) == (
                name,
                Role.admin,
                "T",
                team_id,
            )
            assert member.created_at == START and team.weekly_digest is True
            assert not session.is_modified(member) and not session.is_modified(team)
            member.name = f"Fay {round_}"
            assert core.load_pair(session, Member, Team, _MEMBER_AND_TEAM, {"id": member_id}) == [
                (member, team)
            ]
            assert member.name == f"Fay {round_}"  # a pending change is not read over
        with transaction(engine) as session:
            assert session.get(Member, member_id).name == f"Fay {round_}"  # type: ignore[union-attr]


def test_a_statement_alone_is_committed_and_a_failed_one_leaves_nothing(engine: Engine) -> None:
    with transaction(engine) as session:
        team = _team(session)
        contact_id = _contact(session, team, "Gus").id
        team_id = team.id
        member_id = _member(session, team, "Hal").id
    for name in ("Gus Ek", "Gus Eklund"):  # the second on the driver
        renamed = core.execute_alone(engine, _RENAME, {"c_id": contact_id, "name": name})
        assert renamed.rowcount == 1
        with transaction(engine) as session:
            assert session.get(Contact, contact_id).name == name  # type: ignore[union-attr]
    for _ in range(2):
        with pytest.raises(IntegrityError):
            core.execute_alone(engine, _SET_MEMBER_TEAM, {"m_id": member_id, "t": 999_999})
    with transaction(engine) as session:
        assert session.get(Member, member_id).team_id == team_id  # type: ignore[union-attr]


def test_the_bump_and_the_rescoring_in_one_statement_store_what_two_stored(
    engine: Engine,
) -> None:
    """`touch_and_rescore` (a note, a stage move, a new deal), with the open stages read by
    its statement (`team_rules`), stores the last activity and score that the bump and
    the rescoring stored as two statements."""
    with transaction(engine) as session:
        team = _team(session)
        member_id = _member(session, team, "Al").id or 0
        stages = stage_rows(session, team_id=team.id or 0)
        opening, won = stages[0].id, next(s.id for s in stages if s.kind == "won")
        contact_ids = []
        # Cy's deal is won: not open, no points.
        for name, last, stage_id in (
            ("Ada", None, opening),
            ("Bea", START - timedelta(days=40), opening),
            ("Cy", START, won),
        ):
            contact = _contact(session, team, name)
            contact.email, contact.last_activity_at = f"{name}@example.com", last
            session.flush()
            assert contact.id is not None
            add_tags(
                session, team_id=team.id or 0, target="contact", target_id=contact.id, names=["a"]
            )
            deal = core.new_row(
                Deal,
                team_id=team.id or 0,
                owner_id=member_id,
                title=f"{name}'s deal",
                title_key="",
                stage_id=stage_id,
                amount=2_000_000,
                currency="EUR",
                contact_id=contact.id,
            )
            open_deal(session, deal=deal, member_id=member_id, now=START)
            contact_ids.append(contact.id)
        team_id = team.id
    for days in (0, 3, 20, 60, 200):
        at = START + timedelta(days=days)
        stored = []
        for together in (False, True):
            with transaction(engine) as session:
                held = session.get(Team, team_id)
                assert held is not None
                team_rules = _rules(held.currency, None) if together else rules(session, held)
                for contact_id in contact_ids:
                    touched = session.get(Contact, contact_id)
                    assert touched is not None
                    core.update_row(session, touched, score=0, last_activity_at=START)
                    if together:
                        touch_and_rescore(session, contact=touched, at=at, rules=team_rules)
                    else:
                        core.update_row(session, touched, last_activity_at=at)
                        rescore_contacts(
                            session,
                            team_id=held.id or 0,
                            rules=team_rules,
                            now=at,
                            scope=these_contacts([contact_id]),
                        )
                    assert touched.last_activity_at == at
                session.expire_all()
                stored.append([_score_and_activity(session, c) for c in contact_ids])
        assert stored[0] == stored[1]
        assert all(score > 0 and last == at for score, last in stored[1])
        assert stored[1][0][0] == stored[1][2][0] + 10 + 10  # an open deal, and its value


_TIMESTAMPS = {"stage_entered_at", "last_activity_at", "created_at", "updated_at"}


def test_a_new_row_has_the_values_and_defaults_its_constructor_gives() -> None:
    before = datetime.now(UTC)
    given: dict[str, Any] = {
        "team_id": 3,
        "owner_id": 4,
        "title": "Fleet – 20 cars 🚗",
        "title_key": "",
        "stage_id": 5,
    }
    made, constructed = core.new_row(Deal, **given), Deal(**given)
    assert made.model_dump(exclude=_TIMESTAMPS) == constructed.model_dump(exclude=_TIMESTAMPS)
    assert made.__pydantic_fields_set__ == constructed.__pydantic_fields_set__
    # A default factory runs for each row: its own timestamps, its own payload.
    assert made.created_at.tzinfo is not None
    assert before <= made.created_at <= datetime.now(UTC)
    outbox: dict[str, Any] = {
        "team_id": 3,
        "kind": "won",
        "platform": "telegram",
        "chat_id": "42",
        "dedupe_key": "won:7",
    }
    first, second = core.new_row(Outbox, **outbox), core.new_row(Outbox, **outbox)
    fresh = {"due_at", "created_at"}
    assert first.model_dump(exclude=fresh) == Outbox(**outbox).model_dump(exclude=fresh)
    assert first.payload == {} and first.payload is not second.payload
    with pytest.raises(TypeError, match="needs chat_id"):
        core.new_row(Outbox, **{k: v for k, v in outbox.items() if k != "chat_id"})
    with pytest.raises(TypeError, match="has no field colour"):
        core.new_row(Deal, **given, colour="red")
