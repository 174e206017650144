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
from warehouse.dagster_runs import JOBS  # the descriptions: the admin page shows them too

meeting_pipeline_job = dg.define_asset_job(
    "meeting_pipeline_job",
    selection=[meeting_recordings, meeting_transcripts, meeting_summaries],
    partitions_def=recordings_partitions,
    description=JOBS["meeting_pipeline_job"],
)

unmatched_recordings_job = dg.define_asset_job(
    "unmatched_recordings_job",
    selection=[meeting_unmatched_files],
    description=JOBS["unmatched_recordings_job"],
)

daily_report_job = dg.define_asset_job(
    "daily_report_job",
    selection=[daily_curator_report],
    partitions_def=daily_partitions,
    description=JOBS["daily_report_job"],
)

telegram_export_job = dg.define_asset_job(
    "telegram_export_job",
    selection=[telegram_exports],
    description=JOBS["telegram_export_job"],
)

telegram_pull_job = dg.define_asset_job(
    "telegram_pull_job",
    selection=[telegram_messages],
    description=JOBS["telegram_pull_job"],
)

telegram_summary_job = dg.define_asset_job(
    "telegram_summary_job",
    selection=[telegram_daily_summaries],
    partitions_def=daily_partitions,
    description=JOBS["telegram_summary_job"],
)

bitrix_pull_job = dg.define_asset_job(
    "bitrix_pull_job",
    selection=[bitrix_clients, bitrix_activities, bitrix_call_transcripts],
    description=JOBS["bitrix_pull_job"],
)

bitrix_summary_job = dg.define_asset_job(
    "bitrix_summary_job",
    selection=[bitrix_activity_summaries],
    partitions_def=daily_partitions,
    description=JOBS["bitrix_summary_job"],
)

wms_pull_job = dg.define_asset_job(
    "wms_pull_job",
    selection=wms_assets,
    description=JOBS["wms_pull_job"],
)

warehouse_job = dg.define_asset_job(
    "warehouse_job",
    selection=dg.AssetSelection.groups(
        "enrichment", "identity", "dbt_staging", "dbt_intermediate", "dbt_marts", "alerts", "rag", "app"
    )
    | dg.AssetSelection.checks(source_freshness),
    description=JOBS["warehouse_job"],
)


notes_job = dg.define_asset_job(
    "notes_job",
    selection=dg.AssetSelection.assets(staff_notes)
    | dg.AssetSelection.groups("dbt_staging", "dbt_intermediate", "dbt_marts")
    | dg.AssetSelection.assets(rag_index, serving_snapshot),
    description=JOBS["notes_job"],
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


@dg.job(description=JOBS["backup_job"])
def backup_job():
    backup()
