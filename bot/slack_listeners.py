"""The Slack adapter's Bolt listeners: Slack payloads in, `Request`s to the dispatcher,
replies back.

`/crm <command> ...`, a direct message to the app and a mention in a channel all become
the text command `/<command> ...`. Button presses carry the encoded `Button` as their
value; `/crm add` with nothing after it opens a form whose submission is an /add command;
the Home tab shows /home. Events carry an `event_id` that Slack repeats when it redelivers
(`X-Slack-Retry-Num`), so it is the request's update id: a redelivery changes nothing.
Slash commands, button presses and forms have none: their signature is their update id
over HTTP (bot/slack_http.py), so a replayed request changes nothing either.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.slack_http import replay_key
from bot.slack_render import (
    ACTION_PREFIX,
    ADD_FIELDS,
    ADD_FORM,
    LINK_ACTION,
    add_form,
    form_values,
    home_view,
)
from handlers.context import ChatType, Request, SharedFile
from handlers.errors import CommandError
from handlers.grammar import parse_tags, quote, split_command
from storage.models import Platform

if TYPE_CHECKING:
    from bot.slack_adapter import SlackAdapter

Payload = dict[str, Any]

COMMAND = "/crm"
# Changes to what the channel hears are answered for everyone in it (`/crm announce here`);
# every other answer only the sender sees.
CHANNEL_COMMANDS = frozenset({"announce"})
FORM_OPTIONS = ("company", "phone", "email", "city")
FORM_FIELDS = frozenset(key for key, *_ in ADD_FIELDS)
_ENTITY = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_USER = re.compile(r"<@([A-Z0-9]+)(?:\|[^<>]*)?>")
_NAMELESS_CHANNELS = ("directmessage", "privategroup")
FILE_SHARE = "file_share"


@dataclass(frozen=True)
class Origin:
    """Where a request came from, so that its answer goes back there."""

    user_id: str
    channel_id: str = ""
    # Slash commands and button presses: answer through it (even where I am not a member).
    response_url: str | None = None
    thread_ts: str | None = None
    # The user's direct-message conversation with the app: nobody else reads it, so answers
    # are ordinary messages that stay in its history.
    direct: bool = False


def register(app: AsyncApp) -> None:
    app.command(COMMAND)(crm_command)
    app.event("message")(direct_message)
    app.event("app_mention")(mention)
    app.event("app_home_opened")(home_opened)
    app.action(re.compile("^" + re.escape(ACTION_PREFIX)))(button_press)
    app.action(re.compile("^" + re.escape(LINK_ACTION)))(link_opened)
    app.view(ADD_FORM)(add_form_submitted)


async def link_opened(ack: AsyncAck) -> None:
    """A link button (the board): the browser opens it; the app only acknowledges."""
    await ack()


async def crm_command(
    ack: AsyncAck, command: Payload, context: AsyncBoltContext, req: AsyncBoltRequest
) -> None:
    """`/crm add Jane Doe company:Acme`: acknowledged at once, answered through the
    command's response URL."""
    await ack()
    crm = _crm(context)
    origin = Origin(
        user_id=command["user_id"],
        channel_id=command.get("channel_id", ""),
        response_url=command.get("response_url"),
    )
    async with crm.working(origin):
        text = await _as_command(crm, command.get("text", ""))
        if _command_name(crm, text) == "add" and text.strip() == "/add":
            await _open_add_form(crm, command)
            return
        request = await _request(
            crm,
            origin,
            workspace_id=_workspace(command, context),
            chat_name=_channel_name(command.get("channel_name", "")),
            text=text,
            sent_at=crm.clock(),  # a slash command carries no time: it came just now
            update_id=replay_key(req.headers),
        )
        reply = await crm.dispatcher.handle(request)
        await crm.answer(origin, reply, public=_for_channel(crm, text))


async def direct_message(event: Payload, body: Payload, context: AsyncBoltContext) -> None:
    """A message in the user's conversation with the app: `add Jane Doe` is /add. A file
    shared there is downloaded and previewed for /import."""
    subtype = event.get("subtype")
    if (
        event.get("channel_type") != "im"
        or subtype not in (None, FILE_SHARE)
        or event.get("bot_id")
    ):
        return  # edits, deletions, joins, bots: not something the user asked me
    crm = _crm(context)
    origin = Origin(
        user_id=event["user"],
        channel_id=event["channel"],
        thread_ts=event.get("thread_ts"),
        direct=True,
    )
    async with crm.working(origin):
        content = (
            await _shared_file(crm, event)
            if subtype == FILE_SHARE
            else {"text": await _as_command(crm, event.get("text", ""))}
        )
        request = await _request(
            crm,
            origin,
            workspace_id=_workspace(body, context),
            update_id=body.get("event_id"),
            sent_at=slack_time(event.get("ts")),
            **content,
        )
        await crm.answer(origin, await crm.dispatcher.handle(request))


