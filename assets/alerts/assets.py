"""Churn alerts → the alert chat, each condition once (ledger in the app DB), with evidence and the curator."""

import json
from datetime import timedelta

import dagster as dg

from assets.resources import AppDBResource, TelegramBotResource, WarehouseResource
from config.delivery import deliver_report
from config.settings import get_settings
from connectors.telegram_bot import escape
from warehouse.aliases import provisional_wms_id
from warehouse.duck import fetch_dicts

SEVERITY = {"critical": "🔴 критично", "high": "🟠 важно"}
TYPES = {
    "withdrawal": "вывоз товара",
    "reservation_spike": "всплеск резервов",
    "inbound_stopped": "поставки прекратились",
}


def client_label(alert: dict) -> str:
    """«лид 10234 ИП Смирнова», or for a WMS account linked to no lead «Селлер 3 (WMS W00003, не привязан к лиду
    Битрикс24)»."""
    wms_id = provisional_wms_id(alert["client_id"])
    if wms_id:
        return f"{alert.get('title') or wms_id} (WMS {wms_id}, не привязан к лиду Битрикс24)"
    return f"лид {alert['client_id']} {alert.get('title') or ''}".rstrip()


def render_alert(alert: dict) -> str:
    figures = json.loads(alert["figures"]) if isinstance(alert["figures"], str) else alert["figures"]
    lines = [
        f"⚠️ <b>Риск ухода: {escape(client_label(alert))}</b>",
        f"{SEVERITY.get(alert['severity'], alert['severity'])} · "
        f"{escape(TYPES.get(alert['alert_type'], alert['alert_type']))} · неделя до {alert['week_end']:%d.%m.%Y}",
        escape(alert["message"]),
        "Куратор: " + escape(alert.get("curator_name") or "не назначен"),
        "Цифры: " + escape(", ".join(f"{k}={v}" for k, v in figures.items())),
    ]
    if alert["evidence_refs"]:
        lines.append("Записи: " + escape(", ".join(alert["evidence_refs"])))
    return "\n".join(lines)


@dg.asset(
    group_name="alerts",
    deps=[dg.AssetKey("fct_client_alerts"), dg.AssetKey("dim_clients")],
    pool="duckdb_write",  # only reads the warehouse, but a reading process locks the writer out
    kinds={"telegram"},
    description=(
        "Рассылка тревог об уходе клиентов в Telegram-группу C360_ALERT_CHAT_ID: каждая тревога (одно и то же "
        "условие) уходит один раз — повторно только когда условие прошло и вернулось или стало серьёзнее; "
        "в сообщении цифры склада, записи-доказательства и куратор."
    ),
)
def client_alert_delivery(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    telegram: TelegramBotResource,
    app_db: AppDBResource,
) -> dg.MaterializeResult:
    since = get_settings().today() - timedelta(days=14)  # only what is current: weeks ended since
    with warehouse.connect(read_only=True) as con:
        alerts = fetch_dicts(
            con,
            """
            select a.*, d.curator_name, d.title
            from marts.fct_client_alerts as a left join marts.dim_clients as d using (client_id)
            where a.week_end >= ?
            qualify row_number() over (partition by a.dedupe_key order by a.week desc) = 1  -- latest figures
            order by a.week_end, a.client_id, a.alert_type
            """,
            [since],
        )
    if not telegram.alerts_configured():
        return dg.MaterializeResult(
            metadata={"тревог": len(alerts), "отправлено": "нет: не заданы TELEGRAM_BOT_TOKEN / C360_ALERT_CHAT_ID"}
        )
    bot, db = telegram.bot(), app_db.db()
    sent, already, unconfirmed = 0, 0, []
    chat = telegram.alert_chat()
    try:
        for alert in alerts:
            # sent while the client was a WMS account linked to no lead: the same episode, not news
            if any(db.report_status(f"alert:{key}", chat.chat_id) for key in alert.get("earlier_keys") or []):
                already += 1
                continue
            delivery = deliver_report(bot, db, chat, f"alert:{alert['dedupe_key']}", render_alert(alert))
            sent += delivery.parts_sent_now > 0
            already += delivery.already_sent
            if delivery.unconfirmed_parts:
                unconfirmed.append(alert["dedupe_key"])
    finally:
        bot.close()
        db.dispose()
    return dg.MaterializeResult(
        metadata={
            "текущих тревог": len(alerts),
            "отправлено новых": sent,
            "уже были отправлены": already,
            # the answer was lost after sending: not resent, so as never to show twice
            "не подтверждены (возможно, не дошли)": ", ".join(unconfirmed) or "нет",
        }
    )
