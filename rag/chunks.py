"""Everything said and done with a client, cut into passages a person can cite: each with its client, source, the
original's id, the exact place inside it (meeting second, message ids), local time and author.

Transcripts: speaker turns packed into ~1,000-character windows with one turn of overlap, each with its start
time. Chats: conversations (a pause of 3 h starts a new one) in windows of ~1,000 characters, one message of
overlap. Staff notes: one passage each. E-mails: one passage per letter (quotes were removed at ingestion).
Calls: transcript windows, or the summary. Meeting summaries, profile facts, weekly and monthly warehouse digests
and monthly tone as short Russian sentences built from the numbers.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from connectors.llm.prompts import continued, speaker
from warehouse.duck import fetch_dicts
from warehouse.refs import make_ref

WINDOW = 1000
CHAT_PAUSE = timedelta(hours=3)
MONTHS = [
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
]


def _chunk(client_id, source, source_ref, n, deep_ref, occurred_at, author, title, text) -> dict:
    text = text.strip()
    return {
        "chunk_id": f"{source_ref}#{n}",
        "client_id": str(client_id),
        "source": source,
        "source_ref": source_ref,
        "deep_ref": deep_ref,
        "occurred_at": occurred_at,
        "author": author,
        "title": title,
        "text": text,
        "content_hash": hashlib.sha256(f"{title}\n{author}\n{occurred_at}\n{text}".encode()).hexdigest(),
    }


def windows(items: list[tuple], size: int = WINDOW, overlap: int = 1) -> Iterable[list[tuple]]:
    """Consecutive items packed into windows of about `size` characters; the last `overlap` items repeat."""
    start = 0
    while start < len(items):
        end, length = start, 0
        while end < len(items) and (end == start or length + len(items[end][-1]) <= size):
            length += len(items[end][-1])
            end += 1
        yield items[start:end]
        if end >= len(items):
            break
        start = max(start + 1, end - overlap)


def _mmss(seconds: float | None) -> str:
    s = int(seconds or 0)
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


def _turns(segments_json: str | None) -> list[tuple]:
    """Transcript segments as (start second, speaker, «Speaker: text») turns."""
    segments = json.loads(segments_json) if segments_json else []
    return [
        (s.get("start") or 0, s.get("speaker"), f"{speaker(s.get('speaker')) or 'Участник'}: {continued(s['text'])}")
        for s in segments
        if s.get("text")
    ]


def _recording_chunks(client_id, source, kind, ident, when, title, turns, *, speakers: bool) -> list[dict]:
    """A recording's turns in windows, each cited by the second it starts at (`<kind>:<ident>@<second>`)."""
    ref, out = make_ref(kind, ident), []
    for n, win in enumerate(windows(turns), 1):
        start = win[0][0]
        text = "\n".join(f"[{_mmss(t[0])}] {t[2]}" for t in win)
        author = ", ".join(dict.fromkeys(t[1] for t in win if t[1])) if speakers else None
        out.append(
            _chunk(
                client_id,
                source,
                ref,
                n,
                make_ref(kind, ident, at=start),
                when + timedelta(seconds=start),
                author,
                f"{title} — с {_mmss(start)}",
                text,
            )
        )
    return out


def meeting_chunks(con) -> list[dict]:
    out = []
    rows = fetch_dicts(
        con,
        """select s.recording_id, s.client_id, s.started_at, s.summary_text, t.segments,
                  coalesce(json_extract_string(s.summary, '$.topic'), 'Встреча') as topic
           from staging.stg_meetings__summaries s
           left join staging.stg_meetings__transcripts t using (recording_id)""",
    )
    for r in rows:
        ref, when = make_ref("meeting", r["recording_id"]), r["started_at"]
        title = f"Встреча {when:%d.%m.%Y %H:%M}: {r['topic']}"
        out.append(_chunk(r["client_id"], "meeting_summary", ref, 0, ref, when, None, title, r["summary_text"]))
        turns = _turns(r["segments"])
        ident = r["recording_id"]
        out.extend(_recording_chunks(r["client_id"], "meeting", "meeting", ident, when, title, turns, speakers=True))
    return out


