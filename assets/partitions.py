"""Partitions shared by several sources."""

from datetime import datetime

import dagster as dg

from config.settings import get_settings

_settings = get_settings()
# Dagster counts partitions on the real clock: with C360_TODAY ahead of it, the days up to that «today» exist too
_ahead = max(0, (_settings.today() - datetime.now(_settings.tz).date()).days)
# one partition per day in the team's timezone (meetings report, chat summaries)
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=_settings.partitions_start, timezone=_settings.timezone, end_offset=_ahead
)
