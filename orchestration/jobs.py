"""Jobs: what sensors and schedules launch."""

import dagster as dg

from assets.meetings.assets import (
    meeting_recordings,
    meeting_summaries,
    meeting_transcripts,
    meeting_unmatched_files,
    recordings_partitions,
)
from assets.reports.assets import daily_curator_report, daily_partitions

meeting_pipeline_job = dg.define_asset_job(
    "meeting_pipeline_job",
    selection=[meeting_recordings, meeting_transcripts, meeting_summaries],
    partitions_def=recordings_partitions,
    description="Одна запись встречи: регистрация → расшифровка → резюме.",
)

unmatched_recordings_job = dg.define_asset_job(
    "unmatched_recordings_job",
    selection=[meeting_unmatched_files],
    description="Обновляет список записей без ID лида.",
)

daily_report_job = dg.define_asset_job(
    "daily_report_job",
    selection=[daily_curator_report],
    partitions_def=daily_partitions,
    description="Ежедневный отчёт кураторам за прошедший день.",
)