async def _shared_file(crm: SlackAdapter, event: Payload) -> dict[str, Any]:
    """The first file of a file_share message, downloaded (the request's `file`); one over
    the import limit is named, not fetched."""
    files = event.get("files") or []
    if not files:
        return {"other": "that kind of message"}
    shared = files[0]
    limit = crm.dispatcher.defaults.import_max_bytes
    if int(shared.get("size") or 0) > limit:
        return {"other": f"files over {limit // (1024 * 1024)} MB"}
    url = shared.get("url_private_download") or shared.get("url_private")
    if not url:  # Slack leaves it out of some events: files.info has it
        info = await crm.client.files_info(file=shared["id"])
        url = info["file"].get("url_private_download") or info["file"]["url_private"]
    content = await crm.download(url, limit=limit)
    if content is None:
        return {"other": f"files over {limit // (1024 * 1024)} MB"}
    return {"file": SharedFile(str(shared.get("name") or "file"), content)}


async def mention(event: Payload, body: Payload, context: AsyncBoltContext) -> None:
    """`@crmbot announce here` in a channel."""
    crm = _crm(context)
    text = event.get("text", "")
    if context.bot_user_id:
        text = re.sub(rf"<@{re.escape(context.bot_user_id)}(\|[^<>]*)?>", " ", text)
    origin = Origin(
        user_id=event["user"], channel_id=event["channel"], thread_ts=event.get("thread_ts")
    )
    async with crm.working(origin):
        command = await _as_command(crm, text)
        request = await _request(
            crm,
            origin,
            workspace_id=_workspace(body, context),
            text=command,
            update_id=body.get("event_id"),
            sent_at=slack_time(event.get("ts")),
        )
        reply = await crm.dispatcher.handle(request)
        await crm.answer(origin, reply, public=_for_channel(crm, command))


async def home_opened(event: Payload, body: Payload, context: AsyncBoltContext) -> None:
    """The Home tab: the member's desk, freshly computed each time it is opened."""
    if event.get("tab") != "home":
        return
    crm = _crm(context)
    origin = Origin(user_id=event["user"])
    async with crm.working(origin):
        request = await _request(crm, origin, workspace_id=_workspace(body, context), text="/home")
        reply = await crm.dispatcher.handle(request)
        if reply is not None:
            view = home_view(crm.slack_way(reply))
            await crm.client.views_publish(user_id=origin.user_id, view=view)


async def button_press(
    ack: AsyncAck,
    action: Payload,
    body: Payload,
    context: AsyncBoltContext,
    req: AsyncBoltRequest,
) -> None:
    await ack()
    crm = _crm(context)
    container = body.get("container") or {}
    channel_id = (body.get("channel") or {}).get("id", "")
    origin = Origin(
        user_id=body["user"]["id"],
        channel_id=channel_id,
        response_url=body.get("response_url"),
        thread_ts=container.get("thread_ts"),
        # A message I posted (not an ephemeral one) in a DM is in my DM with the user.
        direct=channel_id.startswith("D") and not container.get("is_ephemeral"),
    )
    async with crm.working(origin):
        request = await _request(
            crm,
            origin,
            workspace_id=_workspace(body, context),
            button=action["value"],
            sent_at=slack_time(action.get("action_ts")),
            update_id=replay_key(req.headers),
        )
        await crm.answer(origin, await crm.dispatcher.handle(request))


