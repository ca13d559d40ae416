"""Running the team: who is in it, invites, roles, and the pipeline's stages."""

from __future__ import annotations

import re
from collections.abc import Sequence

from handlers.context import Context
from handlers.errors import CommandError, UsageError
from handlers.format import counted, local_time
from handlers.grammar import Args, limited
from handlers.onboarding import INVITE_TTL
from handlers.refs import resolve_member, resolve_stage
from handlers.registry import Registry
from handlers.reply import Reply, bold, code
from storage.keys import name_key
from storage.locks import lock_team_part
from storage.models import Role, Stage, StageKind
from storage.teams import (
    count_admins,
    create_invite,
    deals_in_stage,
    member_platforms,
    renumber_stages,
    stage_in_history,
    team_members,
    team_stages,
)

STAGE_KEYS = ("prob", "probability", "rot", "after", "kind")
_PERCENT = re.compile(r"\d{1,3}\s?%")


def show_team(ctx: Context, args: Args) -> Reply:
    """Who is in the team, their roles and where they use crmbot.

    /team
    """
    assert ctx.team is not None
    members = team_members(ctx.session, team_id=ctx.team_id)
    platforms = member_platforms(
        ctx.session, team_id=ctx.team_id, member_ids=[m.id for m in members if m.id]
    )
    reply = Reply().heading(f"{ctx.team.name} ({len(members)})")
    for member in members:
        where = ", ".join(platforms.get(member.id or 0, []))
        reply.item(bold(member.name), f" · {member.role} · {where}")
    return reply


def invite(ctx: Context, args: Args) -> Reply:
    """Create a one-time invite code for a new teammate (valid for 7 days).

    /invite [rep | manager | admin]

    Anyone can invite reps; only admins can invite managers and admins.
    """
    role = _role(args.words[0]) if args.words else Role.rep
    if role != Role.rep:
        ctx.require(Role.admin, f"invite {role.value}s")
    created = create_invite(
        ctx.session,
        team_id=ctx.team_id,
        role=role,
        created_by=ctx.member_id,
        now=ctx.now,
        expires_at=ctx.now + INVITE_TTL,
    )
    return (
        Reply()
        .add(f"Invite code for a new {role.value}: ", code(created.code))
        .add(
            "They send ",
            code(f"/join {created.code}"),
            " to me on Telegram, Slack or the terminal.",
        )
        .muted(f"One use, valid until {local_time(created.expires_at, ctx.tz)}.")
    )


def set_role(ctx: Context, args: Args) -> Reply:
    """Change a teammate's role (admins only).

    /role MEMBER rep|manager|admin
    """
    if len(args.words) < 2:
        raise UsageError("Whose role, and which one?")
    role = _role(args.words[-1])
    member = resolve_member(ctx, " ".join(args.words[:-1]))
    if (
        member.role == Role.admin
        and role != Role.admin
        and count_admins(ctx.session, team_id=ctx.team_id) <= 1
    ):
        raise CommandError("The team needs at least one admin; make someone else admin first.")
    member.role = role
    ctx.session.add(member)
    return Reply().add(bold(member.name), f" is now {role.a}.")


def stages(ctx: Context, args: Args) -> Reply:
    """Show the pipeline's stages; admins can change them.

    /stages
    /stages add NAME [prob:40] [rot:14] [after:STAGE] [kind:open|won|lost]
    /stages rename OLD to NEW
    /stages move NAME POSITION
    /stages prob NAME PERCENT
    /stages rot NAME DAYS
    /stages remove NAME

    Rot days: a deal with no activity for that long is flagged as rotting (0: never).
    Also as said: /stages add Demo after Qualified 40%.
    """
    if not args.words:
        if args.options:
            raise UsageError("Options go with a change, e.g. /stages add Demo prob:40.")
        return _stage_table(ctx, team_stages(ctx.session, team_id=ctx.team_id))
    action, rest = args.words[0].lower(), args.words[1:]
    edits = {
        "add": _add_stage,
        "rename": _rename_stage,
        "move": _move_stage,
        "prob": _stage_probability,
        "rot": _stage_rot,
        "remove": _remove_stage,
    }
    if action not in edits:
        raise UsageError(f"I can't “{action}” stages.")
    ctx.require(Role.admin, "change the stages")
    # Two edits at once take turns, the second reading the stages the first left.
    lock_team_part(ctx.session, team_id=ctx.team_id, part="stages")
    current = team_stages(ctx.session, team_id=ctx.team_id)
    note = edits[action](ctx, current, rest, args)
    return (
        Reply().add(note).extend(_stage_table(ctx, team_stages(ctx.session, team_id=ctx.team_id)))
    )


