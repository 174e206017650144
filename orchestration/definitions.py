"""The one Definitions object of the client360 code location (and `build_defs` for other resources: the demo)."""

import gc

import dagster as dg
from dotenv import load_dotenv

from assets.alerts.assets import client_alert_delivery
from assets.bitrix24.assets import bitrix_assets
from assets.checks import source_freshness
from assets.enrichment.assets import interaction_signals
from assets.enrichment.profile import client_profile
from assets.identity.assets import client_identity
from assets.meetings.assets import meeting_assets
from assets.notes.assets import staff_notes
from assets.rag.assets import rag_index
from assets.reports.assets import daily_curator_report
from assets.serving import serving_snapshot
from assets.telegram.assets import telegram_assets
from assets.wms.assets import wms_assets
from config.settings import get_settings
from connectors.redact import install as install_redaction
from orchestration.dbt import side_tables, warehouse_models
from orchestration.jobs import (
    backup_job,
    bitrix_pull_job,
    bitrix_summary_job,
    daily_report_job,
    meeting_pipeline_job,
    notes_job,
    telegram_export_job,
    telegram_pull_job,
    telegram_summary_job,
    unmatched_recordings_job,
    warehouse_job,
    wms_pull_job,
)
from orchestration.launcher import heartbeat_executor
from orchestration.resources import all_resources
from orchestration.schedules import (
    backup_schedule,
    bitrix_pull_schedule,
    bitrix_summary_schedule,
    daily_report_schedule,
    telegram_pull_schedule,
    telegram_summary_schedule,
    warehouse_schedule,
    wms_pull_schedule,
)
from orchestration.sensors import (
    new_recordings_sensor,
    notes_sensor,
    run_failure_notice,
    telegram_exports_sensor,
)

# every process that loads the code location (code server, run workers) logs and reports no secret
install_redaction(get_settings)
# `.env` into the environment (as `dagster dev` does), so its secrets are EnvVars in the resources, not values
load_dotenv(".env", override=False)


def build_defs(resources: dict[str, dg.ConfigurableResource] | None = None) -> dg.Definitions:
    """The definitions with these resources (all_resources(settings)); by default the environment's settings."""
    return dg.Definitions(
        assets=[
            *meeting_assets,
            *telegram_assets,
            *bitrix_assets,
            *wms_assets,
            warehouse_models,
            *side_tables,
            client_identity,
            interaction_signals,
            client_profile,
            rag_index,
            staff_notes,
            serving_snapshot,
            client_alert_delivery,
            daily_curator_report,
        ],
        asset_checks=[source_freshness],
        jobs=[
            backup_job,
            bitrix_pull_job,
            bitrix_summary_job,
            meeting_pipeline_job,
            notes_job,
            unmatched_recordings_job,
            warehouse_job,
            wms_pull_job,
            daily_report_job,
            telegram_export_job,
            telegram_pull_job,
            telegram_summary_job,
        ],
        sensors=[new_recordings_sensor, telegram_exports_sensor, run_failure_notice, notes_sensor],
        schedules=[
            backup_schedule,
            daily_report_schedule,
            telegram_pull_schedule,
            telegram_summary_schedule,
            bitrix_pull_schedule,
            bitrix_summary_schedule,
            wms_pull_schedule,
            warehouse_schedule,
        ],
        resources=all_resources() if resources is None else resources,
        # every step is in the duckdb_write pool (limit 1), so the steps of a run never run in parallel anyway; a
        # process per step (the multiprocess default) would only add an interpreter and a load of this module per step
        # while the step already holds the pool's one slot (20-70 s per step on 2 busy cores, for <1 s of work)
        # (and it beats for the run, so run monitoring tells a run whose process died: orchestration/launcher.py)
        executor=heartbeat_executor,
    )


defs = build_defs()

# What loading created (~250k objects: Dagster, dbt, the definitions) lives as long as the process: left out of the
# cyclic GC, no collection walks it again, and exiting no longer costs ~1 s of collections at shutdown in every run
# worker, step process and CLI call that loaded the code location.
gc.freeze()
