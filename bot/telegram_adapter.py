"""The Telegram adapter: python-telegram-bot on the bot's event loop, fed by long polling
(`crmbot run`) or by the webhook of `crmbot serve` (bot/telegram_webhook.py).

It only converts: an Update becomes a `Request` for the dispatcher, the `Reply` becomes
Telegram messages (rendered by bot/telegram_render.py). What only Telegram has lives
here too: the "Share location" keyboard after /start, silent live-location updates,
answering every button press so the phone stops spinning.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import phonenumbers
from telegram import (
    BotCommand,
    CallbackQuery,
    Contact,
    Document,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    LinkPreviewOptions,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ChatType as TelegramChatType
from telegram.constants import MessageAttachmentType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import BaseRateLimiter, ContextTypes, ExtBot, TypeHandler
from telegram.request import BaseRequest
from telegram.warnings import PTBUserWarning

from bot.pacing import telegram_group
from bot.senders import PermanentError, RateLimited, TransientError
from bot.telegram_polling import (
    ALLOWED_UPDATES,
    RETRIES_AFTER_429,
    Polling,
    Sleep,
    TelegramApp,
)
from bot.telegram_render import (
    MAX_MESSAGE,
    escape_text,
    inline_keyboard,
    render_html,
    with_deep_links,
)
from bot.throttle import Throttle, bot_key, chat_key
from bot.vcard import VCard, parse_vcard
from handlers.context import ChatType, Request, SharedContact, SharedFile
from handlers.grammar import split_command
from handlers.reply import Attachment, Reply
from storage.models import Platform

if TYPE_CHECKING:
    from handlers.dispatcher import Dispatcher

log = logging.getLogger(__name__)

SHARE_LOCATION = "Share location"
# Telegram's limits: a caption's length, the command menu's size and descriptions.
MAX_CAPTION = 1024
# The largest file the Bot API takes from a bot (sendDocument).
MAX_UPLOAD = 50 * 1024 * 1024
MAX_MENU_COMMANDS = 100
MAX_MENU_DESCRIPTION = 256
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# What the bot cannot read, as its answer names it ("I can't read stickers.").
_ATTACHMENTS = {
    MessageAttachmentType.ANIMATION: "GIFs",
    MessageAttachmentType.AUDIO: "audio files",
    MessageAttachmentType.DOCUMENT: "files",
    MessageAttachmentType.LIVE_PHOTO: "photos",
    MessageAttachmentType.PHOTO: "photos",
    MessageAttachmentType.POLL: "polls",
    MessageAttachmentType.STICKER: "stickers",
    MessageAttachmentType.VIDEO: "videos",
    MessageAttachmentType.VIDEO_NOTE: "video messages",
    MessageAttachmentType.VOICE: "voice messages",
}

# The chats whose text messages `text_message` reads itself (a channel's are never answered).
_TEXT_CHATS = frozenset(
    {TelegramChatType.PRIVATE, TelegramChatType.GROUP, TelegramChatType.SUPERGROUP}
)

# What a send tells the rate limiter: a proactive message keeps to the chat's own limit too.
PROACTIVE = {"proactive": True}
# `Bot.do_api_request` warns on each call of a method python-telegram-bot has a method for;
# `_send_text` calls sendMessage that way on purpose.
warnings.filterwarnings(
    "ignore", message=r"Please use 'Bot\.sendMessage'", category=PTBUserWarning
)


class TelegramAdapter:
    """One bot token. `start` returns once updates come in: by long polling, or, with
    `webhook=True`, once the bot is ready for the updates `crmbot serve` hands it
    (`process`); the server then calls `set_webhook`."""

    name = "telegram"
    platform = Platform.telegram

    def __init__(
        self,
        dispatcher: Dispatcher,
        token: str,
        *,
        base_url: str | None = None,
        transport: BaseRequest | None = None,
        polling_transport: BaseRequest | None = None,
        sleep: Sleep = asyncio.sleep,
        throttle: Throttle | None = None,
        webhook: bool = False,
        polling: Polling | None = None,
    ) -> None:
        """`transport` carries the bot's calls, `polling_transport` its getUpdates (see
        `Polling`); `throttle`: send slots shared with other processes (default:
        python-telegram-bot's limiter, for this process). `polling`: the token's
        Application already polling (`crmbot run` polls before the dispatcher exists)."""
        self.dispatcher = dispatcher
        self.webhook = webhook
        self._menu: asyncio.Task[None] | None = None
        self._proactive = PROACTIVE if throttle is not None else None
        self.polling = polling or Polling(
            token,
            base_url=base_url,
            transport=transport,
            polling_transport=polling_transport,
            limiter=None if throttle is None else ThrottledRateLimiter(throttle, sleep=sleep),
            sleep=sleep,
        )
        self.application: TelegramApp = self.polling.application
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)

    async def start(self) -> None:
        app = self.application
        if self.webhook:
            await app.initialize()
            await app.start()
            await self.publish_commands()
            return
        await self.polling.start()  # unless it polls already
        await app.start()
        self.polling.hand_over()
        # The menu needs the registry, i.e. every command family imported: once the first
        # poll is answered, so that neither start-up nor the first poll's sending competes
        # with those imports (an update that came with it builds the registry itself).
        self._menu = asyncio.create_task(self._publish_after_first_poll(), name="telegram menu")

    async def set_webhook(self, url: str, secret: str) -> None:
        """Have Telegram post updates to `url` with `secret` in each request's header. Every
        process sets the same, so this is safe to repeat; it is never deleted on stop, since
        other processes may still be serving (Telegram keeps the updates while none is)."""
        await self.application.bot.set_webhook(
            url, secret_token=secret, allowed_updates=ALLOWED_UPDATES
        )
        log.info("telegram: webhook set for @%s", self.application.bot.username)

    async def process(self, data: dict[str, Any]) -> None:
        """Handle one update posted to the webhook, as polling would have. A text message
        for the bot (most updates) is read from the JSON itself: python-telegram-bot's
        objects for it (a Message has a hundred attributes) and its handler machinery cost
        a seventh of what the event loop spends on a message (bench/NOTES.md, h24);
        everything else goes through python-telegram-bot, as with polling."""
        app = self.application
        bot = app.bot
        text = text_message(data, bot_id=bot.id, bot_username=bot.username)
        if text is None:
            await app.process_update(Update.de_json(data, bot))
            return
        request, thread_id = text
        try:
            reply = await self.dispatcher.handle(request)
            if reply is not None:
                await self._reply(request, reply, thread_id=thread_id)
        except Exception as error:
            # As python-telegram-bot hands a handler's exception to `_on_error`.
            log.error("telegram: update %s failed", data["update_id"], exc_info=error)

    async def stop(self) -> None:
        if self._menu is not None:
            self._menu.cancel()
            await asyncio.wait([self._menu])
        await self.polling.stop()

    async def _publish_after_first_poll(self) -> None:
        await self.polling.polls.answered.wait()
        await self.publish_commands()

    async def publish_commands(self) -> None:
        """The command menu (the "/" button), from the registry's one-line summaries."""
        # Built off the event loop: importing the command families takes a tenth of a second.
        registry = await asyncio.to_thread(lambda: self.dispatcher.registry)
        commands = [
            BotCommand(command.name, command.summary[:MAX_MENU_DESCRIPTION] or command.name)
            for command in registry.commands.values()
        ]
        try:
            await self.application.bot.set_my_commands(commands[:MAX_MENU_COMMANDS])
        except TelegramError as error:
            # The menu is a convenience; typed commands work without it.
            log.warning("telegram: could not set the command menu: %s", error)

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        bot = context.bot
        request = request_from_update(update, bot_id=bot.id, bot_username=bot.username)
        document = update.message.document if update.message is not None else None
        if request is not None and request.other is not None and document is not None:
            request = await self._with_document(request, document)
        query = update.callback_query
        reply: Reply | None = None
        try:
            if request is not None:
                reply = await self.dispatcher.handle(request)
        finally:
            if query is not None:
                await _answer(query)
        # None: a redelivered update, already answered. A live location moving on the map
        # is stored silently, or the chat would fill with one answer every few seconds.
        if request is None or reply is None or update.edited_message is not None:
            return
        await self._reply(
            request,
            reply,
            edit=_message_of(query) if reply.edit else None,
            thread_id=_thread_of(update.message or _message_of(query)),
        )

    async def _reply(
        self,
        request: Request,
        reply: Reply,
        *,
        edit: Message | None = None,
        thread_id: int | None,
    ) -> None:
        """Deliver the reply to a request; a chat that refuses it is logged, not raised."""
        chat_id = int(request.chat_id)
        try:
            await self.deliver(
                chat_id,
                reply,
                edit=edit,
                thread_id=thread_id,
                keyboard=_share_location_keyboard(request, reply),
            )
        except Forbidden as error:
            log.warning("telegram: cannot write to chat %s (%s); reply dropped", chat_id, error)
        except TelegramError:
            log.exception("telegram: could not deliver the reply to chat %s", chat_id)

    async def _with_document(self, request: Request, document: Document) -> Request:
        """A file sent in a private chat, downloaded for /import; one over the import
        limit (the Bot API serves files up to 20 MB anyway) is named, not fetched."""
        limit = self.dispatcher.defaults.import_max_bytes
        if document.file_size is not None and document.file_size > limit:
            return replace(request, other=f"files over {limit // (1024 * 1024)} MB")
        telegram_file = await document.get_file()
        content = bytes(await telegram_file.download_as_bytearray())
        return replace(request, other=None, file=SharedFile(document.file_name or "file", content))

    @property
    def bot_username(self) -> str | None:
        """The bot's @name, known once the bot is initialized (getMe)."""
        try:
            return self.application.bot.username
        except RuntimeError:  # not initialized: no deep links yet
            return None

    async def deliver(
        self,
        chat_id: int,
        reply: Reply,
        *,
        edit: Message | None = None,
        thread_id: int | None = None,
        keyboard: ReplyKeyboardMarkup | None = None,
        proactive: bool = False,
    ) -> int | None:
        """Send `reply` to a chat as one or more messages (plus its attachments); `edit`
        names the message a button press came from, replaced by the first message;
        `proactive`: not an answer (the outbox's), paced by the chat's own limit too.
        Returns the id of the last text message sent (None when all were edits)."""
        bot = self.application.bot
        limits = self._proactive if proactive else None
        username = self.bot_username
        reply = with_deep_links(reply, username)
        chunks = render_html(reply, limit=MAX_MESSAGE)
        buttons = inline_keyboard(reply, username)
        last_id = None
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            inline = buttons if last else None
            if index == 0 and edit is not None and await _edited(edit, chunk, inline):
                continue
            last_id = await _send_text(
                bot,
                chat_id,
                chunk,
                thread_id=thread_id,
                markup=(inline or keyboard) if last else None,
                limits=limits,
            )
        for attachment in reply.attachments:
            send = bot.send_photo if attachment.mime_type == "image/png" else bot.send_document
            if attachment.size > MAX_UPLOAD:
                await _send_text(
                    bot,
                    chat_id,
                    escape_text(_too_large(attachment)),
                    thread_id=thread_id,
                    markup=None,
                    limits=limits,
                )
                continue
            await send(
                chat_id,
                attachment.content
                if attachment.spool is None
                # Read a chunk at a time as it goes out, not into memory first.
                else InputFile(
                    attachment.spool, filename=attachment.filename, read_file_handle=False
                ),
                filename=attachment.filename,
                caption=escape_text(attachment.caption[:MAX_CAPTION]) or None,
                parse_mode=ParseMode.HTML,
                message_thread_id=thread_id,
                rate_limit_args=limits,
            )
        return last_id

    async def send(self, chat_id: str, reply: Reply, *, workspace_id: str = "") -> str | None:
        """The outbox's way out (bot/senders.py): a proactive message to a chat, with
        Telegram's refusals told apart, so a blocked user is not retried forever."""
        with _outbound(chat_id):
            sent = await self.deliver(int(chat_id), reply, proactive=True)
        return None if sent is None else str(sent)

    async def edit(self, chat_id: str, ref: str, reply: Reply, *, workspace_id: str = "") -> None:
        """A message `send` sent, with `reply`'s text (its first part) and no buttons."""
        html = render_html(with_deep_links(reply, self.bot_username), limit=MAX_MESSAGE)[0]
        with _outbound(chat_id):
            try:
                await self.application.bot.edit_message_text(
                    html,
                    chat_id=int(chat_id),
                    message_id=int(ref),
                    parse_mode=ParseMode.HTML,
                    link_preview_options=_NO_PREVIEW,
                    rate_limit_args=self._proactive,
                )
            except BadRequest as error:
                if not _unchanged(error):
                    raise

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("telegram: update %s failed", update_id, exc_info=context.error)


async def _send_text(
    bot: ExtBot[Any],
    chat_id: int,
    html: str,
    *,
    thread_id: int | None,
    markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None,
    limits: dict[str, bool] | None,
) -> int:
    """sendMessage, as `Bot.send_message` sends it (the same request, rate limiter and
    errors), without making a `Message` of Telegram's answer: its id is all the bot reads
    of it, and python-telegram-bot's Message costs 0.2 ms of CPU a send (bench/SERVE.md)."""
    sent = await bot.do_api_request(
        "sendMessage",
        {
            "chat_id": chat_id,
            "text": html,
            "parse_mode": ParseMode.HTML,
            "link_preview_options": _NO_PREVIEW,
            "message_thread_id": thread_id,
            "reply_markup": markup,
        },
        rate_limit_args=limits,
    )
    return int(sent["message_id"])


@contextmanager
def _outbound(chat_id: str) -> Iterator[None]:
    """Telegram's refusals as the outbox's, so a blocked user is not retried forever."""
    try:
        yield
    except RetryAfter as error:
        raise RateLimited(_seconds(error.retry_after)) from error
    except Forbidden as error:  # blocked by the user, kicked from the group
        raise PermanentError(f"Telegram refused: {error.message}") from error
    except BadRequest as error:  # chat not found, and other answers that will not change
        raise PermanentError(f"Telegram refused: {error.message}") from error
    except NetworkError as error:  # timeouts, dropped connections, 5xx after retries
        raise TransientError(str(error)) from error
    except ValueError as error:
        raise PermanentError(f"not a Telegram chat id: {chat_id!r}") from error


def _seconds(retry_after: float | timedelta) -> float:
    """Telegram's Retry-After, which python-telegram-bot gives as a timedelta (as seconds
    where PTB_TIMEDELTA is set false)."""
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else retry_after


def request_from_update(update: Update, *, bot_id: int, bot_username: str) -> Request | None:
    """The update as a Request, or None when the bot has nothing to say to it: group
    chatter and commands for other bots, messages from bots, channel posts, service
    messages (someone joined, a pinned message)."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or user.is_bot or chat is None or chat.type == TelegramChatType.CHANNEL:
        return None
    private = chat.type == TelegramChatType.PRIVATE
    base = _request(
        user_id=user.id,
        user_name=user.full_name,
        chat_id=chat.id,
        private=private,
        chat_name=chat.title,
        bot_id=bot_id,
        update_id=update.update_id,
    )
    if update.callback_query is not None:
        # A button press has no time of its own (its message's date is when the bot wrote
        # that message): the dispatcher's clock stands in for it.
        data = update.callback_query.data
        return replace(base, button=data) if data else None
    if update.edited_message is not None:
        edited = update.edited_message
        location = edited.location
        if private and location is not None:
            # A live location moves with edits: it is where the rep was at the edit.
            return replace(
                base,
                location=(location.latitude, location.longitude),
                sent_at=edited.edit_date or edited.date,
            )
        return None
    message = update.message
    if message is None:
        return None
    base = replace(base, sent_at=message.date)
    if message.text is not None:
        if not _addressed_to_me(message.text, bot_username, private=private):
            return None
        return replace(base, text=message.text)
    if not private:
        return None
    if message.location is not None:
        return replace(base, location=(message.location.latitude, message.location.longitude))
    if message.contact is not None:
        return replace(base, contact=shared_contact(message.contact))
    if message.effective_attachment is not None:
        # A sticker, photo, voice note...: the dispatcher says what it reads instead.
        kind = next((kind for kind in _ATTACHMENTS if message[kind]), None)
        return replace(base, other=_ATTACHMENTS[kind] if kind else "that kind of message")
    return None


def text_message(
    data: dict[str, Any], *, bot_id: int, bot_username: str
) -> tuple[Request, int | None] | None:
    """A text message for the bot, read from the update's JSON: the Request that
    `request_from_update` makes of it, and the forum topic to answer in (`_thread_of`).
    None for anything else (buttons, edits, locations, files, messages from bots or to
    other bots, fields not of the expected types): those take python-telegram-bot's way."""
    message = data.get("message")
    if len(data) != 2 or not isinstance(message, dict):
        return None
    user, chat, text = message.get("from"), message.get("chat"), message.get("text")
    date, update_id = message.get("date"), data.get("update_id")
    if not (
        isinstance(user, dict)
        and isinstance(chat, dict)
        and isinstance(text, str)
        and isinstance(date, int)
        and isinstance(update_id, int)
        and "document" not in message
    ):
        return None
    user_id, first_name, last_name = user.get("id"), user.get("first_name"), user.get("last_name")
    chat_id, chat_type, title = chat.get("id"), chat.get("type"), chat.get("title")
    if (
        user.get("is_bot") is not False
        or not isinstance(user_id, int)
        or not isinstance(first_name, str)
        or not isinstance(last_name, str | None)
        or not isinstance(chat_id, int)
        or chat_type not in _TEXT_CHATS
        or not isinstance(title, str | None)
    ):
        return None
    private = chat_type == TelegramChatType.PRIVATE
    if not _addressed_to_me(text, bot_username, private=private):
        return None
    request = _request(
        user_id=user_id,
        user_name=f"{first_name} {last_name}" if last_name else first_name,
        chat_id=chat_id,
        private=private,
        chat_name=title,
        bot_id=bot_id,
        update_id=update_id,
        sent_at=datetime.fromtimestamp(date, tz=UTC),
        text=text,
    )
    thread_id = message.get("message_thread_id")
    topic = message.get("is_topic_message") is True and isinstance(thread_id, int)
    return request, thread_id if topic else None


def _request(
    *,
    user_id: int,
    user_name: str,
    chat_id: int,
    private: bool,
    chat_name: str | None,
    bot_id: int,
    update_id: int,
    **what: Any,
) -> Request:
    """What every Request from a Telegram update says of its sender, chat and update,
    with `what` it brings (its text, its time...)."""
    return Request(
        **what,
        platform=Platform.telegram,
        user_id=str(user_id),
        user_name=user_name,
        chat_id=str(chat_id),
        chat_type=ChatType.private if private else ChatType.group,
        chat_name=chat_name or "",
        # update_id counts per bot: a new token must not look like a redelivery.
        update_id=f"{bot_id}:{update_id}",
    )


def _addressed_to_me(text: str, bot_username: str, *, private: bool) -> bool:
    """Commands count unless addressed to another bot (`/help@other_bot`); plain text only
    in a private chat, so the bot never answers a group's conversation."""
    if split_command(text) is None:
        return private
    head = text.strip().split(maxsplit=1)[0]
    _, at, addressee = head.partition("@")
    return not at or addressee.lower() == bot_username.lower()


def shared_contact(contact: Contact) -> SharedContact:
    """A phone's contact card: Telegram's name and number, the rest from its vCard."""
    card = parse_vcard(contact.vcard) if contact.vcard else VCard()
    name = card.name or " ".join(part for part in (contact.first_name, contact.last_name) if part)
    return SharedContact(
        name=name,
        phone=_international(contact.phone_number or card.phone),
        email=card.email,
        company=card.company,
        title=card.title,
    )


def _international(phone: str | None) -> str | None:
    """Telegram sends a Telegram user's number as digits without its "+" (4917012345678);
    a number typed into an address book arrives as typed."""
    if phone and phone.isdigit() and not phone.startswith("0"):
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse("+" + phone)):
                return "+" + phone
        except phonenumbers.NumberParseException:
            pass
    return phone


