"""Finding the Dagster instance: $DAGSTER_HOME, or the embedded default under the data dir."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg

from config.settings import Settings

DEPLOY_DIR = Path(__file__).resolve().parent.parent / "deploy"


def ensure_dagster_home(settings: Settings) -> Path:
    """Use $DAGSTER_HOME if set; otherwise <data dir>/dagster_home with the embedded (SQLite) config."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(DEPLOY_DIR / "dagster.local.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def get_instance(settings: Settings) -> dg.DagsterInstance:
    ensure_dagster_home(settings)
    return dg.DagsterInstance.get()
