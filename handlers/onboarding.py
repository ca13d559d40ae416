"""Joining crmbot: /start creates the team or says how to join it, /join redeems an invite,
/help explains every command from its own docstring."""

from __future__ import annotations

import re
from datetime import timedelta

from handlers.cards import deal_card
from handlers.context import Context
from handlers.errors import CommandError, UsageError
from handlers.grammar import Args, limited
from handlers.guesses import guessing_wait, wrong_guess
from handlers.refs import DEAL, resolve
from handlers.registry import Registry
from handlers.reply import Reply, bold, code
from storage.installations import workspace_installer
from storage.locks import lock_signup
from storage.models import Activity, ActivityKind, Deal, Member, Platform, Role, Team
from storage.teams import (
    add_member,
    claim_workspace,
    create_team,
    first_team,
    invite_by_code,
    workspace_team,
)

INVITE_TTL = timedelta(days=7)
# `/start d42`: what a Telegram deep link on an announcement sends (handlers/cards.py).
DEEP_LINK_START = re.compile(r"d\d{1,12}")
# Commands that register their sender themselves (the dispatcher does not do it first).
SELF_SERVICE = frozenset({"start", "join", "link"})
_FAMILY_TITLES = {
    "onboarding": "Getting started",
    "contacts": "Contacts",
    "activities": "Activities",
    "deals": "Deals",
    "pipeline": "Pipeline and stats",
    "board": "Pipeline and stats",
    "team": "Team and settings",
    "links": "Your platforms",
    "scoring": "Lead scoring",
    "channels": "Announcements",
    "home": "Your desk",
    "reminders": "Reminders and your day",
    "notices": "Digests",
    "imports": "Your data",
    "exports": "Your data",
    "cleanup": "Your data",
    "undo": "Undo",
}


def start(ctx: Context, args: Args) -> Reply:
    """Register: the first person creates the team and is its admin.

    /start [TEAM NAME]

    Everyone after that joins with an invite code: /join CODE. In the terminal, new names
    join the team as reps straight away, so a demo with several people is easy; so do the
    people of a Slack workspace that belongs to a team, on their first message. A team
    made without a name (Eve's team) takes the one its admin gives: /start Acme Sales.
    """
    if DEEP_LINK_START.fullmatch(args.rest.strip()):
        return _open_linked(ctx, args.rest.strip())
    if ctx.member is not None:
        assert ctx.team is not None
        if (named := _named_now(ctx, args.rest.strip())) is not None:
            return named
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
    if ctx.request.workspace_id:
        entered = enter_workspace(ctx, team_name=args.rest)
        if entered is not None:
            return entered.add("Send /help to see what I can do.")
        if _installer_decides(ctx):
            return Reply(error=True).add(
                "crmbot was just installed in this workspace. Whoever installed it sets up its "
                "team first (/start for a new team, or /join CODE for their existing one); "
                "then write to me again and you join it."
            )
    lock_signup(ctx.session)  # several first /starts at once: one team
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
        return _joined(ctx, team, Role.rep).add("Send /help to see what I can do.")
    return (
        _found_team(ctx, args.rest)
        .add(
            "Log your first contact: ",
            code("/add Jane Doe company:Acme jane@acme.com +49 30 1234567 city:Berlin #hot"),
        )
        .add("Invite teammates with /invite, and send /help to see every command.")
    )


def _open_linked(ctx: Context, ref: str) -> Reply:
    """The deal a link opens, for a member of its team; anyone else learns nothing of it
    (another team's member is told there is no such deal, as for any id not theirs)."""
    if ctx.member is None or not ctx.member.active:
        return Reply(error=True).add(
            "That link opens a deal for the members of its team. Send /start to set up a "
            "team of your own, or ",
            code("/join CODE"),
            " with an invite code from your team.",
        )
    record, _ = resolve(ctx, [ref], (DEAL,), whole=True)
    assert isinstance(record, Deal)
    return deal_card(ctx, record)


def enter_workspace(ctx: Context, *, team_name: str = "") -> Reply | None:
    """A newcomer writing from a chat workspace (a Slack workspace) joins its team as a rep.

    The first person from a workspace nobody has claimed creates a team for it and is its
    admin, when this installation may get a new team (no team yet, or open signup);
    otherwise None: they need an invite code, and /join CODE claims the workspace.
    """
    request = ctx.request
    lock_signup(ctx.session)  # a workspace's first people at once: one team for it
    team = workspace_team(
        ctx.session, platform=request.platform, workspace_id=request.workspace_id
    )
    if team is not None:
        return _joined(ctx, team, Role.rep)
    if _installer_decides(ctx) or (
        first_team(ctx.session) is not None and not ctx.defaults.open_signup
    ):
        return None
    reply = _found_team(ctx, team_name)
    claim_workspace(
        ctx.session,
        team_id=ctx.team_id,
        platform=request.platform,
        workspace_id=request.workspace_id,
    )
    return reply.add("Everyone else in this workspace joins the team when they first write to me.")


def _installer_decides(ctx: Context) -> bool:
    """Whether the sender's workspace, having no team yet, waits for the person who
    installed the app there (hosted mode, bot/slack_oauth.py) to found its team or join
    one: the workspace's admins let them install it, not whoever happens to write first."""
    request = ctx.request
    installer = workspace_installer(ctx.session, workspace_id=request.workspace_id)
    return bool(installer) and installer != request.user_id


