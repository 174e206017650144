"""What the app shows, read from the serving snapshot (never the live warehouse) and the app DB."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from chat_app.staff import User
from warehouse.settings import get_settings

BAND_ORDER = {"красный": 0, "жёлтый": 1, "зелёный": 2}
SOURCES = {
    "meetings": "встречи",
    "telegram": "Telegram",
    "bitrix": "звонки и письма",
    "wms": "склад",
    "notes": "заметки",
}


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


def clients(user: User, search: str = "") -> list[dict]:
    """The clients this user may open, the riskiest first."""
    rows = _query(
        """select c.client_id, coalesce(c.title, 'лид ' || c.client_id) as title, c.curator_name, c.curator_id,
                  h.score, h.band, h.trend_vs_last_week, h.top_reasons, lc.last_contact,
                  (select count(distinct a.dedupe_key) from alerts a where a.client_id = c.client_id) as open_alerts
           from clients c
           left join health h using (client_id)
           left join last_contact lc using (client_id)"""
    )
    needle = search.strip().lower()
    out = [
        r
        for r in rows
        if user.can_open(r["curator_id"]) and (not needle or needle in r["client_id"] or needle in r["title"].lower())
    ]
    out.sort(
        key=lambda r: (
            BAND_ORDER.get(r["band"], 3),
            r["score"] if r["score"] is not None else 101,
            -(r["open_alerts"] or 0),
            r["client_id"],
        )
    )
    return out


def client(user: User, client_id: str) -> dict | None:
    rows = _query("select * from clients where client_id = ?", [client_id])
    if not rows or not user.can_open(rows[0]["curator_id"]):
        return None
    card = rows[0]
    card["health"] = (_query("select * from health where client_id = ?", [client_id]) or [None])[0]
    card["profile"] = (_query("select * from profile where client_id = ?", [client_id]) or [None])[0]
    card["alerts"] = _query(
        "select * from alerts where client_id = ? "
        "qualify row_number() over (partition by dedupe_key order by week desc) = 1 "  # one line per episode
        "order by week_end desc, alert_type",
        [client_id],
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
        params.append(date.today() - timedelta(days=days))
    return _query(sql + " order by occurred_at desc limit 500", params)


def wms_weeks(client_id: str) -> list[dict]:
    return _query(
        "select week, stock_end, outbound, withdrawal, inbound, reserved from wms_weekly where client_id = ? "
        "order by week",
        [client_id],
    )


def transcript(client_id: str, recording_id: str) -> str | None:
    rows = _query("select text from transcripts where client_id = ? and recording_id = ?", [client_id, recording_id])
    return rows[0]["text"] if rows else None


def unmapped() -> dict[str, list[dict]]:
    """What the data holds but no client owns yet (for the admin page)."""
    return {
        "chats": _query("select * from unmapped_chats order by title"),
        "wms": _query("select * from unmapped_wms order by wms_client_id"),
        "recordings": _query("select * from unmatched_recordings order by last_seen_at desc limit 50"),
    }
