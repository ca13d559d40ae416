"""An imported file's rows read into contacts and deals with the parsers the commands use
(phones, e-mails, money, dates, tags, stages), or refused with the reason, by line.

A row is taken as the file meant it or not at all: a phone number that does not parse,
an amount that reads two ways, a stage the pipeline does not have, refuse the row (it
comes back in the file of rejects), rather than being stored as something else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import lru_cache

from babel import Locale

from handlers.columns import Mapping
from handlers.dates import read_day
from handlers.errors import Ambiguous, CommandError
from handlers.grammar import limited, parse_email, parse_phone, read_amount
from handlers.refs import resolve_stage
from handlers.tabular import Row
from storage.imports import ContactRow, DealRow
from storage.keys import company_core, name_key
from storage.models import ContactStatus, Member, Role, Stage, StageKind

# Google Contacts puts several values in one cell between " ::: ".
_MULTI = re.compile(r"\s*:::\s*|\s*;\s*|\s*\|\s*|\n")
_TAG_SEPARATORS = re.compile(r"\s*(?::::|[,;|\n])\s*")
_NOT_TAG = re.compile(r"[^\w\-.]+")
# The statuses other CRMs use (HubSpot's lifecycle stages, Salesforce's and Zoho's lead
# statuses, German words) as this CRM's.
STATUSES = {
    "lead": "lead",
    "subscriber": "lead",
    "new": "lead",
    "open": "lead",
    "open not contacted": "lead",
    "not contacted": "lead",
    "attempted to contact": "lead",
    "contacted": "lead",
    "working contacted": "lead",
    "in progress": "lead",
    "neu": "lead",
    "interessent": "lead",
    "marketing qualified lead": "qualified",
    "marketingqualifiedlead": "qualified",
    "mql": "qualified",
    "sales qualified lead": "qualified",
    "salesqualifiedlead": "qualified",
    "sql": "qualified",
    "qualified": "qualified",
    "opportunity": "qualified",
    "pre qualified": "qualified",
    "qualifiziert": "qualified",
    "customer": "customer",
    "evangelist": "customer",
    "closed converted": "customer",
    "kunde": "customer",
    "inactive": "inactive",
    "unqualified": "inactive",
    "closed not converted": "inactive",
    "junk lead": "inactive",
    "lost lead": "inactive",
    "inaktiv": "inactive",
}


@dataclass(frozen=True)
class Reject:
    line: int
    reason: str
    cells: tuple[str, ...]


@dataclass
class Reader:
    """What reading a row needs to know about the team."""

    mapping: Mapping
    region: str
    currency: str
    locale: str
    tz: tzinfo
    now: datetime
    importer: Member
    members: Sequence[Member]
    stages: Sequence[Stage]

    def read(self, row: Row) -> ContactRow | Reject:
        try:
            return self._read(row)
        except CommandError as error:
            return Reject(row.line, error.message, row.cells)
        except Ambiguous as ambiguous:
            return Reject(row.line, f"“{ambiguous.ref}” can be read more than one way.", row.cells)

    def __post_init__(self) -> None:
        self._columns: dict[str, list[int]] = {}
        for i, name in enumerate(self.mapping.fields):
            if name is not None:
                self._columns.setdefault(name, []).append(i)

    def _values(self, row: Row, name: str) -> list[str]:
        cells = row.cells
        return [cells[i] for i in self._columns.get(name, ()) if i < len(cells) and cells[i]]

    def _first(self, row: Row, name: str) -> str | None:
        values = self._values(row, name)
        return values[0] if values else None

    def _read(self, row: Row) -> ContactRow:
        extra: list[str] = []
        emails = [v for cell in self._values(row, "email") for v in _MULTI.split(cell) if v]
        phones = [v for cell in self._values(row, "phone") for v in _MULTI.split(cell) if v]
        email = parse_email(emails[0]) if emails else None
        country = self._first(row, "country")
        region = region_of(country) if country else None
        phone = parse_phone(phones[0], region or self.region) if phones else None
        extra += [f"Other e-mail: {e}" for e in dict.fromkeys(emails[1:]) if e != emails[0]]
        extra += [f"Other phone: {p}" for p in dict.fromkeys(phones[1:]) if p != phones[0]]
        name = _name_first(self._first(row, "name")) or " ".join(
            part
            for part in (
                self._first(row, "first_name"),
                self._first(row, "middle_name"),
                self._first(row, "last_name"),
            )
            if part
        )
        name = limited(name, 200, "A name")
        company = self._first(row, "company")
        deal = self._deal(row, untitled=company or name)
        if not name and deal is None:
            raise CommandError("The row has no name.")
        fields: dict[str, str | None] = {"email": email, "phone": phone}
        for key, limit in (
            ("title", 200),
            ("address", 300),
            ("city", 100),
            ("country", 100),
            ("source", 100),
        ):
            value = self._first(row, key)
            fields[key] = limited(value, limit, f"The {key}") if value else None
        status = self._first(row, "status")
        fields["status"] = read_status(status) if status else None
        notes = [*self._values(row, "note"), *extra]
        note = "\n".join(notes) or None
        return ContactRow(
            line=row.line,
            name=name,
            fields=fields,
            company=limited(company, 200, "A company name") if company else None,
            owner_id=self._owner(self._first(row, "owner")),
            tags=self._tags(row),
            note=limited(note, 4000, "A note") if note else None,
            deal=deal,
        )

    def _owner(self, text: str | None) -> int:
        """The member named (by name or first name); the importer when nobody is, or when
        the importer is a rep (reps import their own contacts)."""
        assert self.importer.id is not None
        if not text or Role(self.importer.role) is Role.rep:
            return self.importer.id
        key = name_key(text.split("@", 1)[0].replace(".", " ") if "@" in text else text)
        for member in self.members:
            if member.active and key in (member.name_key, member.name_key.split(" ")[0]):
                assert member.id is not None
                return member.id
        return self.importer.id

    def _tags(self, row: Row) -> list[str]:
        tags: list[str] = []
        for cell in self._values(row, "tags"):
            for label in _TAG_SEPARATORS.split(cell):
                if label.startswith("*"):  # Google's own groups (* myContacts, * starred)
                    continue
                tag = _NOT_TAG.sub("-", label.lstrip("#")).strip("-.").lower()[:64]
                if tag and not tag.isdigit() and tag not in tags:
                    tags.append(tag)
        return tags

    def _deal(self, row: Row, *, untitled: str) -> DealRow | None:
        """The row's deal: titled by its own column, or, when the file has none but the row
        has an amount or a close date, after the company or the contact (`untitled`), so
        that a mapped amount is never silently left out."""
        title = self._first(row, "deal")
        if title is None and (self._first(row, "amount") or self._first(row, "close")):
            title = untitled or None
        if title is None:
            return None
        title = limited(title, 200, "A deal title")
        amount_text = self._first(row, "amount")
        currency_text = self._first(row, "currency")
        money = None
        if amount_text:
            typed = f"{amount_text} {currency_text}" if currency_text else amount_text
            money = read_amount(typed, self.currency, locale=self.locale)
            if money is None and currency_text:
                money = read_amount(amount_text, currency_text.upper(), locale=self.locale)
            if money is None:
                raise CommandError(f"“{typed}” is not an amount I can read.")
        stage = self._stage(self._first(row, "stage"))
        close = None
        if close_text := self._first(row, "close"):
            close = read_day(close_text, tz=self.tz, now=self.now, locale=self.locale)
            if close is None:
                raise CommandError(f"I can't read the date “{close_text}”.")
        assert stage.id is not None
        return DealRow(
            title=title,
            amount=money.minor if money else None,
            currency=money.currency if money else None,
            stage_id=stage.id,
            closed=stage.kind != StageKind.open,
            close=close,
        )

    def _stage(self, text: str | None) -> Stage:
        if not text:
            return self.stages[0]
        try:
            return resolve_stage(self.stages, text)
        except CommandError:
            # "Closed Won", "closedlost" (HubSpot), "Closed Won" (Salesforce).
            key = name_key(text).replace(" ", "")
            for kind in (StageKind.won, StageKind.lost):
                if key.endswith(kind.value):
                    return next(s for s in self.stages if s.kind == kind)
            names = ", ".join(s.name for s in self.stages)
            raise CommandError(f"There is no stage “{text}” in the pipeline ({names}).") from None


@lru_cache(maxsize=1)
def _regions() -> dict[str, str]:
    """Country names in English and German, and ISO codes, as a phone region."""
    regions: dict[str, str] = {}
    for language in ("en", "de"):
        for code, name in Locale(language).territories.items():
            if len(code) == 2 and code.isalpha():
                regions[name_key(name)] = code
                regions[code.lower()] = code
    regions.update({"usa": "US", "uk": "GB", "england": "GB"})
    return regions


def region_of(country: str) -> str | None:
    """The phone region of a row's country (`United States`, `Deutschland`, `DE`): a
    national number there is read as that country's, not the team's."""
    return _regions().get(name_key(country))


def read_status(text: str) -> str:
    """The status `text` names, in this CRM's words or another's (`Kunde`, `MQL`)."""
    key = " ".join(re.sub(r"[^\w]+", " ", name_key(text)).split())
    if key in STATUSES:
        return STATUSES[key]
    valid = ", ".join(s.value for s in ContactStatus)
    raise CommandError(f"There is no status “{text}”. Use one of: {valid}.")


# `Müller, Hans`: how address books and HR exports write a name in one column, family
# name first. A name part is a word of letters (`Lind-Åberg`, `O'Neil`); a suffix or title
# after the comma (`Smith, Jr.`, `Doe, CFO`) or a company (`Müller GmbH, Berlin`) is no
# name turned round, and stays as written.
_NAME_PART = r"[^\W\d_]+(?:[-'’][^\W\d_]+)*"
_FAMILY_FIRST = re.compile(
    rf"\s*(?P<family>{_NAME_PART}(?: {_NAME_PART}){{0,2}}),"
    rf"\s*(?P<given>{_NAME_PART}(?: {_NAME_PART})?)\s*"
)
_NOT_GIVEN = frozenset(["jr", "sr", "ii", "iii", "iv", "phd", "md", "mba", "ceo", "cfo", "cto"])


def _name_first(name: str | None) -> str | None:
    """A name written family name first (`Müller, Hans`) as people say it: `Hans Müller`."""
    if name is None or not (found := _FAMILY_FIRST.fullmatch(name)):
        return name
    family, given = found.group("family"), found.group("given")
    if (
        given.lower() in _NOT_GIVEN
        or not given[0].isupper()
        or any(company_core(name_key(part)) != name_key(part) for part in (family, given))
    ):
        return name
    return f"{given} {family}"
