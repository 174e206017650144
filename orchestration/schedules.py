"""Schedules: the daily curator report at C360_REPORT_HOUR (09:00 by default) in C360_TIMEZONE."""

import dagster as dg

from config.settings import get_settings
from orchestration.jobs import (
    backup_job,
    bitrix_pull_job,
    bitrix_summary_job,
    daily_report_job,
    telegram_pull_job,
    telegram_summary_job,
    warehouse_job,
    wms_pull_job,
)

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

bitrix_pull_schedule = dg.ScheduleDefinition(
    name="bitrix_pull_schedule",
    job=bitrix_pull_job,
    cron_schedule=_settings.bitrix_cron,
    execution_timezone=_settings.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING
    if _settings.bitrix_webhook_url
    else dg.DefaultScheduleStatus.STOPPED,
    description="Каждый час забирает из Битрикс24 изменения клиентов, звонков и писем (C360_BITRIX_CRON).",
)

bitrix_summary_schedule = dg.build_schedule_from_partitioned_job(
    bitrix_summary_job,
    name="bitrix_summary_schedule",
    hour_of_day=max(_settings.report_hour - 1, 0),
    minute_of_hour=40,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Резюме вчерашних звонков и писем, до утреннего отчёта.",
)

wms_pull_schedule = dg.ScheduleDefinition(
    name="wms_pull_schedule",
    job=wms_pull_job,
    cron_schedule=_settings.wms_cron,
    execution_timezone=_settings.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING if _settings.wms_base_url else dg.DefaultScheduleStatus.STOPPED,
    description="Каждый час забирает из WMS остатки и новые отгрузки, поставки и резервы (C360_WMS_CRON).",
)

warehouse_schedule = dg.ScheduleDefinition(
    name="warehouse_schedule",
    job=warehouse_job,
    cron_schedule="45 * * * *",  # after the hourly pulls (Bitrix24 at :00, WMS at :15)
    execution_timezone=_settings.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Каждый час пересчитывает историю клиентов, здоровье и тревоги и отправляет новые тревоги.",
)

daily_report_schedule = dg.build_schedule_from_partitioned_job(
    daily_report_job,
    name="daily_report_schedule",
    hour_of_day=_settings.report_hour,
    minute_of_hour=0,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Каждое утро отправляет кураторам отчёт о встречах за вчерашний день.",
)

backup_schedule = dg.ScheduleDefinition(
    job=backup_job,
    cron_schedule="30 3 * * *",
    execution_timezone=_settings.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Ночная резервная копия (03:30).",
)
