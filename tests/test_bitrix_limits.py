"""Bitrix24 limits, auth errors and the fast list path, the real client against the simulator: huge-data.md (ID
paging with start=-1), limits.md (OPERATION_TIME_LIMIT), _includes/system-errors.md and the method pages (auth)."""

import logging
from datetime import timedelta

import dagster as dg
import pytest

from assets.bitrix24.assets import bitrix_activities, bitrix_clients
from assets.bitrix24.crm import fetch_users
from connectors.bitrix import BitrixClient, BitrixError
from orchestration.resources import all_resources
from tests.conftest import metadata_of, query
from tests.fakes.bitrix import FakeBitrix24
from tests.fixtures import bitrix_data as bd


@pytest.fixture
def portal():
    with FakeBitrix24() as fake:
        yield fake


def test_lists_are_paged_by_id_and_pay_no_count(portal):
    for aid in range(1, 601):  # three owners with 200 activities each: four pages apiece, in batches
        portal.activities[aid] = bd.call(aid, 1, aid % 3 + 1, bd.BASE)
    for lead in range(1, 181):
        bd.add_lead(portal, lead, modified=bd.BASE - timedelta(minutes=lead))
    calls = {f"o{o}": ("crm.activity.list", {"filter": {"OWNER_TYPE_ID": 1, "OWNER_ID": o}}) for o in (1, 2, 3)}
    with BitrixClient(portal.webhook_url, rate_per_second=0) as client:
        pages, failed = client.batch_list_all(calls)
        since = bd.iso(bd.BASE - timedelta(minutes=150))  # an incremental filter combines with the ID cursor
        leads = list(client.list_all("crm.lead.list", {"filter": {">=DATE_MODIFY": since}}))
    assert failed == {}
    assert {k: [int(r["ID"]) for r in v] for k, v in pages.items()} == {
        f"o{o}": [a for a in range(1, 601) if a % 3 + 1 == o] for o in (1, 2, 3)
    }, "every row once, in order: none lost, none twice across pages"
    assert [int(r["ID"]) for r in leads] == list(range(1, 151))
    assert portal.rows_served["crm.activity.list"] == 600 and portal.rows_served["crm.lead.list"] == 150
    assert sum(portal.count_queries.values()) == 0, f"list calls that counted `total`: {portal.count_queries}"


def test_a_time_budget_in_a_batch_is_waited_out_and_nothing_is_lost(portal, caplog):
    for owner in range(1, 9):
        for k in range(3):
            aid = owner * 10 + k
            portal.activities[aid] = bd.call(aid, 1, owner, bd.BASE)
    portal.operating_limit = {"crm.activity.list": 3}  # 4 sub-calls run, the rest are blocked until the reset
    portal.operating_window = 1.0
    calls = {f"o{o}": ("crm.activity.list", {"filter": {"OWNER_TYPE_ID": 1, "OWNER_ID": o}}) for o in range(1, 9)}
    with caplog.at_level(logging.WARNING), BitrixClient(portal.webhook_url, rate_per_second=0) as client:
        rows, failed = client.batch_list_all(calls)
    assert failed == {}, failed
    assert {k: [int(r["ID"]) for r in v] for k, v in rows.items()} == {
        f"o{o}": [o * 10, o * 10 + 1, o * 10 + 2] for o in range(1, 9)
    }
    assert portal.blocked["crm.activity.list"] == 4 and client.limit_waited > 0
    assert any("исчерпан лимит времени метода crm.activity.list" in r.getMessage() for r in caplog.records)


def test_a_blocked_method_waits_for_the_reset_it_was_given(portal):
    bd.add_lead(portal, 1)
    portal.operating_limit = {"crm.lead.list": 0}  # the first call spends the budget, the next is blocked
    portal.operating_window = 2.0
    portal.reset_format = "iso"  # as in the crm-activity-list.md example
    with BitrixClient(portal.webhook_url, rate_per_second=0) as client:
        client.call("crm.lead.list", {"start": -1})
        assert client.call("crm.lead.list", {"start": -1})["result"][0]["ID"] == "1"
    assert portal.blocked["crm.lead.list"] == 1, "not called again before the reset"


