"""Deals: open them, list them, move them through the stages, win or lose them."""

from __future__ import annotations

import re
from bisect import bisect
from collections.abc import Sequence
from datetime import date

from handlers.cards import (
    STAGE_BUTTON,
    deal_amount,
    is_rotting,
    member_names,
    rotting_cutoffs,
    stage_buttons,
)
from handlers.confirmations import deal_moved, deal_opened, deal_unmoved
from handlers.context import Context
from handlers.dates import CLOSE_WITHIN, read_day, take_day
from handlers.errors import CommandError, Forbidden, UsageError
from handlers.format import deal_ref, money
from handlers.grammar import AMOUNT, YEAR, Args, Money, limited, read_amount
from handlers.notices import announce_won
from handlers.refs import (
    CONTACT,
    DEAL,
    list_owner,
    owner_word,
    record_by_ref,
    resolve,
    resolve_leading,
    resolve_member,
    resolve_stage,
    resolve_trailing,
)
from handlers.registry import Registry
from handlers.reply import Reply, bold
from handlers.scoring import team_rules
from storage import contacts as contact_store
from storage import deals as store
from storage.activities import log_activity
from storage.core import new_row
from storage.models import Activity, ActivityKind, Contact, Deal, Role, StageKind
from storage.teams import StageRow, stage_of, stage_rows, team_stages

DEAL_KEYS = ("stage", "close", "contact", "company", "amount")
# What one team's deals in one currency may add up to, in minor units. Every running
# total and every sum a report makes is a part of it, so none can pass a 64-bit integer
# (9.2 * 10^18), however many deals of the largest amount (grammar.MAX_MINOR) there are.
MAX_TEAM_TOTAL = 10**18
# A number with nothing to say it is money, as the last word (`/deal Sofa Greta 900`).
_BARE_AMOUNT = re.compile(r"\d[\d.,']*k?", re.IGNORECASE)
# Words that join a contact named after the title to it (`Website relaunch for Sean`).
_JOINERS = frozenset(["for", "with", "für", "mit", "pour", "avec", "para", "con", "per", "voor"])
# The words /deals takes besides its options.
_LIST_WORDS = frozenset({"rotting", "won", "lost", "open"})
# The same in German (as /stage takes the stages' German names) and as also said.
_LIST_SAID = {"gewonnen": "won", "verloren": "lost"}
_LIST_SAID |= {"offen": "open", "offene": "open", "stale": "rotting"}
# `/lost 42 reason: price`, as fields are written elsewhere: the label is no part of it.
_REASON_LABEL = re.compile(r"^(?:lost\s+)?(?:reason|grund|why)\s*:\s*", re.IGNORECASE)
# The words that move a deal on by one stage (`/stage d12 next`).
_NEXT_WORDS = frozenset({"next", "forward", "nächste", "weiter"})
# The words that say "close:" when its colon was left out.
_CLOSE_WORDS = frozenset({"close", "closing", "due"})
_KIND_ACTIVITY = {
    StageKind.open: ActivityKind.stage,
    StageKind.won: ActivityKind.won,
    StageKind.lost: ActivityKind.lost,
}


