"""Plain-Python clients of external systems (no Dagster imports)."""
