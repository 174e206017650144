"""Backups: the warehouse (DuckDB), the search index (LanceDB), the app DB, the LLM cache, the alias file and the
PostgreSQL databases, into one dated folder; the last C360_BACKUP_KEEP_DAYS days are kept. Restore puts them back.

The backup job (orchestration/jobs.py) runs in the warehouse writers' pool (duckdb_write, limit 1), so no run writes
while it copies: DuckDB is copied through `COPY FROM DATABASE` (a consistent copy, not the file under a writer),
LanceDB as its folder.
"""

import json
import os
import shutil
import sqlite3
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from config.private import private_dir
from config.settings import Settings
from warehouse.dagster_runs import dagster_pg_url

STAMP = "%Y%m%d-%H%M%S"


class BackupError(RuntimeError):
    pass


def _pg_env() -> dict | None:
    """libpq's environment for pg_dump/psql: the instance's PostgreSQL (the one URL the project reads it from)."""
    url = dagster_pg_url()
    if url is None:
        return None
    return {
        **os.environ,
        "PGHOST": url.host,
        "PGPORT": str(url.port),
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
    }


def _pg_databases(settings: Settings) -> list[str]:
    names = [dagster_pg_url().database]
    url = settings.app_db_url or ""
    if url.startswith("postgresql"):
        names.append(url.rsplit("/", 1)[-1].split("?")[0])
    return list(dict.fromkeys(names))


def _copy_sqlite(src: Path, dest: Path) -> None:
    with sqlite3.connect(src) as a, sqlite3.connect(dest) as b:
        a.backup(b)


def make_backup(settings: Settings, root: Path, now: datetime | None = None) -> Path:
    now = now or datetime.now()
    folder = root / now.strftime(STAMP)
    private_dir(root)  # the copies hold password hashes and client data: the service user's only
    folder.mkdir(mode=0o700, exist_ok=False)
    done: dict[str, int] = {}
    if settings.warehouse_path.exists():
        dest = folder / "warehouse.duckdb"
        con = duckdb.connect(str(settings.warehouse_path))  # in the writers' pool: nobody else writes now
        try:
            name = con.execute("select current_database()").fetchone()[0]
            con.execute(f"attach '{dest}' as backup_copy")
            con.execute(f'copy from database "{name}" to backup_copy')
            con.execute("detach backup_copy")
        finally:
            con.close()
        done["warehouse.duckdb"] = dest.stat().st_size
    if settings.rag_path.exists():
        shutil.copytree(settings.rag_path, folder / "rag_index")
        done["rag_index"] = sum(p.stat().st_size for p in (folder / "rag_index").rglob("*") if p.is_file())
    for src in (settings.data_dir / "app.db", settings.llm_cache_path, settings.embed_cache_path):
        if src.exists():
            _copy_sqlite(src, folder / src.name)
            done[src.name] = (folder / src.name).stat().st_size
    if settings.resolved_aliases_file.exists():
        shutil.copy2(settings.resolved_aliases_file, folder / "client_aliases.csv")
        done["client_aliases.csv"] = (folder / "client_aliases.csv").stat().st_size
    env = _pg_env()
    if env is not None:
        for db in _pg_databases(settings):
            dest = folder / f"pg_{db}.dump"
            run = subprocess.run(["pg_dump", "-Fc", "-f", str(dest), db], env=env, capture_output=True, text=True)
            if run.returncode != 0:
                raise BackupError(f"pg_dump {db}: {run.stderr.strip()}")
            done[dest.name] = dest.stat().st_size
    (folder / "manifest.json").write_text(
        json.dumps({"created": now.isoformat(timespec="seconds"), "files": done}, ensure_ascii=False, indent=1)
    )
    for path in [folder, *folder.rglob("*")]:  # whatever mode each copy got from its source or the umask
        path.chmod(0o700 if path.is_dir() else 0o600)
    return folder


def prune(root: Path, keep_days: int, now: datetime | None = None) -> list[Path]:
    now = now or datetime.now()
    removed = []
    for folder in sorted(root.iterdir()) if root.exists() else []:
        try:
            made = datetime.strptime(folder.name, STAMP)
        except ValueError:
            continue  # not ours
        if now - made > timedelta(days=keep_days):
            shutil.rmtree(folder)
            removed.append(folder)
    return removed


def restore(settings: Settings, folder: Path) -> list[str]:
    """Put a backup back. Stop the Dagster services and the app first: files in use are replaced."""
    manifest = json.loads((folder / "manifest.json").read_text())
    restored = []
    data = private_dir(settings.data_dir)
    if (folder / "warehouse.duckdb").exists():
        for stale in (settings.warehouse_path, settings.warehouse_path.with_suffix(".duckdb.wal")):
            stale.unlink(missing_ok=True)
        shutil.copy2(folder / "warehouse.duckdb", settings.warehouse_path)
        restored.append("warehouse.duckdb")
    if (folder / "rag_index").exists():
        shutil.rmtree(settings.rag_path, ignore_errors=True)
        shutil.copytree(folder / "rag_index", settings.rag_path)
        restored.append("rag_index")
    for name, dest in (
        ("app.db", data / "app.db"),
        (settings.llm_cache_path.name, settings.llm_cache_path),
        (settings.embed_cache_path.name, settings.embed_cache_path),
        ("client_aliases.csv", settings.resolved_aliases_file),
    ):
        if (folder / name).exists():
            shutil.copy2(folder / name, dest)
            restored.append(name)
    env = _pg_env()
    for dump in sorted(folder.glob("pg_*.dump")):
        if env is None:
            raise BackupError("в копии есть базы PostgreSQL, но DAGSTER_PG_HOST не задан")
        db = dump.stem.removeprefix("pg_")
        run = subprocess.run(
            ["pg_restore", "--clean", "--if-exists", "--no-owner", "-d", db, str(dump)],
            env=env,
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            raise BackupError(f"pg_restore {db}: {run.stderr.strip()[:500]}")
        restored.append(dump.name)
    missing = set(manifest["files"]) - set(restored)
    if missing:
        raise BackupError(f"не восстановлено: {', '.join(sorted(missing))}")
    return restored
