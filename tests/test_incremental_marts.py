"""Incremental marts: a build that adds newly loaded rows ends exactly where a full rebuild of the same raw data
ends; remapping a client's data triggers the full rebuild by itself."""

import json
from datetime import datetime, timedelta

import dagster as dg
import pytest

from devkit.wms_sim import WmsWorld
from orchestration.dbt import dbt_resource, warehouse_models
from tests.conftest import pull_wms_world
from warehouse.duck import connect, fetch_dicts, upsert

MARTS = {
    "intermediate.int_wms_daily": "client_id, day",
    "intermediate.int_wms_weekly": "client_id, week",
    "marts.fct_client_daily_activity": "client_id, day",
    "marts.fct_client_timeline": "event_id",
    "marts.churn_features": "client_id, week",
    "marts.client_health": "client_id",
    "marts.fct_client_alerts": "client_id, week, alert_type",
}
HELD_DAYS = 10
WMS = ["wms_orders", "wms_receipts", "wms_reservations"]


def build(instance, full=False):
    config = {"ops": {"warehouse_models": {"config": {"full_refresh": full}}}}
    result = dg.materialize([warehouse_models], resources={"dbt": dbt_resource()}, instance=instance, run_config=config)
    assert result.success
    logs = [e.message for e in instance.all_logs(result.run_id) if e.message]
    return any("Полная пересборка" in m for m in logs)


def snapshot(settings):
    with connect(settings.warehouse_path, read_only=True) as con:
        # loaded_at is bookkeeping: an incremental run stamps every row it rebuilt with the batch's stamp
        rows = {t: fetch_dicts(con, f"select * from {t} order by {key}") for t, key in MARTS.items()}
    return {t: [{k: v for k, v in r.items() if k != "loaded_at"} for r in rs] for t, rs in rows.items()}


def signal(
    client_id: str, when: datetime, promise: str | None = None, sentiment: float = -0.6, intent: str | None = None
) -> dict:
    return {
        "ref": f"telegram_day:{client_id}:{when:%Y-%m-%d}",
        "client_id": client_id,
        "source": "telegram",
        "occurred_at": when,
        "content_hash": f"h{when:%j}{client_id}",
        "sentiment": sentiment,
        "tone": "негативный",
        "complaint": True,
        "conflict": False,
        "blockers": "[]",
        "promises": json.dumps([{"what": promise, "due": None}] if promise else [], ensure_ascii=False),
        "leaving_intent": json.dumps([intent] if intent else [], ensure_ascii=False),
    }


@pytest.fixture
def held_back_world(env, instance, monkeypatch):
    """A WMS world pulled in full, with its last days held back from raw (to be 'loaded' later)."""
    world = WmsWorld(clients=10, days=240, seed=3)
    pull_wms_world(env, instance, monkeypatch, world)
    with connect(env.warehouse_path) as con:
        cut = con.execute("select max(created_at) from raw.wms_orders").fetchone()[0] - timedelta(days=HELD_DAYS)
        for t in WMS:
            con.execute(f"create table main.held_{t} as select * from raw.{t} where created_at > ?", [cut])
            con.execute(f"delete from raw.{t} where created_at > ?", [cut])
        con.execute("create table main.held_wms_stock as select * from raw.wms_stock where snapshot_date > ?", [cut])
        con.execute("delete from raw.wms_stock where snapshot_date > ?", [cut])
        lead = world.clients[0].lead_id
        early = cut - timedelta(days=60)
        upsert(
            con,
            "raw.interaction_signals",
            [signal(lead, early - timedelta(days=7 * i), sentiment=0.5) for i in range(10)]
            + [signal(world.clients[1].lead_id, early, intent="Думаем о переезде к другому оператору.")],
        )
    return world, cut


@pytest.mark.calendar
def test_incremental_build_equals_a_full_rebuild(held_back_world, env, instance):
    world, cut = held_back_world
    assert build(instance), "the first build is a full one"
    before = snapshot(env)
    lead = world.clients[0].lead_id
    with connect(env.warehouse_path) as con:
        for t in [*WMS, "wms_stock"]:  # the held-back days arrive, and a correction of an older record
            con.execute(f"insert into raw.{t} by name select * replace (current_timestamp as pulled_at) from held_{t}")
        old = con.execute(
            "select wms_client_id, order_id from raw.wms_orders where created_at between ? and ? "
            "and kind = 'marketplace' order by created_at limit 1",
            [cut - timedelta(days=40), cut - timedelta(days=30)],
        ).fetchone()
        con.execute(
            "update raw.wms_orders set units = units + 7, pulled_at = current_timestamp "
            "where wms_client_id = ? and order_id = ?",
            list(old),
        )
        upsert(
            con,
            "raw.interaction_signals",
            [
                signal(lead, cut + timedelta(days=2), "пришлём акт сверки"),
                signal(lead, cut + timedelta(days=3), intent="Конкурент зовёт нас на тест."),
            ],
        )
    assert not build(instance), "new rows are added incrementally"
    incremental = snapshot(env)
    assert incremental != before
    assert len(incremental["marts.fct_client_daily_activity"]) > len(before["marts.fct_client_daily_activity"])
    said = {a["client_id"] for a in incremental["marts.fct_client_alerts"] if a["alert_type"] == "intent_to_leave"}
    assert said == {lead, world.clients[1].lead_id}, "words about leaving said before and after the cut both alert"

    assert build(instance, full=True)
    full = snapshot(env)
    for table in MARTS:
        assert incremental[table] == full[table], table


def test_remapping_a_client_rebuilds_in_full(held_back_world, env, instance):
    world, _ = held_back_world
    assert build(instance)
    assert not build(instance), "nothing changed: incremental"
    moved = world.clients[1]
    with connect(env.warehouse_path) as con:
        con.execute("update raw.wms_clients set client_id = '99999' where wms_client_id = ?", [moved.wms_id])
    assert build(instance), "a remapped WMS account rebuilds the marts"
    with connect(env.warehouse_path, read_only=True) as con:
        owners = {
            r[0] for r in con.execute("select distinct client_id from marts.fct_client_daily_activity").fetchall()
        }
    assert "99999" in owners and moved.lead_id not in owners
