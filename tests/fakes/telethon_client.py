"""A stand-in for telethon's TelegramClient that hands out real telethon.tl.types.Message objects."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from telethon import errors, utils
from telethon._updates import EntityCache
from telethon.tl import types

from connectors.telegram_user import TelegramUserClient

ME = types.User(id=222, first_name="Анна", last_name="Соколова", username="anna_ff", access_hash=2)
CLIENT = types.User(id=111, first_name="Ольга", last_name="Смирнова", access_hash=1)
COLLEAGUE = types.User(id=333, first_name="Игорь", last_name="Лебедев", access_hash=3)


@dataclass
class Chat:
    entity: object
    title: str
    messages: list = field(default_factory=list)
    members: list = field(default_factory=list)  # types.User of a group, as iter_participants yields them
    members_hidden: bool = False  # a group that does not let us list them: ChatAdminRequiredError

    @property
    def chat_id(self) -> int:
        return utils.get_peer_id(self.entity)


def supergroup(channel_id: int, title: str) -> types.Channel:
    return types.Channel(
        id=channel_id,
        title=title,
        photo=types.ChatPhotoEmpty(),
        date=datetime(2025, 1, 1, tzinfo=UTC),
        access_hash=9,
        megagroup=True,
    )


def text_message(chat: Chat, mid: int, sender: types.User, text: str, at: datetime, **kw) -> types.Message:
    return types.Message(
        id=mid,
        peer_id=utils.get_peer(chat.entity),
        date=at,
        message=text,
        from_id=types.PeerUser(sender.id),
        out=sender.id == ME.id,
        **kw,
    )


def conversation(chat: Chat, count: int, start: datetime | None = None) -> None:
    """`count` alternating client/staff messages, one a minute, ids 1..count."""
    start = start or datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    for i in range(1, count + 1):
        sender = CLIENT if i % 2 else ME
        chat.messages.append(text_message(chat, i, sender, f"Сообщение {i}", start + timedelta(minutes=i)))


class StandInTelegramClient:
    def __init__(self, chats: list[Chat], *, authorized: bool = True):
        self.chats = {c.chat_id: c for c in chats}
        self.authorized = authorized
        self._self_id = ME.id
        self._mb_entity_cache = EntityCache()
        self.entities = {u.id: u for u in (ME, CLIENT, COLLEAGUE)} | {c.chat_id: c.entity for c in chats}
        self.flood_wait_at: dict[int, tuple[int, int]] = {}  # chat_id -> (raise before the n-th message, seconds)
        self.crash_after: int | None = None  # total messages handed out before "the connection drops"
        self.history_calls: list[tuple[int, int]] = []  # (chat_id, min_id)
        self.handed_out = 0
        self.connected = False

    async def connect(self):
        self.connected = True

    async def disconnect(self):
        self.connected = False

    async def is_user_authorized(self) -> bool:
        assert self.connected, "connect() first"
        return self.authorized

    async def get_me(self):
        return ME

    async def iter_dialogs(self):
        for chat in self.chats.values():
            yield SimpleNamespace(id=chat.chat_id, name=chat.title, entity=chat.entity)

    def _finish(self, msg):
        msg = copy.copy(msg)
        msg._finish_init(self, self.entities, None)
        return msg

    async def iter_messages(self, entity, min_id: int = 0, reverse: bool = False):
        assert reverse, "the pull must read oldest first"
        chat = self.chats[utils.get_peer_id(entity)]
        self.history_calls.append((chat.chat_id, min_id))
        for n, msg in enumerate(m for m in sorted(chat.messages, key=lambda m: m.id) if m.id > min_id):
            wait = self.flood_wait_at.get(chat.chat_id)
            if wait and n == wait[0]:
                del self.flood_wait_at[chat.chat_id]
                raise errors.FloodWaitError(request=None, capture=wait[1])
            if self.crash_after is not None and self.handed_out >= self.crash_after:
                raise ConnectionError("Connection to Telegram lost")
            self.handed_out += 1
            yield self._finish(msg)

    async def iter_participants(self, entity, limit=None):
        """telethon's iter_participants: the group's users; ChatAdminRequiredError where only admins may list them
        (telethon.errors.rpcerrorlist: CHAT_ADMIN_REQUIRED, raised by channels.getParticipants)."""
        chat = self.chats[utils.get_peer_id(entity)]
        if chat.members_hidden:
            raise errors.ChatAdminRequiredError(request=None)
        for user in chat.members[:limit]:
            yield user

    async def get_messages(self, entity, ids):
        chat = self.chats[utils.get_peer_id(entity)]
        by_id = {m.id: m for m in chat.messages}
        return [self._finish(by_id[i]) if i in by_id else None for i in ids]


class StandInTelegramResource:
    """In place of TelegramUserResource: same `client()` contract, the stand-in behind it."""

    def __init__(self, client: StandInTelegramClient, staff_ids=(), batch_size: int = 200):
        self.stand_in = client
        self.staff_ids = staff_ids
        self.batch_size = batch_size
        self.sleeps: list[float] = []

    def client(self) -> TelegramUserClient:
        async def sleep(seconds):
            self.sleeps.append(seconds)

        return TelegramUserClient(self.stand_in, staff_ids=self.staff_ids, batch_size=self.batch_size, sleep=sleep)
