"""Telegram user account (Telethon, StringSession): list chats, pull new messages, re-read recent edits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from telethon import TelegramClient, errors, utils
from telethon.sessions import StringSession
from telethon.tl import types

from config.clock import as_utc
from connectors.redact import redact, register

log = logging.getLogger(__name__)


class TelegramUserError(RuntimeError):
    """The Telegram account cannot be used; the message says what to do (never a secret)."""

    def __init__(self, message: str):
        super().__init__(redact(message))


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return as_utc(value)


def display_name(entity) -> str | None:
    if entity is None:
        return None
    if isinstance(entity, types.User):
        name = " ".join(x for x in (entity.first_name, entity.last_name) if x)
        return name or entity.username or str(entity.id)
    return getattr(entity, "title", None) or getattr(entity, "username", None)


def _media(msg) -> tuple[str | None, str | None, int | None]:
    media = msg.media
    if media is None or isinstance(media, types.MessageMediaEmpty):
        return None, None, None
    if isinstance(media, types.MessageMediaPhoto):
        return "photo", None, None
    if isinstance(media, types.MessageMediaDocument) and isinstance(media.document, types.Document):
        kind = "document"
        for attr in media.document.attributes:
            if isinstance(attr, types.DocumentAttributeAudio):
                kind = "voice_message" if attr.voice else "audio_file"
            elif isinstance(attr, types.DocumentAttributeVideo):
                kind = "video_message" if attr.round_message else "video_file"
            elif isinstance(attr, types.DocumentAttributeSticker):
                kind = "sticker"
            elif isinstance(attr, types.DocumentAttributeAnimated):
                kind = "animation"
        return kind, msg.file.name if msg.file else None, media.document.size
    return type(media).__name__.removeprefix("MessageMedia").lower(), None, None


def _forwarded_from(msg) -> str | None:
    fwd = msg.fwd_from
    if fwd is None:
        return None
    if fwd.from_name:
        return fwd.from_name
    if fwd.from_id is not None:
        return str(utils.get_peer_id(fwd.from_id))
    return "скрытый отправитель"


def normalize_message(msg, chat_id: int, *, staff_ids: set[int]) -> dict:
    """A telethon Message/MessageService → a row of raw.telegram_messages."""
    if isinstance(msg, types.MessageService):
        kind = "service"
    elif isinstance(msg, types.Message):
        kind = "message"
    else:
        kind = "unknown"
    sender_id = getattr(msg, "sender_id", None)
    if getattr(msg, "out", False) or (sender_id is not None and sender_id in staff_ids):
        direction = "staff"
    else:
        direction = "client" if sender_id is not None else "unknown"
    media_kind, media_name, media_size = _media(msg) if kind == "message" else (None, None, None)
    action = getattr(msg, "action", None)
    return {
        "chat_id": chat_id,
        "message_id": msg.id,
        "sent_at": _utc(msg.date),
        "edited_at": _utc(getattr(msg, "edit_date", None)),
        "sender_id": sender_id,
        "sender_name": display_name(getattr(msg, "sender", None)),
        "direction": direction,
        "kind": kind,
        "text": getattr(msg, "message", None) or None,
        "reply_to_id": getattr(msg, "reply_to_msg_id", None),
        "forwarded_from": _forwarded_from(msg) if kind == "message" else None,
        "media_kind": media_kind,
        "media_name": media_name,
        "media_size": media_size,
        "service_action": type(action).__name__.removeprefix("MessageAction") if action is not None else None,
        "raw": msg.to_json() if kind != "message" else None,
        "source": "telethon",
    }


def chat_type(entity) -> str:
    if isinstance(entity, types.User):
        return "bot_chat" if entity.bot else "personal_chat"
    if isinstance(entity, types.Chat):
        return "private_group"
    if isinstance(entity, types.Channel):
        return (
            "public_supergroup"
            if entity.megagroup and entity.username
            else ("private_supergroup" if entity.megagroup else "channel")
        )
    return "unknown"


class TelegramUserClient:
    """Async wrapper; `client` is a connected telethon TelegramClient (or a stand-in with the same methods)."""

    def __init__(
        self,
        client,
        *,
        staff_ids: Iterable[int] = (),
        batch_size: int = 200,
        sleep: Callable[[float], object] = asyncio.sleep,
    ):
        self.client = client
        self.staff_ids = set(staff_ids)
        self.batch_size = batch_size
        self.sleep = sleep
        self.flood_waits = 0
        self._entities: dict[int, object] = {}

    async def start(self) -> None:
        # connect() rather than start(): start() would ask for a phone number on a headless server
        await self.client.connect()
        if not await self.client.is_user_authorized():
            raise TelegramUserError("сессия Telegram недействительна: выполните `client360 telegram login`")
        me = await self.client.get_me()
        self.staff_ids.add(me.id)

    async def close(self) -> None:
        await self.client.disconnect()

    async def dialogs(self) -> list[dict]:
        """Every chat of the account; also fills the entity cache a StringSession does not keep."""
        out = []
        async for dialog in self.client.iter_dialogs():
            self._entities[dialog.id] = dialog.entity
            out.append({"chat_id": dialog.id, "title": dialog.name, "chat_type": chat_type(dialog.entity)})
        return out

    async def members(self, chat_id: int, limit: int = 200) -> list[dict]:
        """The people of a chat as our account sees them (types.User: username, phone — digits, shown only when
        their privacy allows): the peer of a personal chat, the participants of a group. A group that does not let
        us list them (ChatAdminRequiredError and the like) gives none."""
        entity = self._entities.get(chat_id, chat_id)
        if isinstance(entity, types.User):
            users = [entity]
        else:
            try:
                users = [u async for u in self.client.iter_participants(entity, limit=limit)]
            except errors.FloodWaitError as exc:
                await self._flood_wait(exc)
                return []
            except errors.RPCError as exc:
                log.info("участники чата %s недоступны: %s", chat_id, type(exc).__name__)
                return []
        return [
            {"chat_id": chat_id, "user_id": u.id, "name": display_name(u), "username": u.username, "phone": u.phone}
            for u in users
            if isinstance(u, types.User) and not u.bot and u.id not in self.staff_ids
        ]

    async def _flood_wait(self, exc: errors.FloodWaitError) -> None:
        self.flood_waits += 1
        log.warning("Telegram FloodWait: ждём %s с", exc.seconds)
        await self.sleep(exc.seconds)

    async def pull_new(self, chat_id: int, min_id: int, on_batch: Callable[[list[dict]], None]) -> int:
        """Messages with id > min_id, oldest first, handed over in batches (each stored before the next)."""
        entity = self._entities.get(chat_id, chat_id)
        last, total, batch = min_id, 0, []
        while True:
            try:
                async for msg in self.client.iter_messages(entity, min_id=last, reverse=True):
                    batch.append(normalize_message(msg, chat_id, staff_ids=self.staff_ids))
                    last = max(last, msg.id)
                    if len(batch) >= self.batch_size:
                        on_batch(batch)
                        total, batch = total + len(batch), []
                break
            except errors.FloodWaitError as exc:
                if batch:
                    on_batch(batch)
                    total, batch = total + len(batch), []
                await self._flood_wait(exc)  # then resume after the last message handed over
        if batch:
            on_batch(batch)
            total += len(batch)
        return total

    async def reread(self, chat_id: int, ids: list[int]) -> list[dict]:
        """Re-read stored messages (to catch edits, which min_id polling never returns)."""
        if not ids:
            return []
        entity = self._entities.get(chat_id, chat_id)
        while True:
            try:
                found = await self.client.get_messages(entity, ids=ids)
                break
            except errors.FloodWaitError as exc:
                await self._flood_wait(exc)
        return [normalize_message(m, chat_id, staff_ids=self.staff_ids) for m in found if m is not None]


def connect_client(api_id: int | None, api_hash: str | None, session: str | None) -> TelegramClient:
    if not (api_id and api_hash and session):
        raise TelegramUserError(
            "не заданы TELEGRAM_API_ID, TELEGRAM_API_HASH и TELEGRAM_SESSION "
            "(создайте сессию: client360 telegram login)"
        )
    register(api_hash, session)
    return TelegramClient(StringSession(session), api_id, api_hash)
