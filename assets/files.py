"""Files dropped into watched folders: deciding one is complete, and naming one a person can read."""

import os


def is_settled(
    previous: dict[str, list[float]], rel: str, stat: os.stat_result, now: float, quiet_seconds: float
) -> bool:
    """Complete when unchanged since the previous sensor tick, or untouched for `quiet_seconds` (one-shot runs)."""
    seen = previous.get(rel)
    unchanged = seen is not None and seen[0] == stat.st_size and seen[1] == stat.st_mtime
    return unchanged or now - stat.st_mtime >= quiet_seconds


def readable_name(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 (kept by the OS as surrogate escapes) shown as «�»."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def is_valid_name(name: str) -> bool:
    """False for a name with undecodable bytes: it cannot be stored, tagged or logged as it is."""
    return readable_name(name) == name
