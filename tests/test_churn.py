"""Churn signals, health and alerts on the WMS simulator: quality against ground truth, once-only delivery,
evidence that points at real rows."""

import re
from datetime import date, timedelta

import dagster as dg
import pytest

from assets.alerts.assets import client_alert_delivery
from devkit.wms_sim import WmsWorld
from evals.churn import evaluate
from orchestration.dbt import dbt_resource, warehouse_models
from orchestration.resources import all_resources
from tests.conftest import pull_wms_world, query


@pytest.mark.calendar
def test_eval_churn_meets_the_bar(tmp_path):
    result = evaluate(clients=40, days=365, seed=7, workdir=tmp_path)
    assert result.churners == 12
    assert result.recall >= 0.9 and result.precision >= 0.8
    assert result.median_lead_days >= 14
    assert result.trap_alerts == {"seasonal_trap": 0, "fbo_supply_trap": 0}


@pytest.fixture
def churny_warehouse(env, instance, monkeypatch):
    world = WmsWorld(clients=12, days=365, seed=21)
    pull_wms_world(env, instance, monkeypatch, world)
    assert dg.materialize([warehouse_models], resources={"dbt": dbt_resource()}, instance=instance).success
    return world


@pytest.mark.calendar
def test_alert_evidence_points_at_rows_that_exist(churny_warehouse, env):
    alerts = query(env, "select * from marts.fct_client_alerts")
    assert {a["alert_type"] for a in alerts} == {"withdrawal", "reservation_spike", "inbound_stopped"}
    checked = 0
    for alert in alerts:
        assert alert["evidence_refs"], alert["dedupe_key"]
        for ref in alert["evidence_refs"]:
            kind, wms_client, record = ref.split(":")
            table, column = {
                "wms_order": ("raw.wms_orders", "order_id"),
                "wms_reservation": ("raw.wms_reservations", "reservation_id"),
                "wms_receipt": ("raw.wms_receipts", "receipt_id"),
            }[kind]
            assert query(
                env, f"select 1 from {table} where wms_client_id = ? and {column} = ?", [wms_client, record]
            ), ref
            checked += 1
    assert checked >= len(alerts)
    [health] = query(env, "select * from marts.client_health where client_id = '10001'")
    assert health["band"] == "красный" and "вывез" in health["top_reasons"]
    healthy = query(env, "select score, band from marts.client_health where client_id = '10006'")
    assert healthy == [{"score": 100, "band": "зелёный"}]


@pytest.mark.calendar
def test_an_alert_is_sent_once(churny_warehouse, env, instance, telegram, monkeypatch):
    monkeypatch.setenv("C360_ALERT_CHAT_ID", "-1009876543210")
    monkeypatch.setenv("C360_APP_URL", "https://c360.example.ru/")
    today = env.today()
    since = today - timedelta(days=14)  # the team's «today», as the delivery counts
    current = query(
        env, "select distinct dedupe_key, client_id from marts.fct_client_alerts where week_end >= ?", [since]
    )
    clients = {r["client_id"] for r in current}
    assert current, "the simulator's late churners are alerting now"
    first = dg.materialize([client_alert_delivery], resources=all_resources(), instance=instance)
    assert len(telegram.messages) == len(clients), "one message per client with all its new conditions"
    for message in telegram.messages:
        text = message["text"]  # as Telegram shows it (the fake parses the HTML like the Bot API)
        [client] = [c for c in clients if f"лид {c}\n" in text or f"(WMS {c[4:]}," in text]
        [title] = query(env, "select title from marts.dim_clients where client_id = ?", [client])
        assert f"Риск ухода: {title['title']} · лид {client}" in text
        assert f'href="https://c360.example.ru/?lead={client}"' in message["raw"], "a link to the client's card"
        assert ("Куратор: " in text) != ("Куратор не назначен — назначьте" in text)
        assert text.count("Что сделать:") == sum(r["client_id"] == client for r in current)
        # the figures as sentences and the evidence as dated lines: no field name, no reference string
        assert not re.search(r"\w+_\w+=|wms_\w+:|\bweek\b|\bhigh\b|critical", text), text
        assert re.search(r"• (Вывоз|Резерв|Поставка на склад) \d\d\.\d\d\.\d{4}: [\d\xa0]+ ед\., ", text), text
        for day in re.findall(r"\b(\d\d)\.(\d\d)\.(\d{4})\b", text):
            assert date(int(day[2]), int(day[1]), int(day[0])) <= today + timedelta(days=3), "only a due date ahead"
        for d, m, y in re.findall(r"неделя [\d.]+–(\d\d)\.(\d\d)(?:\.(\d{4}))?", text):  # no year: this one
            assert date(int(y or today.year), int(m), int(d)) <= today, "a week is named by its days up to today"
    [mat] = first.asset_materializations_for_node("client_alert_delivery")
    assert mat.metadata["отправлено новых"].value == len(current)
    assert mat.metadata["сообщений (по одному на клиента)"].value == len(clients)

    again = dg.materialize([client_alert_delivery], resources=all_resources(), instance=instance)
    assert len(telegram.messages) == len(clients), "the same conditions are not sent twice"
    [mat] = again.asset_materializations_for_node("client_alert_delivery")
    assert mat.metadata["уже были отправлены"].value == len(current)
