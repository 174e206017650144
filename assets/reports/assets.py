"""The daily curator report asset (one partition per day, sent to the report chat once)."""

import dagster as dg

from assets.partitions import daily_partitions
from assets.reports.curator_report import day_report, report_key
from assets.resources import AppDBResource, TelegramBotResource, WarehouseResource
from config.delivery import deliver_report


@dg.asset(
    partitions_def=daily_partitions,
    group_name="reports",
    deps=[
        dg.AssetKey(key)
        for key in (
            "stg_meetings__summaries",
            "stg_telegram__daily_summaries",
            "stg_bitrix24__activity_summaries",
            "stg_bitrix24__activities",
        )
    ],
    pool="duckdb_write",  # only reads the warehouse, but a reading process locks the writer out
    kinds={"telegram"},
    description=(
        "Ежедневный отчёт кураторам: все встречи за день по клиентам с резюме и короткая сводка переписки в чатах. "
        "Отправляется в Telegram-группу "
        "C360_REPORT_CHAT_ID один раз (журнал отправок в базе приложения), длинный отчёт делится на сообщения."
    ),
)
def daily_curator_report(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    telegram: TelegramBotResource,
    app_db: AppDBResource,
) -> dg.MaterializeResult:
    day = context.partition_time_window.start.date()
    with warehouse.connect(read_only=True) as con:
        report = day_report(con, day)
    html = report.html
    metadata = {
        "день": day.isoformat(),
        "встреч": len(report.meetings),
        "клиентов": len({x["client_id"] for x in [*report.meetings, *report.chats, *report.activities]}),
        "клиентов с перепиской": len(report.chats),
        "звонков и цепочек писем": len(report.activities),
        "отчёт": dg.MetadataValue.md(html),
    }
    if not telegram.configured():
        context.log.warning("Отчёт не отправлен: не заданы TELEGRAM_BOT_TOKEN и/или C360_REPORT_CHAT_ID")
        return dg.MaterializeResult(metadata={**metadata, "отправлен": "нет: Telegram не настроен"})
    bot = telegram.bot()
    db = app_db.db()
    try:
        delivery = deliver_report(bot, db, telegram.report_chat(), report_key(day), html)
    finally:
        bot.close()
        db.dispose()
    if delivery.unconfirmed_parts:
        context.log.warning(
            f"Отчёт за {day:%d.%m.%Y}: части {delivery.unconfirmed_parts} могли не дойти (связь оборвалась после "
            "отправки) и повторно не отправлены, чтобы не было дублей — проверьте группу"
        )
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "отправлен": "ранее (повтор не нужен)" if delivery.already_sent else "да",
            "сообщений в отчёте": delivery.parts_total,
            "отправлено сейчас": delivery.parts_sent_now,
            "не подтверждены (возможно, не дошли)": ", ".join(map(str, delivery.unconfirmed_parts)) or "нет",
        }
    )
