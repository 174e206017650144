"""WMS through the reference adapter against the simulator: paging, retries, snapshots, planted behaviours."""

import time
from datetime import datetime, timedelta

import dagster as dg
import pytest

from assets.wms.assets import wms_assets
from connectors.wms import ReferenceWmsAdapter
from devkit.wms_sim import WmsSimulator, WmsWorld
from orchestration.resources import all_resources
from tests.conftest import metadata_of, query
from warehouse.aliases import save_alias


@pytest.fixture(scope="module")
def world():
    return WmsWorld(clients=8, days=200, seed=3)


@pytest.fixture
def sim(env, world, monkeypatch):
    with WmsSimulator(world) as server:
        monkeypatch.setenv("C360_WMS_BASE_URL", server.url)
        monkeypatch.setenv("C360_WMS_TOKEN", server.token)
        for c in world.clients[:6]:  # the last two WMS clients are not mapped to a lead
            save_alias(env.resolved_aliases_file, "wms_client", c.wms_id, c.lead_id)
        yield server


def pull(instance, history_weeks=0, raise_on_error=True):
    config = {"ops": {"wms_stock": {"config": {"history_weeks": history_weeks}}}}
    return dg.materialize(
        wms_assets, resources=all_resources(), instance=instance, run_config=config, raise_on_error=raise_on_error
    )


