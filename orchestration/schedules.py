"""Schedules: the daily curator report at C360_REPORT_HOUR (09:00 by default) in C360_TIMEZONE."""

import dagster as dg

from orchestration.jobs import daily_report_job
from warehouse.settings import get_settings

daily_report_schedule = dg.build_schedule_from_partitioned_job(
    daily_report_job,
    name="daily_report_schedule",
    hour_of_day=get_settings().report_hour,
    minute_of_hour=0,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Каждое утро отправляет кураторам отчёт о встречах за вчерашний день.",
)
