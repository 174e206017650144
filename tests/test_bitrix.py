"""Bitrix24 against a local fake portal: client, master data, incremental activities, calls, mail, report."""

import json
import time
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from assets.bitrix24.assets import bitrix_activities, bitrix_activity_summaries, bitrix_call_transcripts, bitrix_clients
from assets.reports.assets import daily_curator_report
from connectors.bitrix import BitrixClient
from connectors.bitrix_activity import normalize_activity
from devkit.demo import write_tone
from orchestration.resources import all_resources
from tests.conftest import build_views, metadata_of, query
from tests.fakes.bitrix import FakeBitrix24
from tests.fixtures import bitrix_data as bd
from tests.test_cli import cli
from tests.test_dbt_project import build


@pytest.fixture
def bitrix(env, monkeypatch):
    with FakeBitrix24() as fake:
        monkeypatch.setenv("BITRIX_WEBHOOK_URL", fake.webhook_url)
        monkeypatch.setenv("C360_BITRIX_RATE", "100")
        yield fake


def pull(instance, config=None):
    run_config = {"ops": {"bitrix_activities": {"config": config}}} if config else None
    return dg.materialize(
        [bitrix_clients, bitrix_activities], resources=all_resources(), instance=instance, run_config=run_config
    )


# ------------------------------------------------------------------ the REST client


def test_list_pages_batch_and_rate_limit(bitrix):
    for i in range(1, 121):
        bd.add_lead(bitrix, i)
    with BitrixClient(bitrix.webhook_url, rate_per_second=100) as client:
        leads = list(client.list_all("crm.lead.list", {"select": ["*"]}))
        assert [int(x["ID"]) for x in leads] == list(range(1, 121)) and bitrix.http_requests == 3

        calls = {f"q{i}": ("crm.lead.list", {"filter": {"@ID": [i, i + 60]}}) for i in range(1, 61)}
        rows, failed = client.batch_list_all(calls)
        assert failed == {} and bitrix.http_requests == 3 + 2, "60 sub-calls = 2 batch requests of ≤50"
        assert [int(r["ID"]) for r in rows["q5"]] == [5, 65] and rows["q60"][0]["ID"] == "60"

    with BitrixClient(bitrix.webhook_url, rate_per_second=4) as slow:
        start = time.monotonic()
        for _ in range(5):
            slow.call("crm.lead.list", {"filter": {"ID": 1}})
        assert time.monotonic() - start >= 1.0, "5 calls at 4 per second take at least a second"


def test_throttling_and_server_errors_are_retried(bitrix):
    bd.add_lead(bitrix, 1)
    bitrix.throttle_next, bitrix.fail_next = 2, 1
    with BitrixClient(bitrix.webhook_url, rate_per_second=100, base_delay=0.01) as client:
        assert client.call("crm.lead.list")["result"][0]["ID"] == "1"
    assert bitrix.http_requests == 4


# ------------------------------------------------------------------ master data and activities


