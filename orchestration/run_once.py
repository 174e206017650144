"""One cycle on demand: evaluate the sensors once and run what they request, in this process, then stop.

It does what the Dagster daemon would do on a tick (add dynamic partitions, skip known run keys,
launch runs), against the configured instance, so catch-up scripts and tests take the real path.
"""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.storage.dagster_run import RunsFilter

from config.settings import Settings
from orchestration.launcher import PROCESS_TAG, heartbeat, process_tag

SENSORS = ("new_recordings_sensor", "telegram_exports_sensor")
# a command that prints its own outcome: the run's events (a failure's stack trace included) stay in the run's log
# in the instance (Dagster UI); the console shows none of them
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
# what a person wants to see of a run in the cycle's line, from the materializations' metadata
NOTABLE = {"отправлено новых": "новых тревог отправлено"}


@contextlib.contextmanager
def quiet_stdout():
    """dagster-dbt echoes every dbt log line to stdout (the compute log in the UI); a CLI user needs none of it."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


@dataclass
class CycleReport:
    requested: int = 0
    succeeded: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (what, why)
    skipped: list[str] = field(default_factory=list)


def _cursor_file(settings: Settings):
    return settings.state_dir / "sensor_cursors.json"


def step_failure_reason(data) -> str:
    """What a person wants to read of a failed step (StepFailureData): the Failure's description, else the exception
    the step's code raised (the cause of Dagster's «Error occurred while executing op»), else Dagster's message."""
    return (
        (data.user_failure_data.description if data.user_failure_data else None)
        or (data.error.cause.message if data.error and data.error.cause else None)
        or (data.error.message if data.error else "неизвестная ошибка")
    )


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    reasons = [step_failure_reason(event.step_failure_data) for event in result.all_events if event.is_step_failure]
    return "; ".join(r.strip() for r in reasons) or "запуск завершился ошибкой"


@dataclass
class RunOutcome:
    ok: bool
    reason: str = ""
    notes: list[str] = field(default_factory=list)


def execute(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    job_name: str,
    *,
    partition_key: str | None = None,
    run_config: dict | None = None,
    tags: dict | None = None,
) -> RunOutcome:
    """One run of a job in this process, recorded in the instance like any other, beating while it runs and naming
    this process as its owner (orchestration/launcher.py: how a dead one is told from a live one)."""
    run_id = str(uuid.uuid4())
    with quiet_stdout(), heartbeat(instance, run_id):
        result = defs.resolve_job_def(job_name).execute_in_process(
            run_config={**(run_config or {}), **QUIET_CONSOLE},
            instance=instance,
            partition_key=partition_key,
            run_id=run_id,
            tags={**(tags or {}), PROCESS_TAG: process_tag()},
            raise_on_error=False,
        )
    notes = []
    for event in result.get_asset_materialization_events():
        for key, label in NOTABLE.items():
            value = event.materialization.metadata.get(key)
            if value is not None and isinstance(value.value, int) and value.value:
                notes.append(f"{label}: {value.value}")
    return RunOutcome(True, notes=notes) if result.success else RunOutcome(False, failure_text(result), notes)


def apply_sensor_data(instance: dg.DagsterInstance, data) -> None:
    """What the daemon does with a tick's side effects: dynamic partitions and reported asset events."""
    for request in data.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    for event in data.asset_events or []:
        instance.report_runless_asset_event(event)


def evaluate_sensor(defs: dg.Definitions, instance: dg.DagsterInstance, name: str, cursor: str | None):
    """One tick of a sensor, as the daemon evaluates it (resources and definitions resolved)."""
    with dg.build_sensor_context(
        instance=instance,
        # the ref lets the sensor resolve partition keys it is adding in this same tick
        instance_ref=instance.get_ref(),
        cursor=cursor,
        definitions=defs,
        sensor_name=name,
        resources=defs.resources,
    ) as context:
        return defs.resolve_sensor_def(name).evaluate_tick(context)


def run_once(
    defs: dg.Definitions, instance: dg.DagsterInstance, settings: Settings, log=print, sensors=SENSORS
) -> CycleReport:
    report = CycleReport()
    cursor_file = _cursor_file(settings)
    cursors = json.loads(cursor_file.read_text()) if cursor_file.exists() else {}
    for name in sensors:
        data = evaluate_sensor(defs, instance, name, cursors.get(name))
        apply_sensor_data(instance, data)
        if data.skip_message:
            log(f"{name}: {data.skip_message}")
        for request in data.run_requests or []:
            report.requested += 1
            what = request.partition_key or request.tags.get("c360/export") or request.job_name
            if instance.get_runs(filters=RunsFilter(tags={"dagster/run_key": request.run_key}), limit=1):
                report.skipped.append(what)
                continue
            tags = {**request.tags, "dagster/run_key": request.run_key, "dagster/sensor_name": name}
            outcome = execute(
                defs,
                instance,
                request.job_name,
                partition_key=request.partition_key,
                run_config=request.run_config,
                tags=tags,
            )
            if outcome.ok:
                report.succeeded.append(what)
                log(f"✓ {request.job_name} {request.partition_key or ''}".rstrip())
            else:
                report.failed.append((what, outcome.reason))
                log(f"✗ {request.job_name} {request.partition_key or ''}: {outcome.reason}")
        cursors[name] = data.cursor
        cursor_file.parent.mkdir(parents=True, exist_ok=True)
        cursor_file.write_text(json.dumps(cursors))
    return report
