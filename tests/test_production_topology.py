"""The production daemon path for real: the compose stack's code server, daemon and webserver as subprocesses on the
production dagster.yaml and PostgreSQL (tests/production_stack.py). Recordings dropped into the Jibri folder are
picked up by the daemon's sensor, queued, launched through the code server and written to the warehouse, one writer
at a time; a failed recording reaches the alert chat; a daemon killed mid-tick loses and repeats nothing."""

from __future__ import annotations

import signal
from collections import Counter
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from tests.conftest import jibri
from tests.fakes.telegram import FakeTelegramBotApi
from tests.production_stack import PG, ProductionStack, production_stack
from warehouse.duck import connect, fetch_dicts

pytestmark = pytest.mark.postgres

ALERT_CHAT = "-1009876543210"
MEETINGS = "meeting_pipeline_job"


@pytest.fixture
def bot():
    with FakeTelegramBotApi() as server:
        yield server


@pytest.fixture
def stack(tmp_path, bot) -> ProductionStack:
    """The stack (not started) with data and recordings under tmp_path, offline providers and the fake Bot API."""
    (tmp_path / "recordings").mkdir()
    settings = {
        "C360_DATA_DIR": str(tmp_path / "data"),
        "C360_RECORDINGS_DIR": str(tmp_path / "recordings"),
        "C360_BACKUP_DIR": str(tmp_path / "backups"),
        "C360_STT_PROVIDER": "sidecar",
        "C360_LLM_PROVIDER": "offline",
        "C360_EMBED_PROVIDER": "local",
        "C360_TIMEZONE": "Europe/Moscow",
        "TELEGRAM_BOT_TOKEN": bot.token,
        "C360_TELEGRAM_BOT_API_URL": bot.url,
        "C360_ALERT_CHAT_ID": ALERT_CHAT,
    }
    with production_stack(tmp_path / "stack", settings) as s:
        yield s


def recordings_dir(stack: ProductionStack) -> Path:
    return Path(stack.settings["C360_RECORDINGS_DIR"])


def warehouse_rows(stack: ProductionStack, sql: str) -> list[dict]:
    """Rows from the warehouse file, read-only (once no run writes it)."""
    with connect(Path(stack.settings["C360_DATA_DIR"]) / "warehouse.duckdb", read_only=True) as con:
        return fetch_dicts(con, sql)


def step_intervals(stack: ProductionStack) -> list[tuple[float, float, str, str]]:
    """(start, end, run id, step) of every finished step of every run, from the event log in PostgreSQL."""
    rows = stack.sql(
        "select run_id, step_key, dagster_event_type, extract(epoch from timestamp) from event_logs "
        "where dagster_event_type in ('STEP_START', 'STEP_SUCCESS', 'STEP_FAILURE') order by id"
    )
    starts, intervals = {}, []
    for run_id, step, kind, at in rows:
        if kind == "STEP_START":
            starts[(run_id, step)] = float(at)
        elif (run_id, step) in starts:  # a step can fail before it starts (resources): it held nothing
            intervals.append((starts.pop((run_id, step)), float(at), run_id, step))
    return sorted(intervals)


