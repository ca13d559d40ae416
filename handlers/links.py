"""One member on several platforms: /link joins a Telegram and a Slack account (merging two
teammates when both were members already), /unlink takes one apart again, and /notify
says where the bot reaches the member on its own.

A /link code is random (10 characters of 32), works once, for 10 minutes, and only within
the team of the member who asked for it. Wrong codes are counted per sender, with wrong
invite codes (handlers/guesses.py).
"""

from __future__ import annotations

from datetime import timedelta

from handlers.context import ChatType, Context
from handlers.errors import CommandError, UsageError
from handlers.format import counted, local_time
from handlers.grammar import Args
from handlers.guesses import guessing_wait, wrong_guess
from handlers.registry import Registry
from handlers.reminders import requeue_reminders
from handlers.reply import Button, Reply, bold, code
from storage.links import (
    consume_link_code,
    create_link_code,
    get_link_code,
    link_code_by_code,
    member_holdings,
    merge_members,
    remove_identities,
)
from storage.models import LinkCode, Member, Platform, Role, Team
from storage.outbox import NOTIFY_BOTH, member_identities, notify_targets
from storage.teams import add_identity, claim_workspace, workspace_team

LINK_TTL = timedelta(minutes=10)
LINK_BUTTON, CANCEL_LINK_BUTTON = "lk", "lx"
# The platforms a member can link and be notified on (the terminal is for trying it out).
CHAT_PLATFORMS = (Platform.telegram, Platform.slack)
NOTIFY_AUTO = "auto"


def link(ctx: Context, args: Args) -> Reply:
    """Use crmbot on Telegram and Slack as one member.

    /link
    /link CODE

    Send /link where you already use crmbot: I answer with a code, valid 10 minutes. Send
    /link CODE to me from your other platform. If that account is a member of the same team
    already, you see what moves over (contacts, deals, activities, reminders; the higher
    role stays) and confirm with Link. A code works once, only within its team.
    """
    if not args.words:
        return _new_code(ctx)
    if guessing_wait(ctx) is not None:
        return Reply(error=True).add(
            "Too many wrong link codes. Wait a quarter of an hour, then send the right one."
        )
    found = link_code_by_code(ctx.session, code=args.words[0])
    refusal = _code_refusal(ctx, found)
    if refusal is not None:
        wrong_guess(ctx)
        return Reply(error=True).add(refusal)
    assert found is not None
    owner = ctx.session.get(Member, found.member_id)
    if owner is None or not owner.active:
        return Reply(error=True).add("That code's member has left the team.")
    if ctx.member is not None and ctx.member.id == owner.id:
        return Reply().add("This account already is ", bold(owner.name), ".")
    # One identity per platform for a member, so /unlink PLATFORM means one account.
    mine = set(_platforms(ctx, ctx.member)) if ctx.member is not None else {ctx.request.platform}
    clash = sorted(mine & set(_platforms(ctx, owner)))
    if clash:
        return Reply(error=True).add(
            f"{owner.name} already uses crmbot on {clash[0].capitalize()}. "
            f"Send the code from your other platform, or /unlink {clash[0]} there first."
        )
    if ctx.member is None:
        return _attach(ctx, found, owner)
    return _preview(ctx, found, owner, ctx.member)


def _new_code(ctx: Context) -> Reply:
    if ctx.member is None or not ctx.member.active:
        raise CommandError("Send /link where you already use crmbot; it gives you a code.")
    if ctx.request.chat_type == ChatType.group:
        # Whoever sends the code becomes this member: it must not be shown to a group.
        raise CommandError("Send /link to me in a direct message: the code is yours alone.")
    made = create_link_code(
        ctx.session,
        team_id=ctx.team_id,
        member_id=ctx.member_id,
        platform=ctx.request.platform,
        now=ctx.now,
        expires_at=ctx.now + LINK_TTL,
    )
    others = " or ".join(p.capitalize() for p in CHAT_PLATFORMS if p != ctx.request.platform)
    return (
        Reply()
        .add("Your link code: ", code(made.code))
        .add("Send ", code(f"/link {made.code}"), f" to me on {others} within 10 minutes.")
        .muted(
            f"One use, valid until {local_time(made.expires_at, ctx.tz)}. Whoever sends it "
            "becomes you, so keep it to yourself."
        )
    )