def _named_now(ctx: Context, name: str) -> Reply | None:
    """`/start Acme Sales` by the admin of a team still under the name it was given for
    want of one (`Eve's team`: the terminal registers whoever starts it): the team takes
    the name. Any other team keeps its name."""
    team, member = ctx.team, ctx.member
    assert team is not None and member is not None
    if not name or member.role != Role.admin or team.name != _default_name(member.name):
        return None
    team.name = limited(name, 200, "A team name")
    ctx.session.add(team)
    return Reply().add("Your team is now called ", bold(team.name), ".")


def _default_name(person: str) -> str:
    return f"{person}'s team"


def _found_team(ctx: Context, name: str) -> Reply:
    """Create a team with the sender as its admin."""
    name = limited(name or _default_name(ctx.request.user_name), 200, "A team name")
    defaults = ctx.defaults
    team = create_team(
        ctx.session,
        name=name,
        currency=defaults.currency,
        timezone=defaults.timezone,
        locale=defaults.locale,
        region=defaults.region,
        now=ctx.now,
    )
    team.scores_at = ctx.now  # its contacts will be scored as they are written
    ctx.team = team
    member = _join(ctx, team_id=team.id or 0, role=Role.admin)
    return Reply().add(
        "Welcome, ",
        bold(member.name),
        "! You created the team ",
        bold(team.name),
        " and you are its admin.",
    )


def _joined(ctx: Context, team: Team, role: Role) -> Reply:
    member = _join(ctx, team_id=team.id or 0, role=role)
    return Reply().add(
        "Welcome, ", bold(member.name), "! You joined ", bold(team.name), f" as {role.a}."
    )


def join(ctx: Context, args: Args) -> Reply:
    """Join a team with an invite code from a teammate.

    /join CODE

    Sent from a Slack workspace that no team has yet, it also makes the workspace the
    team's: everyone else there joins the team as a rep on their first message.
    """
    if not args.words:
        raise UsageError("Which invite code? Ask a teammate to send /invite.")
    request = ctx.request
    wait = guessing_wait(ctx)
    if wait is not None:
        minutes = max(1, -(-int(wait.total_seconds()) // 60))
        raise CommandError(
            f"Too many wrong invite codes. Try again in {minutes} minute"
            f"{'s' if minutes != 1 else ''}, with the code exactly as your teammate sent it."
        )
    invite = invite_by_code(ctx.session, code=args.words[0])
    if ctx.member is not None:
        if invite is not None and invite.team_id == ctx.member.team_id:
            raise CommandError("You are already in this team.")
        raise CommandError("You are already a member of a team; one account, one team.")
    refusal = (
        f"There is no invite code {args.words[0]!r}. Check the spelling."
        if invite is None
        else "That invite code has already been used. Ask for a new one."
        if invite.used_by is not None
        else "That invite code has expired. Ask for a new one."
        if invite.expires_at < ctx.now
        else None
    )
    if refusal is not None or invite is None:
        wrong_guess(ctx)
        return Reply(error=True).add(refusal or "")
    owner = (
        workspace_team(ctx.session, platform=request.platform, workspace_id=request.workspace_id)
        if request.workspace_id
        else None
    )
    if owner is not None and owner.id != invite.team_id:
        raise CommandError(
            f"This workspace belongs to the team {owner.name}; that code is for another team."
        )
    team = ctx.session.get(Team, invite.team_id)
    assert team is not None
    reply = _joined(ctx, team, Role(invite.role))
    invite.used_by, invite.used_at = ctx.member_id, ctx.now
    ctx.session.add(invite)
    if request.workspace_id and owner is None:
        # The first /join from a workspace nobody claimed makes it the team's: the rest of
        # its people join on first use.
        claim_workspace(
            ctx.session,
            team_id=team.id or 0,
            platform=request.platform,
            workspace_id=request.workspace_id,
        )
    return reply.add("Send /help to see what I can do.")


def show_help(ctx: Context, args: Args) -> Reply:
    """Show the commands, or everything about one of them.

    /help [COMMAND]

    Without a command: one line per family of commands. With one: what it does, how to
    write it, and examples. Example: /help add
    """
    registry = ctx.registry
    if args.words:
        name = args.words[0].lstrip("/").lower()
        command = registry.find(name)
        if command is None:
            reply = Reply(error=True).add(f"There is no /{name}.")
            if (meant := registry.closest(name)) is not None:
                reply.add("Did you mean ", bold(f"/{meant}"), "?")
            return reply
        reply = Reply().heading(f"/{command.name}")
        for line in command.doc.splitlines():
            reply.add(line)
        if command.aliases:
            reply.muted("Also: " + ", ".join(f"/{alias}" for alias in command.aliases))
        return reply
    reply = Reply()
    if ctx.member is None:
        reply.add("You are not in a team yet. Send /start to set one up, or /join CODE.")
    families: dict[str, list[str]] = {}  # by title: several modules may share one line
    for command in registry.commands.values():
        if ctx.member is None and command.role is not None:
            continue
        title = _FAMILY_TITLES.get(command.family, command.family.capitalize())
        families.setdefault(title, []).append(command.name)
    for title, names in families.items():
        reply.item(bold(title), ": ", " ".join(f"/{name}" for name in names))
    return reply.muted("/help COMMAND says what one does, with examples: /help add")


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
        now=ctx.now,
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
    registry.command("help", show_help, role=None, writes=False)
