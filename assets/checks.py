"""Freshness of each source, as the data owner sees it in the Dagster UI: how old the newest record is.

Measured on the records' own time (newest message, call, shipment, snapshot, meeting), not on when a pull last
ran: a pull that runs but brings nothing for days is exactly what should show up here. A source with no data at
all is reported as not connected yet, not as stale; so is one whose staging view the warehouse build has not made yet.
"""

from datetime import timedelta

import dagster as dg

from assets.resources import WarehouseResource

# asset key → (staging view, time column (UTC unless noted), the age after which it is stale, what it is in Russian)
SOURCES = {
    "telegram_messages": ("stg_telegram__messages", "sent_at", timedelta(days=2), "сообщение в Telegram"),
    "bitrix_activities": (
        "stg_bitrix24__activities",
        "started_at",
        timedelta(days=3),
        "звонок или письмо в Битрикс24",
    ),
    "wms_orders": ("stg_wms__orders", "created_at", timedelta(days=2), "отгрузка в WMS"),
    "wms_stock": (
        "stg_wms__stock",
        "cast(snapshot_date as timestamp) + interval 1 day",
        timedelta(days=2),
        "снимок остатков WMS (местная дата)",
    ),
    "meeting_summaries": ("stg_meetings__summaries", "summarized_at", timedelta(days=14), "резюме встречи"),
}


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec("source_freshness", asset=key, description=f"Самая свежая запись: {what} не старше {age}")
        for key, (_, _, age, what) in SOURCES.items()
    ],
    pool="duckdb_write",  # only reads the warehouse, but a reading process locks the writer out
    can_subset=True,  # a pull job runs the check of its own source right after the pull
)
def source_freshness(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    """Свежесть каждого источника: насколько старая самая новая запись."""
    from config.clock import as_utc
    from config.settings import get_settings

    now = as_utc(get_settings().now())  # the records' time is business time: «today»
    with warehouse.connect(read_only=True) as con:
        views = con.execute("select view_name from duckdb_views() where schema_name = 'staging'").fetchall()
        built = {v for (v,) in views}
        for key, (view, column, max_age, what) in SOURCES.items():
            if dg.AssetCheckKey(dg.AssetKey(key), "source_freshness") not in context.selected_asset_check_keys:
                continue
            newest, rows = (
                con.execute(f"select max({column}), count(*) from staging.{view}").fetchone()
                if view in built
                else (None, 0)
            )
            if not rows:
                yield dg.AssetCheckResult(
                    asset_key=key,
                    check_name="source_freshness",
                    passed=True,
                    description="Источник ещё не подключён: данных нет.",
                    metadata={"записей": 0},
                )
                continue
            age = now - newest
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name="source_freshness",
                passed=age <= max_age,
                severity=dg.AssetCheckSeverity.WARN,
                description=None if age <= max_age else f"Нет новых данных: последнее — {what} от {newest:%d.%m.%Y}",
                metadata={
                    "последняя запись (UTC)": newest.isoformat(sep=" ", timespec="minutes"),
                    "возраст, ч": round(age.total_seconds() / 3600, 1),
                    "допустимо, ч": max_age.total_seconds() / 3600,
                    "записей": rows,
                },
            )