async def add_form_submitted(
    ack: AsyncAck, view: Payload, body: Payload, context: AsyncBoltContext, req: AsyncBoltRequest
) -> None:
    """The add form: run as /add; a bad field is shown on the field and the form stays."""
    crm = _crm(context)
    where = json.loads(view.get("private_metadata") or "{}")
    origin = Origin(
        user_id=body["user"]["id"],
        channel_id=where.get("channel_id", ""),
        response_url=where.get("response_url"),
    )
    async with crm.working(origin):
        try:
            fields = form_values(view)
            try:
                tags = parse_tags(fields["tags"])
            except CommandError as error:
                await ack(response_action="errors", errors={"tags": error.message})
                return
            request = await _request(
                crm,
                origin,
                workspace_id=_workspace(body, context),
                chat_name=where.get("chat_name", ""),
                text=_add_command(fields, tags),
                sent_at=crm.clock(),
                update_id=replay_key(req.headers),
            )
            reply = await crm.dispatcher.handle(request)
            if reply is not None and reply.error and reply.error_field in FORM_FIELDS:
                await ack(
                    response_action="errors", errors={reply.error_field: reply.lines[0].plain}
                )
                return
            await ack()
            await crm.answer(origin, reply)
        finally:
            if ack.response is None:
                await ack()  # closes the form; the apology follows as a message


async def _open_add_form(crm: SlackAdapter, command: Payload) -> None:
    # Where the form was asked for: its answer goes there, like the command's would.
    where = {
        "channel_id": command.get("channel_id", ""),
        "chat_name": _channel_name(command.get("channel_name", "")),
        "response_url": command.get("response_url"),
    }
    await crm.client.views_open(trigger_id=command["trigger_id"], view=add_form(json.dumps(where)))


def _add_command(fields: dict[str, str], tags: list[str]) -> str:
    """The form as the /add command it stands for; quoting keeps each value whole."""
    parts = ["/add"]
    if fields["name"]:
        parts.append(quote(fields["name"]))
    parts += [f"{key}:{quote(fields[key])}" for key in FORM_OPTIONS if fields[key]]
    parts += [f"#{tag}" for tag in tags]
    return " ".join(parts)


def slack_time(ts: object) -> datetime | None:
    """Slack's timestamp (`"1700000000.000100"`, seconds since 1970 with a sequence
    number) as a time; None when there is none."""
    try:
        return datetime.fromtimestamp(float(str(ts)), UTC) if ts else None
    except (ValueError, OverflowError):
        return None


def _crm(context: AsyncBoltContext) -> SlackAdapter:
    return cast("SlackAdapter", context["crm"])


async def _request(
    crm: SlackAdapter, origin: Origin, *, workspace_id: str, chat_name: str = "", **event: Any
) -> Request:
    private = origin.direct or not origin.channel_id or origin.channel_id.startswith("D")
    return Request(
        platform=Platform.slack,
        user_id=origin.user_id,
        user_name=await crm.display_name(origin.user_id),
        workspace_id=workspace_id,
        chat_id=origin.channel_id,
        chat_type=ChatType.private if private else ChatType.group,
        chat_name=chat_name,
        **event,
    )


def _workspace(body: Payload, context: AsyncBoltContext) -> str:
    """The sender's own workspace (in a channel shared between organisations, theirs)."""
    event = body.get("event")
    event = event if isinstance(event, dict) else {}
    user = body.get("user")
    user = user if isinstance(user, dict) else {}
    return (
        event.get("user_team") or event.get("team") or user.get("team_id") or context.team_id or ""
    )


def _channel_name(name: str) -> str:
    if not name or name in _NAMELESS_CHANNELS or name.startswith("mpdm-"):
        return ""
    return f"#{name}"


async def _as_command(crm: SlackAdapter, text: str) -> str:
    """Slack's message text as a command: `add <mailto:j@a.de|j@a.de>` -> `/add j@a.de`."""
    plain = (await _plain_text(crm, text)).strip()
    return "/" + (plain.lstrip("/").lstrip() or "help")


async def _plain_text(crm: SlackAdapter, text: str) -> str:
    """Slack's markup undone: mentions as @name, links as what was typed, entities as the
    characters they stand for."""
    names = {user_id: await crm.display_name(user_id) for user_id in _USER.findall(text)}

    def entity(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("@"):
            return "@" + names.get(target[1:], label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^")[0]).lstrip("@")
        return label or target.removeprefix("mailto:").removeprefix("tel:")

    return (
        _ENTITY.sub(entity, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    )


def _for_channel(crm: SlackAdapter, text: str) -> bool:
    return _command_name(crm, text) in CHANNEL_COMMANDS and len(text.split()) > 1


def _command_name(crm: SlackAdapter, text: str) -> str | None:
    parsed = split_command(text)
    command = crm.dispatcher.registry.find(parsed[0]) if parsed else None
    return command.name if command else None
