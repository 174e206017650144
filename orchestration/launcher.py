"""Who runs a run, and whether that process is still alive.

Dagster's DefaultRunLauncher cannot tell run monitoring whether a run's worker lives, so a run whose code server
was restarted (container restart, deploy) stays STARTED for ever. `MonitoredRunLauncher` answers from the code
server itself (CanCancelExecution: whether one of its worker processes is executing the run — the one question the
`dagster code-server` proxy forwards); runs executed in-process by
`client360 run` carry their process (host:pid:start time) in a tag and are checked on that host.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from dagster import DefaultRunLauncher
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.tags import GRPC_INFO_TAG

# host:pid:start time of the process that executes a run in-process
PROCESS_TAG = "c360/process"


def process_start_time(pid: int) -> str:
    """Start time in clock ticks since boot (/proc), so a reused pid is not taken for the same process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def process_tag() -> str:
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{process_start_time(pid)}"


def owner_alive(tag: str) -> bool | None:
    """True/False for a process of this machine; None when the tag names another machine (or is not ours)."""
    host, _, rest = tag.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return process_start_time(int(pid)) == started


class MonitoredRunLauncher(DefaultRunLauncher):
    """The default launcher (runs on the code server), with a worker health check for run monitoring."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run) -> CheckRunHealthResult:
        from dagster._grpc.client import DagsterGrpcClient
        from dagster._grpc.types import CanCancelExecutionRequest, CanCancelExecutionResult
        from dagster._serdes import deserialize_value

        if PROCESS_TAG in run.tags:
            alive = owner_alive(run.tags[PROCESS_TAG])
            if alive is None:
                return CheckRunHealthResult(WorkerStatus.UNKNOWN, "запуск идёт в процессе на другой машине")
            if alive:
                return CheckRunHealthResult(WorkerStatus.RUNNING)
            return CheckRunHealthResult(WorkerStatus.FAILED, "процесс client360, выполнявший запуск, завершился")
        if GRPC_INFO_TAG not in run.tags:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "неизвестно, где выполняется запуск")
        info = json.loads(run.tags[GRPC_INFO_TAG])
        client = DagsterGrpcClient(
            port=info.get("port"), socket=info.get("socket"), host=info.get("host"), use_ssl=bool(info.get("use_ssl"))
        )
        try:
            reply = client.can_cancel_execution(CanCancelExecutionRequest(run_id=run.run_id))
            executing = deserialize_value(reply, CanCancelExecutionResult).can_cancel
        except Exception as exc:  # the code server is down or restarting: ask again on the next poll
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, f"сервер кода не отвечает: {type(exc).__name__}", True)
        if executing:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(
            WorkerStatus.FAILED, "сервер кода не выполняет этот запуск: процесс завершился или сервер перезапущен"
        )