def test_clients_and_activities_full_pull(bitrix, env, instance):
    bd.populate(bitrix, clients=20, per_client=4)
    result = pull(instance)
    clients = metadata_of(result, "bitrix_clients")
    assert (clients["лидов получено"], clients["контактов"], clients["компаний"], clients["сделок"]) == (20, 10, 4, 2)
    [lead] = query(env, "select * from raw.bitrix_leads where lead_id = 10")
    assert (lead["assigned_by_name"], lead["contact_id"], lead["company_id"]) == ("Игорь Лебедев", 10010, 20010)
    assert json.loads(lead["uf"]) == {"UF_CRM_MARKETPLACES": ["WB", "OZON"], "UF_CRM_SKU_COUNT": "120"}
    assert json.loads(lead["messengers"]) == [{"type": "TELEGRAM", "value": "@seller10"}]
    assert lead["date_create"] == datetime(2025, 10, 16, 9, 0)  # 12:00 Moscow → 09:00 UTC

    acts = metadata_of(result, "bitrix_activities")
    assert (acts["дел получено"], acts["звонков"], acts["писем"], acts["других дел"]) == (80, 40, 20, 20)
    assert acts["без клиента (владелец неизвестен)"] == 0
    by_owner = query(
        env, "select owner_type, count(distinct client_id) n from raw.bitrix_activities group by 1 order by 1"
    )
    assert {r["owner_type"] for r in by_owner} == {"lead", "contact", "company", "deal"}
    [mail] = query(env, "select * from raw.bitrix_activities where kind = 'email' order by activity_id limit 1")
    assert mail["body_text"] == "Добрый день!\n\nПо поставке №1: пришлите, пожалуйста, акт сверки до пятницы."
    assert (mail["email_from"], mail["direction"]) == ("Ольга Смирнова <seller@example.ru>", "incoming")
    [todo] = query(env, "select * from raw.bitrix_activities where kind = 'other' order by activity_id limit 1")
    assert todo["status"] == "type_6_CRM_TODO"
    [phone] = query(env, "select * from raw.bitrix_activities where kind = 'call' order by activity_id limit 1")
    assert (phone["duration_s"], phone["direction"], phone["client_id"]) == (240, "outgoing", "1")


def test_activity_modified_between_runs_and_new_client(bitrix, env, instance):
    bd.populate(bitrix, clients=10, per_client=3)
    pull(instance)
    now = datetime.now(UTC)
    bitrix.activities[2]["SUBJECT"] = "Письмо: поменяли дату отгрузки"
    bitrix.activities[2]["LAST_UPDATED"] = bd.iso(now)
    bd.add_lead(bitrix, 11, modified=now)  # a new client with years of history
    bitrix.activities[500] = bd.call(500, 1, 11, bd.BASE - timedelta(days=300))
    served = bitrix.rows_served["crm.activity.list"]

    second = metadata_of(pull(instance), "bitrix_activities")
    assert (second["новых"], second["изменённых"]) == (1, 1)
    # the changed one, the new client's history, and activity 1 inside the 10-minute overlap window
    assert bitrix.rows_served["crm.activity.list"] - served == 3
    [row] = query(env, "select subject from raw.bitrix_activities where activity_id = 2")
    assert row["subject"] == "Письмо: поменяли дату отгрузки"
    assert query(env, "select count(*) n from raw.bitrix_activities")[0]["n"] == 31


def test_unknown_owner_and_bindings():
    owners = {("1", "7"): "7"}
    via_binding = normalize_activity(
        bd.call(1, 2, 9999, bd.BASE)
        | {"BINDINGS": [{"OWNER_TYPE_ID": "2", "OWNER_ID": "9999"}, {"OWNER_TYPE_ID": "1", "OWNER_ID": "7"}]},
        owners,
    )
    assert (via_binding["client_id"], via_binding["status"]) == ("7", "ok")
    deleted = normalize_activity(bd.call(2, 3, 4242, bd.BASE), owners)
    assert (deleted["client_id"], deleted["status"]) == (None, "owner_unknown")
    odd = normalize_activity({"ID": "3", "TYPE_ID": "", "OWNER_TYPE_ID": "1", "OWNER_ID": "7"}, owners)
    assert odd["kind"] == "other" and odd["status"] == "type_empty_unknown,no_last_updated"


