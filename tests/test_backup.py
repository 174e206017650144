"""Backup → restore on real files and a real PostgreSQL database: everything comes back; old copies are pruned."""

import json
import sqlite3
import subprocess
import uuid
from datetime import datetime

import numpy as np
import pytest

from config.settings import get_settings
from ops.backup import make_backup, prune, restore
from orchestration.jobs import backup_job
from rag.index import RagIndex
from warehouse.aliases import save_alias
from warehouse.duck import connect, upsert


def psql(db: str, sql: str) -> str:
    run = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-tAc", sql], capture_output=True, text=True, check=True
    )
    return run.stdout.strip()


@pytest.fixture
def pg_db(monkeypatch):
    name = f"c360_backup_{uuid.uuid4().hex[:8]}"
    psql("postgres", f"create database {name}")
    psql(name, "create table runs (id int primary key, status text)")
    psql(name, "insert into runs values (1, 'SUCCESS'), (2, 'FAILURE'), (3, 'SUCCESS')")
    for key, value in {
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_DB": name,
    }.items():
        monkeypatch.setenv(key, value)
    yield name
    psql("postgres", f"drop database if exists {name} with (force)")


def test_backup_then_restore_brings_everything_back(env, instance, pg_db, tmp_path, monkeypatch):
    monkeypatch.setenv("C360_BACKUP_DIR", str(tmp_path / "backups"))
    settings = get_settings()
    with connect(settings.warehouse_path) as con:
        upsert(con, "raw.wms_clients", [{"wms_client_id": "W1", "client_id": "10234"}, {"wms_client_id": "W2"}])
    index = RagIndex(settings.rag_path, settings.embed_dim)
    index.upsert(
        [
            {
                "chunk_id": f"c{i}#0",
                "client_id": "10234",
                "source": "telegram",
                "source_ref": f"c{i}",
                "deep_ref": f"c{i}",
                "occurred_at": datetime(2026, 11, 1),
                "author": None,
                "title": "t",
                "text": "пересорт",
                "content_hash": str(i),
                "vector": np.ones(settings.embed_dim).tolist(),
            }
            for i in range(3)
        ]
    )
    with sqlite3.connect(settings.data_dir / "app.db") as db:
        db.execute("create table notes (id integer primary key, text text)")
        db.execute("insert into notes (text) values ('Клиент просил скидку')")
    save_alias(settings.resolved_aliases_file, "telegram_chat", "-1001", "10234")

    assert backup_job.execute_in_process(instance=instance).success
    [folder] = list((tmp_path / "backups").iterdir())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {"warehouse.duckdb", "rag_index", "app.db", "client_aliases.csv", f"pg_{pg_db}.dump"} <= set(
        manifest["files"]
    )

    # disaster: rows gone everywhere
    with connect(settings.warehouse_path) as con:
        con.execute("delete from raw.wms_clients")
    psql(pg_db, "delete from runs")
    index.delete(["c0#0", "c1#0", "c2#0"])
    with sqlite3.connect(settings.data_dir / "app.db") as db:
        db.execute("delete from notes")
    settings.resolved_aliases_file.unlink()

    restored = restore(settings, folder)
    assert f"pg_{pg_db}.dump" in restored
    with connect(settings.warehouse_path, read_only=True) as con:
        assert con.execute("select count(*) from raw.wms_clients").fetchone()[0] == 2
    assert psql(pg_db, "select string_agg(status, ',' order by id) from runs") == "SUCCESS,FAILURE,SUCCESS"
    assert RagIndex(settings.rag_path, settings.embed_dim).count() == 3
    with sqlite3.connect(settings.data_dir / "app.db") as db:
        assert db.execute("select text from notes").fetchall() == [("Клиент просил скидку",)]
    assert "-1001" in settings.resolved_aliases_file.read_text()


def test_old_copies_are_pruned(env, tmp_path):
    root = tmp_path / "backups"
    settings = get_settings()
    old = make_backup(settings, root, now=datetime(2026, 11, 1, 3, 30))
    new = make_backup(settings, root, now=datetime(2026, 11, 20, 3, 30))
    (root / "notes.txt").write_text("не наше")
    removed = prune(root, keep_days=14, now=datetime(2026, 11, 25, 3, 30))
    assert removed == [old] and new.exists() and (root / "notes.txt").exists()