def open_deal(ctx: Context, args: Args) -> Reply:
    """Open a deal, optionally for a contact, with an amount, stage and expected close.

    /deal TITLE [CONTACT] [AMOUNT] [stage:STAGE] [close:DATE] [#tag]

    Example: /deal Website redesign Jane Doe 12k close:next friday #web
    Amounts as you write them: 12k, 12,5k, 12.000 €, 12 000 EUR, 5.000 Euro, $3,500.
    Dates too: close:15.12., close:Dec 15, close:in 2 weeks, close:end of quarter,
    close:March (its last day). due: works as well, and the colon may be left out: /deal
    Wartung 3.000 € close 15.12.
    The contact is recognised at the end of the title (after "for" or "with" too, or
    before the amount when words follow it: /deal Wartung Greta 3.000 € netto), by name,
    by a word of the name that belongs to one contact (/deal Consulting Łukasz 3.5k) or by
    its id (c12, also first), by its full name before the title (/deal Jane Doe Website
    redesign 12k, or with the title in quotes), or given as contact:NAME. A deal named by
    its contact alone (/deal for Jane 300, /deal Jane Doe) is named after their company.
    The answer shows what was stored (amount, contact, stage, close) and buttons to move
    the deal on.
    """
    assert ctx.team is not None
    stages = stage_rows(ctx.session, team_id=ctx.team_id)
    expected_close = _take_close(ctx, args)
    team = ctx.team
    typed = list(args.word_ends)
    amount = _take_amount_field(ctx, args) or args.take_amount(
        team.currency, locale=team.locale, bare=False, picks=ctx.picks
    )
    # Where the amount was typed, among the free words: a contact may end there too.
    amount_at = min(set(typed) - set(args.word_ends), default=None)
    expected_close = expected_close or _close_without_colon(ctx, args)
    contact = _contact_for_deal(ctx, args, amount_at)
    # A bare number counts only as the last word once the contact is off the end.
    amount = amount or args.take_amount(team.currency, locale=team.locale, picks=ctx.picks)
    title = limited(args.rest.strip(" ,;"), 200, "A deal title")
    named_after = None
    if not title and contact is not None:
        # Named as an import names a deal without a title: after its company, or person.
        named_after = title = _company_name(ctx, contact) or contact.name
    if not title:
        raise UsageError("What is the deal called? Give it a title.")
    stage = _opening_stage(stages, args.option("stage"))
    deal = new_row(
        Deal,
        team_id=ctx.team_id,
        owner_id=ctx.member_id,
        title=title,
        title_key="",
        stage_id=stage.id or 0,
        expected_close=expected_close,
    )
    if amount is not None:
        _check_team_total(ctx, amount, replacing=None)
        deal.amount, deal.currency = amount.minor, amount.currency
    if contact is not None:
        deal.contact_id, deal.company_id = contact.id, contact.company_id
    if (company := args.option("company")) is not None:
        deal.company_id = contact_store.get_or_create_company(
            ctx.session,
            team_id=ctx.team_id,
            name=limited(company, 200, "A company name"),
            now=ctx.now,
        ).id
    store.open_deal(ctx.session, deal=deal, member_id=ctx.member_id, now=ctx.now)
    assert deal.id is not None
    if args.tags:
        contact_store.add_tags(
            ctx.session,
            team_id=ctx.team_id,
            target="deal",
            target_id=deal.id,
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
            contact_id=deal.contact_id,
            deal_id=deal.id,
            at=ctx.now,
        ),
        rules=team_rules(ctx),
    )
    reply = deal_opened(ctx, deal, tagged=args.tags)
    if named_after is not None:
        reply.muted(f"Named after {named_after}; rename it with /edit d{deal.id} title:TITLE.")
    return reply


def list_deals(ctx: Context, args: Args) -> Reply:
    """List open deals, most recently active first; rotting ones are flagged.

    /deals [stage:STAGE] [@member | mine] [rotting] [won | lost] [limit:30]
    """
    stages = team_stages(ctx.session, team_id=ctx.team_id)
    said = [_LIST_SAID.get(word.lower(), word.lower()) for word in args.words]
    words = set(said)
    # `/deals @bob`, as /pipeline names a teammate: the same as owner:@bob.
    unknown = [
        word
        for word, meant in zip(args.words, said, strict=True)
        if meant not in _LIST_WORDS and not owner_word(word)
    ]
    if unknown:
        raise UsageError(f"I don't understand “{' '.join(unknown)}” here.")
    owner = list_owner(ctx, args.words, args.option("owner"))
    if args.tags:
        # Listing every deal for a filter that was not applied would read as an answer.
        raise UsageError(
            f"Deals are not listed by tag; /leads #{args.tags[0]} lists the contacts with it."
        )
    kind = StageKind.won if "won" in words else StageKind.lost if "lost" in words else None
    if (stage_text := args.option("stage")) is not None:
        chosen = [resolve_stage(stages, stage_text)]
    else:
        chosen = [s for s in stages if s.kind == (kind or StageKind.open)]
    rotting = "rotting" in words
    limit_text = args.option("limit") or "30"
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 100:
        raise UsageError("limit: takes a number from 1 to 100.")
    deals = store.list_deals(
        ctx.session,
        team_id=ctx.team_id,
        stage_ids=[s.id for s in chosen if s.id],
        owner_id=None if owner is None else owner.id,
        rotting_before=rotting_cutoffs(chosen, ctx.now) if rotting else None,
        limit=int(limit_text),
    )
    if not deals:
        return Reply().add("No deals match. Open one with /deal.")
    by_id = {s.id: s for s in stages}
    names = member_names(ctx, (deal.owner_id for deal in deals))
    reply = Reply().heading(f"{'Rotting deals' if rotting else 'Deals'} ({len(deals)})")
    totals: dict[str, int] = {}
    for deal in deals:
        stage = by_id[deal.stage_id]
        flag = " · rotting" if is_rotting(deal, stage, ctx.now) else ""
        reply.item(
            bold(deal.title),
            f" ({deal_ref(deal)}) · {deal_amount(ctx, deal)} · "
            f"{stage.name} · {names.get(deal.owner_id, '?')}{flag}",
        )
        if deal.amount is not None and deal.currency:
            totals[deal.currency] = totals.get(deal.currency, 0) + deal.amount
    assert ctx.team is not None
    if totals:
        reply.muted(
            "Total: " + ", ".join(money(v, c, ctx.team.locale) for c, v in sorted(totals.items()))
        )
    return reply


