"""Joining crmbot: /start creates the team or says how to join it, /join redeems an invite,
/help explains every command from its own docstring."""

from __future__ import annotations

from datetime import timedelta

from rapidfuzz import process

from handlers.context import Context
from handlers.errors import CommandError, UsageError
from handlers.grammar import Args, limited
from handlers.registry import Registry
from handlers.reply import Reply, bold, code
from storage.models import Activity, ActivityKind, Member, Platform, Role, Team
from storage.teams import add_member, create_team, first_team, invite_by_code

INVITE_TTL = timedelta(days=7)
_FAMILY_TITLES = {
    "onboarding": "Getting started",
    "contacts": "Contacts",
    "activities": "Activities",
    "deals": "Deals",
    "pipeline": "Pipeline and stats",
    "team": "Team and settings",
    "scoring": "Lead scoring",
    "channels": "Announcements",
}


def start(ctx: Context, args: Args) -> Reply:
    """Register: the first person creates the team and is its admin.

    /start [TEAM NAME]

    Everyone after that joins with an invite code: /join CODE. In the terminal, new names
    join the team as reps straight away, so a demo with several people is easy.
    """
    if ctx.member is not None:
        assert ctx.team is not None
        return (
            Reply()
            .add(
                "Welcome back, ",
                bold(ctx.member.name),
                f". You are {Role(ctx.member.role).a} in ",
                bold(ctx.team.name),
                ".",
            )
            .add("Send /help to see what I can do.")
        )
    team = first_team(ctx.session)
    terminal = ctx.request.platform == Platform.console
    if team is not None and not ctx.defaults.open_signup and not terminal:
        return Reply().add(
            "This crmbot belongs to the team ",
            bold(team.name),
            ". Ask a teammate for an invite code (they send /invite) and then send ",
            code("/join CODE"),
            ".",
        )
    if team is not None and terminal and not ctx.defaults.open_signup:
        member = _join(ctx, team_id=team.id or 0, role=Role.rep)
        return (
            Reply()
            .add("Welcome, ", bold(member.name), "! You joined ", bold(team.name), " as a rep.")
            .add("Send /help to see what I can do.")
        )
    name = limited(args.rest or f"{ctx.request.user_name}'s team", 200, "A team name")
    defaults = ctx.defaults
    team = create_team(
        ctx.session,
        name=name,
        currency=defaults.currency,
        timezone=defaults.timezone,
        locale=defaults.locale,
        region=defaults.region,
    )
    ctx.team = team
    member = _join(ctx, team_id=team.id or 0, role=Role.admin)
    return (
        Reply()
        .add(
            "Welcome, ",
            bold(member.name),
            "! You created the team ",
            bold(team.name),
            " and you are its admin.",
        )
        .add(
            "Log your first contact: ",
            code("/add Jane Doe company:Acme jane@acme.com +49 30 1234567 city:Berlin #hot"),
        )
        .add("Invite teammates with /invite, and send /help to see every command.")
    )


def join(ctx: Context, args: Args) -> Reply:
    """Join a team with an invite code from a teammate.

    /join CODE
    """
    if not args.words:
        raise UsageError("Which invite code? Ask a teammate to send /invite.")
    invite = invite_by_code(ctx.session, code=args.words[0])
    if ctx.member is not None:
        if invite is not None and invite.team_id == ctx.member.team_id:
            raise CommandError("You are already in this team.")
        raise CommandError("You are already a member of a team; one account, one team.")
    if invite is None:
        raise CommandError(f"There is no invite code {args.words[0]!r}. Check the spelling.")
    if invite.used_by is not None:
        raise CommandError("That invite code has already been used. Ask for a new one.")
    if invite.expires_at < ctx.now:
        raise CommandError("That invite code has expired. Ask for a new one.")
    member = _join(ctx, team_id=invite.team_id, role=Role(invite.role))
    invite.used_by, invite.used_at = member.id, ctx.now
    ctx.session.add(invite)
    assert ctx.team is not None
    return (
        Reply()
        .add(
            "Welcome, ",
            bold(member.name),
            "! You joined ",
            bold(ctx.team.name),
            f" as {Role(member.role).a}.",
        )
        .add("Send /help to see what I can do.")
    )


def show_help(ctx: Context, args: Args) -> Reply:
    """Show the commands, or everything about one of them.

    /help [COMMAND]
    """
    registry = ctx.registry
    if args.words:
        name = args.words[0].lstrip("/").lower()
        command = registry.find(name)
        if command is None:
            reply = Reply(error=True).add(f"There is no /{name}.")
            match = process.extractOne(name, registry.names(), score_cutoff=60)
            if match:
                reply.add("Did you mean ", bold(f"/{match[0]}"), "?")
            return reply
        reply = Reply().heading(f"/{command.name}")
        for line in command.doc.splitlines():
            reply.add(line)
        return reply
    reply = Reply()
    if ctx.member is None:
        reply.add("You are not in a team yet. Send /start to set one up, or /join CODE.")
    families: dict[str, list[str]] = {}
    for command in registry.commands.values():
        if ctx.member is None and command.role is not None:
            continue
        families.setdefault(command.family, []).append(command.name)
    for family, names in families.items():
        reply.heading(_FAMILY_TITLES.get(family, family.capitalize()))
        for name in names:
            reply.item(bold(f"/{name}"), " — ", registry.commands[name].summary)
    return reply.muted("Send /help COMMAND for details, e.g. /help add.")


def _join(ctx: Context, *, team_id: int, role: Role) -> Member:
    request = ctx.request
    name = limited(request.user_name or "Someone", 200, "Your name")
    member = add_member(
        ctx.session,
        team_id=team_id,
        name=name,
        role=role,
        platform=request.platform,
        external_id=request.user_id,
        workspace_id=request.workspace_id,
    )
    ctx.member = member
    if ctx.team is None or ctx.team.id != team_id:
        ctx.team = ctx.session.get(Team, team_id)
    ctx.session.add(
        Activity(team_id=team_id, member_id=member.id, kind=ActivityKind.joined, at=ctx.now)
    )
    return member


def register(registry: Registry) -> None:
    registry.command("start", start, role=None)
    registry.command("join", join, role=None)
    registry.command("help", show_help, role=None)
