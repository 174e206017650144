"""The code location loads as the Dagster UI loads it, and the report schedule targets the previous day."""

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from orchestration.dbt import dbt_project, warehouse_models
from orchestration.definitions import defs

ROOT = Path(__file__).resolve().parent.parent


def test_workspace_loads_with_dagster_cli(tmp_path):
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", str(ROOT / "workspace.yaml")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        env={"PATH": str(Path(sys.executable).parent), "DAGSTER_HOME": str(tmp_path), "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


def test_daily_report_schedule_runs_at_nine_for_yesterday():
    schedule = defs.resolve_schedule_def("daily_report_schedule")
    assert schedule.cron_schedule == "0 9 * * *" and schedule.execution_timezone == "Europe/Moscow"
    when = datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo("Europe/Moscow"))
    with dg.build_schedule_context(scheduled_execution_time=when) as context:
        [request] = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-11-24"


# Steps that may run outside the warehouse writers' pool: ones that open neither the DuckDB warehouse (not even
# read-only: a reading process and the writer lock each other out) nor the LanceDB index, e.g. a step that only
# calls an external system. None today; add a step here with the reason it touches no local store.
OUTSIDE_THE_WRITERS_POOL: dict[str, str] = {}


def test_every_step_that_opens_the_warehouse_or_the_index_is_in_the_writers_pool():
    """Every op of every job (assets, asset checks, plain ops) takes pool duckdb_write, so two runs never
    collide on the DuckDB file; a new asset without the pool fails here unless it is listed above with a reason."""
    steps: dict[str, str | None] = {}
    for job in defs.resolve_all_job_defs():
        for node in job.graph.iterate_node_defs():
            if isinstance(node, dg.OpDefinition):
                steps[node.name] = node.pool
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        if graph.get(key).is_executable:  # every materializable asset is a step of some job
            assert graph.get(key).assets_def.node_def.name in steps, key
    assert {"meeting_transcripts", "warehouse_models", "wms_stock", "source_freshness", "backup"} <= set(steps)

    outside = sorted(name for name, pool in steps.items() if pool != "duckdb_write")
    assert outside == sorted(OUTSIDE_THE_WRITERS_POOL), f"steps without pool='duckdb_write': {outside}"


def test_every_dbt_source_is_the_asset_that_writes_it():
    """Lineage runs from the Python assets through dbt: each source table names its writer in the sources YAML
    (meta.dagster.asset_key), an asset of the code location; none falls back to dagster-dbt's [source, table]."""
    manifest = json.loads(dbt_project.manifest_path.read_text())
    written = {a.key for a in defs.assets if isinstance(a, dg.AssetSpec)}
    written |= {
        k for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a is not warehouse_models for k in a.keys
    }
    for source in manifest["sources"].values():
        key = source["config"]["meta"].get("dagster", {}).get("asset_key")
        assert key and dg.AssetKey(key) in written, (source["name"], key)
    deps = {k for keys in warehouse_models.asset_deps.values() for k in keys}
    assert {
        dg.AssetKey("bitrix_clients"),
        dg.AssetKey(["raw", "telegram_chats"]),
        dg.AssetKey("client_profile"),
    } <= deps