def move(ctx: Context, args: Args) -> Reply:
    """Move a deal to another stage; without a stage, pick one with a button.

    /stage DEAL [STAGE|next]

    Examples: /stage 42 proposal · /stage Website redesign negotiation · /stage d42 next
    """
    deal, used = resolve(ctx, args.words, (DEAL,))
    assert isinstance(deal, Deal)
    stages = stage_rows(ctx.session, team_id=ctx.team_id)
    stage_text = " ".join(args.words[used:])
    if not stage_text:
        current = stage_of(stages, deal.stage_id)
        reply = Reply().add(bold(deal.title), f" is in {current.name}. Move it to:")
        reply.buttons.extend(stage_buttons(deal, stages))
        return reply
    if stage_text.lower() in _NEXT_WORDS:
        return _move(ctx, deal, _next_stage(deal, stages))
    return _move(ctx, deal, resolve_stage(stages, stage_text))


def reopen(ctx: Context, args: Args) -> Reply:
    """Open a won or lost deal again, in the stage it was closed from.

    /reopen DEAL [STAGE]

    With a STAGE, in that open stage instead.

    Example: /reopen Website relaunch · /reopen d42 negotiation
    """
    deal, used = resolve(ctx, args.words, (DEAL,))
    assert isinstance(deal, Deal)
    stages = stage_rows(ctx.session, team_id=ctx.team_id)
    current = stage_of(stages, deal.stage_id)
    if current.kind == StageKind.open:
        raise UsageError(
            f"{deal.title} is open, in {current.name}; /stage d{deal.id} STAGE moves it."
        )
    open_stages = [s for s in stages if s.kind == StageKind.open]
    if stage_text := " ".join(args.words[used:]):
        stage = resolve_stage(stages, stage_text)
        if stage.kind != StageKind.open:
            raise UsageError(f"{stage.name} closes a deal; reopen it in an open stage.")
    else:
        before = store.stage_before(ctx.session, deal=deal)
        stage = next((s for s in open_stages if s.id == before), open_stages[0])
    return _move(ctx, deal, stage)


def _next_stage(deal: Deal, stages: Sequence[StageRow]) -> StageRow:
    """The open stage after the deal's (`/stage d12 next`)."""
    current = stage_of(stages, deal.stage_id)
    if current.kind != StageKind.open:
        raise UsageError(
            f"{deal.title} is {current.name}; name the open stage it goes back to "
            f"(/stage d{deal.id} STAGE)."
        )
    later = [s for s in stages if s.kind == StageKind.open and s.position > current.position]
    if not later:
        raise UsageError(
            f"{deal.title} is in {current.name}, the last open stage: /won d{deal.id} or "
            f"/lost d{deal.id}."
        )
    return min(later, key=lambda s: s.position)


def win(ctx: Context, args: Args) -> Reply:
    """Mark a deal as won, at the amount it closed at when that changed.

    /won DEAL [AMOUNT]

    Example: /won Website redesign, or /won d12 11.500 € when it closed at another
    figure. The team's announcement chats hear about it; Undo takes it back (and tells
    them).
    """
    assert ctx.team is not None
    team = ctx.team
    final = args.take_amount(team.currency, locale=team.locale, bare=False, picks=ctx.picks)
    deal, _ = resolve(ctx, args.words, (DEAL,), whole=True)
    assert isinstance(deal, Deal)
    if final is None or (final.minor, final.currency) == (deal.amount, deal.currency):
        return _move(ctx, deal, _closing_stage(ctx, StageKind.won))
    was = deal_amount(ctx, deal)
    _check_team_total(ctx, final, replacing=deal)
    deal.amount, deal.currency = final.minor, final.currency
    reply = _move(ctx, deal, _closing_stage(ctx, StageKind.won))
    return reply.add("amount: ", bold(deal_amount(ctx, deal)), f", was {was}")


