"""`client360 run`: one whole cycle of everything that is configured, in the order the schedules imply.

folder sensors (recordings, Telegram exports) → Telegram pull → Bitrix24 pull → WMS pull → the daily summaries
that are due and missing → warehouse_job (signals, profile, dbt, alerts, index, snapshot) → the daily report when
due. Every run goes into the configured Dagster instance (visible in the UI). Before anything else, runs of an
earlier cycle whose process died (killed, machine restarted) are marked failed and, as the daemon's run retries
would, run once more; a failed step is reported and the others still run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import dagster as dg
from dagster._core.events import JobFailureData, RunFailureReason
from dagster._core.storage.dagster_run import DagsterRunStatus, RunsFilter
from dagster._core.storage.tags import PARENT_RUN_ID_TAG, RETRY_NUMBER_TAG, ROOT_RUN_ID_TAG, WILL_RETRY_TAG

from config.clock import day_start_utc, to_local
from config.settings import Settings
from orchestration.launcher import PROCESS_TAG, owner_alive
from orchestration.run_once import execute, run_once

IN_PROGRESS = [DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]


class CycleBusy(RuntimeError):
    """Another `client360 run` holds the cycle lock."""


@dataclass
class StepResult:
    key: str
    title: str
    runs_ok: int = 0
    failures: list[str] = field(default_factory=list)
    skipped: str | None = None  # «не настроено …» / nothing to do
    rows: dict[str, int] = field(default_factory=dict)  # raw table → rows added
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class CycleResult:
    steps: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)


# --- runs whose process died -------------------------------------------------------------------------------------


def reap_dead_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """Runs started by a `client360` process on this machine that is gone: failed, so nothing waits on them forever
    (and their pool slots are free). The daemon's runs are watched by the code server and run monitoring instead."""
    dead = []
    for record in instance.get_run_records(filters=RunsFilter(statuses=IN_PROGRESS)):
        run = record.dagster_run
        if PROCESS_TAG not in run.tags or owner_alive(run.tags[PROCESS_TAG]) is not False:
            continue
        pid = run.tags[PROCESS_TAG].split(":")[1]
        # retried by this cycle right away (below), so the daemon's run retries must not take it too
        instance.add_run_tags(run.run_id, {WILL_RETRY_TAG: "true" if _may_retry(instance, run) else "false"})
        instance.report_run_failed(
            instance.get_run_by_id(run.run_id),
            message=f"Процесс запуска (pid {pid}) завершился, не закончив запуск: остановлен или убит",
            job_failure_data=JobFailureData(error=None, failure_reason=RunFailureReason.UNEXPECTED_TERMINATION),
        )
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        dead.append(instance.get_run_by_id(run.run_id))
    return dead