def test_the_wait_for_a_time_budget_is_bounded(portal):
    portal.operating_limit = {"crm.lead.list": 0}
    with BitrixClient(portal.webhook_url, rate_per_second=0, max_limit_wait=1) as client:
        client.call("crm.lead.list", {"start": -1})
        with pytest.raises(BitrixError, match="OPERATION_TIME_LIMIT.*повторится при следующем запуске") as caught:
            client.call("crm.lead.list", {"start": -1})
    assert caught.value.code == "OPERATION_TIME_LIMIT" and portal.blocked["crm.lead.list"] == 1
    assert client.limit_waited == 0, "a reset ten minutes away is not waited for past the bound"


WRONG = "wr0ngc0dezz9"


@pytest.mark.parametrize(
    "setup, url, method, expected",
    [
        ({"wrong_code_error": "INVALID_CREDENTIALS"}, f"/rest/1/{WRONG}/", "crm.lead.list", "неверный код вебхука"),
        ({"wrong_code_error": "NO_AUTH_FOUND"}, f"/rest/1/{WRONG}/", "crm.lead.list", "не принял код вебхука"),
        ({}, "/rest/", "crm.lead.list", "запрос ушёл без данных авторизации"),
        ({"error_code": "INVALID_CREDENTIALS"}, None, "crm.lead.list", "неактивен (уволен) или не имеет прав"),
        ({"scopes": {"user"}}, None, "crm.activity.list", "нет права «crm (CRM)», нужного для crm.activity.list"),
        ({"scopes": {"crm"}, "auth_status": 401}, None, "user.get", "нет права «user (Пользователи)»"),
        ({"scopes": {"crm"}}, None, "disk.file.get", "нет права «disk (Диск)»"),
        ({"scopes": {"crm"}, "auth_status": 401}, None, "voximplant.statistic.get", "«telephony (Телефония)»"),
        ({"error_code": "ACCESS_DENIED"}, None, "crm.lead.list", "REST API недоступен на тарифе портала"),
        ({"error_code": "expired_token"}, None, "crm.lead.list", "срок действия вебхука истёк"),
    ],
)
def test_auth_errors_name_their_cause_once_and_no_secret(portal, caplog, setup, url, method, expected):
    for name, value in setup.items():
        setattr(portal, name, value)
    with (
        BitrixClient(portal.url + url if url else portal.webhook_url, rate_per_second=0) as client,
        pytest.raises(BitrixError) as caught,
    ):
        client.call(method)
    message = str(caught.value)
    assert expected in message, message
    needs_url = "BITRIX_WEBHOOK_URL" in message
    assert needs_url == (url is not None or setup.get("error_code") == "expired_token"), message
    assert portal.http_requests == 1, "not retried"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert portal.token not in message + logged and WRONG not in message + logged


def test_a_missing_scope_in_a_batch_is_named_not_skipped(portal):
    portal.users = {1: {"ID": "1", "NAME": "Анна", "LAST_NAME": "Соколова"}}
    portal.scopes = {"crm"}  # batch.md «Error example»: each sub-call answers insufficient_scope
    with BitrixClient(portal.webhook_url, rate_per_second=0) as client, pytest.raises(BitrixError) as caught:
        fetch_users(client, [1, 2])
    assert caught.value.code == "insufficient_scope"
    assert "нет права «user (Пользователи)», нужного для user.get" in str(caught.value)
    with pytest.raises(BitrixError, match="BITRIX_WEBHOOK_URL"):
        BitrixClient("")


def test_owners_whose_query_ran_out_of_budget_come_back_whole_next_run(portal, env, instance, monkeypatch):
    monkeypatch.setenv("BITRIX_WEBHOOK_URL", portal.webhook_url)
    monkeypatch.setenv("C360_BITRIX_RATE", "100")
    monkeypatch.setenv("C360_BITRIX_LIMIT_WAIT_SECONDS", "0")  # no time to wait: give up at once
    bd.populate(portal, clients=5, per_client=4)  # leads, contacts and a company: three owner queries
    portal.operating_limit = {"crm.activity.list": 0}  # the first query runs, the other two are blocked

    def pull():
        result = dg.materialize([bitrix_clients, bitrix_activities], resources=all_resources(), instance=instance)
        return metadata_of(result, "bitrix_activities")

    first = pull()
    assert len(first["ошибки запросов"]) == 2 and first["дел получено"] < 20
    assert all("OPERATION_TIME_LIMIT" in e for e in first["ошибки запросов"].values())
    portal.operating_limit = {}  # the budget has reset by the next hourly run
    second = pull()
    assert second["ошибки запросов"] == {}
    assert query(env, "select count(*) n from raw.bitrix_activities")[0]["n"] == 20, "their whole history, none lost"
