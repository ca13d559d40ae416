"""The undo journal (storage/journal.py) on its own, as an import or a deletion will use it:
record whatever a block of work writes, take it back exactly or not at all."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from storage.contacts import add_tags, get_or_create_company, remove_tags, save_contact
from storage.db import transaction
from storage.journal import (
    KEEP,
    PRUNE_EVERY,
    Recorder,
    UndoConflict,
    Undone,
    recording,
    save_change,
    undo_change,
)
from storage.models import Change, ChangeRow, Company, Contact, ContactTag, Role, Tag
from storage.teams import add_member, create_team
from tests.conftest import START


@dataclass
class Team:
    engine: Engine
    team_id: int
    member_id: int

    def change(
        self, work: Callable[[Session], object], *, label: str = "work", at: datetime = START
    ) -> Change | None:
        """Run `work(session)` recorded, and save it as one change."""
        with transaction(self.engine) as session:
            with recording(session) as recorder:
                work(session)
            return self._save(session, recorder, label, at)

    def _save(
        self, session: Session, recorder: Recorder, label: str, at: datetime
    ) -> Change | None:
        return save_change(
            session, recorder, team_id=self.team_id, member_id=self.member_id, at=at, label=label
        )

    def undo(self, change: Change) -> Undone | None:
        with transaction(self.engine) as session:
            loaded = session.get(Change, change.id)
            assert loaded is not None
            return undo_change(session, change=loaded, now=START + timedelta(minutes=1))

    def contact(self, session: Session, name: str, **fields: object) -> Contact:
        contact = Contact(team_id=self.team_id, owner_id=self.member_id, name=name, name_key="")
        for key, value in fields.items():
            setattr(contact, key, value)
        return save_contact(session, contact=contact)

    def contacts(self) -> list[Contact]:
        with Session(self.engine) as session:
            return list(session.exec(select(Contact).order_by(col(Contact.id))))


@pytest.fixture
def team(engine: Engine) -> Iterator[Team]:
    with transaction(engine) as session:
        made = create_team(
            session,
            name="Acme",
            currency="EUR",
            timezone="UTC",
            locale="en_US",
            region="DE",
            now=START,
        )
        assert made.id is not None
        member = add_member(
            session,
            team_id=made.id,
            name="Alice",
            role=Role.admin,
            platform="console",
            external_id="alice",
            now=START,
        )
        assert member.id is not None
    yield Team(engine, made.id, member.id)


def test_inserts_updates_and_deletes_are_taken_back(team: Team) -> None:
    def setup(session: Session) -> None:
        jane = team.contact(session, "Jane Doe", city="Berlin")
        assert jane.id is not None
        add_tags(session, team_id=team.team_id, target="contact", target_id=jane.id, names=["hot"])

    team.change(setup)

    def work(session: Session) -> None:
        jane = session.exec(select(Contact)).one()
        jane.city, jane.title = "Munich", "CTO"
        save_contact(session, contact=jane)
        assert jane.id is not None
        remove_tags(
            session, team_id=team.team_id, target="contact", target_id=jane.id, names=["hot"]
        )
        team.contact(session, "Max Mustermann")

    change = team.change(work, label="several things")
    assert change is not None
    with Session(team.engine) as session:
        rows = session.exec(select(ChangeRow).where(ChangeRow.change_id == change.id)).all()
        kinds = sorted((row.table_name, row.before is None, row.after is None) for row in rows)
    # Jane updated (only the columns that changed), Max inserted, the tag link deleted.
    assert kinds == [
        ("contact", False, False),
        ("contact", True, False),
        ("contacttag", False, True),
    ]
    team.undo(change)
    [jane] = team.contacts()
    assert (jane.name, jane.city, jane.title) == ("Jane Doe", "Berlin", None)
    with Session(team.engine) as session:
        assert len(session.exec(select(ContactTag)).all()) == 1


def test_rows_a_change_inserted_are_stored_together_and_taken_back(team: Team) -> None:
    def three(session: Session) -> None:
        for i in range(3):
            _person(team, i, session)

    change = team.change(three)
    assert change is not None
    with Session(team.engine) as session:
        [row] = session.exec(select(ChangeRow).where(ChangeRow.change_id == change.id)).all()
    assert (row.table_name, row.row_key, row.before) == ("contact", {"inserted": 3}, None)
    assert row.after is not None and len(row.after["rows"]) == 3

    with transaction(team.engine) as session:
        first = session.exec(select(Contact).order_by(col(Contact.id))).first()
        assert first is not None
        first.city = "Berlin"  # edited since: the undo is refused, by that row
        save_contact(session, contact=first)
    with pytest.raises(UndoConflict) as refused:
        team.undo(change)
    [conflict] = refused.value.conflicts
    assert (conflict.reason, conflict.columns, conflict.values["name"]) == (
        "changed",
        ("city", "city_key"),
        "Person 0",
    )
    with transaction(team.engine) as session:
        first = session.exec(select(Contact).order_by(col(Contact.id))).first()
        assert first is not None
        first.city = None
        save_contact(session, contact=first)
    team.undo(change)
    assert team.contacts() == []


def test_a_change_that_wrote_nothing_is_not_kept(team: Team) -> None:
    def nothing(session: Session) -> None:
        jane = team.contact(session, "Jane Doe")
        session.delete(jane)  # made and gone again: no net change
        session.flush()

    assert team.change(nothing) is None


def test_a_conflict_writes_nothing_at_all(team: Team) -> None:
    def add_two(session: Session) -> None:
        team.contact(session, "Jane Doe")
        team.contact(session, "Max Mustermann")

    change = team.change(add_two)
    assert change is not None

    def edit_max(session: Session) -> None:
        max_ = session.exec(select(Contact).where(Contact.name == "Max Mustermann")).one()
        max_.phone = "+4930123456"
        save_contact(session, contact=max_)

    team.change(edit_max)
    with pytest.raises(UndoConflict) as refused:
        team.undo(change)
    [conflict] = refused.value.conflicts
    assert (conflict.table, conflict.reason, conflict.columns) == (
        "contact",
        "changed",
        ("phone",),
    )
    assert conflict.values["name"] == "Max Mustermann"
    assert [c.name for c in team.contacts()] == ["Jane Doe", "Max Mustermann"]  # neither went


def test_columns_that_move_on_by_themselves_do_not_block(team: Team) -> None:
    def add(session: Session) -> None:
        team.contact(session, "Jane Doe", last_activity_at=START)

    team.change(add)

    def touch(session: Session) -> None:
        jane = session.exec(select(Contact)).one()
        jane.title, jane.last_activity_at = "CTO", START + timedelta(hours=1)
        save_contact(session, contact=jane)

    change = team.change(touch)
    assert change is not None

    def later(session: Session) -> None:
        jane = session.exec(select(Contact)).one()
        jane.last_activity_at, jane.score = START + timedelta(hours=2), 42
        save_contact(session, contact=jane)

    team.change(later)
    team.undo(change)
    [jane] = team.contacts()
    # The title goes back; the later activity stays what it became since.
    assert (jane.title, jane.last_activity_at, jane.score) == (
        None,
        START + timedelta(hours=2),
        42,
    )


def test_a_company_it_made_stays_when_someone_else_uses_it(team: Team) -> None:
    def add(session: Session) -> None:
        company = get_or_create_company(session, team_id=team.team_id, name="Initech", now=START)
        team.contact(session, "Jane Doe", company_id=company.id)

    change = team.change(add)
    assert change is not None

    def colleague(session: Session) -> None:
        company = get_or_create_company(session, team_id=team.team_id, name="Initech", now=START)
        team.contact(session, "Max Mustermann", company_id=company.id)

    team.change(colleague)
    team.undo(change)
    assert [c.name for c in team.contacts()] == ["Max Mustermann"]
    with Session(team.engine) as session:
        assert [c.name for c in session.exec(select(Company))] == ["Initech"]


def test_an_undone_change_is_not_undone_twice(team: Team) -> None:
    change = team.change(lambda session: team.contact(session, "Jane Doe"))
    assert change is not None
    assert team.undo(change) is not None
    assert team.undo(change) is None
    assert team.contacts() == []


def test_a_thousand_rows_go_in_one_change(team: Team) -> None:
    """An import's size: more rows than one query reads at a time."""

    def load(session: Session) -> None:
        for i in range(1_100):
            team.contact(session, f"Person {i}")
        tags = ["imported"]
        for contact in session.exec(select(Contact)):
            assert contact.id is not None
            add_tags(
                session, team_id=team.team_id, target="contact", target_id=contact.id, names=tags
            )

    change = team.change(load, label="imported 1100 contacts")
    assert change is not None
    team.undo(change)
    assert team.contacts() == []
    with Session(team.engine) as session:
        assert session.exec(select(func.count()).select_from(Tag)).one() == 0


def _person(team: Team, i: int, session: Session) -> Contact:
    return team.contact(session, f"Person {i}")


def test_old_changes_are_pruned_as_new_ones_are_saved(team: Team) -> None:
    first = team.change(lambda session: team.contact(session, "Jane Doe"), at=START)
    assert first is not None
    later = START + KEEP + timedelta(minutes=1)
    for i in range(PRUNE_EVERY):
        team.change(partial(_person, team, i), at=later)
    with Session(team.engine) as session:
        assert session.get(Change, first.id) is None
        assert session.exec(select(func.count()).select_from(Change)).one() == PRUNE_EVERY
        rows = session.exec(select(ChangeRow).where(ChangeRow.change_id == first.id)).all()
        assert rows == []