def _stage_table(ctx: Context, current: Sequence[Stage]) -> Reply:
    reply = Reply().heading("Pipeline stages")
    for stage in current:
        rot = f" · rots after {stage.rot_days} days" if stage.rot_days else ""
        kind = "" if stage.kind == StageKind.open else f" · {stage.kind}"
        count = deals_in_stage(ctx.session, team_id=ctx.team_id, stage_id=stage.id or 0)
        reply.item(
            f"{stage.position}. ",
            bold(stage.name),
            f" · {stage.probability}%{kind}{rot} · {counted(count, 'deal')}",
        )
    return reply


def _add_stage(ctx: Context, current: list[Stage], words: list[str], args: Args) -> str:
    # Typed as said, too: `/stages add Demo after Qualified 40%`.
    probability = args.option("prob", "probability")
    for n in (1, 2):  # `40%`, `40 %`
        if probability is None and len(words) > n and _PERCENT.fullmatch(" ".join(words[-n:])):
            probability, words = "".join(words[-n:]), words[:-n]
    after_text = args.option("after")
    if after_text is None:
        words, after_text = _after_stage(current, words)
    name = limited(" ".join(words), 64, "A stage name")
    if not name:
        raise UsageError("What is the new stage called?")
    _unique_name(current, name)
    kind = _kind(args.option("kind") or "open")
    stage = Stage(
        team_id=ctx.team_id,
        name=name,
        position=len(current) + 1,
        probability=_percent(probability or _default_probability(kind)),
        kind=kind,
        rot_days=_days(args.option("rot") or "14") if kind == "open" else 0,
    )
    if after_text is not None:
        after = resolve_stage(current, after_text)
        index = current.index(after) + 1
    else:  # before the first closed stage, so new stages land inside the open pipeline
        index = next((i for i, s in enumerate(current) if s.kind != StageKind.open), len(current))
    _no_options_left(args)
    ctx.session.add(stage)
    ordered = [*current[:index], stage, *current[index:]]
    renumber_stages(ctx.session, stages=ordered)
    return f"Added the stage {name}."


def _after_stage(current: list[Stage], words: list[str]) -> tuple[list[str], str | None]:
    """`Demo after Qualified`: the name's words and the stage named in full after the last
    `after`; a name that merely has `after` in it (`Follow up after demo`) stays whole."""
    lowered = [word.lower() for word in words]
    if "after" not in lowered[1:]:
        return words, None
    at = len(lowered) - 1 - lowered[::-1].index("after")
    named = " ".join(words[at + 1 :])
    if name_key(named) not in {name_key(stage.name) for stage in current}:
        return words, None
    return words[:at], named


def _rename_stage(ctx: Context, current: list[Stage], words: list[str], args: Args) -> str:
    lowered = [w.lower() for w in words]
    if "to" in lowered:
        split = lowered.index("to")
        old, new = " ".join(words[:split]), " ".join(words[split + 1 :])
    elif len(words) == 2:
        old, new = words
    else:
        raise UsageError("Write it as: /stages rename OLD to NEW")
    stage = resolve_stage(current, old)
    new = limited(new, 64, "A stage name")
    if not new:
        raise UsageError("What should it be called?")
    _unique_name([s for s in current if s is not stage], new)
    _no_options_left(args)
    previous, stage.name = stage.name, new
    ctx.session.add(stage)
    return f"Renamed {previous} to {new}."