def lose(ctx: Context, args: Args) -> Reply:
    """Mark a deal as lost, with the reason if you know it.

    /lost DEAL [REASON]

    Example: /lost 42 went with a cheaper vendor
    """
    deal, used = resolve(ctx, args.words, (DEAL,))
    assert isinstance(deal, Deal)
    said = _REASON_LABEL.sub("", args.text_after(used), count=1)
    reason = limited(said, 500, "A reason") or None
    return _move(ctx, deal, _closing_stage(ctx, StageKind.lost), reason=reason)


def press_stage(ctx: Context, args: tuple[str, ...]) -> Reply:
    if len(args) != 2 or not all(a.isdigit() for a in args):
        raise CommandError("That button is no longer valid.")
    found = store.get_deal(ctx.session, team_id=ctx.team_id, deal_id=int(args[0]))
    stage = next(
        (s for s in stage_rows(ctx.session, team_id=ctx.team_id) if s.id == int(args[1])), None
    )
    if found is None or stage is None:
        raise CommandError("That deal or stage no longer exists.")
    reply = _move(ctx, found, stage)
    reply.edit = True
    return reply


def _move(ctx: Context, deal: Deal, stage: StageRow, *, reason: str | None = None) -> Reply:
    store.lock_deal(ctx.session, deal=deal)
    if not ctx.can_change_owned(deal.owner_id):
        raise Forbidden(f"{deal.title} belongs to a teammate; only they or a manager can move it.")
    if deal.stage_id == stage.id and not reason:
        return deal_unmoved(ctx, deal)
    was = stage_of(stage_rows(ctx.session, team_id=ctx.team_id), deal.stage_id)
    change = store.move_deal(
        ctx.session,
        deal=deal,
        stage=stage,
        member_id=ctx.member_id,
        now=ctx.now,
        lost_reason=reason,
    )
    log_activity(
        ctx.session,
        activity=new_row(
            Activity,
            team_id=ctx.team_id,
            member_id=ctx.member_id,
            kind=_KIND_ACTIVITY[StageKind(stage.kind)],
            contact_id=deal.contact_id,
            deal_id=deal.id,
            text=reason or stage.name,
            at=ctx.now,
        ),
        rules=team_rules(ctx),
    )
    notes = {
        StageKind.won: f"Won {deal_amount(ctx, deal)}! Congratulations.",
        StageKind.lost: "Marked as lost.",
    }
    note = notes.get(StageKind(stage.kind), f"Moved to {stage.name}.")
    if stage.kind == StageKind.won and (channels := announce_won(ctx, deal, change)):
        note += f" Announced in {channels} channel{'s' if channels != 1 else ''}."
    return deal_moved(ctx, deal, was, note)


def apply_deal_fields(ctx: Context, deal: Deal, args: Args) -> None:
    """The deal fields /edit can change."""
    assert ctx.team is not None
    if (title := args.option("title", "name")) is not None:
        deal.title = limited(title, 200, "A deal title")
        if not deal.title:
            raise UsageError("A deal needs a title.")
    if "amount" in args.options:
        money_value = _take_amount_field(ctx, args)
        if money_value is not None:
            _check_team_total(ctx, money_value, replacing=deal)
        deal.amount = money_value.minor if money_value else None
        deal.currency = money_value.currency if money_value else None
    if "close" in args.options:
        deal.expected_close = _take_close(ctx, args)
    if (contact_text := args.option("contact")) is not None:
        contact, _ = resolve(ctx, contact_text.split(), (CONTACT,), whole=True)
        assert isinstance(contact, Contact)
        deal.contact_id, deal.company_id = contact.id, contact.company_id or deal.company_id
    if (owner := args.option("owner")) is not None:
        if ctx.role.rank < Role.manager.rank:
            raise Forbidden("Only managers and admins can hand deals to someone else.")
        deal.owner_id = resolve_member(ctx, owner).id or deal.owner_id