def test_html_mail_quotes_signature_and_broken_encoding():
    owners = {("1", "1"): "1"}
    gmail = (
        '<div dir="ltr">Спасибо, получили.<br><br>-- <br>Ольга</div><div class="gmail_quote">'
        "<div>пн, 24 нояб. 2026 г. в 10:00, Анна &lt;anna@ff-sklad.ru&gt;:</div>"
        "<blockquote>Отправили акт</blockquote></div>"
    )
    row = normalize_activity(bd.email(1, 1, 1, bd.BASE, html=gmail), owners)
    assert row["body_text"] == "Спасибо, получили."
    plain = (
        "Добрый день.\nЗаберём остатки в понедельник.\n\n"
        "On Mon, 24 Nov 2026 at 10:00 Anna <a@ff.ru> wrote:\n> Акт готов"
    )
    row = normalize_activity(bd.email(2, 1, 1, bd.BASE, html=plain) | {"DESCRIPTION_TYPE": "1"}, owners)
    assert row["body_text"] == "Добрый день.\nЗаберём остатки в понедельник."
    mojibake = "<p>" + "Заберём остатки".encode().decode("cp1251") + "</p>"
    row = normalize_activity(bd.email(3, 1, 1, bd.BASE, html=mojibake), owners)
    assert (row["body_text"], row["status"]) == ("Заберём остатки", "body_repaired")
    broken = normalize_activity(bd.email(4, 1, 1, bd.BASE, html="<p>Текст \ufffd\ufffd</p>"), owners)
    assert broken["status"] == "body_undecodable" and broken["body_text"] == "Текст ??"


def test_backfill_window(bitrix, env, instance):
    bd.populate(bitrix, clients=5, per_client=4)
    pull(instance)
    served = bitrix.rows_served["crm.activity.list"]
    day = (bd.BASE - timedelta(minutes=7 * 10)).date().isoformat()
    result = pull(instance, {"backfill_from": day, "backfill_to": (bd.BASE + timedelta(days=1)).date().isoformat()})
    expected = sum(1 for a in bitrix.activities.values() if a["LAST_UPDATED"][:10] >= day)
    assert (
        metadata_of(result, "bitrix_activities")["дел получено"]
        == expected
        == bitrix.rows_served["crm.activity.list"] - served
    )


# ------------------------------------------------------------------ calls, summaries, report


def test_call_recordings_summaries_and_report(bitrix, env, instance, speechkit, telegram, tmp_path, monkeypatch):
    monkeypatch.setenv("C360_STT_PROVIDER", "speechkit")
    speechkit.polls_until_done = 1
    audio = tmp_path / "rec.mp3"
    write_tone(audio.with_suffix(".ogg"), seconds=2)
    bitrix.recordings = {501: audio.with_suffix(".ogg").read_bytes()}  # Drive files (disk.file.get)
    day = datetime(2026, 11, 19, 10, 0, tzinfo=bd.MSK)
    bd.add_lead(bitrix, 7)
    bitrix.users = {1: {"ID": "1", "NAME": "Анна", "LAST_NAME": "Соколова"}}
    bitrix.activities = {
        1: bd.call(1, 1, 7, day, record=501, portal=bitrix.url),
        2: bd.call(
            2,
            1,
            7,
            day + timedelta(hours=1),
            record=404,  # no longer on Drive
            portal=bitrix.url,
            text="Клиент недоволен тарифом на хранение, просит скидку",
        ),
        3: bd.email(3, 1, 7, day + timedelta(hours=2), subject="Акт сверки"),
        4: bd.email(
            4,
            1,
            7,
            day + timedelta(hours=3),
            subject="Re: Акт сверки",
            direction="2",
            text="акт отправили, проверьте, пожалуйста.",
        ),
    }
    pull(instance)
    transcripts = dg.materialize([bitrix_call_transcripts], resources=all_resources(), instance=instance)
    m = metadata_of(transcripts, "bitrix_call_transcripts")
    assert (m["расшифровано"], m["запись недоступна"]) == (1, 1)
    rows = {r["activity_id"]: r for r in query(env, "select * from raw.bitrix_call_transcripts")}
    assert "Договорились отгрузить партию" in rows[1]["text"]
    assert rows[2]["status"] == "recording_unavailable" and "ERROR_NOT_FOUND" in rows[2]["reason"]

    summaries = dg.materialize(
        [bitrix_activity_summaries], partition_key="2026-11-19", resources=all_resources(), instance=instance
    )
    assert (
        metadata_of(summaries, "bitrix_activity_summaries")["звонков"],
        metadata_of(summaries, "bitrix_activity_summaries")["цепочек писем"],
    ) == (2, 1)
    [thread] = query(env, "select * from raw.bitrix_activity_summaries where kind = 'email_thread'")
    assert json.loads(thread["activity_ids"]) == [3, 4]

    build_views(instance)  # the report reads the dbt views the hourly warehouse build keeps
    staged = query(env, "select activity_id, transcript_source from staging.stg_bitrix24__call_transcripts")
    assert sorted((r["activity_id"], r["transcript_source"]) for r in staged) == [(1, "speechkit"), (2, None)]
    assert dg.materialize(
        [daily_curator_report], partition_key="2026-11-19", resources=all_resources(), instance=instance
    ).success
    [message] = telegram.messages
    text = message["text"]
    assert "Звонков: 2, цепочек писем: 1" in text and "Звонки и почта:" in text
    assert "📞 Звонок исходящий, 4 мин" in text and "✉️ Письма «Re: Акт сверки»" in text
    assert "недоволен тарифом" in text

    assert build(instance).success  # the history comes from the warehouse build
    events = json.loads(cli("timeline", "7", "--source", "bitrix", "--json", cwd=tmp_path).stdout)
    assert [e["ref"] for e in events] == ["bitrix:1", "bitrix:2", "bitrix:3", "bitrix:4"]
    assert events[0]["kind"] == "звонок" and events[0]["text"]
    assert events[3]["kind"] == "письмо" and events[3]["at"] == "2026-11-19 13:00:00", "in the team's timezone"


