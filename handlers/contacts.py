"""Contacts: log them, find them, look at them, change them, tag them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import takewhile

from rapidfuzz import fuzz

from handlers.cards import OPEN_BUTTON, SHOW_BUTTON, contact_card, deal_amount, deal_card
from handlers.confirmations import contact_added, contact_fields, deal_fields, edited
from handlers.context import Context, SharedContact
from handlers.deals import apply_deal_fields
from handlers.dispatcher import FORCE, MERGE_INTO, pending_command
from handlers.errors import CommandError, Forbidden, UsageError, about
from handlers.format import contact_ref, deal_ref, money
from handlers.grammar import (
    AMOUNT,
    EMAIL,
    PHONE,
    PHONE_WORD,
    Args,
    Money,
    limited,
    parse_args,
    quote,
    tag_name,
)
from handlers.places import Located, locate, place_query
from handlers.refs import (
    CONTACT,
    DEAL,
    Record,
    list_owner,
    owner_word,
    resolve,
    resolve_member,
    search_score,
)
from handlers.registry import Registry
from handlers.reply import Button, Reply, bold
from handlers.rows import read_status, region_of
from handlers.scoring import READ_REFRESH, rescore, rescore_due, team_rules
from storage import contacts as store
from storage.activities import log_activity
from storage.contacts import TagTarget
from storage.core import new_row
from storage.deals import deals_by_ids, save_deal
from storage.keys import LEGAL_FORMS, name_key
from storage.models import Activity, ActivityKind, Company, Contact, ContactStatus, Deal, Role
from storage.search import trigram_candidates

CONTACT_KEYS = (
    "company",
    "title",
    "addr",
    "address",
    "city",
    "country",
    "status",
    "source",
    "phone",
    "email",
    "name",
    "owner",
)
# What is left of a phone number that did not parse: "+49 12", "030-12".
_PHONE_GROUP = re.compile(r"^[\d()\-./]*\d[\d()\-./]*$")
# A web address among /add's words (`www.acme.de`, `linkedin.com/in/jane`): no one's name.
_WEB_ADDRESS = re.compile(r"^(?:https?://|www\.|[\w-]+(?:\.[\w-]+)+/)\S", re.IGNORECASE)
DUPLICATE_NAME_SCORE = 90
FIND_LIMIT = 10
FIND_SCORE = 70


def add_contact(ctx: Context, args: Args) -> Reply:
    """Log a contact; warns about a likely duplicate instead of creating it twice.

    /add NAME [company:C] [PHONE] [EMAIL] [title:T] [addr:A] [city:C] [#tag] [status:S]

    Example: /add Jane Doe company:Acme Corp title:Head of Sales +49 151 2345678
    jane@acme.de city:San Francisco #hot
    No quotes needed: a field's value runs on until the next field:, #tag, phone number
    or e-mail address. The phone and e-mail are found wherever you type them, with or
    without a label (Tel. 030 1234567, Handy …, Mail …); a web address is refused (there
    is no field for it: keep it in a /note). Listed
    after the name (by commas, or after the phone or e-mail), a company with its legal
    form (Siemens AG), a job title (VP Sales, CFO) and a town (Madrid) are read as such;
    anything else is asked about.
    A name in quotes is all of the name: /add "Dr. Hans Müller" Müller & Söhne GmbH.
    The answer shows each field as it was stored, so a misread shows at once: press Undo,
    or fix it with /edit. The same name, e-mail or phone as a contact you have gets a
    warning with Add anyway / Open instead.
    """
    assert ctx.team is not None
    contact = new_row(
        Contact,
        team_id=ctx.team_id,
        owner_id=ctx.member_id,
        name="",
        name_key="",
        created_at=ctx.now,
        updated_at=ctx.now,
        # Its "created" activity, logged below: stored with the row, not by an UPDATE after.
        last_activity_at=ctx.now,
    )
    typed = list(args.word_ends)
    with about("email"):
        contact.email = args.take_email_field() or args.take_email()
        _one_only("e-mail address", contact.email, args.take_email())
    with about("phone"):
        region = _phone_region(ctx, args)
        contact.phone = args.take_phone_field(region) or args.take_phone(region)
        _one_only("phone number", contact.phone, args.take_phone(region))
        for i, word in enumerate(args.words):
            # Groups of digits left once the phone number was taken: one that is not valid,
            # said as typed (`+49 151 2345678`, `0151 234`); `Studio 54` is a name.
            run = [word, *takewhile(_PHONE_GROUP.match, args.words[i + 1 :])]
            digits = sum(ch.isdigit() for group in run for ch in group)
            if PHONE_WORD.fullmatch(word) and (word.startswith("+") or digits >= 5):
                raise UsageError(
                    f"“{' '.join(run)}” does not look like a valid phone number. Check its "
                    "digits, and write it with its country code, e.g. +49 30 1234567."
                )
    if web := next((word for word in args.words if _WEB_ADDRESS.match(word)), None):
        raise UsageError(
            f"“{web}” is a web address, and a contact has no field for one. Add the contact "
            "without it, then keep it in a /note."
        )
    if "name" not in args.options:
        _place_listed_words(args, typed)
    with about("name"):
        named = args.option("name")
        if named is not None and args.words:
            raise UsageError(
                f"The name is given twice: name:{named} and “{args.rest}”. Give it once."
            )
        # Separators people type between fields (`Lena Fischer / lena@fischer.de`).
        contact.name = limited(named or args.rest.strip(" ,;/|·–—"), 200, "A name")
        if not contact.name:
            raise UsageError("Whom should I add? Give a name.")
    company_name = args.option("company")
    _apply_fields(ctx, contact, args)
    name = ""
    # Held here: the answer shows the company, which the session keeps only while something
    # refers to it (else it is read again).
    company: Company | None = None
    if company_name:
        with about("company"):
            name = limited(company_name, 200, "A company name")
        company = store.find_company(ctx.session, team_id=ctx.team_id, name=name)
        contact.company_id = company.id if company else None
    _reject_unknown(args)
    if ctx.merge_into is None and not ctx.force:
        duplicates = _likely_duplicates(ctx, contact, at_company=bool(name))
        if duplicates:
            return _duplicate_warning(ctx, contact, duplicates)
    if name and company is None:
        # Made once the contact is to be added: a duplicate warning leaves nothing behind.
        company = store.create_company(ctx.session, team_id=ctx.team_id, name=name, now=ctx.now)
        contact.company_id = company.id
    if ctx.merge_into is not None:
        return _merge_into(ctx, contact, args.tags)
    located = locate(ctx.session, ctx.geocoder, contact, now=ctx.now)
    store.save_contact(ctx.session, contact=contact)
    assert contact.id is not None
    if args.tags:
        store.add_tags(
            ctx.session,
            team_id=ctx.team_id,
            target="contact",
            target_id=contact.id,
            names=args.tags,
            inserted=True,
        )
    log_activity(
        ctx.session,
        activity=new_row(
            Activity,
            team_id=ctx.team_id,
            member_id=ctx.member_id,
            kind=ActivityKind.created,
            contact_id=contact.id,
            at=ctx.now,
        ),
        rules=team_rules(ctx),
    )
    return _map_note(contact_added(ctx, contact, tagged=args.tags), contact, located)


def _phone_region(ctx: Context, args: Args) -> str:
    """Where a national phone number is read: in the country typed with it (`country:France`,
    as an import reads a row's), else in the team's region."""
    assert ctx.team is not None
    country = args.options.get("country")
    return (region_of(country) if country else None) or ctx.team.region


# Words that make a listed part a company's name (`Siemens AG`, `Nordic Group`): the legal
# forms, words companies name themselves by, and the Polish form's first word (`Sp. z o.o.`).
_COMPANY_FORMS = LEGAL_FORMS | {"Company", "Group", "Holding", "Sp."}
# Words of a job title, listed after a name (`/add Jane Doe, VP Sales`), in English and
# German, compared in lower case.
_TITLE_WORDS = frozenset(
    {
        *("ceo", "cfo", "cto", "coo", "cmo", "cio", "cso", "cpo", "vp", "svp", "evp"),
        *("president", "director", "manager", "head", "chief", "officer", "founder"),
        *("co-founder", "owner", "partner", "buyer", "purchasing", "procurement"),
        *("assistant", "consultant", "engineer", "sales", "marketing", "controller"),
        *("geschäftsführer", "geschäftsführerin", "gf", "inhaber", "inhaberin", "leiter"),
        *("leiterin", "einkauf", "einkäufer", "einkäuferin", "vertrieb", "vorstand"),
        *("prokurist", "prokuristin", "teamleiter", "teamleiterin", "abteilungsleiter"),
    }
)
_AT_COMPANY = re.compile(r"(.+?)\s+(?:at|bei|@)\s+(.+)", re.IGNORECASE)
_MERGED_FIELDS = ("email", "phone", "title", "company_id", "address", "city", "country", "source")


def _merge_into(ctx: Context, new: Contact, tags: list[str]) -> Reply:
    """ "Merge" under /add's duplicate warning: the contact it warned about gets the new
    details where it has none, and the tags; nothing is added."""
    existing = store.get_contact(ctx.session, team_id=ctx.team_id, contact_id=ctx.merge_into or 0)
    if existing is None:
        raise UsageError("That contact is no longer there; nothing was merged.")
    if not ctx.can_change_owned(existing.owner_id):
        raise Forbidden(
            f"{existing.name} belongs to a teammate; only they or a manager can change it."
        )
    before = contact_fields(ctx, existing)
    for field in _MERGED_FIELDS:
        if getattr(existing, field) is None and getattr(new, field) is not None:
            setattr(existing, field, getattr(new, field))
    existing.updated_at = ctx.now
    store.save_contact(ctx.session, contact=existing)
    assert existing.id is not None
    if tags:
        store.add_tags(
            ctx.session, team_id=ctx.team_id, target="contact", target_id=existing.id, names=tags
        )
    rescore(ctx.session, team_id=ctx.team_id, contact_ids=[existing.id], now=ctx.now)
    reply = edited(ctx, existing, before)
    ctx.change_label = f"merged into {existing.name} ({contact_ref(existing)})"
    return reply


# A search typed as a phone number, and the digits it needs to find numbers ending in them.
_PHONE_LIKE = re.compile(r"\+?[\d\s()\-./]+")
_MIN_PHONE_TAIL = 7


def find(ctx: Context, args: Args) -> Reply:
    """Search contacts, companies and deals by name, even misspelt, or by e-mail or phone.

    /find TEXT

    Examples: /find jnae doe · /find acme · /find +49 30 1234567
    """
    assert ctx.team is not None
    query = limited(args.raw, 200, "A search")
    if not query:
        raise UsageError("What should I look for?")
    email, phone = args.take_email(), args.take_phone(ctx.team.region)
    exact = store.contacts_with(ctx.session, team_id=ctx.team_id, email=email, phone=phone)
    if not exact and (digits := _phone_digits(query)):
        # A foreign number typed without its country code (`601 234 567` for a Polish
        # mobile in a German team): the stored numbers that end with its digits.
        exact = store.contacts_with(ctx.session, team_id=ctx.team_id, phone_ending=digits)
    hits: list[tuple[float, str, int]] = [(200.0, "contact", c.id or 0) for c in exact]
    # Other typos than a swapped pair cost more to look for: only when nothing matched.
    hits += _name_hits(ctx, query, any_typo=False) or _name_hits(ctx, query, any_typo=True)
    best: dict[tuple[str, int], float] = {}
    for score, table, record_id in hits:
        best[(table, record_id)] = max(score, best.get((table, record_id), 0))
    ranked = sorted(best.items(), key=lambda item: -item[1])[:FIND_LIMIT]
    if not ranked:
        return Reply().add(f"Nothing matches “{query}”. Add it with /add.")
    return _found(ctx, query, [(table, record_id) for (table, record_id), _ in ranked])


def _phone_digits(query: str) -> str | None:
    """The digits of a query typed as a phone number, without the trunk's leading zeros;
    None for anything else, or too few digits to tell one number from another."""
    if not _PHONE_LIKE.fullmatch(query):
        return None
    digits = "".join(ch for ch in query if ch.isdigit()).lstrip("0")
    return digits if len(digits) >= _MIN_PHONE_TAIL else None


def _name_hits(ctx: Context, query: str, *, any_typo: bool) -> list[tuple[float, str, int]]:
    key = name_key(query)
    hits = []
    for table in ("contact", "company", "deal"):
        for record_id, candidate in trigram_candidates(
            ctx.session, table=table, team_id=ctx.team_id, query=query, any_typo=any_typo
        ):
            score = search_score(key, candidate)
            if score >= FIND_SCORE:
                hits.append((score, table, record_id))
    return hits


def _found(ctx: Context, query: str, hits: list[tuple[str, int]]) -> Reply:
    ids = {table: [i for t, i in hits if t == table] for table in ("contact", "company", "deal")}
    contacts = {
        c.id: c
        for c in store.contacts_by_ids(ctx.session, team_id=ctx.team_id, ids=ids["contact"])
    }
    deals = {d.id: d for d in deals_by_ids(ctx.session, team_id=ctx.team_id, ids=ids["deal"])}
    companies = store.companies_by_ids(
        ctx.session,
        team_id=ctx.team_id,
        ids=[*ids["company"], *(c.company_id for c in contacts.values() if c.company_id)],
    )
    reply = Reply().add(f"Results for “{query}”:")
    buttons: list[Button] = []
    for table, record_id in hits:
        if table == "contact" and record_id in contacts:
            contact = contacts[record_id]
            at = companies.get(contact.company_id or 0)
            reply.item(
                bold(contact.name),
                f" · {at.name}" if at else "",
                f" · {contact.status}",
                f" ({contact_ref(contact)})",
            )
            buttons.append(Button(contact.name, SHOW_BUTTON, (contact_ref(contact),)))
        elif table == "deal" and record_id in deals:
            deal = deals[record_id]
            reply.item(bold(deal.title), f" · {deal_amount(ctx, deal)} ({deal_ref(deal)})")
            buttons.append(Button(deal.title, SHOW_BUTTON, (deal_ref(deal),)))
        elif table == "company" and record_id in companies:
            company = companies[record_id]
            people = store.contacts_at_company(
                ctx.session, team_id=ctx.team_id, company_id=record_id, limit=5
            )
            who = ", ".join(f"{c.name} ({contact_ref(c)})" for c in people) or "no contacts yet"
            reply.item(bold(company.name), f" (company): {who}")
    if len(reply.lines) == 1:  # every hit was a deleted contact, still in the index
        return Reply().add(f"Nothing matches “{query}”. Add it with /add.")
    for i in range(0, min(len(buttons), 6), 2):
        reply.button_row(*buttons[i : i + 2])
    return reply


def show(ctx: Context, args: Args) -> Reply:
    """Show a contact or deal card: details, tags, open deals, latest activity.

    /show CONTACT_OR_DEAL

    By id (c12, d42) or by name, whole or a word of it: /show Jane Doe · /show c12 · /show
    Jane. A name that fits several records gets a button for each, saying what tells them
    apart. The card has everything, and how the lead score adds up.
    """
    record, _ = resolve(ctx, args.words, (CONTACT, DEAL), whole=True)
    return card(ctx, record)


def card(ctx: Context, record: Record) -> Reply:
    return contact_card(ctx, record) if isinstance(record, Contact) else deal_card(ctx, record)


def press_show(ctx: Context, args: tuple[str, ...]) -> Reply:
    record, _ = resolve(ctx, list(args[:1]), (CONTACT, DEAL), whole=True)
    return card(ctx, record)


_NO_VALUE = frozenset(["none", "-", "–", "—", "n/a", "keine", "keiner", "ohne"])
_EDIT_FIELDS = (
    "A contact's fields are name, company, phone, email, title, addr, city, country, status, "
    "source and owner; a deal's title, amount, close, contact and owner (its stage, and the "
    "probability that comes with it: /stage)."
)


def edit(ctx: Context, args: Args) -> Reply:
    """Change fields of a contact or deal.

    /edit CONTACT field:value ...
    /edit DEAL field:value ...

    Contact fields: name, company, phone, email, title, addr, city, country, status, source,
    owner. Deal fields: title, amount, close, contact, owner (the stage moves with /stage).
    #tags are added, as by /tag.
    Example: /edit c5 name:Anna Schmidt company:Bäckerei Schmidt GmbH phone:030 1234567
    A value runs on until the next field:, so no quotes are needed; a phone number or
    e-mail address (for a contact) or an amount (for a deal) needs no field: either.
    The answer shows each field that changed and what it was; Undo puts them back.
    """
    assert ctx.team is not None
    if (stage := args.option("stage")) is not None:
        # A key here only to say where it goes: it was "did you mean city:?".
        raise UsageError(
            f"A deal changes stage with /stage, e.g. /stage {args.rest or 'd12'} {stage or 'won'}."
        )
    unlabelled = _Unlabelled.take(ctx, args)
    if not args.options and not unlabelled.fields and not args.tags:
        # `probability: 80%`: a field of its own name, with its value after a space.
        named = next((w[:-1] for w in args.words if len(w) > 1 and w.endswith(":")), None)
        if named is not None:
            raise UsageError(f"I don't know the field {named}:. {_EDIT_FIELDS}")
        raise UsageError("Which fields? Write them as field:value, e.g. status:qualified.")
    record, used = resolve(ctx, args.words, (CONTACT, DEAL), whole=True, more=True)
    _nothing_after(args, used)
    _check_owned(ctx, record, "change")
    unlabelled.check(record, args, ctx.team.locale)
    # `close: none`, as the answer shows an empty field: the field emptied, as by `close:`.
    for key, value in list(args.options.items()):
        if value.strip().lower() in _NO_VALUE:
            args.empty(key)
    changed = [*args.options, *unlabelled.fields]
    located = None
    if isinstance(record, Contact):
        before = contact_fields(ctx, record)
        located = _edit_contact(ctx, record, args, unlabelled)
    else:
        before = deal_fields(ctx, record)
        _edit_deal(ctx, record, args, unlabelled.amount)
    _nothing_after(args, used)  # words a field's reader gave back (`close:friday Greta`)
    if args.tags:
        # `/edit c5 status:customer #vip`: the tags too, as /tag adds them.
        assert record.id is not None
        store.add_tags(
            ctx.session,
            team_id=ctx.team_id,
            target=_tag_target(record),
            target_id=record.id,
            names=args.tags,
        )
        changed.append("tags")
    reply = edited(ctx, record, before)
    log_activity(
        ctx.session,
        activity=new_row(
            Activity,
            team_id=ctx.team_id,
            member_id=ctx.member_id,
            kind=ActivityKind.edited,
            contact_id=record.id if isinstance(record, Contact) else record.contact_id,
            deal_id=record.id if isinstance(record, Deal) else None,
            text=", ".join(changed),
            at=ctx.now,
        ),
    )
    if isinstance(record, Contact) and located is not None:
        _map_note(reply, record, located)
    return reply


def _nothing_after(args: Args, used: int) -> None:
    """/edit's words are the record's name or id; any other is named, never dropped."""
    if used < len(args.words):
        raise UsageError(
            f"I don't know what “{' '.join(args.words[used:])}” is for. Write each change "
            "as field:value, e.g. city:Berlin."
        )


@dataclass(frozen=True, slots=True)
class _Unlabelled:
    """What /edit recognises without its field: a phone number, an e-mail address (for a
    contact), an amount written as money (for a deal): `/edit c5 +49 30 1234567`."""

    phone: str | None
    email: str | None
    amount: Money | None

    @classmethod
    def take(cls, ctx: Context, args: Args) -> _Unlabelled:
        assert ctx.team is not None
        team = ctx.team
        return cls(
            phone=args.take_phone(_phone_region(ctx, args)),
            email=args.take_email(),
            amount=args.take_amount(
                team.currency, locale=team.locale, bare=False, picks=ctx.picks
            ),
        )

    @property
    def fields(self) -> list[str]:
        return [name for name in ("phone", "email", "amount") if getattr(self, name) is not None]

    def check(self, record: Record, args: Args, locale: str) -> None:
        for name in self.fields:
            if name in args.options:
                raise UsageError(f"The {name} is there twice; give it once.")
            if (name == "amount") == isinstance(record, Contact):
                kind = "contact" if isinstance(record, Contact) else "deal"
                value = (
                    money(self.amount.minor, self.amount.currency, locale)
                    if name == "amount" and self.amount is not None
                    else getattr(self, name)
                )
                raise UsageError(f"A {kind} has no {name}; I can't put {value} there.")


def _edit_contact(
    ctx: Context, contact: Contact, args: Args, unlabelled: _Unlabelled
) -> Located | None:
    """Apply the changes; the address is geocoded again when it changed."""
    assert ctx.team is not None
    contact.phone = unlabelled.phone or contact.phone
    contact.email = unlabelled.email or contact.email
    if (name := args.option("name")) is not None:
        contact.name = limited(name, 200, "A name")
        if not contact.name:
            raise UsageError("A contact needs a name.")
    if "email" in args.options:
        with about("email"):
            contact.email = args.take_email_field()
    if "phone" in args.options:
        with about("phone"):
            contact.phone = args.take_phone_field(_phone_region(ctx, args))
    if (company := args.option("company")) is not None:
        contact.company_id = (
            store.get_or_create_company(
                ctx.session,
                team_id=ctx.team_id,
                name=limited(company, 200, "A company name"),
                now=ctx.now,
            ).id
            if company
            else None
        )
    place_before = place_query(contact)
    _apply_fields(ctx, contact, args)
    _reject_unknown(args)
    located = None
    if place_query(contact) != place_before:
        located = locate(ctx.session, ctx.geocoder, contact, now=ctx.now)
    contact.updated_at = ctx.now
    store.save_contact(ctx.session, contact=contact)
    rescore(ctx.session, team_id=ctx.team_id, contact_ids=[contact.id], now=ctx.now)
    return located


def _map_note(reply: Reply, contact: Contact, located: Located) -> Reply:
    """Say when a contact with an address did not make it onto the map."""
    if located is Located.not_found:
        reply.muted(
            f"I could not find “{place_query(contact)}” on the map, so /nearby will not "
            f"list {contact.name}. Fix it with /edit {contact_ref(contact)} city:… country:…"
        )
    elif located is Located.pending:
        reply.muted("The map service did not answer; I will put this address on the map later.")
    return reply


def _edit_deal(ctx: Context, deal: Deal, args: Args, amount: Money | None) -> None:
    contact_before = deal.contact_id
    apply_deal_fields(ctx, deal, args)
    if amount is not None:
        deal.amount, deal.currency = amount.minor, amount.currency
    _reject_unknown(args)
    deal.updated_at = ctx.now
    save_deal(ctx.session, deal=deal)
    # Its amount counts in its contact's score, and in the previous contact's no more.
    rescore(
        ctx.session,
        team_id=ctx.team_id,
        contact_ids=[contact_before, deal.contact_id],
        now=ctx.now,
    )


def tag(ctx: Context, args: Args) -> Reply:
    """Tag a contact or deal.

    /tag CONTACT_OR_DEAL #tag [#tag ...]

    Examples: /tag Jane Doe #hot #berlin · /tag d42 #q4 · /tag c5 #hot, #fair
    Every tag has its #; a word or emoji after the tags is asked about, not dropped.
    """
    return _retag(ctx, args, add=True)


def untag(ctx: Context, args: Args) -> Reply:
    """Remove tags from a contact or deal.

    /untag CONTACT_OR_DEAL #tag [#tag ...]

    Example: /untag Jane Doe #hot · /untag c5 #hot, #fair
    Every tag has its #, as for /tag.
    """
    return _retag(ctx, args, add=False)


def _tag_target(record: Contact | Deal) -> TagTarget:
    return "contact" if isinstance(record, Contact) else "deal"


def _check_owned(ctx: Context, record: Contact | Deal, verb: str) -> None:
    if not ctx.can_change_owned(record.owner_id):
        raise Forbidden(
            f"{_name(record)} belongs to a teammate; only they or a manager can {verb} it."
        )


def _retag(ctx: Context, args: Args, *, add: bool) -> Reply:
    if not args.tags:
        raise UsageError("Which tags? Write them with #, e.g. #hot.")
    named = args.first_run()
    _no_stray_words(args, named, "tag" if add else "untag")
    record, _ = resolve(ctx, args.words[:named], (CONTACT, DEAL), whole=True)
    # Tags move a lead's score: reps tag their own records, like any other change.
    _check_owned(ctx, record, "tag" if add else "untag")
    assert record.id is not None
    change = store.add_tags if add else store.remove_tags
    changed = change(
        ctx.session,
        team_id=ctx.team_id,
        target=_tag_target(record),
        target_id=record.id,
        names=args.tags,
    )
    listed = " ".join(f"#{t}" for t in changed)
    if not changed:
        state = "already has" if add else "has none of"
        return Reply().add(f"{_name(record)} {state} those tags.")
    log_activity(
        ctx.session,
        activity=new_row(
            Activity,
            team_id=ctx.team_id,
            member_id=ctx.member_id,
            kind=ActivityKind.tagged if add else ActivityKind.untagged,
            contact_id=record.id if isinstance(record, Contact) else record.contact_id,
            deal_id=record.id if isinstance(record, Deal) else None,
            text=listed,
            at=ctx.now,
        ),
        # A deal's tags are not its contact's: they move no score.
        rules=team_rules(ctx) if isinstance(record, Contact) else None,
    )
    verb = "Tagged" if add else "Untagged"
    ref = contact_ref(record) if isinstance(record, Contact) else deal_ref(record)
    ctx.change_label = f"{verb.lower()} {_name(record)} ({ref}) {listed}"
    return (
        Reply()
        .add(f"{verb} ", bold(_name(record)), f" ({ref}): {listed}")
        .button_row(Button(f"Open {ref}", SHOW_BUTTON, (ref,)))
    )


def _no_stray_words(args: Args, named: int, command: str) -> None:
    """The record is named by the words typed together (`/tag Greta Lind #hot`); a word on
    the other side of a #tag (`#hot vip`, `#hot 🔥`) is refused, not dropped: nothing is
    tagged until it is clear what it was meant for."""
    stray = args.words[named:]
    if not stray:
        return
    meant = {word: tag for word in stray if (tag := tag_name("#" + word.lstrip("#")))}
    listed = " ".join(f"#{tag}" for tag in dict.fromkeys([*args.tags, *meant.values()]))
    again = f"/{command} {' '.join(args.words[:named])} {listed}"
    if not_tags := [word for word in stray if word not in meant]:
        raise UsageError(
            f"“{' '.join(not_tags)}” is not a tag (a tag is a word of letters, digits, - or ."
            f" after #, e.g. #hot), so I did not {command} anything. Send it like this: {again}"
        )
    raise UsageError(
        f"“{' '.join(stray)}” has no #, so I did not {command} anything. Write every tag "
        f"with #: {again}"
    )


def leads(ctx: Context, args: Args) -> Reply:
    """Leads, best score first.

    /leads [#tag] [city:Berlin] [mine | @member | owner:@member] [status:STATUS] [limit:20]

    mine: the ones you own; @bob: the ones Bob owns. STATUS: lead, qualified, customer,
    inactive or all (leads and qualified unless you say).
    """
    status = args.option("status")  # taken: asked again, it is gone
    statuses = wanted_statuses(status)
    limit = parse_limit(args.option("limit"), default=20)
    city = args.option("city")
    assert ctx.team is not None
    rescore_due(ctx.session, team=ctx.team, now=ctx.now, unless_within=READ_REFRESH)
    if len(args.tags) > 1:
        raise UsageError("One #tag at a time, please.")
    unknown = [word for word in args.words if not owner_word(word)]
    if unknown:
        raise UsageError(f"I don't understand “{' '.join(unknown)}” here.")
    owner = list_owner(ctx, args.words, args.option("owner"))
    found = store.leads(
        ctx.session,
        team_id=ctx.team_id,
        statuses=statuses,
        tag=args.tags[0] if args.tags else None,
        city=city,
        owner_id=None if owner is None else owner.id,
        limit=limit,
    )
    if not found:
        whose = None if owner is None else "yours" if owner.id == ctx.member_id else owner.name
        return Reply().add(_no_leads(city, args.tags, status, whose))
    tags = store.tags_of(
        ctx.session, team_id=ctx.team_id, target="contact", ids=[c.id for c in found]
    )
    reply = Reply().heading(f"Leads ({len(found)})")
    for contact in found:
        reply.item(
            bold(contact.name),
            f" (c{contact.id})",
            f" · {contact.company}" if contact.company else "",
            f" · {contact.city}" if contact.city else "",
            f" · {contact.status} · score {contact.score}",
            "".join(f" #{t}" for t in tags.get(contact.id or 0, [])),
        )
    return reply


def _no_leads(
    city: str | None, tags: Sequence[str], status: str | None, whose: str | None = None
) -> str:
    """Why /leads found nothing: the filters it was given, if any."""
    wanted = [
        *(f"#{tag}" for tag in tags),
        *([f"in {city}"] if city else []),
        *([f"with status {status}"] if status else []),
    ]
    if not wanted and not whose:
        return "No leads match. Add some with /add."
    of = f" of {whose}" if whose else ""
    return f"No leads{of} match{''.join(' ' + w for w in wanted)}. /leads alone lists them all."


def shared_contact(ctx: Context) -> Reply:
    """A contact card shared from a phone: logged like /add, with the duplicate check."""
    card_data = ctx.request.contact
    assert card_data is not None
    return ctx.registry.commands["add"].func(ctx, _card_args(card_data))


def _card_args(card_data: SharedContact) -> Args:
    """The card as /add's arguments. Every field is an option, so the name is taken as
    it is: no #tags, key:values or phone-like words read out of it."""
    args = parse_args("", keys=frozenset(CONTACT_KEYS))
    for key in ("name", "phone", "email", "company", "title"):
        value = getattr(card_data, key)
        if value:
            args.options[key] = value
    return args


def _place_listed_words(args: Args, typed: list[int]) -> None:
    """A name followed by more, the way people list a contact (`/add Maria Schneider,
    Bosch GmbH, 0711 4004099`, `/add Jürgen Müller +49 171 2345678 Siemens AG`): each
    part after the name's own (split at commas, and at the phone number or e-mail address
    that ended the name) is the company when it has a legal form, the city when it is a
    town the gazetteer knows. A part that is neither is asked about rather than stored in
    the name; only commas with nothing placeable after them (`Doe, Jane`) stay a name. A
    part with a job title's word (`VP Sales`, `Geschäftsführer`) is the title, and one
    at a company (`CFO at Acme`, `Leiter Einkauf bei Müller GmbH`) both. A
    name in quotes (`/add “Dr. Hans Müller” Müller & Söhne GmbH`) is all of the name."""
    ends = args.word_ends
    cut = next((i for i, end in enumerate(ends) if typed[i] != end), len(ends))
    if cut == 0:
        return  # the number came first: the words after it are the name
    quoted = args.quoted(0)
    first = next((i + 1 for i, w in enumerate(args.words[:cut]) if w.endswith(",")), cut)
    first = 1 if quoted else first
    placed: dict[str, str] = {}
    listed = [part for part in _parts(args.words[first:cut]) if not _place(part, placed)]
    if listed and not placed and not quoted:
        first, listed = cut, []
    after = [part for part in _parts(args.words[cut:]) if not _place(part, placed)]
    if listed or after:
        name = " ".join(args.words[:first]).strip(" ,;")
        part = (listed or after)[0]
        way = (
            "put it inside the quotes"
            if quoted
            else "leave out the comma before it"
            if listed
            else "type it before the phone number or e-mail address"
        )
        raise UsageError(
            f"I read the name as “{name}”. What is “{part}”? Say it with company:{part}, "
            f"title:{part} or city:{part}, or {way} if it is part of the name."
        )
    if not placed:
        return
    for field, part in placed.items():
        if field in args.options:
            raise UsageError(f"“{part}” looks like a second {field}: give the {field} once.")
    args.options.update(placed)
    del args.words[first:]
    del args.word_ends[first:]


def _parts(words: list[str]) -> list[str]:
    """The comma-separated parts of `words` that have a letter or digit."""
    parts = (part.strip(" ;") for part in " ".join(words).split(","))
    return [part for part in parts if any(ch.isalnum() for ch in part)]


def _place(part: str, placed: dict[str, str]) -> bool:
    """Put `part` in `placed` as the company, the job title or the city, when it is one;
    a job title at a company (`CFO at Bodegas García S.L.`, `Einkauf bei Müller GmbH`) is
    both."""
    at = _AT_COMPANY.fullmatch(part)
    if (
        at is not None
        and not {"title", "company"} & placed.keys()
        and _TITLE_WORDS & set(at.group(1).lower().split())
    ):
        placed["title"], placed["company"] = at.group(1), at.group(2)
    elif "company" not in placed and _COMPANY_FORMS & set(part.split()):
        placed["company"] = part
    elif "title" not in placed and _TITLE_WORDS & set(part.lower().split()):
        placed["title"] = part
    elif "city" not in placed and _is_town(part):
        placed["city"] = part
    else:
        return False
    return True


def _is_town(text: str) -> bool:
    from storage.gazetteer import gazetteer  # the town index, opened on first use

    return gazetteer().is_town(text)


def _apply_fields(ctx: Context, contact: Contact, args: Args) -> None:
    """Set the plain fields shared by /add and /edit from their options."""
    for key, aliases, limit in (
        ("title", ("title",), 200),
        ("address", ("addr", "address"), 300),
        ("city", ("city",), 100),
        ("country", ("country",), 100),
        ("source", ("source",), 100),
    ):
        value = args.option(*aliases)
        if value is not None:
            with about(key):
                setattr(contact, key, limited(value, limit, f"The {key}") or None)
    if (status := args.option("status")) is not None:
        with about("status"):
            contact.status = _status(status)
    if (owner := args.option("owner")) is not None:
        if ctx.role.rank < Role.manager.rank:
            raise Forbidden("Only managers and admins can hand contacts to someone else.")
        with about("owner"):
            contact.owner_id = resolve_member(ctx, owner).id


def _one_only(what: str, first: str | None, second: str | None) -> None:
    """A contact keeps one phone number and one e-mail address: a second is not dropped."""
    if first and second:
        raise UsageError(
            f"I see two of them: {first} and {second}. A contact keeps one {what}; put the "
            "other in a /note."
        )


def _status(text: str) -> str:
    """A typed status, as imports read one: `Kunde` and `MQL` too."""
    try:
        return read_status(text)
    except CommandError as error:
        raise UsageError(error.message) from None


def wanted_statuses(text: str | None) -> list[str]:
    """`status:` of a list: one status, `all`, or by default the prospects (lead, qualified)."""
    status = (text or "").strip().lower()
    if status == "all":
        return [s.value for s in ContactStatus]
    if status:
        return [_status(status)]
    return [ContactStatus.lead.value, ContactStatus.qualified.value]


def parse_limit(text: str | None, *, default: int, most: int = 100) -> int:
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise UsageError(f"limit: takes a number from 1 to {most}.")
    return int(text)


def _reject_unknown(args: Args) -> None:
    if args.options:
        raise UsageError(
            f"I don't know the field{'s' if len(args.options) > 1 else ''} "
            f"{', '.join(args.options)}."
        )


def _likely_duplicates(
    ctx: Context, contact: Contact, *, at_company: bool
) -> list[store.Candidate]:
    """Contacts with the same e-mail or phone; with the same name, unless both are at
    companies and those differ; with a similar name at the same company, at none (the
    first was logged in a hurry, without one), or at any for a contact added without one.
    The exact keys, the company's people and those at none whose name starts alike come
    in one statement; the name search finds the similar names elsewhere (and at a company
    too big to compare name by name)."""
    key = name_key(contact.name)
    # Read once: each read of a model's column goes through its attribute.
    email, phone, company_id = contact.email, contact.phone, contact.company_id
    candidates = store.duplicate_candidates(
        ctx.session,
        team_id=ctx.team_id,
        email=email,
        phone=phone,
        key=key,
        company_id=company_id,
        at_company=at_company,
    )
    by_id = sorted(candidates, key=lambda c: c.id)
    found = [c for c in by_id if email and c.email == email]
    found += [c for c in by_id if phone and c.phone == phone]
    found += [
        c
        for c in by_id
        if c.name_key == key and not (c.company_id and at_company and c.company_id != company_id)
    ]
    exact = list({c.id: c for c in found}.values())
    if len(exact) >= 3:  # the warning names three: similar names would come after these
        return exact[:3]
    peers = [c for c in by_id if company_id and c.company_id == company_id]
    if at_company and len(peers) < store.COMPANY_PEERS:
        # The company's people, and those at none whose name starts alike (the same person,
        # logged before without a company).
        unplaced = [c for c in by_id if c.company_id is None]
        scored = [(fuzz.ratio(key, c.name_key), c) for c in [*peers, *unplaced]]
        found += [
            c
            for score, c in sorted(scored, key=lambda pair: -pair[0])
            if score >= DUPLICATE_NAME_SCORE
        ]
    else:
        # The team-wide name search, for an /add without a company or at one too big to
        # compare: 3-4 ms at 100,000 contacts, three times a whole /add, where a company's
        # peers are compared above and the same name, at no company, was found exactly.
        similar = [
            record_id
            for record_id, candidate in trigram_candidates(
                ctx.session, table="contact", team_id=ctx.team_id, query=contact.name, limit=20
            )
            if fuzz.ratio(key, candidate) >= DUPLICATE_NAME_SCORE
        ]
        # Only at another company is a similar name likely someone else.
        found += [
            c
            for c in store.candidates_by_ids(ctx.session, team_id=ctx.team_id, ids=similar)
            if company_id is None or c.company_id in (None, company_id)
        ]
    return list({c.id: c for c in found}.values())[:3]


def _duplicate_warning(ctx: Context, contact: Contact, duplicates: list[store.Candidate]) -> Reply:
    reply = Reply().add(bold("This looks like a contact you already have:"))
    for existing in duplicates:
        same = [
            what
            for what, match in (
                ("same e-mail", existing.email == contact.email and contact.email),
                ("same phone", existing.phone == contact.phone and contact.phone),
                ("same name", existing.name_key == name_key(contact.name)),
            )
            if match
        ] or ["similar name"]
        reply.item(bold(existing.name), f" ({contact_ref(existing)}) — {', '.join(same)}")
    pending = pending_command(ctx, ctx.command_text or _card_command(ctx))
    reply.button_row(
        Button("Add anyway", FORCE, (pending,)),
        *(
            Button(f"Open {contact_ref(c)}", SHOW_BUTTON, (contact_ref(c),))
            for c in duplicates[:2]
        ),
    )
    reply.button_row(
        *(
            Button(f"Merge into {contact_ref(c)}", MERGE_INTO, (pending, c.id))
            for c in duplicates[:2]
        )
    )
    return reply


def _card_command(ctx: Context) -> str:
    """A shared contact card as the /add command that logs it (for "add anyway")."""
    card_data = ctx.request.contact
    assert card_data is not None
    parts = ["/add"]
    for key in ("name", "phone", "email", "company", "title"):
        value = getattr(card_data, key)
        if value:
            parts.append(f"{key}:{quote(value)}")
    return " ".join(parts)


def _name(record: Record) -> str:
    return record.name if isinstance(record, Contact) else record.title


def register(registry: Registry) -> None:
    registry.command("add", add_contact, keys=CONTACT_KEYS, shapes=(PHONE, EMAIL), undoable=True)
    registry.command("find", find, aliases=("search",), writes=False)
    registry.command("show", show, aliases=("card", "open"), writes=False)
    registry.command(
        "edit",
        edit,
        keys=(*CONTACT_KEYS, "amount", "close", "contact", "stage"),
        shapes=(PHONE, EMAIL, AMOUNT),
        undoable=True,
    )
    registry.command("tag", tag, undoable=True)
    registry.command("untag", untag, undoable=True)
    registry.command("leads", leads, keys=("city", "status", "owner", "limit"), writes=False)
    registry.button(SHOW_BUTTON, press_show, writes=False)
    # Open on an announcement: the card for the one who pressed, as their team shows it.
    registry.button(OPEN_BUTTON, press_show, writes=False)
    registry.event("contact", shared_contact, undoable=True)
