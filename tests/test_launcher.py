"""The run launcher's health check, which run monitoring uses to fail a run whose process is gone: asked of a real
code server over gRPC (GetCurrentRuns), and of this machine's processes for runs `client360 run` executes."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.launcher.base import WorkerStatus
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._grpc.client import DagsterGrpcClient

from orchestration.launcher import PROCESS_TAG, MonitoredRunLauncher, process_tag
from tests.production_stack import free_port

BIN = Path(sys.executable).parent


def run_with(tags: dict) -> dg.DagsterRun:
    return dg.DagsterRun(job_name="warehouse_job", run_id="0f1e2d3c-0000-4000-8000-000000000001", tags=tags)


def test_a_run_of_a_live_or_dead_client360_process():
    launcher = MonitoredRunLauncher()
    assert launcher.check_run_worker_health(run_with({PROCESS_TAG: process_tag()})).status == WorkerStatus.RUNNING

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    tag = f"{os.uname().nodename}:{child.pid}:" + process_tag().rsplit(":", 1)[1]  # a pid, not that process
    assert launcher.check_run_worker_health(run_with({PROCESS_TAG: tag})).status == WorkerStatus.FAILED, "pid reused"
    child.kill()
    child.wait()
    dead = process_tag().replace(f":{os.getpid()}:", f":{child.pid}:")
    assert launcher.check_run_worker_health(run_with({PROCESS_TAG: dead})).status == WorkerStatus.FAILED
    elsewhere = "another-host:1:1"
    assert launcher.check_run_worker_health(run_with({PROCESS_TAG: elsewhere})).status == WorkerStatus.UNKNOWN


def test_a_run_the_code_server_does_not_execute_is_failed(tmp_path):
    port = free_port()
    grpc = json.dumps({"host": "127.0.0.1", "port": port})
    launcher = MonitoredRunLauncher()
    down = launcher.check_run_worker_health(run_with({GRPC_INFO_TAG: grpc}))
    assert down.status == WorkerStatus.UNKNOWN, "a code server that does not answer (restarting) is asked again later"

    server = subprocess.Popen(
        [
            str(BIN / "dagster"),
            "code-server",
            "start",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-m",
            "orchestration.definitions",
        ],
        env={**os.environ, "DAGSTER_HOME": str(tmp_path), "C360_DATA_DIR": str(tmp_path / "data")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = DagsterGrpcClient(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 120
        while not serving(client):
            assert time.monotonic() < deadline and server.poll() is None, "the code server did not start"
            time.sleep(0.5)
        health = launcher.check_run_worker_health(run_with({GRPC_INFO_TAG: grpc}))
        assert health.status == WorkerStatus.FAILED and "сервер кода не выполняет" in health.msg
    finally:
        server.kill()
        server.wait()


def serving(client: DagsterGrpcClient) -> bool:
    try:
        return client.health_check_query() == "SERVING"
    except Exception:  # not listening yet
        return False


@pytest.mark.parametrize("tags", [{}, {"dagster/partition": "x"}])
def test_a_run_with_no_known_process_is_left_alone(tags):
    assert MonitoredRunLauncher().check_run_worker_health(run_with(tags)).status == WorkerStatus.UNKNOWN
