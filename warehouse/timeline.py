"""One client's stored events in time order, across sources (meetings and Telegram so far)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import duckdb

from warehouse.duck import fetch_dicts

SOURCES = ("meetings", "telegram", "bitrix")


def since_utc(since: date | None, tz: ZoneInfo) -> datetime | None:
    return datetime.combine(since, datetime.min.time(), tz).astimezone(UTC).replace(tzinfo=None) if since else None


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
        for r in fetch_dicts(
            con,
            """
            select m.chat_id, m.message_id, m.sent_at, m.sender_name, m.direction, m.kind, m.text, m.media_kind,
                   m.edited_at, c.title
            from raw.telegram_messages m join raw.telegram_chats c using (chat_id)
            where c.client_id = ? and (? is null or m.sent_at >= ?)
            """,
            [client_id, since_utc(since, tz), since_utc(since, tz)],
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
    if source in (None, "bitrix"):
        for r in fetch_dicts(
            con,
            """
            select a.activity_id, a.kind, a.direction, a.subject, a.body_text, a.started_at, a.duration_s,
                   t.text as transcript
            from raw.bitrix_activities a left join raw.bitrix_call_transcripts t using (activity_id)
            where a.client_id = ? and a.started_at is not null and (? is null or a.started_at >= ?)
            """,
            [client_id, since_utc(since, tz), since_utc(since, tz)],
        ):
            arrow = {"incoming": "входящий", "outgoing": "исходящий"}.get(r["direction"], "")
            kind = {"call": f"звонок {arrow}", "email": f"письмо {arrow}"}.get(r["kind"], "дело в CRM").strip()
            duration = f" ({round(r['duration_s'] / 60)} мин)" if r["duration_s"] else ""
            events.append(
                {
                    "at": r["started_at"].replace(tzinfo=UTC).astimezone(tz).replace(tzinfo=None),
                    "source": "bitrix",
                    "kind": kind,
                    "who": (r["subject"] or "") + duration,
                    "text": r["transcript"] or r["body_text"] or "",
                    "ref": f"bitrix:{r['activity_id']}",
                }
            )
    events.sort(key=lambda e: (e["at"] or datetime.min, e["ref"]))
    return events
