"""`client360 run` as the data owner types it: one whole cycle of every configured source, against the simulators
and fakes on 127.0.0.1; a second cycle adds and sends nothing; a killed cycle loses and duplicates nothing."""

import os
import signal
import subprocess
import time
from datetime import datetime, timedelta

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import DagsterRunStatus, RunsFilter

from devkit.bitrix_sim import BitrixSimulator
from devkit.demo import CLIENTS, build_demo_bitrix
from devkit.wms_sim import WmsSimulator, WmsWorld
from tests.conftest import jibri, query
from tests.test_cli import BIN, cli
from warehouse.aliases import save_alias


@pytest.fixture
def world(env, telegram, monkeypatch):
    """Recordings, a WMS with leaving clients, a Bitrix24 portal and the bot, all configured as on a real VPS."""
    monkeypatch.setenv("C360_ALERT_CHAT_ID", "-1009999")
    today = env.today()
    days = [today - timedelta(days=d) for d in (3, 2, 1)]
    for n, (lead, *_rest) in enumerate(CLIENTS[:2]):
        jibri(env.recordings_dir, f"s{n}", lead, datetime.combine(days[n], datetime.min.time()).replace(hour=11))
    wms_world = WmsWorld(clients=10, days=365, end=today)
    for (lead, *_), client in zip(CLIENTS, wms_world.clients, strict=False):
        save_alias(env.resolved_aliases_file, "wms_client", client.wms_id, lead)
    with WmsSimulator(wms_world) as wms, BitrixSimulator() as portal:
        build_demo_bitrix(portal, days, env.tz)
        monkeypatch.setenv("C360_WMS_BASE_URL", wms.url)
        monkeypatch.setenv("C360_WMS_TOKEN", wms.token)
        monkeypatch.setenv("BITRIX_WEBHOOK_URL", portal.webhook_url)
        monkeypatch.setenv("C360_BITRIX_RATE", "100")
        yield portal


def lines(output: str, mark: str) -> dict[str, str]:
    """Step lines of the cycle's output by their title: «✓ Склад (WMS): …» → {"Склад (WMS)": "…"}."""
    return {
        line[2:].split(":", 1)[0]: line.split(":", 1)[1]
        for line in output.splitlines()
        if line.startswith(mark + " ")
    }


def raw_counts(settings) -> dict[str, int]:
    tables = [
        r["table_name"]
        for r in query(settings, "select table_name from information_schema.tables where table_schema = 'raw'")
    ]
    return {t: query(settings, f'select count(*) as n from raw."{t}"')[0]["n"] for t in tables}


def test_one_run_is_the_whole_cycle_and_the_second_adds_and_sends_nothing(env, world, telegram, tmp_path):
    first = cli("run", cwd=tmp_path, env_extra={"BITRIX_WEBHOOK_URL": world.webhook_url})
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    done = lines(first.stdout, "✓")
    assert set(done) >= {
        "Встречи (папка записей)",
        "Битрикс24 (лиды, звонки, письма, резюме)",
        "Склад (WMS)",
        "Хранилище (сигналы, профиль, витрины, тревоги, поиск)",
    }, first.stdout
    for title in ("Встречи", "Битрикс24", "Склад", "Хранилище"):
        assert f"▶ {title}" in first.stdout, "each step says when it starts"
    assert "– Telegram (экспорты, загрузка, сводки): не настроено" in first.stdout

    # the warehouse holds the meetings, the Bitrix24 activities and their summaries, the WMS history
    assert query(env, "select count(*) as n from marts.fct_client_timeline where source = 'meetings'")[0]["n"] >= 2
    assert query(env, "select count(*) as n from raw.bitrix_activities")[0]["n"] > 0
    assert query(env, "select count(*) as n from raw.bitrix_activity_summaries")[0]["n"] > 0
    assert query(env, "select count(*) as n from raw.wms_orders")[0]["n"] > 1000
    alerts = [m for m in telegram.messages if m["chat"]["id"] == -1009999]
    assert alerts and all("Риск ухода" in m["text"] for m in alerts), "the new churn alerts are sent"
    report_hour_passed = env.now().hour >= env.report_hour
    reports = [m for m in telegram.messages if m["chat"]["id"] == -1001234567890]
    assert bool(reports) == report_hour_passed, "yesterday's report goes out once its hour has come"
    conditions = sum(m["text"].count("Что сделать:") for m in alerts)  # one message per client, a step each
    assert f"новых тревог отправлено: {conditions}" in first.stdout

    before, sent = raw_counts(env), len(telegram.messages)
    second = cli("run", cwd=tmp_path, env_extra={"BITRIX_WEBHOOK_URL": world.webhook_url})
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert len(telegram.messages) == sent, "a second cycle sends nothing"
    assert raw_counts(env) == before, "a second cycle adds nothing"
    again = lines(second.stdout, "✓")
    for title in ("Встречи (папка записей)", "Склад (WMS)", "Битрикс24 (лиды, звонки, письма, резюме)"):
        assert "новых строк нет" in again[title], second.stdout
    assert "сводки за" not in second.stdout, "summaries are made once a day"


