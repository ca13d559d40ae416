"""Which field each column of an imported file holds, guessed from its header.

Headers are compared casefolded, without accents or punctuation, with any number as `#`
(`E-mail 1 - Value` is `e mail # value`), against the names people write in English and
German and the ones the CRMs and address books export under:

- HubSpot: First Name, Last Name, Email, Phone Number, Mobile Phone Number, Company Name,
  Job Title, Street Address, City, Country/Region, Lifecycle Stage, Contact owner, Lead
  Status; deals: Deal Name, Amount, Deal Stage, Close Date, Deal owner.
- Pipedrive: Person - Name, Person - Email - Work, Person - Phone - Mobile, Person -
  Organization, Person - Labels, Person - Owner; deals: Deal - Title, Deal - Value, Deal -
  Currency, Deal - Stage, Deal - Expected close date, Deal - Contact person, Deal -
  Organization.
- Salesforce: First Name, Last Name, Account Name, Title, Email, Phone, Mobile, Mailing
  Street/City/Country, Lead Source, Contact Owner; opportunities: Opportunity Name, Amount,
  Opportunity Currency, Stage, Close Date, Opportunity Owner.
- Zoho CRM: the same as Salesforce's, plus Full Name, Tag; deals: Deal Name, Closing Date.
- Google Contacts: Name, Given Name, Family Name (older), First Name, Last Name (newer),
  E-mail 1 - Value, Phone 1 - Value, Organization 1 - Name / Organization Name,
  Organization 1 - Title, Address 1 - City, Labels / Group Membership, Notes.
- Outlook: First Name, Last Name, E-mail Address, Business Phone, Mobile Phone, Company,
  Job Title, Business Street/City/Country/Region, Categories, Notes.

A field several columns hold (Outlook's Business, Mobile and Home Phone) is read from the
first of them that has a value in each row; the other phones and e-mail addresses of a
row go into its note, since a contact keeps one of each. Tags and notes take every such
column. A column named nothing known is ignored, and the preview says so.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Field -> headers, as compared (see `header_key`).
_HEADERS: dict[str, tuple[str, ...]] = {
    "name": (
        "name",
        "full name",
        "contact name",
        "contact",
        "person",
        "person name",
        "display name",
        "deal contact person",
        "contact person",
        "kontakt",
        "kontaktname",
        "ansprechpartner",
        "vollstandiger name",
    ),
    "first_name": ("first name", "given name", "firstname", "first", "vorname"),
    "middle_name": ("middle name", "additional name", "zweiter vorname"),
    "last_name": ("last name", "family name", "lastname", "surname", "last", "nachname"),
    "company": (
        "company",
        "company name",
        "organization",
        "organisation",
        "organization name",
        "organization # name",
        "organization name #",
        "account",
        "account name",
        "person organization",
        "deal organization",
        "firma",
        "unternehmen",
        "firmenname",
        "organisation name",
    ),
    "email": (
        "email",
        "e mail",
        "email address",
        "e mail address",
        "e mail # value",
        "e mail # address",
        "email #",
        "work email",
        "person email",
        "person email work",
        "person email home",
        "person email other",
        "mail",
        "e mail adresse",
        "email adresse",
    ),
    "phone": (
        "phone",
        "phone number",
        "telephone",
        "mobile",
        "mobile phone",
        "mobile phone number",
        "business phone",
        "business phone #",
        "home phone",
        "company main phone",
        "primary phone",
        "other phone",
        "phone # value",
        "work phone",
        "person phone",
        "person phone work",
        "person phone mobile",
        "person phone home",
        "person phone other",
        "telefon",
        "telefonnummer",
        "mobil",
        "mobiltelefon",
        "handy",
        "telefon geschaftlich",
        "telefon privat",
    ),
    "title": (
        "title",
        "job title",
        "position",
        "role",
        "organization # title",
        "organization title",
        "person job title",
        "jobtitel",
        "berufsbezeichnung",
    ),
    "address": (
        "address",
        "street",
        "street address",
        "address street",
        "business street",
        "home street",
        "mailing street",
        "address # street",
        "address # formatted",
        "person address",
        "adresse",
        "anschrift",
        "strasse",
    ),
    "city": (
        "city",
        "town",
        "business city",
        "home city",
        "mailing city",
        "address # city",
        "person address city",
        "stadt",
        "ort",
        "wohnort",
    ),
    "country": (
        "country",
        "country region",
        "business country region",
        "home country region",
        "mailing country",
        "address # country",
        "person address country",
        "land",
    ),
    "status": (
        "status",
        "lifecycle stage",
        "lead status",
        "contact status",
        "person status",
        "lebenszyklusphase",
    ),
    "source": (
        "source",
        "lead source",
        "original source",
        "contact source",
        "quelle",
        "herkunft",
    ),
    "owner": (
        "owner",
        "contact owner",
        "lead owner",
        "record owner",
        "account owner",
        "person owner",
        "owner name",
        "deal owner",
        "opportunity owner",
        "besitzer",
        "betreuer",
        "verantwortlich",
        "zustandig",
    ),
    "tags": (
        "tags",
        "tag",
        "labels",
        "label",
        "person labels",
        "deal labels",
        "categories",
        "group membership",
        "schlagworter",
        "kategorien",
    ),
    "note": ("notes", "note", "description", "comments", "notizen", "notiz", "bemerkung"),
    "deal": (
        "deal",
        "deal title",
        "deal name",
        "opportunity",
        "opportunity name",
        "deal titel",
        "geschaft",
        "auftrag",
        "verkaufschance",
    ),
    "amount": (
        "amount",
        "value",
        "deal value",
        "deal amount",
        "opportunity amount",
        "betrag",
        "wert",
        "volumen",
    ),
    "currency": (
        "currency",
        "deal currency",
        "deal currency of value",
        "opportunity currency",
        "amount currency",
        "wahrung",
    ),
    "stage": (
        "stage",
        "deal stage",
        "opportunity stage",
        "pipeline stage",
        "phase",
        "deal phase",
        "vertriebsphase",
    ),
    "close": (
        "close date",
        "expected close date",
        "closing date",
        "deal expected close date",
        "deal close date",
        "abschlussdatum",
        "abschluss",
        "erwarteter abschluss",
    ),
}
FIELD_KEYS = {key: field for field, keys in _HEADERS.items() for key in keys}
# What each field is called in the preview (the /add and /deal words where there are any).
LABELS = {
    "name": "name",
    "first_name": "first name",
    "middle_name": "middle name",
    "last_name": "last name",
    "company": "company",
    "email": "email",
    "phone": "phone",
    "title": "title",
    "address": "addr",
    "city": "city",
    "country": "country",
    "status": "status",
    "source": "source",
    "owner": "owner",
    "tags": "tags",
    "note": "note",
    "deal": "deal",
    "amount": "amount",
    "currency": "currency",
    "stage": "stage",
    "close": "close",
}
DEAL_FIELDS = frozenset({"deal", "amount", "currency", "stage", "close"})
_PREFIXES = ("person ", "contact ", "lead ", "deal ", "opportunity ")
_NUMBER = re.compile(r"\d+")
_NOT_WORD = re.compile(r"[^\w#]+")


def header_key(header: str) -> str:
    """`E-mail 1 - Value` -> `e mail # value`; `Straße` -> `strasse`."""
    decomposed = unicodedata.normalize("NFKD", header.replace("ß", "ss"))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(_NOT_WORD.sub(" ", _NUMBER.sub("#", plain)).replace("_", " ").split())


@dataclass(frozen=True)
class Mapping:
    """Column index -> field (None: ignored)."""

    header: tuple[str, ...]
    fields: tuple[str | None, ...]

    @property
    def ignored(self) -> list[str]:
        return [h for h, f in zip(self.header, self.fields, strict=True) if f is None and h]


def guess_mapping(header: tuple[str, ...]) -> Mapping:
    keys = [header_key(h) for h in header]
    fields = [_field(key) for key in keys]
    if "deal" not in fields and any(f in ("amount", "stage", "close") for f in fields):
        # A deals export without prefixes (`Title`, `Value`, `Stage`): its title is the
        # deal's, not a person's job title.
        fields = ["deal" if key == "title" else f for key, f in zip(keys, fields, strict=True)]
    if any(key == "job title" for key in keys):
        # Outlook's `Title` is the salutation (Mr., Dr.) when `Job Title` is there too.
        fields = [None if key == "title" else f for key, f in zip(keys, fields, strict=True)]
    return Mapping(header, tuple(fields))


def _field(key: str) -> str | None:
    if not key:
        return None
    if key in FIELD_KEYS:
        return FIELD_KEYS[key]
    for prefix in _PREFIXES:
        if key.startswith(prefix) and key[len(prefix) :] in FIELD_KEYS:
            found = FIELD_KEYS[key[len(prefix) :]]
            # `Deal - Value` is the amount; `Person - Value` is nothing known.
            if (found in DEAL_FIELDS) == (prefix in ("deal ", "opportunity ")) or found in (
                "owner",
                "tags",
                "note",
                "company",
            ):
                return found
    return None
