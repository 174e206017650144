"""The dbt models, run as Dagster assets, over data from every source: timeline, daily activity, client dimension."""

import json
from datetime import datetime, timedelta

import dagster as dg
import pytest

from assets.enrichment.assets import interaction_signals
from assets.enrichment.profile import client_profile
from devkit.wms_sim import WmsSimulator, WmsWorld
from orchestration.dbt import dbt_project, dbt_resource, warehouse_models
from orchestration.definitions import build_defs
from orchestration.run_once import run_once
from tests.conftest import build_views, jibri, query
from tests.fakes.bitrix import FakeBitrix24
from tests.fixtures import bitrix_data as bd
from tests.fixtures import telegram_exports as fx
from tests.test_telegram_export import import_file, tg_env, write  # noqa: F401  (fixture)
from warehouse.aliases import save_alias
from warehouse.duck import connect

RAW_BY_PREFIX = {
    "meeting": ("raw.meeting_recordings", "recording_id"),
    "bitrix": ("raw.bitrix_activities", "cast(activity_id as varchar)"),
}


def build(instance):
    return dg.materialize([warehouse_models], resources={"dbt": dbt_resource()}, instance=instance)


def test_models_build_on_an_empty_warehouse(env, instance):
    result = build(instance)
    assert result.success
    keys = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"fct_client_timeline", "dim_clients", "fct_client_daily_activity", "int_client_events"} <= keys


# raw tables no staging model exposes: bookkeeping, or read only by the asset that writes them
NOT_STAGED = {
    "build_state",
    "bitrix_owner_sync",
    "telegram_unparsed",
    "bitrix_deals",
}
# raw column → its staging name, where staging renames (besides the table's loaded_at_field, which is `loaded_at`)
RENAMED = {
    "bitrix_leads": {
        "lead_id": "client_id",
        "name": "contact_name",
        "assigned_by_id": "curator_id",
        "assigned_by_name": "curator_name",
        "date_create": "created_at",
        "date_modify": "modified_at",
    }
}


def test_every_raw_table_read_has_a_staging_model_with_all_its_columns(env, instance):
    """Python readers move from raw.* to staging: every raw table someone reads is a dbt source, and one staging
    model built on it carries every column it has (under the staging name where staging renames)."""
    assert build(instance).success
    manifest = json.loads(dbt_project.manifest_path.read_text())
    sources = {s["unique_id"]: s for s in manifest["sources"].values()}
    columns = "select table_name, list(column_name) from information_schema.columns where table_schema = ? group by 1"
    with connect(env.warehouse_path, read_only=True) as con:
        raw = {t: set(c) for t, c in con.execute(columns, ["raw"]).fetchall()}
        staging = {t: set(c) for t, c in con.execute(columns, ["staging"]).fetchall()}
    assert sorted({s["name"] for s in sources.values()}) == sorted(set(raw) - NOT_STAGED)
    for uid, source in sources.items():
        table = source["name"]
        renamed = {**RENAMED.get(table, {}), source.get("loaded_at_field"): "loaded_at"}
        wanted = {renamed.get(c, c) for c in raw[table]}
        models = [n["name"] for n in manifest["nodes"].values() if uid in n.get("depends_on", {}).get("nodes", [])]
        staged = [m for m in models if m.startswith("stg_")]
        assert any(wanted <= staging[m] for m in staged), (table, {m: sorted(wanted - staging[m]) for m in staged})