def _move_stage(ctx: Context, current: list[Stage], words: list[str], args: Args) -> str:
    if len(words) < 2 or not words[-1].isdigit():
        raise UsageError("Write it as: /stages move NAME POSITION")
    stage = resolve_stage(current, " ".join(words[:-1]))
    position = int(words[-1])
    if not 1 <= position <= len(current):
        raise UsageError(f"The position is a number from 1 to {len(current)}.")
    _no_options_left(args)
    ordered = [s for s in current if s is not stage]
    ordered.insert(position - 1, stage)
    renumber_stages(ctx.session, stages=ordered)
    return f"Moved {stage.name} to position {position}."


def _stage_probability(ctx: Context, current: list[Stage], words: list[str], args: Args) -> str:
    if len(words) < 2:
        raise UsageError("Write it as: /stages prob NAME PERCENT")
    stage = resolve_stage(current, " ".join(words[:-1]))
    stage.probability = _percent(words[-1])
    _no_options_left(args)
    ctx.session.add(stage)
    return f"{stage.name} now counts at {stage.probability}%."


def _stage_rot(ctx: Context, current: list[Stage], words: list[str], args: Args) -> str:
    if len(words) < 2:
        raise UsageError("Write it as: /stages rot NAME DAYS")
    stage = resolve_stage(current, " ".join(words[:-1]))
    if stage.kind != StageKind.open:
        raise CommandError(f"{stage.name} closes deals; closed deals do not rot.")
    stage.rot_days = _days(words[-1])
    _no_options_left(args)
    ctx.session.add(stage)
    return f"Deals in {stage.name} now rot after {stage.rot_days} days" + (
        "." if stage.rot_days else " (never)."
    )


def _remove_stage(ctx: Context, current: list[Stage], words: list[str], args: Args) -> str:
    stage = resolve_stage(current, " ".join(words))
    _no_options_left(args)
    if deals_in_stage(ctx.session, team_id=ctx.team_id, stage_id=stage.id or 0):
        raise CommandError(f"{stage.name} still has deals; move them first.")
    if sum(1 for s in current if s.kind == stage.kind) <= 1:
        raise CommandError(f"The pipeline needs at least one {stage.kind} stage.")
    if stage_in_history(ctx.session, team_id=ctx.team_id, stage_id=stage.id or 0):
        raise CommandError(
            f"{stage.name} is part of deals' history, so it stays. Rename it instead."
        )
    ctx.session.delete(stage)
    ctx.session.flush()
    renumber_stages(ctx.session, stages=[s for s in current if s is not stage])
    return f"Removed the stage {stage.name}."


def _unique_name(current: Sequence[Stage], name: str) -> None:
    if any(name_key(s.name) == name_key(name) for s in current):
        raise CommandError(f"There already is a stage called {name}.")


def _no_options_left(args: Args) -> None:
    if args.options:
        raise UsageError(f"{', '.join(args.options)} does not go with this change.")


def _role(text: str) -> Role:
    try:
        return Role(text.lower())
    except ValueError:
        raise UsageError(f"There is no role “{text}”: use rep, manager or admin.") from None


def _kind(text: str) -> StageKind:
    try:
        return StageKind(text.lower())
    except ValueError:
        raise UsageError(f"kind: is open, won or lost, not “{text}”.") from None


def _default_probability(kind: StageKind) -> str:
    return {StageKind.won: "100", StageKind.lost: "0"}.get(kind, "50")


def _percent(text: str) -> int:
    value = text.rstrip("%")
    if not value.isdigit() or not 0 <= int(value) <= 100:
        raise UsageError(f"A probability is a percentage from 0 to 100, not “{text}”.")
    return int(value)


def _days(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 3650:
        raise UsageError(f"Rot days are a number of days from 0 to 3650, not “{text}”.")
    return int(text)


def register(registry: Registry) -> None:
    registry.command("team", show_team, writes=False)
    registry.command("invite", invite)
    registry.command("role", set_role, role=Role.admin)
    registry.command("stages", stages, keys=STAGE_KEYS)