def test_5000_activities_over_500_clients_then_incremental(bitrix, env, instance):
    bd.populate(bitrix, clients=500, per_client=10)
    full = pull(instance)
    acts = metadata_of(full, "bitrix_activities")
    assert acts["дел получено"] == 5000 and acts["без клиента (владелец неизвестен)"] == 0
    assert query(env, "select count(distinct client_id) n from raw.bitrix_activities")[0]["n"] == 500
    # 30 owner chunks of ≤50 ids, 50 rows a page, ≤50 sub-calls a batch: a handful of HTTP requests
    assert acts["запросов к Битрикс24"] <= 10
    # paged by ID with start=-1 (huge-data.md): no list call counted `total`, every row served once
    assert sum(bitrix.count_queries.values()) == 0 and bitrix.rows_served["crm.activity.list"] == 5000

    now = datetime.now(UTC)
    changed = [17, 1234, 4999]
    for aid in changed:
        bitrix.activities[aid]["LAST_UPDATED"] = bd.iso(now)
        bitrix.activities[aid]["DESCRIPTION"] = "Уточнили дату вывоза остатков"
    requests, served = bitrix.http_requests, bitrix.rows_served["crm.activity.list"]
    latest = max(
        datetime.fromisoformat(a["LAST_UPDATED"]) for a in bitrix.activities.values() if int(a["ID"]) not in changed
    )
    in_overlap = sum(
        1
        for a in bitrix.activities.values()
        if int(a["ID"]) not in changed and datetime.fromisoformat(a["LAST_UPDATED"]) >= latest - timedelta(minutes=10)
    )

    incremental = metadata_of(pull(instance), "bitrix_activities")
    assert bitrix.rows_served["crm.activity.list"] - served == len(changed) + in_overlap
    assert (incremental["изменённых"], incremental["новых"]) == (len(changed), 0)
    # leads changed since the last pull (one page, with their deals and curators), one batch of the requisites of
    # every lead's company and contact (a requisite added later changes no lead), one batch of activity queries
    assert bitrix.http_requests - requests <= 5
    assert query(env, "select count(*) n from raw.bitrix_activities")[0]["n"] == 5000
    [row] = query(env, "select body_text from raw.bitrix_activities where activity_id = 1234")
    assert row["body_text"] == "Уточнили дату вывоза остатков"