def _code_refusal(ctx: Context, found: LinkCode | None) -> str | None:
    """Why a typed code does not work, if it does not: each of these counts as a wrong
    guess."""
    if found is None:
        return "There is no such link code. Check it, or send /link on your other platform."
    if ctx.member is not None and ctx.member.team_id != found.team_id:
        return "That code is for another team; accounts link only within one team."
    mine = ctx.member.id if ctx.member is not None else None
    if found.used_at is not None or found.claimed_by not in (None, mine):
        return "That link code has been used already. Send /link for a new one."
    if found.expires_at <= ctx.now:
        return "That link code has expired (they last 10 minutes). Send /link for a new one."
    return None


def _attach(ctx: Context, found: LinkCode, owner: Member) -> Reply:
    """A newcomer's account becomes the owner's on this platform."""
    request = ctx.request
    team = (
        workspace_team(ctx.session, platform=request.platform, workspace_id=request.workspace_id)
        if request.workspace_id
        else None
    )
    if team is not None and team.id != found.team_id:
        wrong_guess(ctx)
        return Reply(error=True).add(
            "This workspace belongs to another team; accounts link only within one team."
        )
    if not consume_link_code(ctx.session, code_id=found.id or 0, now=ctx.now):
        return Reply(error=True).add("That link code has been used already.")
    # A workspace nobody claimed becomes the team's (its other people join the team on first
    # use, as after /join) only when an admin links into it: a rep's link is their own
    # account, not a whole company's workspace.
    unclaimed = bool(request.workspace_id) and team is None
    claims = unclaimed and Role(owner.role) == Role.admin
    if claims:
        claim_workspace(
            ctx.session,
            team_id=found.team_id,
            platform=request.platform,
            workspace_id=request.workspace_id,
        )
    add_identity(
        ctx.session,
        member_id=owner.id or 0,
        platform=request.platform,
        external_id=request.user_id,
        workspace_id=request.workspace_id,
        now=ctx.now,
    )
    ctx.member, ctx.team = owner, ctx.session.get(Team, found.team_id)
    reply = _linked(ctx, owner)
    if unclaimed and not claims:
        reply.muted(
            "This workspace's other people are not in your team: they join with an invite "
            "code (/invite, then /join CODE), or an admin's /link here brings the whole "
            "workspace in."
        )
    return reply


def _preview(ctx: Context, found: LinkCode, owner: Member, mine: Member) -> Reply:
    """Two teammates who are one person: say what moves over, and wait for Link."""
    found.claimed_by = mine.id
    ctx.session.add(found)
    held = member_holdings(ctx.session, team_id=ctx.team_id, member_id=mine.id or 0)
    role = max(Role(owner.role), Role(mine.role), key=lambda r: r.rank)
    return (
        Reply()
        .add(
            "This account is ",
            bold(mine.name),
            f" ({mine.role}). Link it to ",
            bold(owner.name),
            f" ({owner.role})?",
        )
        .item(
            f"{counted(held.contacts, 'contact')}, {counted(held.deals, 'deal')}, "
            f"{counted(held.activities, 'activity', 'activities')} and "
            f"{counted(held.reminders, 'reminder')} move to {owner.name}"
        )
        .item(f"{owner.name} is then {role.a}; {mine.name} leaves the team list")
        .button_row(
            Button("Link", LINK_BUTTON, (found.id or 0,)),
            Button("Cancel", CANCEL_LINK_BUTTON, (found.id or 0,)),
        )
    )


def press_link(ctx: Context, args: tuple[str, ...]) -> Reply:
    found = _pending_link(ctx, args)
    owner = ctx.session.get(Member, found.member_id)
    if owner is None or not owner.active or owner.team_id != ctx.team_id:
        raise CommandError("That code's member has left the team.")
    if not consume_link_code(ctx.session, code_id=found.id or 0, now=ctx.now):
        raise CommandError("That link was done or cancelled already.")
    mine = ctx.me
    merge_members(ctx.session, team_id=ctx.team_id, keep=owner, gone=mine)
    ctx.member = owner
    reply = _linked(ctx, owner)
    reply.edit = True
    return reply