def _may_retry(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """The instance's own run-retry policy (dagster.yaml `run_retries`), as the daemon applies it."""
    return instance.run_retries_enabled and int(run.tags.get(RETRY_NUMBER_TAG, "0")) < instance.run_retries_max_retries


def retry_dead_runs(defs: dg.Definitions, instance: dg.DagsterInstance, dead: list[dg.DagsterRun], log) -> None:
    for run in dead:
        partition = run.tags.get("dagster/partition")
        what = f"{run.job_name} {partition or ''}".rstrip()
        if run.tags.get(WILL_RETRY_TAG) != "true":
            log(f"  {what}: повторов больше нет (run_retries в dagster.yaml) — перезапустите из Dagster")
            continue
        tags = {k: v for k, v in run.tags.items() if not k.startswith("dagster/")} | {
            PARENT_RUN_ID_TAG: run.run_id,
            ROOT_RUN_ID_TAG: run.root_run_id or run.run_id,
            RETRY_NUMBER_TAG: str(int(run.tags.get(RETRY_NUMBER_TAG, "0")) + 1),
        }
        outcome = execute(defs, instance, run.job_name, partition_key=partition, run_config=run.run_config, tags=tags)
        failed = "" if outcome.ok else f": {outcome.reason}"
        log(f"  {'✓' if outcome.ok else '✗'} повтор прерванного запуска {what}{failed}")


# --- what each step does -------------------------------------------------------------------------------------------


@dataclass
class Context:
    defs: dg.Definitions
    instance: dg.DagsterInstance
    settings: Settings
    log: Callable[[str], None]

    def job(self, step: StepResult, name: str, *, partition_key: str | None = None, run_config=None) -> bool:
        outcome = execute(self.defs, self.instance, name, partition_key=partition_key, run_config=run_config)
        what = f"{name} {partition_key or ''}".rstrip()
        if outcome.ok:
            step.runs_ok += 1
        else:
            step.failures.append(f"{what}: {outcome.reason}")
            self.log(f"  ✗ {what}: {outcome.reason}")
        step.notes.extend(outcome.notes)
        return outcome.ok


def _sensors(ctx: Context, step: StepResult, names: tuple[str, ...]) -> None:
    report = run_once(ctx.defs, ctx.instance, ctx.settings, log=lambda line: ctx.log(f"  {line}"), sensors=names)
    step.runs_ok += len(report.succeeded)
    step.failures.extend(f"{what}: {why}" for what, why in report.failed)


def _local_days(stamps: list[datetime], settings: Settings) -> set[date]:
    return {to_local(s, settings.tz).date() for s in stamps}


def due_summary_days(ctx: Context, asset: str, hours: Callable) -> list[date]:
    """Days up to yesterday (C360_CATCHUP_DAYS back) that have data but no summary yet: yesterday and any missed."""
    from warehouse.duck import connect

    yesterday = ctx.settings.today() - timedelta(days=1)
    first = yesterday - timedelta(days=ctx.settings.catchup_days - 1)
    since = day_start_utc(first, ctx.settings.tz)
    if not ctx.settings.warehouse_path.exists():
        return []
    with connect(ctx.settings.warehouse_path, read_only=True) as con:
        stamps = hours(con, since)
    done = ctx.instance.get_materialized_partitions(dg.AssetKey(asset))
    return sorted(d for d in _local_days(stamps, ctx.settings) if first <= d <= yesterday and d.isoformat() not in done)


def _summaries(ctx: Context, step: StepResult, job: str, asset: str, hours: Callable) -> None:
    days = due_summary_days(ctx, asset, hours)
    for day in days:
        ctx.job(step, job, partition_key=day.isoformat())
    if days:
        step.notes.append(f"сводки за {', '.join(f'{d:%d.%m}' for d in days)}")


def step_meetings(ctx: Context, step: StepResult) -> None:
    s = ctx.settings
    if s.recordings_dir is None and not s.resolved_recordings_dir.is_dir():
        step.skipped = "не настроено (C360_RECORDINGS_DIR)"
        return
    _sensors(ctx, step, ("new_recordings_sensor",))


def step_telegram(ctx: Context, step: StepResult) -> None:
    s = ctx.settings
    if s.telegram_export_dir is None and not s.telegram_session:
        step.skipped = "не настроено (C360_TELEGRAM_EXPORT_DIR, TELEGRAM_SESSION)"
        return
    if s.telegram_export_dir is not None:
        _sensors(ctx, step, ("telegram_exports_sensor",))
    if s.telegram_session:
        ctx.job(step, "telegram_pull_job")
    from assets.telegram.storage import message_hours

    _summaries(ctx, step, "telegram_summary_job", "telegram_daily_summaries", message_hours)


def step_bitrix(ctx: Context, step: StepResult) -> None:
    if not ctx.settings.bitrix_webhook_url:
        step.skipped = "не настроено (BITRIX_WEBHOOK_URL)"
        return
    from assets.bitrix24.crm import activity_hours

    if ctx.job(step, "bitrix_pull_job"):
        _summaries(ctx, step, "bitrix_summary_job", "bitrix_activity_summaries", activity_hours)


def step_wms(ctx: Context, step: StepResult) -> None:
    if not ctx.settings.wms_base_url:
        step.skipped = "не настроено (C360_WMS_BASE_URL)"
        return
    ctx.job(step, "wms_pull_job")


def step_warehouse(ctx: Context, step: StepResult) -> None:
    ctx.job(step, "warehouse_job")


def step_report(ctx: Context, step: StepResult) -> None:
    from assets.reports.curator_report import report_key
    from warehouse.appdb import AppDB

    s = ctx.settings
    if not (s.telegram_bot_token and s.report_chat_id):
        step.skipped = "не настроено (TELEGRAM_BOT_TOKEN, C360_REPORT_CHAT_ID)"
        return
    now = s.now()
    day = now.date() - timedelta(days=1)
    if now.hour < s.report_hour:
        step.skipped = f"отчёт за {day:%d.%m} уходит в {s.report_hour:02d}:00"
        return
    db = AppDB(s.resolved_app_db_url)
    try:
        status = db.report_status(report_key(day), s.report_chat_id)
    finally:
        db.dispose()
    if status and status["completed_at"]:
        step.skipped = f"отчёт за {day:%d.%m} уже отправлен"
        return
    if ctx.job(step, "daily_report_job", partition_key=day.isoformat()):
        step.notes.append(f"отчёт за {day:%d.%m} отправлен")


STEP_FUNCS: dict[str, tuple[str, Callable[[Context, StepResult], None]]] = {
    "meetings": ("Встречи (папка записей)", step_meetings),
    "telegram": ("Telegram (экспорты, загрузка, сводки)", step_telegram),
    "bitrix": ("Битрикс24 (лиды, звонки, письма, резюме)", step_bitrix),
    "wms": ("Склад (WMS)", step_wms),
    "warehouse": ("Хранилище (сигналы, профиль, витрины, тревоги, поиск)", step_warehouse),
    "report": ("Отчёт кураторам", step_report),
}
STEPS = tuple(STEP_FUNCS)  # in the order the schedules imply


# --- the cycle -----------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def cycle_lock(settings: Settings) -> Iterator[None]:
    """One cycle at a time on this data dir (a cron entry and a person typing `client360 run`)."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.state_dir / "cycle.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            raise CycleBusy(handle.read().strip() or "?") from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, с {datetime.now():%H:%M:%S}")
        handle.flush()
        yield


def raw_row_counts(settings: Settings) -> dict[str, int] | None:
    """Rows per raw table, or None when another process is writing the warehouse right now."""
    import duckdb

    from warehouse import duck

    if not settings.warehouse_path.exists():
        return {}
    try:
        with duck.connect(settings.warehouse_path, read_only=True) as con:
            return duck.raw_row_counts(con)
    except duckdb.IOException:
        return None


def run_cycle(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    settings: Settings,
    *,
    only: list[str] | None = None,
    log: Callable[[str], None] = print,
) -> CycleResult:
    result = CycleResult()
    with cycle_lock(settings):
        dead = reap_dead_runs(instance)
        if dead:
            log(f"Прерванных запусков прошлого цикла: {len(dead)} — отмечены как сбой")
            retry_dead_runs(defs, instance, dead, log)
        before = raw_row_counts(settings)  # each step's «after» is the next one's «before»
        for key in only or STEPS:
            title, func = STEP_FUNCS[key]
            step = StepResult(key, title)
            log(f"▶ {title}")
            started = time.monotonic()
            try:
                func(Context(defs, instance, settings, log), step)
            except Exception as exc:  # a step that cannot even start (bad settings, folder, database) stops alone
                step.failures.append(f"{type(exc).__name__}: {exc}")
            step.seconds = time.monotonic() - started
            after = raw_row_counts(settings)
            if before is not None and after is not None:
                step.rows = {t: n - before.get(t, 0) for t, n in after.items() if n != before.get(t, 0)}
            log(step_line(step))
            result.steps.append(step)
            before = after
    return result


def _rows_text(rows: dict[str, int]) -> str:
    if not rows:
        return "новых строк нет"
    parts = ", ".join(f"{t} {n:+d}" for t, n in sorted(rows.items(), key=lambda x: -abs(x[1]))[:4])
    return f"строк {sum(rows.values()):+d} ({parts}{', …' if len(rows) > 4 else ''})"


def step_line(step: StepResult) -> str:
    took = f"{step.seconds:.1f} с"
    if step.skipped and step.ok and not step.runs_ok:
        return f"– {step.title}: {step.skipped}"
    extra = "; ".join([*step.notes, *([step.skipped] if step.skipped else [])])
    body = f"запусков {step.runs_ok + len(step.failures)}, {_rows_text(step.rows)}" + (f"; {extra}" if extra else "")
    if step.ok:
        return f"✓ {step.title}: {body}, {took}"
    return f"✗ {step.title}: {body}, ошибок {len(step.failures)}, {took}"