def chat_chunks(con, tz: str) -> list[dict]:
    rows = fetch_dicts(
        con,
        f"""select m.client_id, m.chat_id, m.message_id, m.chat_title, m.sender_name, m.direction,
                   coalesce(m.text, '') || case when m.media_kind is not null
                       then ' [' || m.media_kind || coalesce(': ' || m.media_name, '') || ']' else '' end as text,
                   (m.sent_at at time zone 'UTC') at time zone '{tz}' as at
            from staging.stg_telegram__messages m
            where m.client_id is not null and m.kind = 'message'
            order by m.chat_id, m.sent_at, m.message_id""",
    )
    out, conv = [], []

    def flush():
        if not conv:
            return
        first = conv[0]
        items = [
            (
                m,
                f"{speaker(m['sender_name']) or ('мы' if m['direction'] == 'staff' else 'клиент')}"
                f"{' (мы)' if m['direction'] == 'staff' else ''}, {m['at']:%d.%m %H:%M}: {continued(m['text'])}",
            )
            for m in conv
            if m["text"].strip()
        ]
        for win in windows(items):
            a, b = win[0][0], win[-1][0]
            ref = make_ref("telegram", first["chat_id"], a["message_id"])
            text = "\n".join(i[1] for i in win)
            authors = ", ".join(dict.fromkeys(m["sender_name"] for m, _ in win if m["sender_name"]))
            out.append(
                _chunk(
                    first["client_id"],
                    "telegram",
                    ref,
                    0,
                    make_ref("telegram", first["chat_id"], f"{a['message_id']}-{b['message_id']}"),
                    a["at"],
                    authors,
                    f"Telegram, {first['chat_title']}, {a['at']:%d.%m.%Y}",
                    text,
                )
            )
        conv.clear()

    for m in rows:
        if conv and (m["chat_id"] != conv[-1]["chat_id"] or m["at"] - conv[-1]["at"] > CHAT_PAUSE):
            flush()
        conv.append(m)
    flush()
    return out


def bitrix_chunks(con, tz: str) -> list[dict]:
    rows = fetch_dicts(
        con,
        f"""select a.activity_id, a.client_id, a.kind, a.direction, a.subject, a.body_text, a.email_from,
                   (a.started_at at time zone 'UTC') at time zone '{tz}' as at, t.text as transcript, t.segments
            from staging.stg_bitrix24__activities a
            left join staging.stg_bitrix24__call_transcripts t on t.activity_id = a.activity_id and t.status = 'ok'
            where a.client_id is not null and a.kind in ('call', 'email') and a.started_at is not null""",
    )
    summaries = dict(
        con.execute("select summary_key, summary_text from staging.stg_bitrix24__activity_summaries").fetchall()
    )
    out = []
    for r in rows:
        ref, at = make_ref("bitrix", r["activity_id"]), r["at"]
        r["call_summary"] = summaries.get(make_ref("call", r["activity_id"]))
        direction = "входящее" if r["direction"] == "incoming" else "исходящее"
        if r["kind"] == "email":
            if (r["body_text"] or "").strip():
                title = f"Письмо ({direction}) {at:%d.%m.%Y}: {r['subject'] or 'без темы'}"
                out.append(_chunk(r["client_id"], "email", ref, 0, ref, at, r["email_from"], title, r["body_text"]))
            continue
        title = f"Звонок ({direction}) {at:%d.%m.%Y %H:%M}"
        if r["call_summary"]:
            out.append(_chunk(r["client_id"], "call", ref, 0, ref, at, None, title + " — резюме", r["call_summary"]))
        turns = _turns(r["segments"])
        if not turns and r["transcript"]:
            turns = [(0, None, r["transcript"])]
        if not turns and not r["call_summary"] and (r["body_text"] or r["subject"]):
            turns = [(0, None, r["body_text"] or r["subject"])]
        ident = r["activity_id"]
        out.extend(_recording_chunks(r["client_id"], "call", "bitrix", ident, at, title, turns, speakers=False))
    return out


def profile_chunks(con) -> list[dict]:
    from connectors.llm.profile import KINDS, SCHEME_MEANINGS

    labels = {**KINDS, "since": "С нами с"}
    rows = fetch_dicts(
        con,
        """select client_id, kind, fact_key, origin, value, detail, sources, mentions, last_confirmed
           from staging.stg_enrichment__client_profile_facts order by client_id, kind, mentions desc""",
    )
    out = []
    for r in rows:
        sources = json.loads(r["sources"])
        ref = make_ref("profile", r["client_id"], r["kind"], r["origin"], r["fact_key"])
        evidence = ", ".join(s["ref"] for s in sources[-3:])
        meaning = SCHEME_MEANINGS.get(r["value"]) if r["kind"] == "schemes" else None
        text = (
            f"Профиль клиента — {labels[r['kind']].lower()}: {r['value']}"
            f"{' (' + r['detail'] + ')' if r['detail'] else ''}{' — ' + meaning if meaning else ''}. "
            f"Упоминаний: {r['mentions']}, "
            f"последнее подтверждение {r['last_confirmed']:%d.%m.%Y}. Источники: {evidence}."
        )
        out.append(
            _chunk(
                r["client_id"],
                "profile",
                ref,
                0,
                sources[-1]["ref"] if sources else ref,
                r["last_confirmed"],
                None,
                f"Профиль: {labels[r['kind']]}",
                text,
            )
        )
    return out


def _n(x) -> str:
    return f"{int(x or 0):,}".replace(",", " ")


