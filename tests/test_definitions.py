"""The code location loads as the Dagster UI loads it, and the report schedule targets the previous day."""

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from orchestration.dbt import dbt_project, warehouse_models
from orchestration.definitions import build_defs, defs

ROOT = Path(__file__).resolve().parent.parent


SECRETS = {
    "ZHIPUAI_API_KEY": "zk-secret-0xC0FFEE",
    "TELEGRAM_BOT_TOKEN": "123456:bot-secret-token",
    "TELEGRAM_API_HASH": "hash-secret-0123456789",
    "TELEGRAM_SESSION": "1BVtsOKABu-session-secret",
    "BITRIX_WEBHOOK_URL": "https://portal.bitrix24.ru/rest/1/hook-secret-42/",
    "C360_WMS_TOKEN": "wms-secret-token",
    "C360_APP_DB_URL": "postgresql+psycopg://staff:Db-Secret-Pass@db:5432/app",
}


def test_resources_show_their_settings_and_only_name_their_secrets(env, monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("C360_LLM_PROVIDER", "glm")
    monkeypatch.setenv("C360_WMS_BASE_URL", "https://wms.example.ru/api")
    monkeypatch.setenv("C360_ALERT_CHAT_ID", "-1007770001")
    monkeypatch.setenv("C360_TELEGRAM_EXPORT_DIR", "/srv/exports")
    monkeypatch.delenv("YANDEX_API_KEY", raising=False)
    resources = build_defs().resources
    # plain settings are shown as they are
    assert resources["llm"].llm_provider == "glm" and resources["llm"].glm_model == env.glm_model
    assert resources["wms"].wms_base_url == "https://wms.example.ru/api"
    assert resources["telegram"].alert_chat_id == "-1007770001"
    assert resources["telegram_exports"].telegram_export_dir == "/srv/exports"
    assert resources["warehouse"].data_dir == str(env.data_dir)
    assert resources["recordings"].recordings_dir == str(env.recordings_dir)
    assert resources["dbt"].warehouse_path == str(env.warehouse_path.resolve())
    # a secret is its variable's name, resolved when a run starts; an unset one is None (an EnvVar would fail it)
    named = {
        ("llm", "zhipuai_api_key"): "ZHIPUAI_API_KEY",
        ("rag", "zhipuai_api_key"): "ZHIPUAI_API_KEY",
        ("telegram", "telegram_bot_token"): "TELEGRAM_BOT_TOKEN",
        ("telegram_user", "telegram_api_hash"): "TELEGRAM_API_HASH",
        ("telegram_user", "telegram_session"): "TELEGRAM_SESSION",
        ("bitrix", "bitrix_webhook_url"): "BITRIX_WEBHOOK_URL",
        ("wms", "wms_token"): "C360_WMS_TOKEN",
        ("app_db", "app_db_url"): "C360_APP_DB_URL",
    }
    for (key, field), name in named.items():
        value = getattr(resources[key], field)
        assert isinstance(value, dg.EnvVar) and value.env_var_name == name, (key, field, value)
    assert resources["stt"].yandex_api_key is None
    # what the Dagster UI shows of each resource (its configured values) holds no secret
    shown = {
        key: json.loads(r.config_schema.default_value_as_json_str)
        for key, r in build_defs().get_repository_def().get_top_level_resources().items()
    }
    assert shown["llm"]["zhipuai_api_key"] == {"env": "ZHIPUAI_API_KEY"} and shown["llm"]["llm_provider"] == "glm"
    text = json.dumps(shown) + json.dumps({k: r.model_dump() for k, r in resources.items()}, default=str)
    assert not [value for value in SECRETS.values() if value in text]


def test_a_secret_given_explicitly_is_used_as_given(env, monkeypatch):
    from orchestration.resources import all_resources

    monkeypatch.delenv("C360_WMS_TOKEN", raising=False)
    wms = all_resources(env.model_copy(update={"wms_base_url": "http://127.0.0.1:1/", "wms_token": "sim-token"}))
    assert wms["wms"].wms_token == "sim-token" and not isinstance(wms["wms"].wms_token, dg.EnvVar)
    assert wms["wms"].settings().wms_token == "sim-token"


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
