"""The hot path on the driver: what `core.execute` and `core.load` give is what SQLAlchemy's
own execution and the ORM's loading give, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from storage import core
from storage.db import transaction
from storage.models import Contact, ContactStatus, Member, Role, Team
from storage.teams import add_member, create_team

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


def _team(session: Session) -> Team:
    return create_team(
        session, name="T", currency="EUR", timezone="UTC", locale="en", region="DE", now=START
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
        member = add_member(
            session,
            team_id=team.id or 0,
            name="Al",
            role=Role.admin,
            platform="telegram",
            external_id="al",
            now=START,
        )
        team_id, member_id = team.id, member.id
        core.execute(session, _SET_MEMBER_TEAM, {"m_id": member_id, "t": team_id})
    with pytest.raises(IntegrityError), transaction(engine) as session:
        core.execute(session, _SET_MEMBER_TEAM, {"m_id": member_id, "t": 999_999})
    with transaction(engine) as session:
        assert session.get(Member, member_id).team_id == team_id  # type: ignore[union-attr]


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
        member_id = add_member(
            session,
            team_id=team.id or 0,
            name="Hal",
            role=Role.admin,
            platform="telegram",
            external_id="hal",
            now=START,
        ).id
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
