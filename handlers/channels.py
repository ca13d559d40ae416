"""Where the team hears about won deals: `/announce here` in a group chat or channel."""

from __future__ import annotations

from handlers.context import ChatType, Context
from handlers.errors import CommandError, UsageError
from handlers.grammar import Args
from handlers.registry import Registry
from handlers.reply import Reply, bold
from storage.channels import add_channel, channel_for_chat, remove_channel, team_channels
from storage.models import Channel, Platform, Role


def announce(ctx: Context, args: Args) -> Reply:
    """Choose the chats that hear about every won deal (managers and admins).

    /announce here
    /announce off
    /announce

    Send it in the group chat or Slack channel itself. Without a word, lists the channels.
    """
    word = args.words[0].lower() if args.words else ""
    if word not in ("", "here", "off"):
        raise UsageError(f"I don't understand “{args.rest}”.")
    if not word:
        return _listing(ctx)
    ctx.require(Role.manager, "choose announcement channels")
    request = ctx.request
    in_group = request.chat_type == ChatType.group or request.platform == Platform.console
    if not in_group:
        raise CommandError(
            "Send /announce here in the group chat or channel that should hear "
            "about won deals (add me to it first)."
        )
    existing = channel_for_chat(
        ctx.session,
        platform=request.platform,
        workspace_id=request.workspace_id,
        chat_id=request.chat_id,
    )
    if existing is not None and existing.team_id != ctx.team_id:
        raise CommandError("This chat already announces for another team.")
    place = request.chat_name or "this chat"
    if word == "off":
        if existing is None:
            return Reply().add(f"{place} was not announcing anything.")
        remove_channel(ctx.session, team_id=ctx.team_id, channel_id=existing.id or 0)
        return Reply().add("Done: ", bold(place), " no longer hears about won deals.")
    if existing is not None:
        return Reply().add(bold(place), " already hears about every won deal.")
    add_channel(
        ctx.session,
        channel=Channel(
            team_id=ctx.team_id,
            platform=request.platform,
            workspace_id=request.workspace_id,
            chat_id=request.chat_id,
            name=request.chat_name,
            added_by=ctx.member_id,
            created_at=ctx.now,
        ),
    )
    return Reply().add("From now on ", bold(place), " hears about every won deal.")


def _listing(ctx: Context) -> Reply:
    channels = team_channels(ctx.session, team_id=ctx.team_id)
    if not channels:
        return Reply().add(
            "No chat announces won deals yet. Send /announce here in a group chat or channel."
        )
    reply = Reply().heading("Won deals are announced in")
    for channel in channels:
        reply.item(bold(channel.name or channel.chat_id), f" ({channel.platform})")
    return reply


def register(registry: Registry) -> None:
    registry.command("announce", announce)
