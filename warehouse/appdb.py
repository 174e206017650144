"""The app DB (SQLite by default, PostgreSQL in production): ledgers of what went out to Telegram."""

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


def _now() -> datetime:
    return datetime.now(UTC)


class AppDB:
    def __init__(self, url: str):
        if url.startswith("sqlite:///"):
            from pathlib import Path

            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
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
