"""Functions the model may call for trends and numbers; each answers with passages that cite the rows behind them.

They read the warehouse read-only for a moment; while a run holds the file they say so instead of waiting.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import duckdb

from config.settings import get_settings
from rag.citations import Passage
from warehouse import alerts, duck
from warehouse.duck import fetch_dicts
from warehouse.refs import make_ref

SCHEMAS = [
    {
        "type": "function",
        "function": {
            "name": "wms_period",
            "description": "Склад за период: отгружено на маркетплейсы, вывезено, принято, зарезервировано.",
            "parameters": {
                "type": "object",
                "properties": {
                    "start": {"type": "string", "description": "начало периода, ГГГГ-ММ-ДД"},
                    "end": {"type": "string", "description": "конец периода включительно, ГГГГ-ММ-ДД"},
                },
                "required": ["start", "end"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "tone_by_month",
            "description": "Тон общения по месяцам: средняя оценка настроения, жалобы, самые негативные контакты.",
            "parameters": {
                "type": "object",
                "properties": {
                    "months": {"type": "integer", "description": "сколько последних месяцев, по умолчанию 6"}
                },
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "open_alerts",
            "description": "Тревоги об уходе клиента за последние 4 недели с цифрами и записями-доказательствами.",
            "parameters": {"type": "object", "properties": {}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "client_profile",
            "description": "Профиль: что продаёт, маркетплейсы, схемы, объёмы, боли, конфликты, срок с нами.",
            "parameters": {"type": "object", "properties": {}},
        },
    },
]


def months_back(day: date, months: int) -> date:
    """The 1st of the month `months` calendar months before the month of `day` (whole months, any month length)."""
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


class WarehouseTools:
    def __init__(self, warehouse_path: Path):
        self.path = warehouse_path

    def schemas(self) -> list[dict]:
        return SCHEMAS

    def run(self, client_id: str, name: str, arguments: str | dict, first_n: int) -> list[Passage]:
        try:
            args = json.loads(arguments) if isinstance(arguments, str) else dict(arguments or {})
        except ValueError:
            args = {}
        handler = getattr(self, f"_{name}", None)
        if handler is None:
            return []
        try:
            with duck.connect(self.path, read_only=True, wait_seconds=3) as con:
                rows = handler(con, client_id, **args)
        except (duckdb.Error, TypeError, ValueError) as exc:
            rows = [
                (
                    "tool_error",
                    make_ref("tool", name),
                    None,
                    "Данные недоступны",
                    f"Данные сейчас недоступны ({type(exc).__name__}); попробуйте через минуту.",
                )
            ]
        return [
            Passage(first_n + i, src, ref, ref, at, title, text) for i, (src, ref, at, title, text) in enumerate(rows)
        ]

    @staticmethod
    def _wms_period(con, client_id: str, start: str, end: str):
        a, b = date.fromisoformat(start), date.fromisoformat(end)
        [r] = fetch_dicts(
            con,
            """select coalesce(sum(outbound_units), 0) as outbound, coalesce(sum(withdrawal_units), 0) as withdrawal,
                      coalesce(sum(inbound_units), 0) as inbound, coalesce(sum(reserved_units), 0) as reserved,
                      count(*) as days
               from marts.fct_client_daily_activity where client_id = ? and day between ? and ?""",
            [client_id, a, b],
        )
        text = (
            f"Склад с {a:%d.%m.%Y} по {b:%d.%m.%Y}: отгружено на маркетплейсы {r['outbound']} ед., вывезено "
            f"{r['withdrawal']} ед., принято {r['inbound']} ед., зарезервировано {r['reserved']} ед. "
            f"(дней с движением: {r['days']})."
        )
        ref = make_ref("wms_period", client_id, a, b)
        return [("wms", ref, datetime.combine(b, datetime.min.time()), "Склад за период", text)]

    @staticmethod
    def _tone_by_month(con, client_id: str, months: int = 6):
        since = months_back(get_settings().today(), max(1, int(months)))
        rows = fetch_dicts(
            con,
            """select date_trunc('month', occurred_at) as month, avg(sentiment) as sentiment, count(*) as n,
                      count(*) filter (where complaint or conflict) as complaints,
                      list(ref order by sentiment)[1:2] as worst
               from staging.stg_enrichment__interaction_signals where client_id = ? and occurred_at >= ?
               group by 1 order by 1""",
            [client_id, since],
        )
        return [
            (
                "tone",
                r["worst"][0] if r["worst"] else make_ref("tone", client_id, f"{r['month']:%Y-%m}"),
                r["month"],
                f"Тон за {r['month']:%m.%Y}",
                f"{r['month']:%m.%Y}: средняя оценка настроения {r['sentiment']:+.2f} по {r['n']} контактам, "
                f"с жалобами или конфликтом — {r['complaints']}; самые негативные: {', '.join(r['worst'])}.",
            )
            for r in rows
        ]

    @staticmethod
    def _open_alerts(con, client_id: str):
        rows = fetch_dicts(
            con,
            """select * from marts.fct_client_alerts
               where client_id = ? and week_end >= current_date - 28
               qualify row_number() over (partition by dedupe_key order by week desc) = 1
               order by week_end desc""",
            [client_id],
        )
        today = get_settings().today()
        return [
            (
                "alert",
                (r["evidence_refs"] or [make_ref("alert", client_id, r["alert_type"])])[0],
                r["as_of"],
                f"Тревога: {r['alert_label']}",
                f"{alerts.headline(r, today)}. {alerts.sentence(r)} "
                + " ".join(f"{line}." for line in alerts.evidence_lines(r)),
            )
            for r in rows
        ] or [("alert", make_ref("alerts", client_id), None, "Тревоги", "Открытых тревог за 4 недели нет.")]

    @staticmethod
    def _client_profile(con, client_id: str):
        rows = fetch_dicts(
            con,
            """select kind, value, detail, sources, last_confirmed from staging.stg_enrichment__client_profile_facts
               where client_id = ? order by kind, mentions desc""",
            [client_id],
        )
        out = []
        for r in rows:
            sources = json.loads(r["sources"])
            ref = sources[-1]["ref"] if sources else make_ref("profile", client_id, r["kind"])
            detail = f" ({r['detail']})" if r["detail"] else ""
            out.append(("profile", ref, r["last_confirmed"], f"Профиль: {r['kind']}", f"{r['value']}{detail}"))
        return out
