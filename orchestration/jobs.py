"""Jobs: what sensors and schedules launch."""

import json

import dagster as dg

from assets.bitrix24.assets import bitrix_activities, bitrix_activity_summaries, bitrix_call_transcripts, bitrix_clients
from assets.checks import source_freshness
from assets.meetings.assets import (
    meeting_recordings,
    meeting_summaries,
    meeting_transcripts,
    meeting_unmatched_files,
    recordings_partitions,
)
from assets.notes.assets import staff_notes
from assets.partitions import daily_partitions
from assets.rag.assets import rag_index
from assets.reports.assets import daily_curator_report
from assets.serving import serving_snapshot
from assets.telegram.assets import telegram_daily_summaries, telegram_exports, telegram_messages
from assets.wms.assets import wms_assets
from config.settings import get_settings
from ops.backup import make_backup, prune

meeting_pipeline_job = dg.define_asset_job(
    "meeting_pipeline_job",
    selection=[meeting_recordings, meeting_transcripts, meeting_summaries],
    partitions_def=recordings_partitions,
    description="Одна запись встречи: регистрация → расшифровка → резюме.",
)

unmatched_recordings_job = dg.define_asset_job(
    "unmatched_recordings_job",
    selection=[meeting_unmatched_files],
    description="Обновляет список записей без ID лида.",
)

daily_report_job = dg.define_asset_job(
    "daily_report_job",
    selection=[daily_curator_report],
    partitions_def=daily_partitions,
    description="Ежедневный отчёт кураторам за прошедший день.",
)

telegram_export_job = dg.define_asset_job(
    "telegram_export_job",
    selection=[telegram_exports],
    description="Импорт одного файла экспорта Telegram Desktop (путь — в настройках запуска).",
)

telegram_pull_job = dg.define_asset_job(
    "telegram_pull_job",
    selection=[telegram_messages],
    description="Загрузка новых сообщений из Telegram-чатов клиентов.",
)

telegram_summary_job = dg.define_asset_job(
    "telegram_summary_job",
    selection=[telegram_daily_summaries],
    partitions_def=daily_partitions,
    description="Сводки переписки с клиентами за день.",
)

bitrix_pull_job = dg.define_asset_job(
    "bitrix_pull_job",
    selection=[bitrix_clients, bitrix_activities, bitrix_call_transcripts],
    description="Клиенты, звонки и письма из Битрикс24 (только изменения) и расшифровки записей звонков.",
)

bitrix_summary_job = dg.define_asset_job(
    "bitrix_summary_job",
    selection=[bitrix_activity_summaries],
    partitions_def=daily_partitions,
    description="Резюме звонков и переписки по почте за день.",
)

wms_pull_job = dg.define_asset_job(
    "wms_pull_job",
    selection=wms_assets,
    description="Клиенты, остатки, отгрузки, поставки и резервы из WMS (только новое и изменённое).",
)

warehouse_job = dg.define_asset_job(
    "warehouse_job",
    selection=dg.AssetSelection.groups(
        "enrichment", "identity", "dbt_staging", "dbt_intermediate", "dbt_marts", "alerts", "rag", "app"
    )
    | dg.AssetSelection.checks(source_freshness),
    description=(
        "Сигналы общения и профиль клиента, сопоставление клиентов WMS с лидами, "
        "модели хранилища (история клиента, здоровье, тревоги), рассылка новых "
        "тревог, поисковый индекс для чата и проверка свежести источников."
    ),
)


notes_job = dg.define_asset_job(
    "notes_job",
    selection=dg.AssetSelection.assets(staff_notes)
    | dg.AssetSelection.groups("dbt_staging", "dbt_intermediate", "dbt_marts")
    | dg.AssetSelection.assets(rag_index, serving_snapshot),
    description="Новые и изменённые заметки кураторов: в хранилище, в историю клиента и в поиск для чата.",
)


@dg.op(
    pool="duckdb_write",
    description="Резервная копия: хранилище, индекс, база приложения, кэш модели, привязки, базы PostgreSQL.",
)
def backup(context: dg.OpExecutionContext) -> None:
    settings = get_settings()
    root = settings.backup_dir
    folder = make_backup(settings, root)
    removed = prune(root, settings.backup_keep_days)
    manifest = json.loads((folder / "manifest.json").read_text())
    size = sum(manifest["files"].values())
    context.log.info(f"Резервная копия {folder}: {len(manifest['files'])} частей, {size / 2**20:.1f} МБ")
    for old in removed:
        context.log.info(f"Удалена старая копия {old.name}")


@dg.job(description="Резервная копия всех данных в C360_BACKUP_DIR; хранятся последние C360_BACKUP_KEEP_DAYS дней.")
def backup_job():
    backup()