def press_cancel_link(ctx: Context, args: tuple[str, ...]) -> Reply:
    found = _pending_link(ctx, args)
    if not consume_link_code(ctx.session, code_id=found.id or 0, now=ctx.now):
        raise CommandError("That link was done or cancelled already.")
    return Reply(edit=True).add("Cancelled: nothing was linked or merged.")


def _pending_link(ctx: Context, args: tuple[str, ...]) -> LinkCode:
    if len(args) != 1 or not args[0].isdigit():
        raise CommandError("That button is no longer valid.")
    found = get_link_code(ctx.session, team_id=ctx.team_id, code_id=int(args[0]))
    if found is None or found.claimed_by != ctx.member_id:
        raise CommandError("That button is no longer valid.")
    if found.used_at is not None:
        raise CommandError("That link was done or cancelled already.")
    if found.expires_at <= ctx.now:
        raise CommandError("That link code has expired. Send /link for a new one.")
    return found


def _linked(ctx: Context, owner: Member) -> Reply:
    platforms = _platforms(ctx, owner)
    assert ctx.team is not None
    return Reply().add(
        "Linked: you are ",
        bold(owner.name),
        f" ({owner.role}) in ",
        bold(ctx.team.name),
        f" on {' and '.join(p.capitalize() for p in platforms)}.",
    )


def unlink(ctx: Context, args: Args) -> Reply:
    """Take a platform off your membership again (undoes /link).

    /unlink telegram
    /unlink slack

    That account is no longer you: it needs /link or /join to come back. Data merged by a
    link stays with you.
    """
    platform = _platform(args)
    me = ctx.me
    platforms = _platforms(ctx, me)
    if platform not in platforms:
        raise CommandError(f"You are not on {platform.capitalize()}.")
    if platforms == [platform]:
        raise CommandError(
            f"{platform.capitalize()} is the only place you use crmbot; it stays linked."
        )
    remove_identities(ctx.session, member_id=ctx.member_id, platform=platform)
    if me.notify == platform:
        me.notify = None
        ctx.session.add(me)
    requeue_reminders(ctx)
    rest = [p for p in platforms if p != platform]
    return Reply().add(
        f"Unlinked {platform.capitalize()}: you use crmbot on ",
        bold(" and ".join(p.capitalize() for p in rest)),
        " now.",
    )


def notify(ctx: Context, args: Args) -> Reply:
    """Where I send your reminders, your 08:00 agenda and delivery problems.

    /notify
    /notify telegram | slack | both
    /notify auto

    `auto` (the default): wherever you were last active. Done and Snooze on a reminder work
    on every platform you are on.
    """
    me = ctx.me
    platforms = _platforms(ctx, me)
    if args.words:
        word = args.words[0].lower()
        if len(args.words) > 1 or word not in (*CHAT_PLATFORMS, NOTIFY_BOTH, NOTIFY_AUTO):
            raise UsageError(f"I don't understand “{args.rest}”.")
        if word in CHAT_PLATFORMS and word not in platforms:
            raise CommandError(
                f"You are not on {word.capitalize()} yet: send /link here, then the code "
                f"to me there."
            )
        me.notify = None if word == NOTIFY_AUTO else word
        ctx.session.add(me)
        requeue_reminders(ctx)
    targets = ", ".join(t.platform.capitalize() for t in notify_targets(ctx.session, member=me))
    how = "wherever you were last active" if me.notify is None else f"/notify {me.notify}"
    return Reply().add("I reach you on ", bold(targets or "nowhere yet"), f" ({how}).")


def _platform(args: Args) -> str:
    word = args.words[0].lower() if len(args.words) == 1 else ""
    if word not in CHAT_PLATFORMS:
        raise UsageError("Which platform: telegram or slack?")
    return word


def _platforms(ctx: Context, member: Member) -> list[str]:
    identities = member_identities(ctx.session, member_id=member.id or 0)
    return list(dict.fromkeys(i.platform for i in identities))


def register(registry: Registry) -> None:
    # Open to people who are not members yet: /link CODE is how a second account joins.
    registry.command("link", link, role=None)
    registry.command("unlink", unlink)
    registry.command("notify", notify)
    registry.button(LINK_BUTTON, press_link)
    registry.button(CANCEL_LINK_BUTTON, press_cancel_link)
