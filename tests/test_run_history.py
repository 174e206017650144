"""The admin page's run history without Dagster in the app: warehouse/dagster_runs.py reads the instance's run
storage with SQL — the embedded SQLite file or the production PostgreSQL — and says in Russian when it cannot."""

import dagster as dg
import pytest

from tests.production_stack import production_home, throwaway_database
from tests.test_app import free_port
from warehouse.dagster_runs import JOBS, Run, RunHistoryError, recent_runs


@dg.op
def one() -> int:
    return 1


@dg.op
def broken() -> None:
    raise RuntimeError("намеренный сбой")


@dg.job
def tiny_job():
    one()


@dg.job
def failing_job():
    broken()


def test_embedded_instance_runs_newest_first(env, instance):
    ok = tiny_job.execute_in_process(instance=instance)
    failed = failing_job.execute_in_process(instance=instance, raise_on_error=False)
    runs_db = env.dagster_home / "history" / "runs.db"
    before = runs_db.stat().st_mtime_ns
    assert recent_runs(env) == [Run(failed.run_id, "failing_job", "FAILURE"), Run(ok.run_id, "tiny_job", "SUCCESS")]
    assert recent_runs(env, limit=1) == [Run(failed.run_id, "failing_job", "FAILURE")]
    assert runs_db.stat().st_mtime_ns == before, "the reader opens the run storage read-only"


def test_nothing_has_run_yet_is_an_empty_history_and_creates_nothing(env):
    assert recent_runs(env) == []
    assert not env.dagster_home.exists()


def test_unreachable_postgres_is_one_russian_reason(env, monkeypatch):
    port = free_port()  # nothing listens there
    monkeypatch.setenv("DAGSTER_PG_HOST", "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(port))
    monkeypatch.setenv("DAGSTER_PG_DB", "dagster")
    with pytest.raises(RunHistoryError, match=rf"база запусков Dagster \(PostgreSQL 127\.0\.0\.1:{port}/dagster\)"):
        recent_runs(env)


@pytest.mark.postgres
def test_production_instance_runs_from_postgres(env, tmp_path, monkeypatch):
    with throwaway_database("c360_runs") as database:
        for key, value in production_home(tmp_path / "pg_home", database).items():
            monkeypatch.setenv(key, value)
        with dg.DagsterInstance.get() as instance:
            result = tiny_job.execute_in_process(instance=instance)
        assert recent_runs(env) == [Run(result.run_id, "tiny_job", "SUCCESS")]
        assert not (tmp_path / "pg_home" / "history").exists(), "read from PostgreSQL, not an embedded instance"


def test_every_job_has_its_description_in_one_place():
    """The admin page shows a run's job by its description: the jobs take theirs from warehouse/dagster_runs.py."""
    from orchestration.definitions import defs

    jobs = {job.name: job.description for job in defs.resolve_all_job_defs() if not job.name.startswith("__")}
    assert jobs == JOBS
