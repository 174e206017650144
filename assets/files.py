"""Deciding that a file dropped into a watched folder is complete."""

import os


def is_settled(
    previous: dict[str, list[float]], rel: str, stat: os.stat_result, now: float, quiet_seconds: float
) -> bool:
    """Complete when unchanged since the previous sensor tick, or untouched for `quiet_seconds` (one-shot runs)."""
    seen = previous.get(rel)
    unchanged = seen is not None and seen[0] == stat.st_size and seen[1] == stat.st_mtime
    return unchanged or now - stat.st_mtime >= quiet_seconds
