"""Recent Dagster runs for the admin page, read with SQL from the instance's run storage, so the app needs no Dagster:
the PostgreSQL database of deploy/dagster.yaml when DAGSTER_PG_HOST is set (as in production), otherwise the
embedded instance's SQLite file under the Dagster home. Both hold Dagster's `runs` table (run_id, pipeline_name,
status, …; dagster/_core/storage/runs/schema.py).

What each job does, in Russian, is kept here (`JOBS`): orchestration/jobs.py gives it to Dagster as the job's
description, and the admin page shows it instead of the job's name (the app cannot import the jobs)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import sqlalchemy as sa

from config.settings import Settings

JOBS = {  # job name → its description (orchestration/jobs.py; tests/test_run_history.py keeps the two equal)
    "meeting_pipeline_job": "Одна запись встречи: регистрация → расшифровка → резюме.",
    "unmatched_recordings_job": "Обновляет список записей без ID лида.",
    "daily_report_job": "Ежедневный отчёт кураторам за прошедший день.",
    "telegram_export_job": "Импорт одного файла экспорта Telegram Desktop (путь — в настройках запуска).",
    "telegram_pull_job": "Загрузка новых сообщений из Telegram-чатов клиентов.",
    "telegram_summary_job": "Сводки переписки с клиентами за день.",
    "bitrix_pull_job": "Клиенты, звонки и письма из Битрикс24 (только изменения) и расшифровки записей звонков.",
    "bitrix_summary_job": "Резюме звонков и переписки по почте за день.",
    "wms_pull_job": "Клиенты, остатки, отгрузки, поставки и резервы из WMS (только новое и изменённое).",
    "warehouse_job": (
        "Сигналы общения и профиль клиента, сопоставление клиентов WMS с лидами, "
        "модели хранилища (история клиента, здоровье, тревоги), рассылка новых "
        "тревог, поисковый индекс для чата и проверка свежести источников."
    ),
    "notes_job": "Новые и изменённые заметки кураторов: в хранилище, в историю клиента и в поиск для чата.",
    "backup_job": "Резервная копия всех данных в C360_BACKUP_DIR; хранятся последние C360_BACKUP_KEEP_DAYS дней.",
}


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
