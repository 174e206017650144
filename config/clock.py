"""Time in one place: stored times are naive UTC; people and business days live in the team's timezone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo


def as_utc(value: datetime) -> datetime:
    """An aware time → naive UTC, as stored; a naive one is taken to be UTC already."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def local_to_utc(value: datetime, tz: ZoneInfo) -> datetime:
    """A naive local wall-clock time (an old Telegram export, a day's midnight) → naive UTC."""
    return as_utc(value.replace(tzinfo=tz))


def day_start_utc(day: date, tz: ZoneInfo) -> datetime:
    """The first moment of a local day, as stored (naive UTC)."""
    return local_to_utc(datetime.combine(day, time.min), tz)


def to_local(value: datetime, tz: ZoneInfo) -> datetime:
    """A stored time (naive UTC, or aware) → the team's aware local time."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(tz)
