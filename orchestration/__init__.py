"""The Dagster code location: wiring only (definitions, resources, jobs, sensors, schedules, dbt, checks)."""
