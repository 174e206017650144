"""Staff of the app: users with roles and salted argon2 password hashes, rate-limited logins (every attempt
logged with its address, limited per login and per address, unlocked by an admin), who may open which client;
notes on clients, written at once to the app DB, with their history."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from warehouse.appdb import AppDB, chat_messages, login_attempts, login_unlocks, note_versions, notes, users

ROLES = ("admin", "curator", "viewer")
MAX_FAILURES = 5  # failed logins of one login within the window lock it for the rest of the window
MAX_ADDRESS_FAILURES = 20  # …and so many from one address (whatever logins they tried) lock that address
FAILURE_WINDOW = timedelta(minutes=15)
MIN_PASSWORD = 8
MAX_NOTE_CHARS = 10000
log = logging.getLogger("client360.auth")
_hasher = PasswordHasher()


class StaffError(ValueError):
    pass


@dataclass(frozen=True)
class User:
    login: str
    name: str | None
    role: str
    active: bool
    see_all: bool
    bitrix_user_id: int | None

    def can_open(self, curator_id: int | None) -> bool:
        """admin and viewer see every client; a curator their own (by the Bitrix24 curator) unless allowed all."""
        if self.role != "curator" or self.see_all:
            return True
        return curator_id is not None and curator_id == self.bitrix_user_id

    @property
    def can_write(self) -> bool:
        return self.role in ("admin", "curator")


def _now() -> datetime:
    return datetime.now(UTC)


def _user(row) -> User:
    return User(row.login, row.name, row.role, row.active, row.see_all, row.bitrix_user_id)


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite gives the stored UTC times back naive


@functools.cache
def _dummy_hash() -> str:
    """Verified against when there is no usable hash, so an unknown login costs what a known one does."""
    return _hasher.hash("нет такого пользователя")


class Staff:
    def __init__(self, db: AppDB):
        self.engine = db.engine

    # --- users ---
    def add(
        self,
        login: str,
        role: str,
        password: str,
        *,
        name: str | None = None,
        bitrix_user_id: int | None = None,
        see_all: bool = False,
    ) -> User:
        if role not in ROLES:
            raise StaffError(f"роль должна быть одной из: {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise StaffError(f"пароль короче {MIN_PASSWORD} символов")
        with self.engine.begin() as con:
            if con.execute(sa.select(users.c.login).where(users.c.login == login)).first():
                raise StaffError(f"пользователь {login} уже есть")
            con.execute(
                users.insert().values(
                    login=login,
                    name=name,
                    role=role,
                    password_hash=_hasher.hash(password),
                    active=True,
                    see_all=see_all,
                    bitrix_user_id=bitrix_user_id,
                    created_at=_now(),
                    password_changed_at=_now(),
                )
            )
        return self.get(login)

    def get(self, login: str) -> User | None:
        with self.engine.connect() as con:
            row = con.execute(sa.select(users).where(users.c.login == login)).first()
        return _user(row) if row else None

    def list(self) -> list[User]:
        with self.engine.connect() as con:
            return [_user(r) for r in con.execute(sa.select(users).order_by(users.c.login))]

    def set_password(self, login: str, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise StaffError(f"пароль короче {MIN_PASSWORD} символов")
        self._update(login, password_hash=_hasher.hash(password), password_changed_at=_now())

    def disable(self, login: str) -> None:
        self._update(login, active=False)

    def unlock(self, login: str, by: str) -> None:
        """Failed logins so far no longer lock this login (nor, for this login, the addresses they came from)."""
        if self.get(login) is None:
            raise StaffError(f"пользователя {login} нет")
        with self.engine.begin() as con:
            con.execute(login_unlocks.insert().values(login=login, by=by, at=_now()))
        log.info("вход %s разблокирован (%s)", login, by)

    def session_valid(self, login: str, since: datetime) -> bool:
        """A session that began at `since` still holds: the user is active and kept the password it logged in with."""
        with self.engine.connect() as con:
            row = con.execute(
                sa.select(users.c.active, users.c.password_changed_at).where(users.c.login == login)
            ).first()
        return (
            row is not None
            and row.active
            and (row.password_changed_at is None or _utc(row.password_changed_at) <= since)
        )

    def set_see_all(self, login: str, see_all: bool) -> None:
        """A curator sees every client (or again only their own)."""
        self._update(login, see_all=see_all)

    def _update(self, login: str, **values) -> None:
        with self.engine.begin() as con:
            if con.execute(users.update().where(users.c.login == login).values(**values)).rowcount == 0:
                raise StaffError(f"пользователя {login} нет")

    # --- login ---
    def authenticate(self, login: str, password: str, source: str | None = None) -> User | None:
        """The user, or None; a login with too many recent failures is refused even with the right password."""
        now = _now()
        with self.engine.begin() as con:
            unlocked = con.execute(
                sa.select(sa.func.max(login_unlocks.c.at)).where(login_unlocks.c.login == login)
            ).scalar()
            since = max(now - FAILURE_WINDOW, _utc(unlocked)) if unlocked else now - FAILURE_WINDOW
            failed = sa.select(sa.func.count()).select_from(login_attempts)
            failed = failed.where(login_attempts.c.ok.is_(False), login_attempts.c.at >= since)
            failures = con.execute(failed.where(login_attempts.c.login == login)).scalar_one()
            from_address = con.execute(failed.where(login_attempts.c.source == source)).scalar_one() if source else 0
            row = con.execute(sa.select(users).where(users.c.login == login)).first()
            usable = row is not None and row.active
            try:  # one argon2 verify whatever the case: the time taken tells nothing about the login
                ok = _hasher.verify(row.password_hash if usable else _dummy_hash(), password) and usable
            except (VerificationError, InvalidHashError):
                ok = False
            if failures >= MAX_FAILURES or from_address >= MAX_ADDRESS_FAILURES:
                ok = False
                log.warning(
                    "вход %s с адреса %s отклонён: неудачных попыток за 15 минут — у логина %d, с адреса %d",
                    login,
                    source,
                    failures,
                    from_address,
                )
            con.execute(login_attempts.insert().values(login=login, ok=ok, source=source, at=now))
        if not ok:
            log.warning("неудачный вход: %s с адреса %s", login, source)
            return None
        return _user(row)

    # --- notes ---
    def add_note(self, user: User, client_id: str, text: str) -> int:
        self._writer(user)
        text = self._text(text)
        now = _now()
        with self.engine.begin() as con:
            note_id = con.execute(
                notes.insert().values(
                    client_id=str(client_id), author=user.login, text=text, created_at=now, updated_at=now
                )
            ).inserted_primary_key[0]
            con.execute(
                note_versions.insert().values(note_id=note_id, action="create", text=text, author=user.login, at=now)
            )
        return int(note_id)

    def edit_note(self, user: User, note_id: int, text: str) -> None:
        self._writer(user)
        text = self._text(text)
        now = _now()
        with self.engine.begin() as con:
            self._own(con, user, note_id)
            con.execute(notes.update().where(notes.c.id == note_id).values(text=text, updated_at=now))
            con.execute(
                note_versions.insert().values(note_id=note_id, action="edit", text=text, author=user.login, at=now)
            )

    def delete_note(self, user: User, note_id: int) -> None:
        self._writer(user)
        now = _now()
        with self.engine.begin() as con:
            row = self._own(con, user, note_id)
            con.execute(notes.update().where(notes.c.id == note_id).values(deleted_at=now, updated_at=now))
            con.execute(
                note_versions.insert().values(
                    note_id=note_id, action="delete", text=row.text, author=user.login, at=now
                )
            )

    def notes_of(self, client_id: str) -> list[dict]:
        with self.engine.connect() as con:
            rows = con.execute(
                sa.select(notes)
                .where(notes.c.client_id == str(client_id), notes.c.deleted_at.is_(None))
                .order_by(notes.c.created_at.desc())
            ).mappings()
            return [dict(r) for r in rows]

    def history(self, note_id: int) -> list[dict]:
        with self.engine.connect() as con:
            rows = con.execute(
                sa.select(note_versions).where(note_versions.c.note_id == note_id).order_by(note_versions.c.id)
            ).mappings()
            return [dict(r) for r in rows]

    def notes_changed_since(self, since: datetime | None) -> list[dict]:
        """Every note (deleted ones too) changed after `since`: what the warehouse still has to take in."""
        query = sa.select(notes).order_by(notes.c.updated_at)
        if since is not None:
            query = query.where(notes.c.updated_at > since)
        with self.engine.connect() as con:
            return [dict(r) for r in con.execute(query).mappings()]

    def last_note_change(self) -> datetime | None:
        with self.engine.connect() as con:
            return con.execute(sa.select(sa.func.max(notes.c.updated_at))).scalar()

    # --- chat log ---
    def log_chat(
        self,
        user: User,
        client_id: str,
        role: str,
        text: str,
        *,
        citations: str | None = None,
        first_token_ms: int | None = None,
    ) -> int:
        with self.engine.begin() as con:
            return int(
                con.execute(
                    chat_messages.insert().values(
                        login=user.login,
                        client_id=str(client_id),
                        role=role,
                        text=text,
                        citations=citations,
                        first_token_ms=first_token_ms,
                        at=_now(),
                    )
                ).inserted_primary_key[0]
            )

    def chat_history(self, user: User, client_id: str, limit: int = 100) -> list[dict]:
        with self.engine.connect() as con:
            rows = con.execute(
                sa.select(chat_messages)
                .where(chat_messages.c.login == user.login, chat_messages.c.client_id == str(client_id))
                .order_by(chat_messages.c.id.desc())
                .limit(limit)
            ).mappings()
            return [dict(r) for r in rows][::-1]

    def rate_answer(self, user: User, message_id: int, liked: bool) -> None:
        with self.engine.begin() as con:
            con.execute(
                chat_messages.update()
                .where(chat_messages.c.id == message_id, chat_messages.c.login == user.login)
                .values(feedback=1 if liked else -1)
            )

    @staticmethod
    def _text(text: str) -> str:
        text = (text or "").strip()
        if not text:
            raise StaffError("пустая заметка")
        if len(text) > MAX_NOTE_CHARS:
            raise StaffError(f"заметка длиннее {MAX_NOTE_CHARS} символов ({len(text)}): сократите её")
        return text

    @staticmethod
    def _writer(user: User) -> None:
        if not user.can_write:
            raise StaffError("у роли «наблюдатель» нет права писать заметки")

    @staticmethod
    def may_change(user: User, author: str) -> bool:
        """Who may edit or delete a note: its author, or an admin (a viewer writes nothing)."""
        return user.can_write and (author == user.login or user.role == "admin")

    def note(self, note_id: int) -> dict | None:
        """A note not deleted, or None."""
        with self.engine.connect() as con:
            row = (
                con.execute(sa.select(notes).where(notes.c.id == note_id, notes.c.deleted_at.is_(None)))
                .mappings()
                .first()
            )
        return dict(row) if row else None

    @classmethod
    def _own(cls, con, user: User, note_id: int):
        row = con.execute(sa.select(notes).where(notes.c.id == note_id, notes.c.deleted_at.is_(None))).first()
        if row is None:
            raise StaffError(f"заметки {note_id} нет")
        if not cls.may_change(user, row.author):
            raise StaffError("менять можно только свои заметки")
        return row
