"""Dagster metadata a person reads: small markdown tables."""

import dagster as dg

from connectors.redact import redact


def md_table(headers: tuple[str, ...], rows: list[tuple], limit: int = 200) -> dg.MetadataValue:
    """A markdown table of the first `limit` rows, or «нет» when there are none."""
    if not rows:
        return dg.MetadataValue.md("нет")
    head = "| " + " | ".join(headers) + " |\n|" + "---|" * len(headers)
    # cells quote errors of external systems: never with their credentials
    body = "\n".join("| " + " | ".join("—" if v in (None, "") else redact(v) for v in r) + " |" for r in rows[:limit])
    return dg.MetadataValue.md(f"{head}\n{body}")


def alias_problems(aliases) -> dict[str, dg.MetadataValue]:
    """The lines of the alias file a loader skipped (warehouse.aliases.Aliases.problems), by line number."""
    return {"строки файла привязок пропущены": md_table(("строка", "ошибка"), aliases.problems)}
