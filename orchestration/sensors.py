"""Sensors: new recordings in the Jibri folder, new Telegram exports, failed runs."""

import hashlib
import json
import time

import dagster as dg

from assets.files import is_settled, is_valid_name, readable_name
from assets.meetings.assets import meeting_unmatched_files, recordings_partitions
from assets.metadata import md_table
from assets.resources import AppDBResource, RecordingsResource, TelegramBotResource, TelegramExportsResource
from assets.telegram.assets import telegram_exports as telegram_exports_asset
from config.delivery import deliver_report
from connectors.redact import redact
from connectors.telegram_bot import escape
from orchestration.jobs import meeting_pipeline_job, notes_job, telegram_export_job, unmatched_recordings_job
from orchestration.run_once import step_failure_reason


@dg.sensor(
    name="new_recordings_sensor",
    jobs=[meeting_pipeline_job, unmatched_recordings_job],
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Следит за папкой записей Jitsi (C360_RECORDINGS_DIR): каждая новая завершённая запись (папка Jibri с "
        "metadata.json или файл, переставший расти) запускается в обработку ровно один раз. Записи без ID лида "
        "в имени комнаты попадают в список «без ID лида»."
    ),
)
def new_recordings_sensor(context: dg.SensorEvaluationContext, recordings: RecordingsResource) -> dg.SensorResult:
    state = json.loads(context.cursor) if context.cursor else {}
    folder = recordings.folder()
    if not folder.root.is_dir():
        message = f"Папка записей {folder.root} не найдена (не смонтирована NFS? проверьте C360_RECORDINGS_DIR)"
        context.log.warning(message)
        return dg.SensorResult(skip_reason=message, cursor=context.cursor)
    scan = folder.scan(state.get("pending"), now=time.time())
    # a recording is new until it has a run: a partition registered by a tick that died before launching its run
    # (daemon or `client360 run` killed) is requested again; a failed run waits for a person, as before
    with_runs = {
        p.partition for p in context.instance.get_run_partition_data(dg.RunsFilter(job_name=meeting_pipeline_job.name))
    }
    known = set(context.instance.get_dynamic_partitions(recordings_partitions.name))
    new = [r for r in scan.ready if r.recording_id not in with_runs]
    to_add = [r.recording_id for r in new if r.recording_id not in known]

    run_requests = [
        dg.RunRequest(
            run_key=r.run_key,
            job_name=meeting_pipeline_job.name,
            partition_key=r.recording_id,
            tags={"c360/client_id": r.client_id, "c360/recording": r.rel_path},
        )
        for r in new
    ]
    asset_events = []
    unmatched_digest = hashlib.sha1(
        "\n".join(sorted(f"{u.rel_path}:{u.size}" for u in scan.unmatched)).encode()
    ).hexdigest()
    # the list changed: new ones, or some were mapped to a lead (then the table drops them)
    if unmatched_digest != state.get("unmatched") and (scan.unmatched or state.get("unmatched")):
        for u in scan.unmatched:
            context.log.warning(f"Запись без ID лида: {u.rel_path} — {u.reason}")
        run_requests.append(
            dg.RunRequest(run_key=f"unmatched:{unmatched_digest}", job_name=unmatched_recordings_job.name)
        )
        asset_events.append(
            dg.AssetObservation(
                asset_key=meeting_unmatched_files.key,
                metadata={
                    "без ID лида": len(scan.unmatched),
                    "файлы": dg.MetadataValue.md("\n".join(f"- `{u.rel_path}`: {u.reason}" for u in scan.unmatched)),
                },
            )
        )
    cursor = json.dumps({"pending": scan.pending, "unmatched": unmatched_digest}, sort_keys=True)
    skip = None
    if not run_requests:
        skip = f"Новых записей нет (ждут завершения: {len(scan.pending)}, без ID лида: {len(scan.unmatched)})"
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[recordings_partitions.build_add_request(to_add)] if to_add else [],
        asset_events=asset_events,
        cursor=cursor,
        skip_reason=skip,
    )


def export_run_request(path, size: int, mtime: float) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=f"telegram-export:{path}:{size}:{int(mtime)}",
        job_name=telegram_export_job.name,
        run_config={"ops": {"telegram_exports": {"config": {"path": str(path)}}}},
        tags={"c360/export": str(path)},
    )


