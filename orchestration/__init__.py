"""The Dagster code location: wiring only (definitions, resources, sensors, schedules, CLI)."""
