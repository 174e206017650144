"""The dbt project is valid and builds on the warehouse the meeting assets wrote."""

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from orchestration.definitions import defs
from orchestration.run_once import run_once
from tests.conftest import jibri
from warehouse.duck import connect

DBT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"


def test_dbt_build_on_the_warehouse(env, recordings, instance, tmp_path):
    jibri(recordings, "d1", "31415", datetime(2026, 11, 24, 10, 0, 0))
    assert run_once(defs, instance, env, log=lambda *_: None).failed == []
    dbt = Path(sys.executable).parent / "dbt"
    result = subprocess.run(
        [
            str(dbt),
            "build",
            "--project-dir",
            str(DBT_DIR),
            "--profiles-dir",
            str(DBT_DIR),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "C360_DATA_DIR": str(env.data_dir)},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    with connect(env.warehouse_path, read_only=True) as con:
        rows = con.execute("select client_id, room from staging.stg_meetings__summaries").fetchall()
    assert rows == [("31415", "client-31415")]