@pytest.fixture
def all_sources(tg_env, recordings, instance, tmp_path, monkeypatch):  # noqa: F811
    """Client 12345 in every source: a meeting, a Telegram chat, Bitrix24 calls/mail, a WMS account."""
    jibri(recordings, "m1", "12345", datetime(2026, 11, 24, 10, 30, 0))
    assert run_once(build_defs(), instance, tg_env, log=lambda *_: None).failed == []
    import_file(instance, write(tmp_path / "e" / "result.json", fx.single_chat_export()))
    from assets.bitrix24.assets import bitrix_activities, bitrix_clients
    from assets.wms.assets import wms_assets
    from orchestration.resources import all_resources

    with FakeBitrix24() as bitrix:
        monkeypatch.setenv("BITRIX_WEBHOOK_URL", bitrix.webhook_url)
        monkeypatch.setenv("C360_BITRIX_RATE", "100")
        bitrix.users = {1: {"ID": "1", "NAME": "Анна", "LAST_NAME": "Соколова"}}
        bd.add_lead(bitrix, 12345)
        when = datetime(2026, 11, 24, 15, 0, tzinfo=bd.MSK)
        bitrix.activities = {1: bd.call(1, 1, 12345, when), 2: bd.email(2, 1, 12345, when)}
        assert dg.materialize([bitrix_clients, bitrix_activities], resources=all_resources(), instance=instance).success
    world = WmsWorld(clients=3, days=60, seed=5)
    save_alias(tg_env.resolved_aliases_file, "wms_client", world.clients[0].wms_id, "12345")
    with WmsSimulator(world) as sim:
        monkeypatch.setenv("C360_WMS_BASE_URL", sim.url)
        monkeypatch.setenv("C360_WMS_TOKEN", sim.token)
        assert dg.materialize(wms_assets, resources=all_resources(), instance=instance).success
    build_views(instance)
    enrichment = [interaction_signals, client_profile]
    assert dg.materialize(enrichment, resources=all_resources(), instance=instance).success
    assert build(instance).success
    return world, tg_env


def test_timeline_has_every_source_with_refs_that_exist(all_sources):
    _, settings = all_sources
    events = query(settings, "select * from marts.fct_client_timeline where client_id = '12345' order by occurred_at")
    assert {e["source"] for e in events} == {"meetings", "bitrix", "wms"}, "chat days come once summarized"
    for e in events:
        prefix, _, key = e["ref"].partition(":")
        if prefix in RAW_BY_PREFIX:
            table, column = RAW_BY_PREFIX[prefix]
            assert query(settings, f"select 1 from {table} where {column} = ?", [key]), e["ref"]
    meeting = next(e for e in events if e["source"] == "meetings")
    assert meeting["occurred_at"] == datetime(2026, 11, 24, 10, 30) and "пересорт" in meeting["summary"]
    call = next(e for e in events if e["kind"] == "звонок")
    assert call["occurred_at"] == datetime(2026, 11, 24, 15, 0), "Bitrix UTC shown in Moscow time"


def test_daily_activity_and_client_dimension(all_sources):
    world, settings = all_sources
    [day] = query(
        settings, "select * from marts.fct_client_daily_activity where client_id = '12345' and day = '2026-11-24'"
    )
    assert (day["messages_in"], day["messages_out"], day["meetings"], day["calls"], day["emails"]) == (7, 1, 1, 1, 1)
    outbound = sum(o["units"] for o in world.clients[0].orders if o["kind"] in ("marketplace", "fbs"))
    total = query(
        settings, "select sum(outbound_units) n from marts.fct_client_daily_activity where client_id = '12345'"
    )
    assert total[0]["n"] == outbound
    [client] = query(settings, "select * from marts.dim_clients where client_id = '12345'")
    assert client["curator_name"] == "Анна Соколова" and client["telegram_chats"] == 1
    assert client["wms_client_ids"] == world.clients[0].wms_id and "Ozon" in client["marketplaces"]


def test_a_call_summarised_again_on_another_day_is_one_event(all_sources, instance):
    """A call moved in Bitrix24 after its summary (START_TIME edited) is summarised again under its new day: the
    history keeps one event for it, with the latest summary (two broke the timeline's unique key and the build)."""
    _, settings = all_sources
    with connect(settings.warehouse_path) as con:
        later = datetime.now() + timedelta(minutes=1)  # summarised after what the marts hold
        for n, (day, text) in enumerate((("2026-11-24", "Обсудили отгрузку"), ("2026-11-25", "Перенесли: тариф"))):
            con.execute(
                "insert or replace into raw.bitrix_activity_summaries (summary_key, day, client_id, kind, "
                "activity_ids, title, summary, summary_text, summarized_at) values ('call:1', ?, '12345', 'call', "
                "'[1]', 'Звонок', '{}', ?, ?)",
                [day, text, later + timedelta(minutes=n)],
            )
    assert build(instance).success
    calls = query(settings, "select summary from marts.fct_client_timeline where ref = 'bitrix:1'")
    assert calls == [{"summary": "Перенесли: тариф"}]
