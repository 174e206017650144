"""The production Dagster config (deploy/dagster.yaml) against the real PostgreSQL on 127.0.0.1:5432."""

from datetime import datetime

import psycopg
import pytest

from tests.conftest import jibri
from tests.production_stack import PG, production_home, throwaway_database
from tests.test_cli import cli


@pytest.fixture
def pg_database():
    with throwaway_database("c360_test") as name:
        yield name


@pytest.mark.postgres
def test_run_history_is_stored_in_postgres(env, recordings, tmp_path, pg_database):
    home = tmp_path / "dagster_pg_home"
    pg_env = production_home(home, pg_database)
    jibri(recordings, "pg1", "777", datetime(2026, 11, 24, 10, 0, 0))

    first = cli("run", "--only", "meetings", cwd=tmp_path, env_extra=pg_env)
    assert first.returncode == 0, first.stderr[-3000:]
    second = cli("run", "--only", "meetings", cwd=tmp_path, env_extra=pg_env)
    assert second.returncode == 0 and "запусков 0" in second.stdout

    with psycopg.connect(dbname=pg_database, **PG) as con:
        runs = con.execute("select status, pipeline_name from runs order by create_timestamp").fetchall()
        partitions = con.execute(
            "select partition from dynamic_partitions where partitions_def_name = 'meeting_recordings'"
        ).fetchall()
        materialized = con.execute(
            "select count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION'"
        ).fetchone()[0]
    assert runs == [("SUCCESS", "meeting_pipeline_job")]
    assert [p[0] for p in partitions][0].startswith("20261124-100000-777-")
    assert materialized == 3
    assert not (tmp_path / "data" / "dagster_home").exists(), "the embedded SQLite instance was not used"


@pytest.mark.postgres
def test_production_instance_queues_runs_and_limits_the_warehouse_writer(tmp_path, pg_database, monkeypatch):
    import dagster as dg

    home = tmp_path / "home"
    for key, value in production_home(home, pg_database).items():
        monkeypatch.setenv(key, value)
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        config = instance.get_concurrency_config()
        assert config.run_queue_config.max_concurrent_runs == 4
        assert config.pool_config.default_pool_limit == 1
        assert instance.run_monitoring_enabled
        from orchestration.launcher import MonitoredRunLauncher

        assert isinstance(instance.run_launcher, MonitoredRunLauncher), "monitoring can tell a dead run worker"
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
        assert not instance.run_retries_retry_on_asset_or_op_failure, "a failed step waits for a person"
        from dagster._core.scheduler.instigation import InstigatorType

        assert instance.get_tick_retention_settings(InstigatorType.SCHEDULE)