def test_a_failed_step_is_reported_and_the_others_still_run(env, world, tmp_path):
    broken = world.webhook_url.replace("/k3y/", "/wrong/")  # a webhook whose secret was regenerated
    result = cli("run", "--only", "bitrix,wms", cwd=tmp_path, env_extra={"BITRIX_WEBHOOK_URL": broken})
    assert result.returncode == 1
    assert "✗ Битрикс24" in result.stdout and "✓ Склад (WMS)" in result.stdout
    assert "ошибка «Битрикс24" in result.stderr and "вебхук" in result.stderr.lower()
    assert "/wrong/" not in result.stdout + result.stderr, "the webhook secret is never printed"
    # the console gets the cycle's own lines; a failure's stack trace stays in the run's log (Dagster UI)
    assert "Stack Trace" not in result.stderr and "dagster - ERROR" not in result.stderr, result.stderr[-3000:]
    assert "Bitrix24: Bitrix24" not in result.stderr
    assert query(env, "select count(*) as n from raw.wms_orders")[0]["n"] > 0

    unknown = cli("run", "--only", "meetings,crm", cwd=tmp_path)
    assert unknown.returncode == 2 and "crm" in unknown.stderr


def test_a_killed_cycle_loses_and_duplicates_nothing(env, tmp_path):
    for n in range(14):
        jibri(env.recordings_dir, f"k{n}", str(5000 + n), datetime(2026, 11, 24, 9, n, 0))
    environ = {k: v for k, v in os.environ.items() if k.startswith(("C360_", "PATH", "HOME", "LANG"))}
    proc = subprocess.Popen(
        [str(BIN), "run", "--only", "meetings"],
        cwd=tmp_path,
        env={**environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    home = str(env.data_dir / "dagster_home")
    done = 0
    try:
        for line in proc.stdout:
            done += line.strip().startswith("✓ meeting_pipeline_job")
            if done == 2:
                break
        with dg.DagsterInstance.from_config(home) as instance:  # kill it inside the third run, not between two
            for _ in range(200):
                if instance.get_runs(filters=RunsFilter(statuses=[DagsterRunStatus.STARTED])):
                    break
                time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert done == 2

    again = cli("run", "--only", "meetings", cwd=tmp_path)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert cli("run", "--only", "meetings", cwd=tmp_path).returncode == 0

    summaries = query(env, "select recording_id, count(*) as n from raw.meeting_summaries group by all")
    assert len(summaries) == 14 and all(r["n"] == 1 for r in summaries), "every recording once"
    with dg.DagsterInstance.from_config(home) as instance:
        runs = instance.get_runs(filters=RunsFilter(job_name="meeting_pipeline_job"))
        ok = [r.tags["dagster/partition"] for r in runs if r.status == DagsterRunStatus.SUCCESS]
        assert sorted(ok) == sorted(set(ok)) and len(ok) == 14, "one successful run per recording"
        stuck = [r for r in runs if r.status in (DagsterRunStatus.STARTED, DagsterRunStatus.STARTING)]
        assert stuck == [], "a run of the killed process does not stay «in progress» forever"
        [killed] = [r for r in runs if r.status == DagsterRunStatus.FAILURE]
        assert killed.tags["dagster/will_retry"] == "true", "marked failed, and run once more"
        assert "Прерванных запусков прошлого цикла: 1" in again.stdout
