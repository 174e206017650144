"""Dagster metadata a person reads: small markdown tables."""

import dagster as dg


def md_table(headers: tuple[str, ...], rows: list[tuple], limit: int = 200) -> dg.MetadataValue:
    """A markdown table of the first `limit` rows, or «нет» when there are none."""
    if not rows:
        return dg.MetadataValue.md("нет")
    head = "| " + " | ".join(headers) + " |\n|" + "---|" * len(headers)
    body = "\n".join("| " + " | ".join("—" if v in (None, "") else str(v) for v in row) + " |" for row in rows[:limit])
    return dg.MetadataValue.md(f"{head}\n{body}")
