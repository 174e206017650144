"""Asset checks the data owner sees: freshness of every source; no orphan client ids in the marts."""

from datetime import UTC, timedelta

import dagster as dg
import pytest

from assets.bitrix24.assets import bitrix_assets
from assets.checks import source_freshness
from assets.meetings.assets import meeting_assets
from assets.telegram.assets import telegram_assets
from assets.wms.assets import wms_assets
from orchestration.resources import all_resources
from tests.conftest import build_views
from warehouse.duck import connect


@pytest.mark.calendar
def test_source_freshness_warns_on_a_stale_source_only(env, instance):
    now = env.now().astimezone(UTC).replace(tzinfo=None)  # «now» of the settings, as the check measures
    with connect(env.warehouse_path) as con:
        con.execute(
            "insert into raw.telegram_messages (chat_id, message_id, sent_at, direction, kind, source) "
            "values (-1001, 1, ?, 'client', 'message', 'telethon')",
            [now - timedelta(days=5)],
        )
        con.execute(
            "insert into raw.wms_orders (wms_client_id, order_id, created_at, units, record_status) "
            "values ('W1', 'o1', ?, 3, 'ok')",
            [now - timedelta(hours=3)],
        )

    def check():
        result = dg.materialize(
            [*meeting_assets, *telegram_assets, *bitrix_assets, *wms_assets, source_freshness],
            selection=dg.AssetSelection.checks(source_freshness),
            resources=all_resources(),
            instance=instance,
        )
        return {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}

    # the check reads the staging views: before the first warehouse build, every source is «not connected yet»
    assert all(c.passed and c.description.startswith("Источник ещё") for c in check().values())
    build_views(instance)
    checks = check()
    assert set(checks) == {"telegram_messages", "bitrix_activities", "wms_orders", "wms_stock", "meeting_summaries"}
    stale = checks["telegram_messages"]
    assert not stale.passed and stale.severity == dg.AssetCheckSeverity.WARN
    assert stale.metadata["возраст, ч"].value > 100 and "Нет новых данных" in stale.description
    assert checks["wms_orders"].passed and checks["wms_orders"].metadata["возраст, ч"].value < 4
    assert checks["bitrix_activities"].passed and checks["bitrix_activities"].description.startswith("Источник ещё")


def test_orphan_client_ids_fail_the_marts_checks(env, instance):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from orchestration.dbt import DBT_DIR, dbt_resource, dbt_vars, warehouse_models

    assert dg.materialize([warehouse_models], resources={"dbt": dbt_resource()}, instance=instance).success
    checks = {k.name for k in warehouse_models.check_keys if k.asset_key.to_user_string() == "fct_client_alerts"}
    assert any(name.startswith("relationships_fct_client_alerts_client_id") for name in checks)
    with connect(env.warehouse_path) as con:
        con.execute("insert into marts.client_health (client_id, score) values ('404', 10)")
    dbt = [
        str(Path(sys.executable).parent / "dbt"),
        "test",
        "--select",
        "client_health",
        "--target-path",
        str(env.data_dir / "target"),
        "--vars",
        json.dumps(dbt_vars(env), ensure_ascii=False),
    ]
    run = subprocess.run(
        dbt,
        cwd=DBT_DIR,
        env={**os.environ, "C360_WAREHOUSE_PATH": str(env.warehouse_path)},
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0
    assert "FAIL 1 relationships_client_health_client_id" in run.stdout