def _share_location_keyboard(request: Request, reply: Reply) -> ReplyKeyboardMarkup | None:
    """After /start in a private chat: a keyboard button that shares the phone's location.
    A message carries one keyboard; a /start with inline buttons keeps those."""
    command = split_command(request.text or "")
    if request.chat_type != ChatType.private or command is None or command[0] != "start":
        return None
    if reply.error or reply.buttons:
        return None
    return ReplyKeyboardMarkup(
        [[KeyboardButton(SHARE_LOCATION, request_location=True)]], resize_keyboard=True
    )


def _message_of(query: CallbackQuery | None) -> Message | None:
    message = query.message if query is not None else None
    return message if isinstance(message, Message) else None


def _thread_of(message: Message | None) -> int | None:
    """Replies in a forum group stay in the topic they were asked in."""
    if message is not None and message.is_topic_message:
        return message.message_thread_id
    return None


async def _edited(message: Message, html: str, buttons: InlineKeyboardMarkup | None) -> bool:
    """Replace a message's text; False when Telegram refuses (send a new one instead)."""
    try:
        await message.edit_text(
            html, parse_mode=ParseMode.HTML, link_preview_options=_NO_PREVIEW, reply_markup=buttons
        )
    except BadRequest as error:
        if _unchanged(error):
            return True  # pressed twice: it already shows this
        log.info("telegram: could not edit message %s: %s", message.message_id, error)
        return False
    return True


