"""Schedules: the daily curator report at C360_REPORT_HOUR (09:00 by default) in C360_TIMEZONE."""

import dagster as dg

from orchestration.jobs import daily_report_job, telegram_pull_job, telegram_summary_job
from warehouse.settings import get_settings

_settings = get_settings()

telegram_pull_schedule = dg.ScheduleDefinition(
    name="telegram_pull_schedule",
    job=telegram_pull_job,
    cron_schedule=_settings.telegram_pull_cron,
    execution_timezone=_settings.timezone,
    # without a Telethon session there is nothing to pull: start it from the UI once one is configured
    default_status=dg.DefaultScheduleStatus.RUNNING if _settings.telegram_session else dg.DefaultScheduleStatus.STOPPED,
    description="Загружает новые сообщения из Telegram-чатов клиентов (C360_TELEGRAM_PULL_CRON, по умолчанию 06:00).",
)

# after the pull and before the curators' report
telegram_summary_schedule = dg.build_schedule_from_partitioned_job(
    telegram_summary_job,
    name="telegram_summary_schedule",
    hour_of_day=max(_settings.report_hour - 1, 0),
    minute_of_hour=30,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Сводки переписки с клиентами за вчерашний день, до утреннего отчёта.",
)

daily_report_schedule = dg.build_schedule_from_partitioned_job(
    daily_report_job,
    name="daily_report_schedule",
    hour_of_day=_settings.report_hour,
    minute_of_hour=0,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Каждое утро отправляет кураторам отчёт о встречах за вчерашний день.",
)
