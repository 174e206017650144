"""What the app shows, read from the serving snapshot (never the live warehouse) and the app DB."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

import duckdb

from chat_app.views import (
    ALL,
    RISKIEST,
    as_code,
    as_text,
    bitrix_portal,
    filter_clients,
    link_out,
    order_clients,
    with_link,
)
from config.settings import get_settings
from rag.index import Hit, RagIndex
from warehouse import alerts
from warehouse.aliases import provisional_wms_id
from warehouse.refs import make_ref, parse_ref, ref_prefix
from warehouse.staff import User


def _query(sql: str, params: list | None = None) -> list[dict]:
    path = get_settings().serving_path
    if not path.exists():
        return []
    con = duckdb.connect(str(path), read_only=True)
    try:
        cur = con.execute(sql, params or [])
    except duckdb.CatalogException:
        return []  # that part of the warehouse is not built yet: show what exists
    else:
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


def may_open(user: User, client: dict) -> bool:
    """The curator's own client (access rules of User.can_open), or a WMS client linked to no lead when the owner
    shows those to everyone (C360_UNLINKED_VISIBLE_TO_ALL)."""
    if user.can_open(client["curator_id"]):
        return True
    return get_settings().unlinked_visible_to_all and provisional_wms_id(client["client_id"]) is not None


def clients(
    user: User,
    search: str = "",
    scope: str = ALL,
    bands: Iterable[str] = (),
    alerts_only: bool = False,
    order: str = RISKIEST,
) -> list[dict]:
    """The clients this user may open, the riskiest first or in the chosen order (views.ORDERS); the list's filters
    (views.filter_clients) narrow them."""
    rows = _query(
        """select c.client_id, coalesce(c.title, 'лид ' || c.client_id) as title, c.curator_name, c.curator_id,
                  h.score, h.band, h.trend_vs_last_week, h.top_reasons, lc.last_contact,
                  (select count(distinct a.dedupe_key) from alerts a
                   where a.client_id = c.client_id and a.week_end >= ?) as open_alerts
           from clients c
           left join health h using (client_id)
           left join last_contact lc using (client_id)""",
        [get_settings().today() - timedelta(days=alerts.OPEN_DAYS)],
    )
    needle = search.strip().lower()
    out = [
        r
        for r in rows
        if may_open(user, r) and (not needle or needle in r["client_id"] or needle in r["title"].lower())
    ]
    out = filter_clients(out, user.bitrix_user_id, scope, bands, alerts_only)
    return order_clients(out, order)


def client(user: User, client_id: str) -> dict | None:
    rows = _query("select * from clients where client_id = ?", [client_id])
    if not rows or not may_open(user, rows[0]):
        return None
    card = rows[0]
    card["health"] = (_query("select * from health where client_id = ?", [client_id]) or [None])[0]
    card["profile"] = (_query("select * from profile where client_id = ?", [client_id]) or [None])[0]
    card["alerts"] = _query(  # the open ones: as current as the Telegram alerts (assets/alerts), one per episode
        "select * from alerts where client_id = ? and week_end >= ? "
        "qualify row_number() over (partition by dedupe_key order by week desc) = 1 "
        "order by week_end desc, alert_type",
        [client_id, get_settings().today() - timedelta(days=alerts.OPEN_DAYS)],
    )
    return card


def timeline(client_id: str, sources: list[str] | None = None, days: int | None = None) -> list[dict]:
    sql = "select occurred_at, source, kind, title, summary, tone, ref from timeline where client_id = ?"
    params: list = [client_id]
    if sources:
        sql += " and source in (" + ", ".join("?" * len(sources)) + ")"
        params += sources
    if days:
        sql += " and occurred_at >= ?"
        params.append(get_settings().today() - timedelta(days=days))
    return _query(sql + " order by occurred_at desc limit 500", params)


def wms_weeks(client_id: str) -> list[dict]:
    return _query("select * from wms_weekly where client_id = ? order by week", [client_id])


def transcript(client_id: str, recording_id: str) -> str | None:
    rows = _query("select text from transcripts where client_id = ? and recording_id = ?", [client_id, recording_id])
    return rows[0]["text"] if rows else None


def identity_open() -> list[dict]:
    """The suggested and conflicting links of WMS clients and chats to leads, as `client360 map` lists them."""
    return _query("select * from identity_open order by system desc, external_id, confidence desc, lead_id")


def unmapped() -> dict[str, list[dict]]:
    """What the data holds but no client owns yet (for the admin page)."""
    return {
        "chats": _query("select * from unmapped_chats order by title"),
        "renamed": _query("select * from renamed_chats order by chat_id"),
        "wms": _query("select * from unmapped_wms order by wms_client_id"),
        "recordings": _query("select * from unmatched_recordings order by last_seen_at desc limit 50"),
    }


def _passages_of(index: RagIndex, client_id: str, ref: str) -> list[Hit]:
    """The passages of the original a timeline row or a citation points at (always within the one client)."""
    parsed = parse_ref(ref)
    if parsed and parsed.kind == "telegram_day":  # a day of chat
        try:
            day = datetime.fromisoformat(parsed.parts[1])
        except ValueError:
            return []
        return index.passages(client_id, source="telegram", start=day, end=day + timedelta(days=1))
    if parsed and parsed.kind == "telegram":  # a conversation, or one message in it
        chat_id, messages = parsed.parts
        first, _, last = messages.partition("-")
        if not first.isdigit():
            return []
        if last:
            return index.passages(client_id, source_ref=make_ref("telegram", chat_id, first))
        conversations: dict[str, list[Hit]] = {}
        for h in index.passages(client_id, source_ref_prefix=ref_prefix("telegram", chat_id)):
            conversations.setdefault(h.source_ref, []).append(h)
        for hits in conversations.values():
            if any(_covers(h.deep_ref, int(first)) for h in hits):
                return hits
        return []
    # the original as a whole: without the moment inside it
    return index.passages(client_id, source_ref=str(replace(parsed, at=None)) if parsed else ref)


def _covers(deep_ref: str, message_id: int) -> bool:
    a, _, b = deep_ref.rsplit(":", 1)[-1].partition("-")
    return a.isdigit() and int(a) <= message_id <= int(b or a)


def original(client_id: str, ref: str) -> str:
    """The original behind a timeline row or a citation, as Markdown: the whole meeting (summary and transcript),
    chat conversation, letter, call, note or warehouse week, with the cited passage marked, and its link out where
    it has one (the lead in Bitrix24, the message in Telegram)."""
    ref = (ref or "").strip()
    if not ref:
        return "Выберите запись в истории или источник ответа"
    settings = get_settings()
    hits = _passages_of(RagIndex(settings.rag_path, settings.embed_dim), client_id, ref)
    if not hits:
        meeting = parse_ref(ref)
        if meeting and meeting.kind == "meeting" and (text := transcript(client_id, meeting.parts[0])):
            return f"### Расшифровка встречи\n\n{as_text(text)}"
        return f"Оригинал {as_code(ref)} пока не найден: поисковый индекс обновляется раз в час."
    portal = bitrix_portal(settings.bitrix_webhook_url)
    # a chat day or a run of messages links to its first message
    link = link_out(ref, client_id, portal) or link_out(hits[0].source_ref or "", client_id, portal)
    title = re.sub(r" — с \d+:\d\d(:\d\d)?$", "", hits[0].title or "")
    lines, previous = [f"### {as_text(title)}"], []  # the title says what it is; the reference is for machines
    for h in hits:
        if h.source == "meeting" and "**Расшифровка**" not in lines:
            lines.append("**Расшифровка**")
        rows = [r.rstrip() for r in h.text.splitlines() if r.strip()]
        # windows repeat the last turn/message of the one before: show it once
        overlap = next((k for k in range(min(len(rows), len(previous)), 0, -1) if previous[-k:] == rows[:k]), 0)
        cited = ref != h.source_ref and ref in (h.deep_ref, h.chunk_id)  # a place inside the original
        if cited and overlap:  # the cited window starts with lines already shown: show them marked instead
            del lines[-overlap:]
            overlap = 0
        lines += [f"> **{as_text(r)}**" if cited else as_text(r) for r in rows[overlap:]]
        previous = rows
    return with_link("\n\n".join(lines), link)