def _check_team_total(ctx: Context, amount: Money, *, replacing: Deal | None) -> None:
    """Refuse an amount that would take the team's deals in its currency past
    MAX_TEAM_TOTAL; `replacing`: the deal whose stored amount it replaces."""
    assert ctx.team is not None
    total = store.currency_total(ctx.session, team_id=ctx.team_id, currency=amount.currency)
    if replacing is not None and replacing.currency == amount.currency:
        total -= replacing.amount or 0
    if total + amount.minor > MAX_TEAM_TOTAL:
        room = money(max(MAX_TEAM_TOTAL - total, 0), amount.currency, ctx.team.locale)
        raise CommandError(
            f"The team's deals in {amount.currency} would add up to more than this "
            f"installation counts: this deal can be at most {room}."
        )


def _take_amount_field(ctx: Context, args: Args) -> Money | None:
    """`amount:`, read as far as the amount goes; None when not given or given empty."""
    assert ctx.team is not None
    team = ctx.team
    typed = args.options.get("amount", "").strip(" ,;")
    money_value = args.take_phrase(
        "amount",
        lambda text: read_amount(text, team.currency, locale=team.locale, picks=ctx.picks),
    )
    if money_value is None and typed:
        raise UsageError(
            f"I can't read the amount “{typed}” (e.g. 12k, 12.000 €, $3,500, 12 000 EUR)."
        )
    return money_value


def _take_close(ctx: Context, args: Args) -> date | None:
    """`close:` (or `due:`) as a day in the member's timezone; None when not given or
    given empty (which clears it in /edit)."""
    assert ctx.team is not None
    if not args.options.get("close", "").strip(" ,;"):
        args.option("close")
        return None
    return take_day(args, "close", tz=ctx.tz, now=ctx.now, locale=ctx.team.locale)


def _close_without_colon(ctx: Context, args: Args) -> date | None:
    """`/deal Wartung 3.000 € close 15.12.`: a close word after the title's first word,
    followed by words that read as a day (the longest run of at most four); they leave the
    title. Anything else after a close word (`close to`) stays in the title."""
    assert ctx.team is not None
    today = ctx.now.astimezone(ctx.tz).date()
    for at in range(len(args.words) - 2, 0, -1):
        if args.words[at].lower() not in _CLOSE_WORDS:
            continue
        for n in range(min(4, len(args.words) - at - 1), 0, -1):
            text = " ".join(args.words[at + 1 : at + 1 + n])
            day = read_day(text, tz=ctx.tz, now=ctx.now, locale=ctx.team.locale)
            if day is not None and abs(day - today) <= CLOSE_WITHIN:
                del args.words[at : at + 1 + n]
                del args.word_ends[at : at + 1 + n]
                return day
    return None


def _contact_for_deal(ctx: Context, args: Args, amount_at: int | None) -> Contact | None:
    """`contact:NAME`, or a contact named by the last words of the title (before a bare
    amount, `/deal Sofa Greta 900`, or before the amount with words after it, `/deal
    Wartung Greta 3.000 € netto`): in full, by a word of the name that belongs to one
    contact (`/deal Consulting Łukasz`) or by its id (`c12`, also as the first word); or
    by the words before a title in quotes. `amount_at`: where in `raw` the amount was."""
    if (text := args.option("contact")) is not None:
        record, _ = resolve(ctx, text.split(), (CONTACT,), whole=True)
        assert isinstance(record, Contact)
        return record
    words = args.words
    ends = [len(words)]
    if len(words) > 2 and _bare_amount_last(words):
        ends.append(len(words) - 1)
    if amount_at is not None and 1 < (before := bisect(args.word_ends, amount_at)) < len(words):
        ends.append(before)
    if (whole := _only_a_contact(ctx, words)) is not None:
        return _taken(args, 0, whole[1], whole[0])
    for end in ends:
        if end > 1 and (by_ref := record_by_ref(ctx, words[end - 1], CONTACT)) is not None:
            return _taken(args, _with_joiner(words, end - 1), end, by_ref)
        if (found := resolve_trailing(ctx, words[:end], (CONTACT,))) is not None:
            return _taken(args, _with_joiner(words, end - found[1]), end, found[0])
    if len(words) > 1 and (by_ref := record_by_ref(ctx, words[0], CONTACT)) is not None:
        return _taken(args, 0, 1, by_ref)
    if (title := _quoted_title(args)) is not None:
        found = resolve_trailing(ctx, words[:title], (CONTACT,), keep=0)
        if found is not None and found[1] == title:
            return _taken(args, 0, title, found[0])
    if (found := resolve_leading(ctx, words, (CONTACT,))) is not None:
        return _taken(args, 0, found[1], found[0])  # `/deal Anna Weiß Relaunch 4.500 €`
    return None