def test_recordings_and_the_warehouse_job_share_the_writer_through_the_daemon_queue(stack, bot):
    recordings = recordings_dir(stack)
    jibri(recordings, "s1", "12345", datetime(2026, 11, 24, 10, 0, 0))
    jibri(recordings, "s2", "67890", datetime(2026, 11, 24, 15, 30, 0))
    broken = jibri(recordings, "s3", "55555", datetime(2026, 11, 24, 16, 0, 0), lines=None)  # no transcript
    next(broken.glob("*.mp4")).write_bytes(b"\x00garbage, not a recording\xff" * 64)

    stack.start(daemon=False)
    # the hourly warehouse job is queued (as its schedule or a person in the UI would) just as the daemon starts and
    # its first sensor tick queues a run per recording: all four wait in one queue and run side by side
    warehouse_run = stack.launch_run("warehouse_job")
    stack.start_service("daemon")
    runs = stack.wait_for_runs(4, timeout=150)
    ours = [r for r in runs if "dagster/schedule_name" not in r["tags"]]  # a schedule may come due meanwhile

    by_lead = {r["tags"]["dagster/partition"].split("-")[2]: r["status"] for r in ours if r["jobName"] == MEETINGS}
    assert by_lead == {"12345": "SUCCESS", "67890": "SUCCESS", "55555": "FAILURE"}, stack.explain(runs)
    assert len(ours) == 4, stack.explain(runs)
    [warehouse] = [r for r in ours if r["jobName"] == "warehouse_job"]
    assert (warehouse["runId"], warehouse["status"]) == (warehouse_run, "SUCCESS"), stack.explain(runs)
    assert stack.sql("select run_id, step_key from event_logs where event like '%%Could not set lock%%'") == []

    # all four were in the queue at once, and still no two steps held the warehouse at the same time: the queue
    # holds back a run whose first step's pool is full, and each step waits for the pool's one slot
    assert max(r["creationTime"] for r in ours) < min(r["endTime"] for r in ours), f"not queued together: {ours}"
    intervals = step_intervals(stack)
    assert {run for *_, run, _ in intervals} == {r["runId"] for r in runs}
    for (_, end, run_a, step_a), (start, _, run_b, step_b) in zip(intervals, intervals[1:], strict=False):
        assert end <= start, f"{step_a} of run {run_a} and {step_b} of run {run_b} held the warehouse at once"

    summaries = warehouse_rows(stack, "select client_id from raw.meeting_summaries order by client_id")
    assert [r["client_id"] for r in summaries] == ["12345", "67890"]
    assert len(warehouse_rows(stack, "select recording_id from raw.meeting_recordings")) == 3
    assert len(warehouse_rows(stack, "select recording_id from raw.meeting_transcripts")) == 2

    # the step logs the code server's runs wrote are where the webserver reads them (the shared data volume)
    logs = stack.root / "compute_logs" / warehouse_run
    assert any(f.stat().st_size for f in logs.rglob("*.err")), f"no step log of the warehouse run in {logs}"

    # the failed recording, and only it, is reported to the alert chat by the daemon's run-failure sensor
    [failed] = [r for r in ours if r["status"] == "FAILURE"]
    notices = stack.wait_for(
        "the failure notice reached the Bot API",
        lambda: [m for m in bot.messages if "Сбой запуска" in m["text"]],
        timeout=90,
    )
    [notice] = notices
    assert notice["chat"]["id"] == int(ALERT_CHAT)
    assert failed["tags"]["dagster/partition"] in notice["text"] and "meeting_transcripts" in notice["text"]
    assert "нет файла расшифровки" in notice["text"]
    assert f'href="{stack.url}/runs/{failed["runId"]}"' in notice["raw"]


def test_a_daemon_killed_mid_tick_processes_every_recording_exactly_once(stack):
    recordings = recordings_dir(stack)
    leads = [f"2000{i}" for i in range(1, 7)]
    for i, lead in enumerate(leads):
        jibri(recordings, f"k{i}", lead, datetime(2026, 11, 25, 9 + i, 0, 0))

    stack.start(daemon=False)
    stack.start_service("daemon")
    # kill -9 the daemon the moment its first tick has registered the recordings' partitions: it dies before, while
    # or just after it creates and queues their runs
    with psycopg.connect(dbname=stack.database, autocommit=True, **PG) as con:
        stack.wait_for(
            "the sensor registered the partitions",
            lambda: con.execute(
                "select count(*) from dynamic_partitions where partitions_def_name = 'meeting_recordings'"
            ).fetchone()[0],
            timeout=90,
            every=0.01,
        )
    stack.kill("daemon", signal.SIGKILL)
    created_before_kill = len(stack.runs(MEETINGS))
    where = f"{created_before_kill} of 6 runs existed when the daemon was killed"
    stack.start_service("daemon")

    def settled():
        """Every recording has a run, all finished, and a later sensor tick has come and gone."""
        runs = stack.runs(MEETINGS)
        if len({r["tags"]["dagster/partition"] for r in runs}) < 6 or any(
            r["status"] not in ("SUCCESS", "FAILURE", "CANCELED") for r in runs
        ):
            return None
        last_created = max(r["creationTime"] for r in runs)
        later = [
            t
            for t in stack.ticks("new_recordings_sensor")
            if t["timestamp"] > last_created and t["status"] in ("SUCCESS", "SKIPPED", "FAILURE")
        ]
        return runs if later else None

    runs = stack.wait_for(f"every recording was processed ({where})", settled, timeout=200)

    partitions = {r[0] for r in stack.sql("select partition from dynamic_partitions")}
    assert len(partitions) == 6 and {p.split("-")[2] for p in partitions} == set(leads)
    successes = Counter(r["tags"]["dagster/partition"] for r in runs if r["status"] == "SUCCESS")
    assert successes == dict.fromkeys(partitions, 1), f"{where}: {stack.explain(runs)}"
    assert len(runs) == 6, f"{where}: a recording ran twice or failed:\n{stack.explain(runs)}"
    materialized = stack.sql(
        "select partition, count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION' "
        "and asset_key = %s group by partition",
        ['["meeting_summaries"]'],
    )
    assert dict(materialized) == dict.fromkeys(partitions, 1), where
    summaries = warehouse_rows(stack, "select recording_id from raw.meeting_summaries")
    assert sorted(r["recording_id"] for r in summaries) == sorted(partitions), where
    ticks = stack.ticks("new_recordings_sensor")
    assert not [t for t in ticks if t["status"] == "FAILURE"], ticks
