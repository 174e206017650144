"""Churn alerts → the alert chat: one message per client and run with all its new conditions, each condition once
(ledger in the app DB), in sentences a person reads: the figures, the evidence as dated lines, the step to take and
who owns it, a link to the card."""

import hashlib
from datetime import date, timedelta
from urllib.parse import urlencode

import dagster as dg

from assets.resources import AppDBResource, TelegramBotResource, WarehouseResource
from config.delivery import deliver_report
from config.settings import get_settings
from connectors.telegram_bot import escape
from warehouse import alerts as words
from warehouse.aliases import client_name, provisional_wms_id
from warehouse.duck import fetch_dicts


def curator_line(alert: dict) -> str:
    if alert.get("curator_name"):
        return f"Куратор: {alert['curator_name']}"
    if provisional_wms_id(alert["client_id"]):
        return "Куратор не назначен — привяжите клиента к лиду Битрикс24 (у администратора в приложении)"
    return "Куратор не назначен — назначьте ответственного в лиде Битрикс24"


def render_client_alerts(alerts: list[dict], today: date, app_url: str) -> str:
    """One client's new alerts as one message (HTML for the Bot API; every outside value escaped)."""
    first = alerts[0]
    name = client_name(first.get("title"), first["client_id"])
    lines = [f"⚠️ <b>Риск ухода: {escape(name)}</b>", escape(curator_line(first))]
    for alert in words.in_order(alerts):
        lines += [
            "",
            f"{words.SEVERITY_MARK.get(alert['severity'], '⚠️')} <b>{escape(words.headline(alert, today))}</b>",
        ]
        lines.append(escape(words.sentence(alert)))
        lines += [f"• {escape(line)}" for line in words.evidence_lines(alert)]
        if todo := words.step(alert, first.get("curator_name"), today, from_today=True):
            lines.append(f"<b>Что сделать:</b> {escape(todo)}")
    link = f"{app_url.rstrip('/')}/?{urlencode({'lead': first['client_id']})}"
    lines += ["", f'<a href="{escape(link)}">Открыть карточку клиента</a>']
    return "\n".join(lines)


def message_key(client_id: str, dedupe_keys: list[str]) -> str:
    """The same client and set of new conditions → the same key: a retried run finds its message in the ledger."""
    digest = hashlib.sha256("\n".join(sorted(dedupe_keys)).encode()).hexdigest()[:16]
    return f"alerts:{client_id}:{digest}"


@dg.asset(
    group_name="alerts",
    deps=[dg.AssetKey("fct_client_alerts"), dg.AssetKey("dim_clients")],
    pool="duckdb_write",  # only reads the warehouse, but a reading process locks the writer out
    kinds={"telegram"},
    description=(
        "Рассылка тревог об уходе клиентов в Telegram-группу C360_ALERT_CHAT_ID: одно сообщение на клиента за "
        "запуск со всеми его новыми тревогами; каждая тревога (одно и то же условие) уходит один раз — повторно "
        "только когда условие прошло и вернулось или стало серьёзнее; в сообщении цифры склада словами, "
        "записи-доказательства с датами, что сделать и кто отвечает, ссылка на карточку."
    ),
)
def client_alert_delivery(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    telegram: TelegramBotResource,
    app_db: AppDBResource,
) -> dg.MaterializeResult:
    settings = get_settings()
    since = settings.today() - timedelta(days=words.OPEN_DAYS)  # only what is current: weeks ended since
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
    sent, messages, already, unconfirmed = 0, 0, 0, []
    chat = telegram.alert_chat()
    try:
        new: dict[str, list[dict]] = {}
        for alert in alerts:
            keys = [alert["dedupe_key"], *(alert.get("earlier_keys") or [])]  # earlier: sent while a WMS account
            if any((st := db.report_status(f"alert:{key}", chat.chat_id)) and st["completed_at"] for key in keys):
                already += 1
            else:
                new.setdefault(alert["client_id"], []).append(alert)
        for client_id, fresh in new.items():
            keys = [a["dedupe_key"] for a in fresh]
            delivery = deliver_report(
                bot,
                db,
                chat,
                message_key(client_id, keys),
                render_client_alerts(fresh, settings.today(), settings.app_url),
                covers=[f"alert:{key}" for key in keys],
            )
            if delivery.parts_sent_now:
                sent, messages = sent + len(fresh), messages + 1
            already += len(fresh) * delivery.already_sent
            if delivery.unconfirmed_parts:
                unconfirmed.append(client_name(fresh[0].get("title"), client_id))
    finally:
        bot.close()
        db.dispose()
    return dg.MaterializeResult(
        metadata={
            "текущих тревог": len(alerts),
            "отправлено новых": sent,
            "сообщений (по одному на клиента)": messages,
            "уже были отправлены": already,
            # the answer was lost after sending: not resent, so as never to show twice
            "не подтверждены (возможно, не дошли)": ", ".join(unconfirmed) or "нет",
        }
    )
