"""Sensors: new recordings in the Jibri folder."""

import hashlib
import json
import time

import dagster as dg

from assets.meetings.assets import meeting_unmatched_files, recordings_partitions
from orchestration.jobs import meeting_pipeline_job, unmatched_recordings_job
from orchestration.resources import RecordingsResource


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
    known = set(context.instance.get_dynamic_partitions(recordings_partitions.name))
    new = [r for r in scan.ready if r.recording_id not in known]

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
    if scan.unmatched and unmatched_digest != state.get("unmatched"):
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
        dynamic_partitions_requests=[recordings_partitions.build_add_request([r.recording_id for r in new])]
        if new
        else [],
        asset_events=asset_events,
        cursor=cursor,
        skip_reason=skip,
    )
