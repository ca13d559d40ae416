"""Which contact, deal, member or stage a user means.

By id (`42`, `c42`, `d42`), by exact name, or by a misspelt name: exact names are looked up
for every leading run of words in one indexed query; failing that, a trigram index gives a
few dozen candidates that rapidfuzz scores. An exact full name wins over names it is part
of; one clear winner, or the only plausible candidate, is taken; several plausible ones
raise Ambiguous, which the dispatcher turns into one button per candidate, labelled with
what tells them apart. Emoji and punctuation after a name (`José 🍷`, `Jane Doe,`) are not
part of it, nor is a possessive's 's (`/note José’s wife called`), nor a word after a
name that names it better without that word (`/edit Greta Lind Stockholm`). A word of a name
(`Łukasz` for Łukasz Kowalski) names the one contact it belongs to, whether it leads the
words (`/visit Łukasz`) or ends them (`/deal Consulting Łukasz`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from rapidfuzz import fuzz, process

from handlers.context import Context
from handlers.errors import Ambiguous, Candidate, CommandError, UsageError
from handlers.format import money
from storage import contacts as contact_store
from storage import deals as deal_store
from storage.keys import loose_key, name_key
from storage.models import Contact, Deal, Member, Stage
from storage.search import Searchable, trigram_candidates
from storage.teams import StageRow, member_names, stage_rows, team_members

_Stage = TypeVar("_Stage", Stage, StageRow)

Record = Contact | Deal
MAX_REF_WORDS = 6
SURE = 85  # a fuzzy match this good, with no rival close to it, is taken
RIVAL = 75
PLAUSIBLE = 55
WHOLE_WORDS = 90
MAX_DETAILS = 2  # what a "which one" button shows besides the name
_ID = re.compile(r"^(?P<kind>[cd#]?)(?P<id>\d{1,12})$", re.IGNORECASE)
_POSSESSIVE = re.compile(r"\w['’]s$")
_STRAIGHT = str.maketrans(dict.fromkeys("’‘ʼ", "'"))
_CURLY = str.maketrans(dict.fromkeys("'‘ʼ", "’"))


@dataclass(frozen=True)
class Kind:
    name: str
    letter: str
    table: Searchable
    by_ids: Callable[..., Sequence[Record]]
    by_keys: Callable[..., Sequence[Record]]

    def key(self, record: Record) -> str:
        return record.name_key if isinstance(record, Contact) else record.title_key


CONTACT = Kind(
    "contact", "c", "contact", contact_store.contacts_by_ids, contact_store.contacts_named
)
DEAL = Kind("deal", "d", "deal", deal_store.deals_by_ids, deal_store.deals_titled)
KINDS = {kind.letter: kind for kind in (CONTACT, DEAL)}


def resolve(
    ctx: Context,
    words: Sequence[str],
    kinds: Sequence[Kind],
    *,
    whole: bool = False,
    more: bool = False,
) -> tuple[Record, int]:
    """The record named by the leading words, and how many words that took.

    `whole`: every word is part of the reference (`/show Jane Doe`); an id is one word, and
    words after it are refused (`/tag c1 c2 #vip` would tag c1 alone) unless `more` says
    the caller takes them (`/remind c1 please call 9:00`).
    """
    named = list(words)
    if whole:
        while named and not _has_text(named[-1]):
            named.pop()  # `/tag José 🍷 #vip`: the emoji is not part of the name
    if not named:
        raise UsageError(f"Say which {_kind_names(kinds)}: an id or a name.")
    lengths = [len(named)] if whole else list(range(min(len(named), MAX_REF_WORDS), 0, -1))
    used = len(words) if whole else None
    if (picked := _picked(ctx, [" ".join(named[:n]) for n in lengths], lengths)) is not None:
        return picked[0], used or picked[1]
    if (by_id := _resolve_id(ctx, _bare(named[0]), kinds)) is not None:
        # An id is one word: only what is no name (an emoji) may follow it as part of it.
        if whole and len(named) > 1 and not more:
            raise UsageError(
                f"I don't know what “{' '.join(named[1:])}” is for: name one "
                f"{_kind_names(kinds)} at a time, by its id or its name."
            )
        return by_id, used if used is not None and len(named) == 1 else 1
    runs = {n: named[:n] for n in lengths}
    if (exact := _resolve_exact(ctx, runs, kinds)) is not None:
        return exact[0], used or exact[1]
    record, n = _resolve_fuzzy(ctx, named, kinds, lengths)
    if whole and (named_by := _named_by_fewer(named, record)) < len(named):
        # `/edit Greta Lind Stockholm status:customer`: Stockholm is no part of her name.
        if not more:
            raise UsageError(
                f"I don't know what “{' '.join(named[named_by:])}” is for: name one "
                f"{_kind_names(kinds)} at a time, by its id or its name."
            )
        return record, named_by
    return record, used or n


def _named_by_fewer(words: Sequence[str], record: Record) -> int:
    """How many of the words name `record`: fewer than all when the first of them are
    words of its name (`Greta Lind` of `Greta Lind Stockholm`, `Greta` of `Greta
    Stockholm`) and name it better than all of them do, which a misspelling never does
    (`Greta Lindd`)."""
    key = name_key(_name(record))
    whole = _score(_key(words), key)
    scored = [(_score(_key(words[:n]), key), n) for n in range(len(words) - 1, 0, -1)]
    best, n = max(scored, default=(0.0, len(words)))
    return n if best >= WHOLE_WORDS and best > whole else len(words)


def resolve_trailing(
    ctx: Context, words: Sequence[str], kinds: Sequence[Kind], *, keep: int = 1
) -> tuple[Record, int] | None:
    """The record named by the last words, and how many words that took; None when they
    name none. At least `keep` words are left (a deal's title before its contact).

    The same names as `resolve`, without guessing at typos: free words before a name are a
    title, and a misspelt word in a title must not turn into someone's name."""
    runs = {n: list(words[-n:]) for n in _run_lengths(words, keep)}
    if (named := _named_in_full(ctx, runs, kinds)) is not None:
        return named
    for n, run in runs.items():
        if not _has_text(run[0]):
            continue
        typed = set(_key(run).split())
        found = [
            (kind, record_id)
            for kind in kinds
            for record_id, key in trigram_candidates(
                ctx.session,
                table=kind.table,
                team_id=ctx.team_id,
                query=_key(run),
                any_typo=False,
            )
            if typed <= _words(key)
        ]
        records = [r for kind, i in found if (r := _by_id(ctx, kind, i)) is not None]
        if len(records) == 1:
            return records[0], n
        if records:
            raise Ambiguous(" ".join(run), candidates(ctx, records))
    return None


def resolve_leading(
    ctx: Context, words: Sequence[str], kinds: Sequence[Kind], *, keep: int = 1
) -> tuple[Record, int] | None:
    """The record whose whole name the first words are, and how many words that took; None
    when they are none's. At least `keep` words are left. Names only, in full: before a
    title, a word that merely resembles a name is the title's."""
    runs = {n: list(words[:n]) for n in _run_lengths(words, keep)}
    return _named_in_full(ctx, runs, kinds)


def named_in(ctx: Context, words: Sequence[str]) -> Record | None:
    """The one record that free text names, anywhere in it: a contact by their whole name
    (`call Greta Lind about the quote`), or a contact or deal by its id as the bot writes
    it (`ask c12`). None when it names none, or several (which one is no guess): a word
    of a name alone is no name here, as text is full of words that are also names."""
    spans: dict[str, list[tuple[int, int]]] = {}  # name key -> where it was typed
    for start in range(len(words)):
        for end in range(start + 1, min(start + MAX_REF_WORDS, len(words)) + 1):
            for key in _keys(words[start:end]):
                spans.setdefault(key, []).append((start, end))
    named = [
        (span, record)
        for record in CONTACT.by_keys(ctx.session, team_id=ctx.team_id, keys=list(spans))
        for span in spans[CONTACT.key(record)]
    ]
    named += [
        ((i, i + 1), record)
        for i, word in enumerate(words)
        for kind in KINDS.values()
        if (record := record_by_ref(ctx, word, kind)) is not None
    ]
    # `Greta Lind` is not also a mention of a contact named Greta.
    found = {
        record.id if isinstance(record, Contact) else -(record.id or 0): record
        for (start, end), record in named
        if not any(s <= start and end <= e and (s, e) != (start, end) for (s, e), _ in named)
    }
    return next(iter(found.values())) if len(found) == 1 else None


def _run_lengths(words: Sequence[str], keep: int) -> list[int]:
    """How many words a name among `words` may take, longest first, leaving `keep`."""
    return list(range(min(len(words) - keep, MAX_REF_WORDS), 0, -1))


def _named_in_full(
    ctx: Context, runs: dict[int, list[str]], kinds: Sequence[Kind]
) -> tuple[Record, int] | None:
    """The record picked with a "which one" button for one of the runs of words (`n:
    words`), or named by one in full; None when there are no runs."""
    if not runs:
        return None
    lengths = list(runs)
    if (picked := _picked(ctx, [" ".join(run) for run in runs.values()], lengths)) is not None:
        return picked
    return _resolve_exact(ctx, runs, kinds)


def record_by_ref(ctx: Context, word: str, kind: Kind) -> Record | None:
    """The record a word names the way the bot writes it (`c42` for a contact), when it is
    one of the team's; None for any other word. Among free words (a deal's title) only
    this exact form counts: `C200` may be a product, and a bare number a year."""
    match = _ID.match(_bare(word))
    if match is None or match.group("kind") != kind.letter:
        return None
    return _by_id(ctx, kind, int(match.group("id")))


def contact_of(ctx: Context, record: Record) -> Contact | None:
    if isinstance(record, Contact):
        return record
    if record.contact_id is None:
        return None
    return contact_store.get_contact(
        ctx.session, team_id=ctx.team_id, contact_id=record.contact_id
    )


def label(record: Record) -> str:
    if isinstance(record, Contact):
        return f"{record.name} (c{record.id})"
    return f"{record.title} (d{record.id})"


def _has_text(word: str) -> bool:
    return any(ch.isalnum() for ch in word)


def _bare(text: str) -> str:
    """Without the emoji and punctuation typed after it, or a possessive's 's: `José 🍷`,
    `José’s` -> `José`."""
    end = len(text)
    while end and not text[end - 1].isalnum():
        end -= 1
    if _POSSESSIVE.search(text, 0, end):
        end -= 2
    return text[:end]


def _key(words: Sequence[str]) -> str:
    return name_key(_bare(" ".join(words)))


def _keys(words: Sequence[str]) -> set[str]:
    """What a run of words may be the name key of: as typed (`Website (phase 2)`), and
    without what trails the name (`Jane Doe,` `José 🍷`), with either apostrophe (`O'Brien`
    typed on a computer names the O’Brien typed on a phone)."""
    keys = {name_key(" ".join(words)), _key(words)} - {""}
    return {spelled for key in keys for spelled in _apostrophes(key)}


def _apostrophes(key: str) -> set[str]:
    return {key, key.translate(_STRAIGHT), key.translate(_CURLY)}


def _picked(
    ctx: Context, refs: Sequence[str], lengths: Sequence[int]
) -> tuple[Record, int] | None:
    """A record chosen with a "which one" button for one of these runs of words."""
    for ref, n in zip(refs, lengths, strict=True):
        picked = ctx.picks.get(ref)
        if picked:
            record = _by_id(ctx, KINDS[picked[0]], int(picked[1:]))
            if record is not None:
                return record, n
    return None


def _kind_names(kinds: Sequence[Kind]) -> str:
    return " or ".join(kind.name for kind in kinds)


def _by_id(ctx: Context, kind: Kind, record_id: int) -> Record | None:
    found = kind.by_ids(ctx.session, team_id=ctx.team_id, ids=[record_id])
    return found[0] if found else None


def _resolve_id(ctx: Context, word: str, kinds: Sequence[Kind]) -> Record | None:
    match = _ID.match(word)
    if not match:
        return None
    letter, record_id = match.group("kind").lower(), int(match.group("id"))
    wanted = [KINDS[letter]] if letter in KINDS else list(kinds)
    if letter in KINDS and KINDS[letter] not in kinds:
        raise CommandError(f"{word} is a {KINDS[letter].name}; this needs a {_kind_names(kinds)}.")
    found = [r for kind in wanted if (r := _by_id(ctx, kind, record_id)) is not None]
    if not found:
        raise CommandError(f"There is no {_kind_names(wanted)} {word} in your team.")
    if len(found) > 1:
        raise Ambiguous(word, candidates(ctx, found))
    return found[0]


def _resolve_exact(
    ctx: Context, runs: dict[int, list[str]], kinds: Sequence[Kind]
) -> tuple[Record, int] | None:
    """The record whose whole name is the longest of the runs of words (`n: words`)."""
    keys: dict[str, int] = {}
    for n, run in sorted(runs.items()):
        keys.update(dict.fromkeys(_keys(run), n))
    hits: dict[int, list[Record]] = {}
    for kind in kinds:
        for record in kind.by_keys(ctx.session, team_id=ctx.team_id, keys=list(keys)):
            hits.setdefault(keys[kind.key(record)], []).append(record)
    if not hits:
        return None
    n = max(hits)
    if len(hits[n]) > 1:
        raise Ambiguous(" ".join(runs[n]), candidates(ctx, hits[n][:8]))
    return hits[n][0], n


def _resolve_fuzzy(
    ctx: Context, words: Sequence[str], kinds: Sequence[Kind], lengths: list[int]
) -> tuple[Record, int]:
    scored: list[tuple[float, int, Kind, int]] = []  # score, words used, kind, id
    for kind, record_id, key in _candidates(ctx, words, kinds, lengths):
        score, n = max((_score(_key(words[:n]), key), n) for n in lengths)
        scored.append((score, n, kind, record_id))
    scored.sort(key=lambda item: (-item[0], -item[1]))
    # A deleted (archived) record is still in the search index, but no candidate.
    plausible = [
        item
        for item in scored
        if item[0] >= PLAUSIBLE and _by_id(ctx, item[2], item[3]) is not None
    ]
    what = " ".join(words[: lengths[0]]) if len(lengths) == 1 else words[0]
    if not plausible and len(names := [n for n in words[0].split(",") if n.strip()]) > 1:
        # `/note Max,Greta …`: two names, not one that matches nothing.
        listed = " and ".join(f"“{name.strip()}”" for name in names)
        raise UsageError(
            f"“{words[0]}” names {listed}: name one {_kind_names(kinds)} at a time, "
            "by its id or its name."
        )
    if not plausible:
        raise CommandError(
            f"No {_kind_names(kinds)} matches “{what}”. Try /find {what}, or /add to log it."
        )
    best_score, best_n, best_kind, best_id = plausible[0]
    rivals = [item for item in plausible[1:] if item[0] >= RIVAL]
    best = _by_id(ctx, best_kind, best_id)
    # The only plausible record is taken: a choice of one is no choice.
    if best is not None and (len(plausible) == 1 or (best_score >= SURE and not rivals)):
        return best, best_n
    ref = " ".join(words[:best_n])
    records = [_by_id(ctx, kind, record_id) for _, _, kind, record_id in plausible[:6]]
    raise Ambiguous(ref, candidates(ctx, [record for record in records if record is not None]))


def _candidates(
    ctx: Context, words: Sequence[str], kinds: Sequence[Kind], lengths: list[int]
) -> list[tuple[Kind, int, str]]:
    """Records whose name is like a leading run of the words. Where the name ends is not
    known (`/call jane about pricing`), so each run is looked up (indexed, a few rows
    each); the costlier any-typo search runs once, only when none of them matched."""
    found: dict[tuple[str, int], tuple[Kind, int, str]] = {}
    for any_typo, runs in ((False, sorted(lengths)), (True, [min(max(lengths), 3)])):
        for n in runs:
            typed = _bare(" ".join(words[:n]))
            # `Mueller` is also looked up as `muller`, which Müller's key holds.
            for query in dict.fromkeys((typed, loose_key(name_key(typed)))):
                for kind in kinds:
                    for record_id, key in trigram_candidates(
                        ctx.session,
                        table=kind.table,
                        team_id=ctx.team_id,
                        query=query,
                        any_typo=any_typo,
                    ):
                        found[(kind.name, record_id)] = (kind, record_id, key)
        if found:
            break
    return list(found.values())


def _score(typed: str, key: str) -> float:
    """How well the typed words name `key`. Whole words of the name (`jane` for Jane Doe)
    count as a strong match; a rival with the same word makes it ambiguous, not a guess."""
    return _loosely(_name_score, typed, key)


def _name_score(typed: str, key: str) -> float:
    score = fuzz.ratio(typed, key)
    if set(typed.split()) <= _words(key):
        score = max(score, WHOLE_WORDS)
    return score


def _words(key: str) -> set[str]:
    """The words of a name key, and each part of a double name among them: `Kjær` and
    `Hansen` name Søren Kjær-Hansen, and `Jean Luc` names Jean-Luc Picard."""
    words = set(key.split())
    return words | {part for word in words if "-" in word for part in word.split("-") if part}


def search_score(typed: str, key: str) -> float:
    """How well a search matches a name: as a whole, or word by word, each typed word
    against its closest word of the name (`jnae` is close to `jane`, though far from
    `jane doe`; `acm` is close to `acme`)."""
    return _loosely(_search_score, typed, key)


def _loosely(score: Callable[[str, str], float], typed: str, key: str) -> float:
    """`score` of the typed words and the key as they are, or as typed without a name's
    own letters (`lukasz` for łukasz, `mueller` for müller), whichever is higher."""
    return max(score(typed, key), score(loose_key(typed), loose_key(key)))


def _search_score(typed: str, key: str) -> float:
    typed_words, key_words = typed.split(), list(_words(key))
    if not typed_words or not key_words:
        return 0.0
    by_word = sum(max(fuzz.ratio(t, k) for k in key_words) for t in typed_words)
    return max(fuzz.ratio(typed, key), by_word / len(typed_words))


def candidates(ctx: Context, records: Sequence[Record]) -> list[Candidate]:
    """One button label per record, with what tells them apart: `José García · Acme ·
    Madrid (c3)` beside `José García · Initech · Sevilla (c9)`; for deals, their contact,
    amount or stage. Details all the records share are left out."""
    owners = member_names(
        ctx.session, team_id=ctx.team_id, ids=[r.owner_id for r in records if r.owner_id]
    )
    details = {
        **_contact_details(ctx, [r for r in records if isinstance(r, Contact)], owners),
        **_deal_details(ctx, [r for r in records if isinstance(r, Deal)], owners),
    }
    result = []
    for record in records:
        assert record.id is not None
        parts = [_short(_name(record)), *(_short(d) for d in details[_ref(record)])]
        kind = "contact" if isinstance(record, Contact) else "deal"
        result.append(Candidate(kind, record.id, f"{' · '.join(parts)} ({_ref(record)})"))
    return result


def _contact_details(
    ctx: Context, contacts: list[Contact], owners: dict[int, str]
) -> dict[str, list[str]]:
    companies = contact_store.companies_by_ids(
        ctx.session, team_id=ctx.team_id, ids=[c.company_id for c in contacts if c.company_id]
    )
    return _telling(
        {
            _ref(c): [
                companies[c.company_id].name if c.company_id in companies else None,
                c.city,
                c.title,
                c.email,
                owners.get(c.owner_id or 0),
            ]
            for c in contacts
        }
    )


def _deal_details(ctx: Context, deals: list[Deal], owners: dict[int, str]) -> dict[str, list[str]]:
    if not deals:
        return {}
    assert ctx.team is not None
    people = contact_store.contacts_by_ids(
        ctx.session, team_id=ctx.team_id, ids=[d.contact_id for d in deals if d.contact_id]
    )
    names = {c.id: c.name for c in people}
    stages = {s.id: s.name for s in stage_rows(ctx.session, team_id=ctx.team_id)}
    return _telling(
        {
            _ref(d): [
                names.get(d.contact_id or 0),
                money(d.amount, d.currency, ctx.team.locale) if d.amount is not None else None,
                stages.get(d.stage_id),
                owners.get(d.owner_id),
            ]
            for d in deals
        }
    )


def _telling(details: dict[str, list[str | None]]) -> dict[str, list[str]]:
    """Of each record's details, those that differ between the records (at most
    MAX_DETAILS of them)."""
    rows = list(details.values())
    differ = [i for i in range(len(rows[0])) if len({row[i] for row in rows}) > 1] if rows else []
    return {
        ref: [value for i in differ if (value := row[i])][:MAX_DETAILS]
        for ref, row in details.items()
    }


def _short(text: str, most: int = 24) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _name(record: Record) -> str:
    return record.name if isinstance(record, Contact) else record.title


def _ref(record: Record) -> str:
    return f"c{record.id}" if isinstance(record, Contact) else f"d{record.id}"


def resolve_member(ctx: Context, text: str) -> Member:
    """A teammate by name (`@bob`, `Bob Smith`, `me`)."""
    wanted = text.strip().lstrip("@")
    if not wanted:
        raise UsageError("Say which teammate, e.g. @bob.")
    if wanted.lower() in ("me", "myself", "mine"):
        return ctx.me
    members = team_members(ctx.session, team_id=ctx.team_id)
    key = name_key(wanted)
    exact = [m for m in members if m.name_key == key or m.name_key.split(" ")[0] == key]
    if len(exact) == 1:
        return exact[0]
    pool = exact or members
    matches = process.extract(key, {m.id: m.name_key for m in pool}, scorer=fuzz.WRatio, limit=3)
    good = [match for match in matches if match[1] >= 80]
    if len(good) == 1 or (good and good[0][1] - good[1][1] >= 10):
        return next(m for m in pool if m.id == good[0][2])
    names = ", ".join(m.name for m in members)
    raise CommandError(f"No single teammate matches “{wanted}”. The team: {names}.")


# The words that ask a list for one's own records (`/deals mine`, `/leads meine`).
MINE_WORDS = frozenset({"mine", "my", "meine"})


def owner_word(word: str) -> bool:
    """Whether a list's `word` names whose records it asks for (`mine`, `@bob`)."""
    return word.lower() in MINE_WORDS or (word.startswith("@") and len(word) > 1)


def list_owner(ctx: Context, words: Sequence[str], option: str | None) -> Member | None:
    """Whose records a list asks for: `mine` or `@bob` among its `words`, or its owner:
    option (None: the team's). More than one of them is refused."""
    named = [word for word in words if owner_word(word)]
    if len(named) + (option is not None) > 1:
        raise UsageError("One owner at a time, please: @bob, owner:@bob or mine.")
    owner = option if option is not None else named[0] if named else None
    if owner is None:
        return None
    return ctx.me if owner.lower() in MINE_WORDS else resolve_member(ctx, owner)


# The default pipeline's stages as German reps and other CRMs name them (`/stage d1
# Angebot`), for a team whose stages have the English names; a stage of the team's own
# by that name wins.
_STAGE_WORDS = {
    **dict.fromkeys(("interessent", "neu"), "lead"),
    "qualifiziert": "qualified",
    **dict.fromkeys(("angebot", "angebot verschickt", "quote", "quoted"), "proposal"),
    **dict.fromkeys(("verhandlung", "verhandeln", "negotiating"), "negotiation"),
    **dict.fromkeys(("gewonnen", "auftrag", "closed won"), "won"),
    **dict.fromkeys(("verloren", "absage", "closed lost"), "lost"),
}


def resolve_stage(stages: Sequence[_Stage], text: str) -> _Stage:
    """A stage by name (or its name in German, or another CRM's), unambiguous prefix, or
    close spelling."""
    by_key = {name_key(stage.name): stage for stage in stages}
    key = name_key(text)
    key = key if key in by_key else _STAGE_WORDS.get(key, key)
    if key in by_key:
        return by_key[key]
    prefixed = [stage for k, stage in by_key.items() if key and k.startswith(key)]
    if len(prefixed) == 1:
        return prefixed[0]
    match = process.extractOne(key, list(by_key), scorer=fuzz.ratio, score_cutoff=75)
    if match is not None:
        return by_key[match[0]]
    valid = ", ".join(stage.name for stage in stages)
    raise CommandError(f"There is no stage “{text}”. The stages are: {valid}.")
