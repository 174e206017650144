"""The app DB (SQLite by default, PostgreSQL in production): ledgers of what went out to Telegram, staff users and
their login attempts and unlocks, notes on clients with their history."""

from __future__ import annotations

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

    def report_status(self, report_key: str, chat_id: str) -> dict | None:
        with self.engine.connect() as con:
            row = (
                con.execute(
                    sa.select(reports).where(reports.c.report_key == report_key, reports.c.chat_id == str(chat_id))
                )
                .mappings()
                .first()
            )
        return dict(row) if row else None

    def claim_report(self, report_key: str, chat_id: str, parts: list[str]) -> list[dict]:
        """Record the parts of a report before sending (first attempt wins); return the parts still unsent.

        A retried run resumes with the parts stored by the first attempt, so nothing goes out twice.
        """
        chat_id = str(chat_id)
        with self.engine.begin() as con:
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
                )
                .order_by(report_parts.c.part_no)
            ).mappings()
            return [dict(r) for r in rows]

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

    def complete_report(self, report_key: str, chat_id: str) -> None:
        with self.engine.begin() as con:
            con.execute(
                reports.update()
                .where(reports.c.report_key == report_key, reports.c.chat_id == str(chat_id))
                .values(completed_at=_now())
            )