def _company_name(ctx: Context, contact: Contact) -> str | None:
    if contact.company_id is None:
        return None
    company = contact_store.get_company(
        ctx.session, team_id=ctx.team_id, company_id=contact.company_id
    )
    return company.name if company else None


def _bare_amount_last(words: list[str]) -> bool:
    """Whether the last word is a bare number that may be the amount (not a year)."""
    return bool(_BARE_AMOUNT.fullmatch(words[-1])) and not YEAR.fullmatch(words[-1])


def _only_a_contact(ctx: Context, words: list[str]) -> tuple[Contact, int] | None:
    """A contact named by all the words, by id or by name, maybe after a joiner and before
    a bare amount (`/deal for Greta 300`, `/deal Greta Lind`, `/deal c12`): the deal has
    no title of its own. The contact and how many words it took with its joiner."""
    end = len(words)
    if end > 1 and _bare_amount_last(words):
        end -= 1
    start = 1 if end > 1 and words[0].lower() in _JOINERS else 0
    if end - start == 1 and (by_ref := record_by_ref(ctx, words[start], CONTACT)) is not None:
        assert isinstance(by_ref, Contact)
        return by_ref, end
    # After a joiner a word of the name is enough (`for Greta`); alone, the full name is
    # (`/deal Stone` is a title even with a Tom Stone among the contacts).
    resolve_named = resolve_trailing if start else resolve_leading
    found = resolve_named(ctx, words[start:end], (CONTACT,), keep=0)
    if found is None or found[1] != end - start:
        return None
    assert isinstance(found[0], Contact)
    return found[0], end


def _with_joiner(words: list[str], start: int) -> int:
    """Where a contact named after the title starts, with the word that joins it to the
    title (`/deal Website relaunch for Sean`: the title is not "Website relaunch for")."""
    if start >= 2 and words[start - 1].lower() in _JOINERS:
        return start - 1
    return start


def _taken(args: Args, start: int, end: int, record: Contact | Deal) -> Contact:
    """The contact named by free words `start` to `end`, which leave the title."""
    del args.words[start:end]
    del args.word_ends[start:end]
    assert isinstance(record, Contact)
    return record


def _quoted_title(args: Args) -> int | None:
    """Where a title in quotes stands after its contact (`/deal Jane Doe "Website
    relaunch"`): the last word, or the last but a bare amount (`"Sofa, blue" 900`)."""
    last = len(args.words) - 1
    if last >= 1 and args.quoted(last):
        return last
    if last >= 2 and args.quoted(last - 1) and _BARE_AMOUNT.fullmatch(args.words[last]):
        return last - 1
    return None


def _opening_stage(stages: Sequence[StageRow], text: str | None) -> StageRow:
    open_stages = [s for s in stages if s.kind == StageKind.open]
    if text is None:
        return open_stages[0]
    stage = resolve_stage(stages, text)
    if stage.kind != StageKind.open:
        raise UsageError("A new deal starts in an open stage; open it, then use /won or /lost.")
    return stage


def _closing_stage(ctx: Context, kind: StageKind) -> StageRow:
    stages = stage_rows(ctx.session, team_id=ctx.team_id)
    return next(s for s in stages if s.kind == kind)


def register(registry: Registry) -> None:
    registry.command("deal", open_deal, keys=DEAL_KEYS, shapes=(AMOUNT,), undoable=True)
    registry.command("deals", list_deals, keys=("stage", "owner", "limit"), writes=False)
    registry.command("stage", move, aliases=("move",), undoable=True)
    registry.command("won", win, aliases=("win",), undoable=True)
    registry.command("lost", lose, aliases=("lose",), undoable=True)
    registry.command("reopen", reopen, undoable=True)
    registry.button(STAGE_BUTTON, press_stage, undoable=True)