def _unchanged(error: BadRequest) -> bool:
    """Telegram refused an edit because the message already says that."""
    return "not modified" in error.message.lower()


async def _answer(query: CallbackQuery) -> None:
    try:
        await query.answer()
    except TelegramError as error:
        # Too late (Telegram waits about 15 s) or the network; the button still worked.
        log.info("telegram: could not answer a button press: %s", error)


class ThrottledRateLimiter(BaseRateLimiter[dict[str, bool]]):
    """python-telegram-bot's rate limiter on a `Throttle`: every call that names a chat
    waits for its send slot (bot/throttle.py); a 429 holds the group it was about, or the
    whole bot, for as long as Telegram asks, and the call is tried again."""

    def __init__(
        self, throttle: Throttle, *, retries: int = RETRIES_AFTER_429, sleep: Sleep
    ) -> None:
        self.throttle = throttle
        self.retries = retries
        self.sleep = sleep

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass  # the throttle belongs to whoever made it

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, bool] | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat = data.get("chat_id")
        proactive = bool(rate_limit_args and rate_limit_args.get("proactive"))
        platform = Platform.telegram
        keys = [] if chat is None else self.throttle.keys(platform, str(chat), per_chat=proactive)
        attempt = 0
        while True:
            if keys:
                await self.throttle.wait(keys)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                if attempt >= self.retries:
                    raise
                attempt += 1
                seconds = _seconds(error.retry_after) + 0.1
                log.info("telegram: %s rate limited; retry in %.1f s", endpoint, seconds)
                if chat is None:
                    await self.sleep(seconds)
                elif telegram_group(str(chat)):
                    await self.throttle.hold(chat_key(platform, str(chat)), seconds)
                else:
                    await self.throttle.hold(bot_key(platform), seconds)


def _too_large(attachment: Attachment) -> str:
    return (
        f"{attachment.filename} is {attachment.size / 1024 / 1024:.0f} MB, more than Telegram "
        f"lets a bot send ({MAX_UPLOAD // 1024 // 1024} MB). Ask for less (/export contacts "
        "csv), or have it written on the server with crmbot export."
    )
