"""Recent Dagster runs for the admin page, read with SQL from the instance's run storage, so the app needs no Dagster:
the PostgreSQL database of deploy/dagster.yaml when DAGSTER_PG_HOST is set (as in production), otherwise the
embedded instance's SQLite file under the Dagster home. Both hold Dagster's `runs` table (run_id, pipeline_name,
status, …; dagster/_core/storage/runs/schema.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import sqlalchemy as sa

from config.settings import Settings


class RunHistoryError(RuntimeError):
    """Why the run history cannot be read, in Russian, for the page."""


@dataclass(frozen=True)
class Run:
    run_id: str
    job_name: str
    status: str  # Dagster's run status as stored: SUCCESS, FAILURE, STARTED, QUEUED…


def dagster_pg_url() -> sa.URL | None:
    """The production instance's PostgreSQL (DAGSTER_PG_*, as deploy/dagster.yaml reads them), or None."""
    host = os.environ.get("DAGSTER_PG_HOST")
    if not host:
        return None
    return sa.URL.create(
        "postgresql+psycopg2",
        username=os.environ.get("DAGSTER_PG_USER") or "postgres",
        password=os.environ.get("DAGSTER_PG_PASSWORD") or "",
        host=host,
        port=int(os.environ.get("DAGSTER_PG_PORT") or 5432),
        database=os.environ.get("DAGSTER_PG_DB") or "dagster",
    )


def recent_runs(settings: Settings, limit: int = 10) -> list[Run]:
    """The newest runs first; no run storage yet (nothing has run) is an empty history."""
    url = dagster_pg_url()
    if url is not None:
        where = f"PostgreSQL {url.host}:{url.port}/{url.database}"
        engine = sa.create_engine(url, connect_args={"connect_timeout": 5})
    else:
        path = settings.dagster_home / "history" / "runs.db"
        if not path.exists():
            return []
        where = str(path)
        engine = sa.create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")  # never creates or writes it
    query = sa.text("select run_id, pipeline_name, status from runs order by id desc limit :limit")
    try:
        with engine.connect() as con:
            rows = con.execute(query, {"limit": limit}).all()
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise RunHistoryError(f"база запусков Dagster ({where}) не читается: {reason}") from exc
    finally:
        engine.dispose()
    return [Run(run_id, job_name, status) for run_id, job_name, status in rows]
