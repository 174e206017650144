"""Partitions shared by several sources."""

import dagster as dg

from warehouse.settings import get_settings

_settings = get_settings()
# one partition per day in the team's timezone (meetings report, chat summaries)
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=_settings.partitions_start, timezone=_settings.timezone, end_offset=0
)
