"""Churn alerts (rows of `marts.fct_client_alerts`) in words, the same in the Telegram alert, the card and the chat:
the week named by its days up to today, the figures as the mart's Russian sentence, the evidence as dated lines, the
step to take (churn.yml `playbook`). No field name or reference string reaches a person."""

from __future__ import annotations

import json
from datetime import date, datetime

OPEN_DAYS = 14  # an alert is open while its week ended at most this many days ago (the delivery, the card)
SEVERITY = {"critical": "критично", "high": "важно"}
SEVERITY_MARK = {"critical": "🔴", "high": "🟠"}
# an evidence record's kind → how a line about it starts, and what its number is called
EVIDENCE = {
    "withdrawal": ("Вывоз", "заказ"),
    "reservation": ("Резерв", "резерв"),
    "receipt": ("Поставка на склад", "приёмка"),
}


def in_order(alerts: list[dict]) -> list[dict]:
    """A client's alerts as people are told them: the critical ones first, then by type."""
    return sorted(alerts, key=lambda a: (a["severity"] != "critical", a["alert_type"]))


def ru_int(value) -> str:
    """«6 052»: thousands apart by a no-break space, as the mart's messages write them."""
    return f"{round(value or 0):,}".replace(",", "\u00a0")


def _day(value: date, today: date) -> str:
    return f"{value:%d.%m}" if value.year == today.year else f"{value:%d.%m.%Y}"


def week_label(week: date, week_end: date, today: date) -> str:
    """«неделя 23.11–29.11», or for the week still running «неделя 30.11–01.12, текущая»: never a day after today."""
    week, week_end = _as_date(week), _as_date(week_end)
    if week_end >= today:
        return f"неделя {_day(week, today)}–{_day(max(week, today), today)}, текущая"
    return f"неделя {_day(week, today)}–{_day(week_end, today)}"


def _as_date(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def headline(alert: dict, today: date) -> str:
    """«Вывоз товара — критично, неделя 30.11–01.12, текущая»."""
    severity = SEVERITY.get(alert["severity"], "")
    return f"{alert['alert_label']} — {severity}, {week_label(alert['week'], alert['week_end'], today)}"


def sentence(alert: dict) -> str:
    """The mart's figures sentence, capitalised: «За неделю зарезервировано 6 052 ед. — 222 % остатка; …»."""
    text = (alert["message"] or "").strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?", "»")) else ".")


def evidence_lines(alert: dict) -> list[str]:
    """«Вывоз 12.11.2026: 217 ед., заказ OW00001-342» per warehouse record; for what a client said, the quote with
    its source and day."""
    lines = []
    for e in alert.get("evidence") or []:
        start, number = EVIDENCE.get(e["kind"], ("Запись", "№"))
        at = f" {e['at']:%d.%m.%Y}" if e.get("at") else ""
        lines.append(f"{start}{at}: {ru_int(e['units'])} ед., {number} {e['number']}")
    figures = alert.get("figures")
    figures = json.loads(figures) if isinstance(figures, str) else figures or {}
    if figures.get("quote"):
        day = figures.get("occurred_at") or ""
        day = f" {date.fromisoformat(day[:10]):%d.%m.%Y}" if len(day) >= 10 else ""
        source = str(figures.get("source") or "запись")
        lines.append(f"{source[:1].upper() + source[1:]}{day}: «{figures['quote']}»")
    return lines


def step(alert: dict, curator: str | None, today: date, *, from_today: bool = False) -> str | None:
    """«Позвонить клиенту… — Анна Соколова, до 02.12.2026», with «(просрочено)» once that day has passed; None for a
    type without a playbook line. `from_today`: the curator hears of it now (a new alert), so the days count from
    today when the alert first fired earlier (a backlog, a late first run)."""
    if not alert.get("playbook"):
        return None
    due = _as_date(alert["due_on"]) if alert.get("due_on") else None
    if due and from_today and alert.get("detected_on"):
        due = max(due, today + (due - _as_date(alert["detected_on"])))
    when = f", до {due:%d.%m.%Y}" + (" (просрочено)" if due < today else "") if due else ""
    return f"{alert['playbook']} — {curator or 'куратор не назначен'}{when}"
