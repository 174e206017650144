"""A run whose process died is told from a live one: every run beats (the code location's executor, and
`client360 run` for the runs it executes), and the production launcher's health check — what run monitoring asks —
fails a run that stopped beating or whose client360 process is gone."""

import os
import subprocess
import sys
import time

import dagster as dg
from dagster._core.launcher.base import WorkerStatus

import orchestration.launcher as launcher_module
from orchestration.definitions import defs
from orchestration.launcher import (
    HEARTBEAT_TAG,
    PROCESS_TAG,
    STALE_SECONDS,
    MonitoredRunLauncher,
    heartbeat_executor,
    process_tag,
)


def run_with(tags: dict) -> dg.DagsterRun:
    return dg.DagsterRun(job_name="warehouse_job", run_id="0f1e2d3c-0000-4000-8000-000000000001", tags=tags)


def health(tags: dict) -> WorkerStatus:
    return MonitoredRunLauncher().check_run_worker_health(run_with(tags)).status


def test_a_run_that_stopped_beating_is_failed_and_a_beating_one_is_not():
    now = int(time.time())
    assert health({HEARTBEAT_TAG: str(now - 20)}) == WorkerStatus.RUNNING
    assert health({HEARTBEAT_TAG: str(now - STALE_SECONDS - 60)}) == WorkerStatus.FAILED
    assert health({}) == WorkerStatus.UNKNOWN, "not beating yet (just launched): asked again on the next poll"


def test_a_run_of_a_dead_client360_process_is_failed_at_once():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = process_tag().replace(f":{os.getpid()}:", f":{child.pid}:")
    fresh = str(int(time.time()))
    assert health({PROCESS_TAG: dead, HEARTBEAT_TAG: fresh}) == WorkerStatus.FAILED
    assert health({PROCESS_TAG: process_tag(), HEARTBEAT_TAG: fresh}) == WorkerStatus.RUNNING
    reused = process_tag().rsplit(":", 1)[0] + ":1"  # this pid, another start time: a reused pid
    assert health({PROCESS_TAG: reused, HEARTBEAT_TAG: fresh}) == WorkerStatus.FAILED
    elsewhere = {PROCESS_TAG: "another-host:1:1", HEARTBEAT_TAG: fresh}
    assert health(elsewhere) == WorkerStatus.RUNNING, "another machine's process: its heartbeat decides"


@dg.op
def slow_step():
    time.sleep(1.0)


@dg.job(executor_def=heartbeat_executor)
def beating_job():
    slow_step()


def test_the_code_locations_executor_beats_while_steps_run(monkeypatch, tmp_path):
    assert defs.resolve_job_def("warehouse_job").executor_def is heartbeat_executor, "daemon-launched runs beat"
    monkeypatch.setattr(launcher_module, "HEARTBEAT_SECONDS", 0.2)
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = dg.execute_job(dg.reconstructable(beating_job), instance=instance)
        assert result.success
        beat = int(instance.get_run_by_id(result.run_id).tags[HEARTBEAT_TAG])
    assert time.time() - beat < 10
