"""Which contact, deal, member or stage a user means.

By id (`42`, `c42`, `d42`), by exact name, or by a misspelt name: exact names are looked up
for every leading run of words in one indexed query; failing that, a trigram index gives a
few dozen candidates that rapidfuzz scores. One clear winner is taken; several plausible
ones raise Ambiguous, which the dispatcher turns into one button per candidate.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from handlers.context import Context
from handlers.errors import Ambiguous, Candidate, CommandError, UsageError
from storage import contacts as contact_store
from storage import deals as deal_store
from storage.keys import name_key
from storage.models import Contact, Deal, Member, Stage
from storage.search import Searchable, trigram_candidates
from storage.teams import team_members

Record = Contact | Deal
MAX_REF_WORDS = 6
SURE = 85  # a fuzzy match this good, with no rival close to it, is taken
RIVAL = 75
PLAUSIBLE = 55
WHOLE_WORDS = 90
_ID = re.compile(r"^(?P<kind>[cd#]?)(?P<id>\d{1,12})$", re.IGNORECASE)


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
    ctx: Context, words: Sequence[str], kinds: Sequence[Kind], *, whole: bool = False
) -> tuple[Record, int]:
    """The record named by the leading words, and how many words that took.

    `whole`: every word is part of the reference (`/show Jane Doe`).
    """
    if not words:
        raise UsageError(f"Say which {_kind_names(kinds)}: an id or a name.")
    lengths = [len(words)] if whole else list(range(min(len(words), MAX_REF_WORDS), 0, -1))
    for n in lengths:
        picked = ctx.picks.get(" ".join(words[:n]))
        if picked:
            record = _by_id(ctx, KINDS[picked[0]], int(picked[1:]))
            if record is not None:
                return record, n
    if (by_id := _resolve_id(ctx, words[0], kinds)) is not None:
        return by_id, 1
    if (exact := _resolve_exact(ctx, words, kinds, lengths)) is not None:
        return exact
    return _resolve_fuzzy(ctx, words, kinds, lengths)


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
        raise Ambiguous(word, [_candidate(record) for record in found])
    return found[0]


def _resolve_exact(
    ctx: Context, words: Sequence[str], kinds: Sequence[Kind], lengths: list[int]
) -> tuple[Record, int] | None:
    keys = {name_key(" ".join(words[:n])): n for n in lengths}
    hits: dict[int, list[Record]] = {}
    for kind in kinds:
        for record in kind.by_keys(ctx.session, team_id=ctx.team_id, keys=list(keys)):
            hits.setdefault(keys[kind.key(record)], []).append(record)
    if not hits:
        return None
    n = max(hits)
    if len(hits[n]) > 1:
        raise Ambiguous(" ".join(words[:n]), [_candidate(record) for record in hits[n][:8]])
    return hits[n][0], n


def _resolve_fuzzy(
    ctx: Context, words: Sequence[str], kinds: Sequence[Kind], lengths: list[int]
) -> tuple[Record, int]:
    scored: list[tuple[float, int, Kind, int]] = []  # score, words used, kind, id
    for kind, record_id, key in _candidates(ctx, words, kinds, lengths):
        score, n = max((_score(name_key(" ".join(words[:n])), key), n) for n in lengths)
        scored.append((score, n, kind, record_id))
    scored.sort(key=lambda item: (-item[0], -item[1]))
    plausible = [item for item in scored if item[0] >= PLAUSIBLE]
    what = " ".join(words[: lengths[0]]) if len(lengths) == 1 else words[0]
    if not plausible:
        raise CommandError(
            f"No {_kind_names(kinds)} matches “{what}”. Try /find {what}, or /add to log it."
        )
    best_score, best_n, best_kind, best_id = plausible[0]
    rivals = [item for item in plausible[1:] if item[0] >= RIVAL]
    best = _by_id(ctx, best_kind, best_id)
    if best is not None and best_score >= SURE and not rivals:
        return best, best_n
    ref = " ".join(words[:best_n])
    records = [_by_id(ctx, kind, record_id) for _, _, kind, record_id in plausible[:6]]
    raise Ambiguous(ref, [_candidate(record) for record in records if record is not None])


def _candidates(
    ctx: Context, words: Sequence[str], kinds: Sequence[Kind], lengths: list[int]
) -> list[tuple[Kind, int, str]]:
    """Records whose name is like a leading run of the words. Where the name ends is not
    known (`/call jane about pricing`), so each run is looked up (indexed, a few rows
    each); the costlier any-typo search runs once, only when none of them matched."""
    found: dict[tuple[str, int], tuple[Kind, int, str]] = {}
    for any_typo, runs in ((False, sorted(lengths)), (True, [min(max(lengths), 3)])):
        for n in runs:
            for kind in kinds:
                for record_id, key in trigram_candidates(
                    ctx.session,
                    table=kind.table,
                    team_id=ctx.team_id,
                    query=" ".join(words[:n]),
                    any_typo=any_typo,
                ):
                    found[(kind.name, record_id)] = (kind, record_id, key)
        if found:
            break
    return list(found.values())


def _score(typed: str, key: str) -> float:
    """How well the typed words name `key`. Whole words of the name (`jane` for Jane Doe)
    count as a strong match; a rival with the same word makes it ambiguous, not a guess."""
    score = fuzz.ratio(typed, key)
    if set(typed.split()) <= set(key.split()):
        score = max(score, WHOLE_WORDS)
    return score


def search_score(typed: str, key: str) -> float:
    """How well a search matches a name: as a whole, or word by word, each typed word
    against its closest word of the name (`jnae` is close to `jane`, though far from
    `jane doe`; `acm` is close to `acme`)."""
    typed_words, key_words = typed.split(), key.split()
    if not typed_words or not key_words:
        return 0.0
    by_word = sum(max(fuzz.ratio(t, k) for k in key_words) for t in typed_words)
    return max(fuzz.ratio(typed, key), by_word / len(typed_words))


def _candidate(record: Record) -> Candidate:
    kind = "contact" if isinstance(record, Contact) else "deal"
    assert record.id is not None
    return Candidate(kind, record.id, label(record))


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


def resolve_stage(stages: Sequence[Stage], text: str) -> Stage:
    """A stage by name, unambiguous prefix, or close spelling."""
    key = name_key(text)
    by_key = {name_key(stage.name): stage for stage in stages}
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