@dg.sensor(
    name="telegram_exports_sensor",
    jobs=[telegram_export_job],
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Следит за папкой экспортов Telegram Desktop (C360_TELEGRAM_EXPORT_DIR): каждый новый или изменённый "
        "result.json импортируется один раз, когда файл перестал меняться."
    ),
)
def telegram_exports_sensor(
    context: dg.SensorEvaluationContext, telegram_exports: TelegramExportsResource
) -> dg.SensorResult:
    root = telegram_exports.folder()
    if root is None:
        return dg.SensorResult(
            skip_reason="Папка экспортов не задана (C360_TELEGRAM_EXPORT_DIR)", cursor=context.cursor
        )
    if not root.is_dir():
        return dg.SensorResult(skip_reason=f"Папка экспортов {root} не найдена", cursor=context.cursor)
    state = json.loads(context.cursor) if context.cursor else {}
    done: dict[str, list[float]] = state.get("done", {})  # export files are few: remember each one requested
    pending, requests, bad = {}, [], []
    for path in sorted(root.rglob("*.json")):
        rel = path.relative_to(root).as_posix()
        if path.name != "result.json" and path.parent != root:
            continue  # exports are result.json; loose *.json files are accepted only at the top level
        if not is_valid_name(rel):
            bad.append((readable_name(rel), "имя не в кодировке UTF-8: переименуйте файл или папку"))
            continue
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue  # removed since the listing
        except OSError as exc:
            bad.append((rel, f"не читается: {exc.strerror or exc}"))
            continue
        if done.get(rel) == [stat.st_size, stat.st_mtime]:
            continue
        if is_settled(state.get("pending", {}), rel, stat, time.time(), telegram_exports.file_quiet_seconds):
            requests.append(export_run_request(path.resolve(), stat.st_size, stat.st_mtime))
            done[rel] = [stat.st_size, stat.st_mtime]
        else:
            pending[rel] = [stat.st_size, stat.st_mtime]
    bad_digest = hashlib.sha1(repr(bad).encode()).hexdigest() if bad else ""
    asset_events = []
    if bad_digest != state.get("bad", ""):  # the list of files not taken changed: say so once
        for rel, reason in bad:
            context.log.warning(f"Экспорт не взят: {rel} — {reason}")
        asset_events.append(
            dg.AssetObservation(
                asset_key=telegram_exports_asset.key,
                metadata={"файлов не взято": len(bad), "файлы": md_table(("файл", "причина"), bad)},
            )
        )
    skip = f"Новых экспортов нет (ещё пишутся: {len(pending)}, не взято из-за ошибок: {len(bad)})"
    return dg.SensorResult(
        run_requests=requests,
        asset_events=asset_events,
        cursor=json.dumps({"pending": pending, "done": done, "bad": bad_digest}, sort_keys=True),
        skip_reason=None if requests else skip,
    )


def failure_notice(run: dg.DagsterRun, failures: list[tuple[str, str]], dagster_url: str) -> str:
    """A failed run as a short Russian message: the job, the failed steps (assets) with the head of each error."""
    lines = [f"🔴 <b>Сбой запуска</b> {escape(run.job_name)}"]
    if run.tags.get("dagster/partition"):
        lines.append(f"Раздел: {escape(run.tags['dagster/partition'])}")
    for step, error in failures[:5]:
        head = " ".join(redact(error).split())[:300]  # an alert group is no place for a token
        lines.append(f"• <b>{escape(step)}</b>: {escape(head)}")
    if not failures:
        lines.append("Запуск остановлен до начала шагов (см. журнал).")
    lines.append(f'<a href="{escape(dagster_url.rstrip("/"))}/runs/{run.run_id}">Открыть запуск в Dagster</a>')
    return "\n".join(lines)


@dg.run_failure_sensor(
    name="run_failure_notice",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Каждый упавший запуск — сообщение в группу тревог (C360_ALERT_CHAT_ID): задача, какой шаг (ассет) упал, "
        "начало ошибки и ссылка на запуск в Dagster (C360_DAGSTER_URL)."
    ),
)
def run_failure_notice(context: dg.RunFailureSensorContext, telegram: TelegramBotResource, app_db: AppDBResource):
    if not telegram.alerts_configured():
        return dg.SkipReason("Бот или группа тревог не настроены: уведомление о сбое не отправлено")
    failures = [
        (event.step_key or "?", step_failure_reason(event.event_specific_data))
        for event in context.get_step_failure_events()
    ]
    text = failure_notice(context.dagster_run, failures, telegram.dagster_url)
    db = app_db.db()
    try:
        with telegram.bot() as bot:  # the ledger: a re-evaluated tick never posts the same failure twice
            deliver_report(bot, db, telegram.alert_chat(), f"run_failure:{context.dagster_run.run_id}", text)
    finally:
        db.dispose()


@dg.sensor(
    name="notes_sensor",
    job=notes_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Следит за заметками кураторов в приложении: любая новая, изменённая или удалённая заметка за один такт "
        "попадает в хранилище, историю клиента и поиск для чата."
    ),
)
def notes_sensor(context: dg.SensorEvaluationContext, app_db: AppDBResource):
    from warehouse.staff import Staff  # SQLAlchemy and argon2: for this sensor's tick, not for loading the code

    last = Staff(app_db.db()).last_note_change()
    if last is None:
        return dg.SkipReason("Заметок пока нет")
    stamp = last.isoformat()
    if context.cursor == stamp:
        return dg.SkipReason("Новых заметок нет")
    context.update_cursor(stamp)
    return dg.RunRequest(run_key=f"notes:{stamp}")
