"""The daily curator report: every meeting of a day, grouped by client, as Telegram HTML; sent once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from connectors.llm.chats import ChatDaySummary
from connectors.llm.offline import OFFLINE_LABEL
from connectors.llm.summaries import MeetingSummary, format_action
from connectors.telegram_bot import escape
from warehouse.duck import fetch_dicts

if TYPE_CHECKING:
    import duckdb

WEEKDAYS = ["понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье"]
REPORT_KIND = "daily_curator_report"


def load_day_meetings(con: duckdb.DuckDBPyConnection, day: date) -> list[dict]:
    return fetch_dicts(
        con,
        """
        select recording_id, client_id, started_at, summary, room, media_path
        from staging.stg_meetings__summaries
        where meeting_date = ? and media_path is not null  -- its recording is known
        order by client_id, started_at, recording_id
        """,
        [day],
    )


def load_day_chats(con: duckdb.DuckDBPyConnection, day: date) -> list[dict]:
    return fetch_dicts(
        con,
        "select client_id, messages, summary from staging.stg_telegram__daily_summaries where day = ? "
        "order by client_id",
        [day],
    )


def load_day_activities(con: duckdb.DuckDBPyConnection, day: date) -> list[dict]:
    return fetch_dicts(
        con,
        """
        select s.client_id, s.kind, s.title, s.summary, s.activity_ids, a.started_at, a.direction, a.duration_s
        from staging.stg_bitrix24__activity_summaries s
        left join staging.stg_bitrix24__activities a
          on s.kind = 'call' and a.activity_id = cast(json_extract(s.activity_ids, '$[0]') as bigint)
        where s.day = ?
        order by s.client_id, s.kind, s.summary_key
        """,
        [day],
    )


def _bullets(title: str, items: list[str]) -> list[str]:
    return [f"<b>{escape(title)}:</b>", *(f"• {escape(x)}" for x in items)] if items else []


def render_meeting(meeting: dict) -> str:
    s = MeetingSummary.model_validate(json.loads(meeting["summary"]))
    when = f"{meeting['started_at']:%H:%M}" if meeting.get("started_at") else "время неизвестно"
    lines = [f"🕘 <b>{when}</b> · {escape(s.topic or 'тема не определена')}"]
    if s.participants:
        lines.append(f"<i>Участники:</i> {escape(', '.join(s.participants))}")
    lines += _bullets("Ключевые моменты", s.key_points)
    lines += _bullets("Договорённости", [format_action(a) for a in s.agreements])
    lines += _bullets("Следующие шаги", [format_action(a) for a in s.next_steps])
    lines += _bullets("⚠️ Риски и недовольство", s.risks)
    if s.extractive:
        lines.append(f"<i>{escape(OFFLINE_LABEL)}</i>")
    return "\n".join(lines)


def render_chat(chat: dict) -> str:
    s = ChatDaySummary.model_validate(json.loads(chat["summary"]))
    lines = [f"💬 <b>В чатах</b> ({chat['messages']} сообщ., тон: {escape(s.tone)}): {escape(s.summary)}"]
    if s.complaints:
        lines.append("⚠️ " + escape("; ".join(s.complaints[:3])))
    if s.promises:
        lines.append("Мы обещали: " + escape("; ".join(s.promises[:3])))
    return "\n".join(lines)


def render_activity(item: dict) -> str:
    s = MeetingSummary.model_validate(json.loads(item["summary"]))
    gist = s.topic or (s.key_points[0] if s.key_points else "")
    if item["kind"] == "call":
        arrow = {"incoming": "входящий", "outgoing": "исходящий"}.get(item.get("direction"), "")
        minutes = f", {round((item.get('duration_s') or 0) / 60)} мин" if item.get("duration_s") else ""
        head = f"📞 Звонок {arrow}{minutes}".replace("  ", " ")
    else:
        head = f"✉️ Письма «{escape(item.get('title') or 'без темы')}»"
    lines = [f"{head}: {escape(gist)}"]
    if s.next_steps or s.agreements:
        lines.append("Договорились: " + escape("; ".join(format_action(a) for a in (s.agreements + s.next_steps)[:3])))
    if s.risks:
        lines.append("⚠️ " + escape("; ".join(s.risks[:2])))
    return "\n".join(lines)


def render_report(day: date, meetings: list[dict], chats: list[dict] = (), activities: list[dict] = ()) -> str:
    header = f"<b>Отчёт кураторам за {day:%d.%m.%Y} ({WEEKDAYS[day.weekday()]})</b>"
    if not meetings and not chats and not activities:
        return f"{header}\nВстреч с клиентами за этот день не было."
    clients = sorted(
        {m["client_id"] for m in meetings} | {c["client_id"] for c in chats} | {a["client_id"] for a in activities},
        key=lambda c: (len(c), c),
    )
    lines = [header, f"Встреч: {len(meetings)}, клиентов: {len(clients)}"]
    if chats:
        lines.append(f"Клиентов с перепиской в чатах: {len(chats)}")
    if activities:
        calls = sum(a["kind"] == "call" for a in activities)
        lines.append(f"Звонков: {calls}, цепочек писем: {len(activities) - calls}")
    for client in clients:
        lines += ["", f"👤 <b>Клиент: лид {escape(client)}</b>"]
        for m in (m for m in meetings if m["client_id"] == client):
            lines += [render_meeting(m), ""]
        for c in (c for c in chats if c["client_id"] == client):
            lines += [render_chat(c), ""]
        own = [a for a in activities if a["client_id"] == client]
        if own:
            lines += ["<b>Звонки и почта:</b>", *(render_activity(a) for a in own), ""]
    return "\n".join(lines).rstrip()


@dataclass
class DayReport:
    meetings: list[dict]
    chats: list[dict]
    activities: list[dict]
    html: str


def day_report(con: duckdb.DuckDBPyConnection, day: date) -> DayReport:
    """The curators' report of one day: what it is made of and its Telegram HTML."""
    meetings, chats, activities = load_day_meetings(con, day), load_day_chats(con, day), load_day_activities(con, day)
    return DayReport(meetings, chats, activities, render_report(day, meetings, chats, activities))


def report_key(day: date) -> str:
    return f"{REPORT_KIND}:{day.isoformat()}"