def wms_chunks(con) -> list[dict]:
    out = []
    if not _has(con, "intermediate", "int_wms_weekly"):
        return out
    for r in fetch_dicts(con, "select * from intermediate.int_wms_weekly order by client_id, week"):
        end = r["week"] + timedelta(days=6)
        ref = make_ref("wms_week", r["client_id"], f"{r['week']:%Y-%m-%d}")
        text = (
            f"Склад, неделя {r['week']:%d.%m}–{end:%d.%m.%Y}: отгружено на маркетплейсы {_n(r['outbound'])} ед., "
            f"вывезено клиентом {_n(r['withdrawal'])} ед., принято на склад {_n(r['inbound'])} ед., "
            f"зарезервировано {_n(r['reserved'])} ед., остаток на конец недели "
            f"{_n(r['stock_end']) if r['stock_end'] is not None else 'неизвестен'} ед."
        )
        at = datetime.combine(end, datetime.min.time()) + timedelta(hours=23)
        out.append(_chunk(r["client_id"], "wms", ref, 0, ref, at, None, f"Склад за неделю до {end:%d.%m.%Y}", text))
    monthly = (
        fetch_dicts(
            con,
            """select client_id, date_trunc('month', day) as month, sum(outbound_units) as outbound,
                  sum(withdrawal_units) as withdrawal, sum(inbound_units) as inbound, sum(reserved_units) as reserved,
                  max(day) as last_day
           from marts.fct_client_daily_activity group by 1, 2 having sum(outbound_units + withdrawal_units
               + inbound_units + reserved_units) > 0 order by 1, 2""",
        )
        if _has(con, "marts", "fct_client_daily_activity")
        else []
    )
    for r in monthly:
        m = r["month"]
        ref = make_ref("wms_month", r["client_id"], f"{m:%Y-%m}")
        text = (
            f"Склад за {MONTHS[m.month - 1]} {m.year} года (отгрузки в {MONTHS[m.month - 1][:-1] or ''}е): "
            f"отгружено на маркетплейсы {_n(r['outbound'])} ед., вывезено клиентом {_n(r['withdrawal'])} ед., "
            f"принято на склад {_n(r['inbound'])} ед., зарезервировано {_n(r['reserved'])} ед."
        )
        at = datetime.combine(r["last_day"], datetime.min.time()) + timedelta(hours=23)
        out.append(
            _chunk(r["client_id"], "wms", ref, 0, ref, at, None, f"Склад за {MONTHS[m.month - 1]} {m.year}", text)
        )
    return out


def _has(con, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
        ).fetchone()[0]
    )


_TONE_FIGURES = re.compile(r"оценка настроения ([+-]?\d+\.\d+) по (\d+) контактам, с жалобами или конфликтом — (\d+)")


def tone_figures(text: str) -> tuple[float, int, int] | None:
    """(mean sentiment, contacts, complaints) of a month's tone passage as tone_chunks writes it."""
    m = _TONE_FIGURES.search(text or "")
    return (float(m[1]), int(m[2]), int(m[3])) if m else None


def tone_chunks(con) -> list[dict]:
    """Monthly tone of the conversations, from interaction_signals, with the contacts behind it."""
    rows = fetch_dicts(
        con,
        """select client_id, date_trunc('month', occurred_at) as month, avg(sentiment) as sentiment, count(*) as n,
                  count(*) filter (where complaint or conflict) as complaints,
                  list(ref order by sentiment)[1:3] as worst, max(occurred_at) as last_at
           from staging.stg_enrichment__interaction_signals where client_id is not null group by 1, 2 order by 1, 2""",
    )
    out = []
    for r in rows:
        m, s = r["month"], r["sentiment"] or 0
        mood = "позитивный" if s >= 0.25 else "негативный" if s <= -0.25 else "нейтральный"
        ref = make_ref("tone", r["client_id"], f"{m:%Y-%m}")
        text = (
            f"Тон общения с клиентом за {MONTHS[m.month - 1]} {m.year}: {mood}, средняя оценка настроения "
            f"{s:+.2f} по {r['n']} контактам, с жалобами или конфликтом — {r['complaints']}. "
            f"Самые негативные контакты: {', '.join(r['worst'])}."
        )
        out.append(
            _chunk(
                r["client_id"],
                "tone",
                ref,
                0,
                r["worst"][0] if r["worst"] else ref,
                r["last_at"],
                None,
                f"Тон общения за {MONTHS[m.month - 1]} {m.year}",
                text,
            )
        )
    return out


def note_chunks(con) -> list[dict]:
    rows = fetch_dicts(
        con, "select note_id, client_id, author, text, created_at as at from staging.stg_notes__notes where not deleted"
    )
    return [
        _chunk(
            r["client_id"],
            "note",
            make_ref("note", r["note_id"]),
            0,
            make_ref("note", r["note_id"]),
            r["at"],
            r["author"],
            f"Заметка куратора {r['author']}, {r['at']:%d.%m.%Y}",
            r["text"],
        )
        for r in rows
    ]


def all_chunks(con, tz: str) -> tuple[list[dict], dict[str, int]]:
    parts = {
        "заметки": note_chunks(con),
        "встречи": meeting_chunks(con),
        "Telegram": chat_chunks(con, tz),
        "Битрикс24": bitrix_chunks(con, tz),
        "профиль": profile_chunks(con),
        "склад": wms_chunks(con),
        "тон": tone_chunks(con),
    }
    chunks = {c["chunk_id"]: c for part in parts.values() for c in part if c["text"]}
    return list(chunks.values()), {k: len(v) for k, v in parts.items()}
