"""The one Definitions object of the client360 code location."""

import dagster as dg

from assets.meetings.assets import meeting_assets
from assets.reports.assets import daily_curator_report
from orchestration.jobs import daily_report_job, meeting_pipeline_job, unmatched_recordings_job
from orchestration.resources import all_resources
from orchestration.schedules import daily_report_schedule
from orchestration.sensors import new_recordings_sensor

defs = dg.Definitions(
    assets=[*meeting_assets, daily_curator_report],
    jobs=[meeting_pipeline_job, unmatched_recordings_job, daily_report_job],
    sensors=[new_recordings_sensor],
    schedules=[daily_report_schedule],
    resources=all_resources(),
)
