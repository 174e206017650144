"""The app DB (SQLite by default, PostgreSQL in production): ledgers of what went out to Telegram, staff users and
their login attempts and unlocks, notes on clients with their history."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa

metadata = sa.MetaData()

reports = sa.Table(
    "sent_reports",
    metadata,
    sa.Column("report_key", sa.String(200), primary_key=True),
    sa.Column("chat_id", sa.String(64), primary_key=True),
    sa.Column("part_count", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("completed_at", sa.DateTime(timezone=True)),
)

report_parts = sa.Table(
    "sent_report_parts",
    metadata,
    sa.Column("report_key", sa.String(200), primary_key=True),
    sa.Column("chat_id", sa.String(64), primary_key=True),
    sa.Column("part_no", sa.Integer, primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("message_id", sa.BigInteger),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
)

# a part whose sendMessage started and has no message id yet: written before the call, removed when it is sent or
# certainly refused. One still here on the next run may have arrived (the answer was lost; the Bot API cannot look a
# sent message up), so it is not resent: it is marked unconfirmed and reported to the owner instead
report_part_attempts = sa.Table(
    "sent_report_part_attempts",
    metadata,
    sa.Column("report_key", sa.String(200), primary_key=True),
    sa.Column("chat_id", sa.String(64), primary_key=True),
    sa.Column("part_no", sa.Integer, primary_key=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("unconfirmed_at", sa.DateTime(timezone=True)),
)

# groups upgraded to supergroups (the Bot API's migrate_to_chat_id): sends to the old id go to the new one until the
# owner updates the setting; the ledger of a report sent before the update is found under the old id
chat_migrations = sa.Table(
    "telegram_chat_migrations",
    metadata,
    sa.Column("chat_id", sa.String(64), primary_key=True),
    sa.Column("migrated_to", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("login", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200)),
    sa.Column("role", sa.String(16), nullable=False),  # admin | curator | viewer
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("see_all", sa.Boolean, nullable=False, default=False),  # a curator who may open every client
    sa.Column("bitrix_user_id", sa.BigInteger),  # the curator in Bitrix24: whose clients are theirs
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("password_changed_at", sa.DateTime(timezone=True)),
)

login_attempts = sa.Table(
    "login_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("login", sa.String(64), nullable=False, index=True),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("source", sa.String(100)),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

# an admin's unlock: the failed logins before it no longer count against that login
login_unlocks = sa.Table(
    "login_unlocks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("login", sa.String(64), nullable=False, index=True),
    sa.Column("by", sa.String(100), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

notes = sa.Table(
    "notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("client_id", sa.String(64), nullable=False, index=True),
    sa.Column("author", sa.String(64), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
)

note_versions = sa.Table(
    "note_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("note_id", sa.Integer, nullable=False, index=True),
    sa.Column("action", sa.String(16), nullable=False),  # create | edit | delete
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("author", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

chat_messages = sa.Table(
    "chat_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("login", sa.String(64), nullable=False, index=True),
    sa.Column("client_id", sa.String(64), nullable=False, index=True),
    sa.Column("role", sa.String(16), nullable=False),  # user | assistant
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("citations", sa.Text),  # JSON
    sa.Column("first_token_ms", sa.Integer),  # logged for tuning, shown to nobody
    sa.Column("feedback", sa.SmallInteger),  # 1 thumbs up, -1 down
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)


# the owner's «нет» to a suggested link (`client360 map --reject`): never suggested or applied again
identity_rejections = sa.Table(
    "identity_rejections",
    metadata,
    sa.Column("system", sa.String(32), primary_key=True),
    sa.Column("external_id", sa.String(500), primary_key=True),
    sa.Column("lead_id", sa.String(16), primary_key=True),
    sa.Column("by", sa.String(100), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)


def _now() -> datetime:
    return datetime.now(UTC)


class AppDB:
    def __init__(self, url: str):
        if url.startswith("sqlite:///"):  # password hashes: readable by the service user only
            from pathlib import Path

            from config.private import private_file

            private_file(Path(url.removeprefix("sqlite:///")))
        self.engine = sa.create_engine(url, future=True)
        metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    def identity_rejections(self) -> set[tuple[str, str, str]]:
        """(system, external id, lead) pairs the owner said are not one client."""
        with self.engine.connect() as con:
            rows = con.execute(sa.select(identity_rejections.c["system", "external_id", "lead_id"])).all()
        return {tuple(r) for r in rows}

    def reject_identity(self, system: str, external_id: str, lead_id: str, by: str) -> bool:
        """Remember that the pair is not one client; False when it was already rejected."""
        if (system, external_id, lead_id) in self.identity_rejections():
            return False
        with self.engine.begin() as con:
            con.execute(
                identity_rejections.insert().values(
                    system=system, external_id=external_id, lead_id=lead_id, by=by, at=_now()
                )
            )
        return True

    def chat_migrations(self) -> dict[str, str]:
        with self.engine.connect() as con:
            return {r.chat_id: r.migrated_to for r in con.execute(sa.select(chat_migrations))}

    def record_migration(self, chat_id: str, migrated_to: str) -> bool:
        """Remember a group's new id; True when it was not known yet (the owner is to be told)."""
        with self.engine.begin() as con:
            known = con.execute(
                sa.select(chat_migrations.c.migrated_to).where(chat_migrations.c.chat_id == str(chat_id))
            ).scalar()
            if known == str(migrated_to):
                return False
            if known is not None:
                con.execute(chat_migrations.delete().where(chat_migrations.c.chat_id == str(chat_id)))
            con.execute(chat_migrations.insert().values(chat_id=str(chat_id), migrated_to=str(migrated_to), at=_now()))
            return True

    @staticmethod
    def _ledger_chat(con: sa.Connection, report_key: str, chat_id: str) -> str:
        """The chat id a report's ledger is kept under: this one, or the old id of the group it was upgraded from
        (a report started before the owner updated the setting)."""
        olds = con.execute(sa.select(chat_migrations.c.chat_id).where(chat_migrations.c.migrated_to == chat_id))
        for candidate in [chat_id, *(r.chat_id for r in olds)]:
            found = con.execute(
                sa.select(reports.c.chat_id).where(reports.c.report_key == report_key, reports.c.chat_id == candidate)
            ).first()
            if found:
                return candidate
        return chat_id

    def report_status(self, report_key: str, chat_id: str) -> dict | None:
        with self.engine.connect() as con:
            chat_id = self._ledger_chat(con, report_key, str(chat_id))
            row = (
                con.execute(sa.select(reports).where(reports.c.report_key == report_key, reports.c.chat_id == chat_id))
                .mappings()
                .first()
            )
            if not row:
                return None
            unconfirmed = con.execute(
                sa.select(report_part_attempts.c.part_no)
                .where(
                    report_part_attempts.c.report_key == report_key,
                    report_part_attempts.c.chat_id == chat_id,
                    report_part_attempts.c.unconfirmed_at.is_not(None),
                )
                .order_by(report_part_attempts.c.part_no)
            )
            return {**row, "unconfirmed_parts": [r.part_no for r in unconfirmed]}

    def claim_report(self, report_key: str, chat_id: str, parts: list[str]) -> list[dict]:
        """Record the parts of a report before sending (first attempt wins); return the parts still unsent (each
        with the chat id its ledger is kept under).

        A retried run resumes with the parts stored by the first attempt, so nothing goes out twice. A part whose
        send started and never ended (see `report_part_attempts`) becomes unconfirmed here and is not returned.
        """
        with self.engine.begin() as con:
            chat_id = self._ledger_chat(con, report_key, str(chat_id))
            con.execute(
                report_part_attempts.update()
                .where(
                    report_part_attempts.c.report_key == report_key,
                    report_part_attempts.c.chat_id == chat_id,
                    report_part_attempts.c.unconfirmed_at.is_(None),
                )
                .values(unconfirmed_at=_now())
            )
            exists = con.execute(
                sa.select(reports.c.report_key).where(reports.c.report_key == report_key, reports.c.chat_id == chat_id)
            ).first()
            if not exists:
                con.execute(
                    reports.insert().values(
                        report_key=report_key, chat_id=chat_id, part_count=len(parts), created_at=_now()
                    )
                )
                con.execute(
                    report_parts.insert(),
                    [
                        {"report_key": report_key, "chat_id": chat_id, "part_no": i, "text": text}
                        for i, text in enumerate(parts)
                    ],
                )
            rows = con.execute(
                sa.select(report_parts)
                .where(
                    report_parts.c.report_key == report_key,
                    report_parts.c.chat_id == chat_id,
                    report_parts.c.message_id.is_(None),
                    report_parts.c.part_no.not_in(
                        sa.select(report_part_attempts.c.part_no).where(
                            report_part_attempts.c.report_key == report_key,
                            report_part_attempts.c.chat_id == chat_id,
                        )
                    ),
                )
                .order_by(report_parts.c.part_no)
            ).mappings()
            return [dict(r) for r in rows]

    def _attempt(self, report_key: str, chat_id: str, part_no: int):
        return (
            report_part_attempts.c.report_key == report_key,
            report_part_attempts.c.chat_id == str(chat_id),
            report_part_attempts.c.part_no == part_no,
        )

    def start_part(self, report_key: str, chat_id: str, part_no: int) -> None:
        """Written before the part's sendMessage: if the run dies or the answer is lost, the next run knows."""
        with self.engine.begin() as con:
            con.execute(
                report_part_attempts.insert().values(
                    report_key=report_key, chat_id=str(chat_id), part_no=part_no, started_at=_now()
                )
            )

    def abandon_part(self, report_key: str, chat_id: str, part_no: int) -> None:
        """The send was certainly refused (the Bot API answered an error): the part may be sent again."""
        with self.engine.begin() as con:
            con.execute(report_part_attempts.delete().where(*self._attempt(report_key, chat_id, part_no)))

    def mark_part_sent(self, report_key: str, chat_id: str, part_no: int, message_id: int) -> None:
        with self.engine.begin() as con:
            con.execute(
                report_parts.update()
                .where(
                    report_parts.c.report_key == report_key,
                    report_parts.c.chat_id == str(chat_id),
                    report_parts.c.part_no == part_no,
                )
                .values(message_id=message_id, sent_at=_now())
            )
            con.execute(report_part_attempts.delete().where(*self._attempt(report_key, chat_id, part_no)))

    def complete_report(self, report_key: str, chat_id: str, covers: Iterable[str] = ()) -> None:
        """Mark a report sent; `covers` are the keys of what it said (one client's alerts in one message): each is
        recorded as sent in the same transaction, so what one message carried is never sent again on its own."""
        with self.engine.begin() as con:
            con.execute(
                reports.update()
                .where(reports.c.report_key == report_key, reports.c.chat_id == str(chat_id))
                .values(completed_at=_now())
            )
            for key in covers:
                if not con.execute(
                    sa.select(reports.c.report_key).where(
                        reports.c.report_key == key, reports.c.chat_id == str(chat_id)
                    )
                ).first():
                    con.execute(
                        reports.insert().values(
                            report_key=key, chat_id=str(chat_id), part_count=0, created_at=_now(), completed_at=_now()
                        )
                    )
