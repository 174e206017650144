"""The code location loads as the Dagster UI loads it, and the report schedule targets the previous day."""

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from orchestration.definitions import defs

ROOT = Path(__file__).resolve().parent.parent


def test_workspace_loads_with_dagster_cli(tmp_path):
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", str(ROOT / "workspace.yaml")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        env={"PATH": str(Path(sys.executable).parent), "DAGSTER_HOME": str(tmp_path), "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


def test_daily_report_schedule_runs_at_nine_for_yesterday():
    schedule = defs.resolve_schedule_def("daily_report_schedule")
    assert schedule.cron_schedule == "0 9 * * *" and schedule.execution_timezone == "Europe/Moscow"
    when = datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo("Europe/Moscow"))
    with dg.build_schedule_context(scheduled_execution_time=when) as context:
        [request] = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-11-24"
