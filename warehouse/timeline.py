"""One client's stored events in time order, across sources (meetings and Telegram so far)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import duckdb

from warehouse.duck import fetch_dicts

SOURCES = ("meetings", "telegram")


def client_timeline(
    con: duckdb.DuckDBPyConnection,
    client_id: str,
    tz: ZoneInfo,
    *,
    source: str | None = None,
    since: date | None = None,
) -> list[dict]:
    """Events with local time `at`, `source`, `kind`, `who`, `text` and `ref` (what to cite)."""
    events: list[dict] = []
    if source in (None, "meetings"):
        for r in fetch_dicts(
            con,
            """
            select r.recording_id, r.started_at, r.room, s.summary_text
            from raw.meeting_recordings r left join raw.meeting_summaries s using (recording_id)
            where r.client_id = ? and (? is null or r.meeting_date >= ?)
            """,
            [client_id, since, since],
        ):
            events.append(
                {
                    "at": r["started_at"],  # already local (Jibri host time)
                    "source": "meetings",
                    "kind": "встреча",
                    "who": r["room"],
                    "text": r["summary_text"] or "(резюме ещё не готово)",
                    "ref": f"meeting:{r['recording_id']}",
                }
            )
    if source in (None, "telegram"):
        since_utc = (
            datetime.combine(since, datetime.min.time(), tz).astimezone(UTC).replace(tzinfo=None) if since else None
        )
        for r in fetch_dicts(
            con,
            """
            select m.chat_id, m.message_id, m.sent_at, m.sender_name, m.direction, m.kind, m.text, m.media_kind,
                   m.edited_at, c.title
            from raw.telegram_messages m join raw.telegram_chats c using (chat_id)
            where c.client_id = ? and (? is null or m.sent_at >= ?)
            """,
            [client_id, since_utc, since_utc],
        ):
            text = r["text"] or ""
            if r["media_kind"]:
                text = f"[{r['media_kind']}] {text}".strip()
            if r["kind"] == "service":
                kind = "событие в чате"
            else:
                kind = "сообщение (мы)" if r["direction"] == "staff" else "сообщение клиента"
            events.append(
                {
                    "at": r["sent_at"].replace(tzinfo=UTC).astimezone(tz).replace(tzinfo=None),
                    "source": "telegram",
                    "kind": kind,
                    "who": r["sender_name"] or "?",
                    "text": text + (" (изменено)" if r["edited_at"] else ""),
                    "ref": f"telegram:{r['chat_id']}:{r['message_id']}",
                }
            )
    events.sort(key=lambda e: (e["at"] or datetime.min, e["ref"]))
    return events