def test_paging_and_a_5xx_mid_listing(sim, world):
    client = world.clients[0]
    with ReferenceWmsAdapter(sim.url, sim.token, page_size=100, base_delay=0.01) as wms:
        items = wms.orders(client.wms_id, None)
        first = [next(items) for _ in range(150)]
        sim.fail_next = 2  # the next page answers 502 twice, then succeeds
        rest = list(items)
        assert [o["id"] for o in first + rest] == [o["id"] for o in client.orders]
        assert wms.pages == -(-len(client.orders) // 100)


@pytest.mark.calendar
def test_full_then_incremental_pull(sim, world, env, instance):
    first = pull(instance)
    clients = metadata_of(first, "wms_clients")
    assert clients["клиентов WMS"] == 8 and clients["без клиента (не привязаны)"] == 2
    assert "W00007" in clients["непривязанные"] and "W00008" in clients["непривязанные"]
    orders = metadata_of(first, "wms_orders")
    assert orders["записей получено"] == sum(len(c.orders) for c in world.clients)
    withdrawals = sum(o["kind"] == "withdrawal" for c in world.clients for o in c.orders)
    assert orders["из них вывозов со склада"] == withdrawals > 0
    assert metadata_of(first, "wms_receipts")["новых"] == sum(len(c.receipts) for c in world.clients)
    stock_rows = query(env, "select count(*) n from raw.wms_stock")[0]["n"]
    assert stock_rows == sum(len(c.skus) for c in world.clients)

    served = sim.items_served
    second = pull(instance)  # the hourly run: a 3-day overlap window only, snapshot of today replaced
    assert metadata_of(second, "wms_orders")["новых"] == 0
    assert sim.items_served - served < served / 10
    assert query(env, "select count(*) n from raw.wms_stock")[0]["n"] == stock_rows
    withdrawing = query(
        env,
        "select distinct c.client_id from raw.wms_orders o join raw.wms_clients c using (wms_client_id) "
        "where o.kind = 'withdrawal' order by 1",
    )
    # the withdrawing and the reserving clients, as leads through the alias file
    assert withdrawing == [{"client_id": "10001"}, {"client_id": "10002"}]


@pytest.mark.calendar
def test_planted_behaviours_show_in_the_tables(sim, world, env, instance):
    pull(instance, history_weeks=28)
    series = {
        (r["wms_client_id"], r["snapshot_date"]): r["units"]
        for r in query(env, "select wms_client_id, snapshot_date, sum(on_hand) units from raw.wms_stock group by 1, 2")
    }

    def stock_around(c, days_before, days_after):
        dates = sorted(d for (cid, d) in series if cid == c.wms_id)
        before = [series[(c.wms_id, d)] for d in dates if d <= c.event_day - timedelta(days=days_before)][-1]
        after = [series[(c.wms_id, d)] for d in dates if d >= c.event_day + timedelta(days=days_after)]
        return before, min(after)

    withdraws, spike, drain, seasonal, fbo = world.clients[:5]
    before, after = stock_around(withdraws, 1, 28)
    assert after <= 0.3 * before, "stock falls by at least 70% within the planted window"

    res = query(env, "select created_at, units from raw.wms_reservations where wms_client_id = ?", [spike.wms_id])
    event = datetime.combine(spike.event_day, datetime.min.time())
    after_units = sum(r["units"] for r in res if r["created_at"] >= event) / 30
    before_units = sum(r["units"] for r in res if event - timedelta(days=90) <= r["created_at"] < event) / 90
    assert after_units >= 5 * before_units, "reservations spike after the planted day"

    late = query(
        env,
        "select count(*) n from raw.wms_receipts where wms_client_id = ? and created_at >= ?",
        [drain.wms_id, datetime.combine(drain.event_day, datetime.min.time())],
    )
    assert late[0]["n"] == 0
    before, after = stock_around(drain, 1, 60)
    assert after <= 0.2 * before, "with inbound stopped the stock drains"

    big = query(
        env,
        "select kind, marketplace, units from raw.wms_orders where wms_client_id = ? order by units desc limit 1",
        [fbo.wms_id],
    )[0]
    assert (big["kind"], big["marketplace"]) == ("marketplace", "ozon"), "a large FBO supply is not a withdrawal"
    refill = query(
        env,
        "select count(*) n from raw.wms_receipts where wms_client_id = ? and created_at > ?",
        [fbo.wms_id, datetime.combine(fbo.event_day, datetime.min.time())],
    )
    assert refill[0]["n"] >= 3, "the FBO client keeps supplying"
    assert seasonal.behaviour == "seasonal_trap"
    assert not query(
        env, "select 1 from raw.wms_orders where wms_client_id = ? and kind = 'withdrawal'", [seasonal.wms_id]
    )


def test_bad_records_and_malformed_pages_are_kept_and_counted(sim, world, env, instance):
    odd = world.by_id["W00006"]
    odd.orders = odd.orders + [
        {
            "id": "X-1",
            "kind": "return",
            "marketplace": None,
            "created_at": odd.orders[-1]["created_at"],
            "status": "new",
            "units": 3,
        },
        {
            "id": "X-2",
            "kind": "fbs",
            "marketplace": "ozon",
            "created_at": odd.orders[-1]["created_at"],
            "status": "new",
            "units": -5,
        },
    ]
    try:
        sim.malformed_next = 1  # the very first page (the clients list) is broken JSON
        assert not pull(instance, raise_on_error=False).success
        result = pull(instance)
        orders = metadata_of(result, "wms_orders")
        assert orders["проблемы"] == {"unknown_kind": 1, "negative_units": 1}
        rows = {r["order_id"]: r for r in query(env, "select * from raw.wms_orders where order_id like 'X-%'")}
        assert rows["X-1"]["record_status"] == "unknown_kind:return" and rows["X-1"]["kind"] == "return"
        assert rows["X-2"]["record_status"] == "negative_units" and rows["X-2"]["units"] == -5
    finally:
        odd.orders = odd.orders[:-2]


def test_a_malformed_client_page_is_skipped_not_fatal(sim, world, env, instance):
    pull(instance)
    original = sim.handle

    def broken_receipts(path, auth):
        if "/W00002/receipts" in path:
            return 200, b'{"items": [{"id": '
        return original(path, auth)

    sim.handle = broken_receipts
    result = pull(instance)
    receipts = metadata_of(result, "wms_receipts")
    assert receipts["нечитаемых страниц"] == 1 and "W00002" in receipts["ошибки"]
    assert metadata_of(result, "wms_orders")["нечитаемых страниц"] == 0


def test_wrong_token_names_the_setting(sim, instance, monkeypatch):
    monkeypatch.setenv("C360_WMS_TOKEN", "wrong")
    result = pull(instance, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description
    assert "C360_WMS_TOKEN" in message and "401" in message
    assert sim.requests == 1, "a wrong token is not retried"


def test_300_clients_over_a_year_full_and_hourly(env, instance, monkeypatch):
    world = WmsWorld(clients=300, days=365, seed=11)
    with WmsSimulator(world) as server:
        monkeypatch.setenv("C360_WMS_BASE_URL", server.url)
        monkeypatch.setenv("C360_WMS_TOKEN", server.token)
        start = time.monotonic()
        full = pull(instance)
        full_seconds = time.monotonic() - start
        start = time.monotonic()
        hourly = pull(instance)
        hourly_seconds = time.monotonic() - start
    totals = {n: metadata_of(full, n)["всего в таблице"] for n in ("wms_orders", "wms_receipts", "wms_reservations")}
    assert totals["wms_orders"] == sum(len(c.orders) for c in world.clients)
    assert metadata_of(hourly, "wms_orders")["новых"] == 0
    print(f"\nWMS 300×365: full {full_seconds:.1f} s {totals}, hourly {hourly_seconds:.1f} s")


def test_a_record_without_id_keeps_one_key_across_runs():
    import subprocess
    import sys

    code = "from assets.wms.assets import order_row; print(order_row('W1', {'kind': 'fbs', 'units': 1})['order_id'])"
    keys = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert len(keys) == 1 and next(iter(keys)).startswith("noid-"), "re-ingesting must not duplicate it"
