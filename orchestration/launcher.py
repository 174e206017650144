"""Whether a run's process is still alive: a heartbeat every run writes, read by run monitoring and `client360 run`.

Dagster's DefaultRunLauncher cannot tell run monitoring whether a run's worker lives, so a run whose process died
with its code server (container restart, deploy, out of memory) stays STARTED for ever and holds the warehouse
pool. Every run here beats instead: the executor of the code location (runs launched by the daemon) and
`client360 run` (runs executed in-process) stamp the run every HEARTBEAT_SECONDS; `MonitoredRunLauncher` reports a
run whose stamp is older than STALE_SECONDS as failed, and `run_retries` runs it once more. In-process runs also
carry their process (host:pid:start time), so the next `client360 run` on that machine sees a killed one at once.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
from dagster._core.definitions.executor_definition import IN_PROC_CONFIG, _core_in_process_executor_creation
from dagster._core.executor.in_process import InProcessExecutor
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus

HEARTBEAT_TAG = "c360/heartbeat"  # unix seconds of the run's last sign of life
PROCESS_TAG = "c360/process"  # host:pid:start time of the process executing a run in-process
HEARTBEAT_SECONDS = 30
STALE_SECONDS = 300  # ten missed beats: the process is gone (a busy 2-core machine still beats every few seconds)


@contextlib.contextmanager
def heartbeat(instance: dg.DagsterInstance, run_id: str) -> Iterator[None]:
    """Stamp the run now and every HEARTBEAT_SECONDS until the block ends."""
    stop = threading.Event()

    def beat() -> None:
        while True:
            with contextlib.suppress(Exception):  # a missed beat is harmless; ten in a row mean a dead process
                instance.add_run_tags(run_id, {HEARTBEAT_TAG: str(int(time.time()))})
            if stop.wait(HEARTBEAT_SECONDS):
                return

    thread = threading.Thread(target=beat, name=f"heartbeat-{run_id[:8]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


class HeartbeatExecutor(InProcessExecutor):
    """Dagster's in-process executor, beating for the run while its steps execute."""

    def execute(self, plan_context, execution_plan):
        with heartbeat(plan_context.instance, plan_context.run_id):
            yield from super().execute(plan_context, execution_plan)


@dg.executor(name="in_process", config_schema=IN_PROC_CONFIG)
def heartbeat_executor(init_context) -> HeartbeatExecutor:
    base = _core_in_process_executor_creation(init_context.executor_config)
    return HeartbeatExecutor(retries=base.retries, step_dependency_config=base.step_dependency_config)


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


class MonitoredRunLauncher(dg.DefaultRunLauncher):
    """The default launcher (runs execute on the code server), with a worker health check for run monitoring."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        if PROCESS_TAG in run.tags and owner_alive(run.tags[PROCESS_TAG]) is False:
            return CheckRunHealthResult(WorkerStatus.FAILED, "процесс client360, выполнявший запуск, завершился")
        beat = run.tags.get(HEARTBEAT_TAG)
        if beat is None:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "запуск ещё не подавал признаков жизни")
        silent = time.time() - int(beat)
        if silent > STALE_SECONDS:
            return CheckRunHealthResult(
                WorkerStatus.FAILED,
                f"процесс запуска молчит {int(silent // 60)} мин: он завершился (перезапуск сервера или контейнера?)",
            )
        return CheckRunHealthResult(WorkerStatus.RUNNING)
