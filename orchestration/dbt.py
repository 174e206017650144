"""dbt (DuckDB) wired into Dagster: every model an asset; raw tables map to the Python assets that write them
(meta.dagster.asset_key of each table in the sources YAML)."""

import fcntl
import graphlib
import hashlib
import importlib.metadata
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets
from pydantic import Field

from config.settings import get_settings
from warehouse import duck

DBT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"

# raw tables that no single asset owns (asset_key [raw, <table>] in the sources YAML): declared so the data owner
# sees what they are
side_tables = [
    dg.AssetSpec(
        ["raw", "telegram_chats"],
        group_name="telegram",
        description="Чаты Telegram и их привязка к клиенту; пополняют ассеты telegram_messages и telegram_exports.",
    ),
    dg.AssetSpec(
        ["raw", "telegram_chat_members"],
        group_name="telegram",
        description="Участники чатов без клиента (для сопоставления с контактами лидов) из telegram_messages.",
    ),
    dg.AssetSpec(
        ["raw", "bitrix_users"],
        group_name="bitrix24",
        description="Кураторы (пользователи Битрикс24) из bitrix_clients.",
    ),
    *(
        dg.AssetSpec(["raw", f"bitrix_{table}"], group_name="bitrix24", description=f"{what} из bitrix_clients.")
        for table, what in (
            ("companies", "Компании лидов"),
            ("contacts", "Контакты лидов"),
            ("requisites", "Реквизиты (ИНН) компаний и контактов лидов"),
        )
    ),
]

dbt_project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)


class WarehouseDbtResource(DbtCliResource):
    """dbt, writing the DuckDB warehouse at warehouse_path (the profile takes it as the var warehouse_path)."""

    warehouse_path: str = Field(description="Файл хранилища DuckDB (<папка данных>/warehouse.duckdb)")


def dbt_resource(project: DbtProject = dbt_project, settings=None) -> WarehouseDbtResource:
    # the dbt next to this Python, so it works without an activated virtualenv
    return WarehouseDbtResource(
        project_dir=project,
        profiles_dir=str(project.project_dir),
        dbt_executable=str(Path(sys.executable).parent / "dbt"),
        warehouse_path=str((settings or get_settings()).warehouse_path.resolve()),
    )


CHURN_FILE = DBT_DIR / "churn.yml"


def dbt_vars(settings) -> dict:
    """What the models need from outside: the team's timezone and the churn thresholds (churn.yml)."""
    return {"timezone": settings.timezone, "churn": yaml.safe_load(CHURN_FILE.read_text(encoding="utf-8"))}


def run_vars(settings) -> dict:
    """dbt_vars and the team's «today» (Settings.today(), so C360_TODAY pins it; macros/today.sql). «today» stays out
    of the build fingerprint: a new day must not rebuild every incremental mart in full."""
    return {**dbt_vars(settings), "today": settings.today().isoformat()}


PARSE_INPUTS = (".sql", ".yml", ".yaml", ".csv", ".md")
NOT_PARSE_INPUTS = {"target", "logs", "dbt_packages"}


def manifest_fingerprint(project: DbtProject, settings) -> str:
    """Everything `dbt parse` reads: the project's files, the vars it is given, the dbt and adapter versions."""
    versions = "|".join(importlib.metadata.version(d) for d in ("dbt-core", "dbt-duckdb"))
    params = json.dumps(dbt_vars(settings), sort_keys=True, ensure_ascii=False)
    h = hashlib.sha256(f"{versions}\0{params}\0".encode())
    root = Path(project.project_dir)
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in NOT_PARSE_INPUTS and not d.startswith("."))
        for name in sorted(files):
            if name.endswith(PARSE_INPUTS) and not name.startswith("."):
                path = Path(folder, name)
                h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def ensure_manifest(project: DbtProject = dbt_project) -> Path:
    """The manifest `@dbt_assets` is built from, parsed again only when what dbt reads has changed (a fresh clone, an
    edited model or churn.yml, another dbt), as told by the fingerprint stored with it: every process that loads
    the code location comes here, and `dbt parse` costs seconds. One process parses at a time (a lock) and the
    manifest is replaced in one rename, so processes starting together never read a half-written one."""
    manifest = project.manifest_path
    stamp = manifest.with_name("manifest.fingerprint")
    settings = get_settings()
    fingerprint = manifest_fingerprint(project, settings)

    def current() -> bool:
        return manifest.exists() and stamp.exists() and stamp.read_text() == fingerprint

    if current():
        return manifest
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with open(manifest.parent / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if current():  # another process has just parsed it
            return manifest
        resource = dbt_resource(project, settings)
        params = {**dbt_vars(settings), "warehouse_path": resource.warehouse_path}
        args = ["parse", "--quiet", "--vars", json.dumps(params, ensure_ascii=False)]
        parsed = manifest.parent / "parse"  # its own folder: dbt writes the manifest in place
        resource.cli(args, target_path=parsed).wait()
        os.replace(parsed / "manifest.json", manifest)
        stamp.with_suffix(".tmp").write_text(fingerprint)
        os.replace(stamp.with_suffix(".tmp"), stamp)
    return manifest


class Client360DbtTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":  # its meta.dagster.asset_key, read by dagster-dbt
            return super().get_asset_key(dbt_resource_props)
        return dg.AssetKey(dbt_resource_props["name"])  # a model: its name, without the schema

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn") or []
        return f"dbt_{fqn[1]}" if len(fqn) > 2 else "dbt"

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or not spec.additional_deps:
            return spec
        # a test reading another model (`relationships` to dim_clients) does not block in Dagster: dim_clients is
        # built after the Python assets between the dbt models (enrichment), so in a job the dbt steps would wait
        # on each other; a failing test still fails its `dbt build` step, and dbt skips what is downstream
        return dg.AssetCheckSpec(
            name=spec.name,
            asset=spec.asset_key,
            description=spec.description,
            additional_deps=spec.additional_deps,
            metadata=spec.metadata,
            blocking=False,
        )


# what, when changed, invalidates rows the incremental models keep: who a chat or WMS account belongs to
MAPPING_SQL = [
    "select string_agg(chat_id || '=' || coalesce(client_id, ''), ',' order by chat_id) from raw.telegram_chats",
    "select string_agg(wms_client_id || '=' || coalesce(client_id, ''), ',' order by wms_client_id)"
    " from raw.wms_clients",
    "select string_agg(system || ':' || external_id || '=' || lead_id, ',' order by system, external_id)"
    " from raw.identity_candidates where status = 'applied'",
]


def build_fingerprint(con, settings) -> str:
    """Models, thresholds and client mappings in one hash: when it changes, the marts are rebuilt in full."""
    h = hashlib.sha256(json.dumps(dbt_vars(settings), sort_keys=True, ensure_ascii=False).encode())
    for path in sorted(p for p in DBT_DIR.rglob("*") if p.suffix in (".sql", ".yml") and "target" not in p.parts):
        h.update(path.relative_to(DBT_DIR).as_posix().encode() + b"\0" + path.read_bytes())
    for sql in MAPPING_SQL:
        h.update(str(con.execute(sql).fetchone()[0] or "").encode())
    return h.hexdigest()


def build_args(settings, full: bool, warehouse_path: str | None = None) -> list[str]:
    """`dbt build` as the asset runs it. An incremental run leaves out the staging/intermediate views: they are
    only re-created when the models change (a full build), and each costs dbt a round of overhead. The warehouse
    file goes to the profile as a var (without one, the profile reads C360_WAREHOUSE_PATH)."""
    params = run_vars(settings) | ({"warehouse_path": warehouse_path} if warehouse_path else {})
    args = ["build", "--vars", json.dumps(params, ensure_ascii=False)]
    return [*args, "--full-refresh"] if full else [*args, "--exclude", "config.materialized:view"]


class WarehouseBuildConfig(dg.Config):
    full_refresh: bool = False  # rebuild every incremental mart from scratch


MANIFEST = ensure_manifest()
_NODES = json.loads(MANIFEST.read_text(encoding="utf-8"))["nodes"].values()
_MODELS = [node for node in _NODES if node["resource_type"] == "model"]
# model name → how dbt materializes it (view, table, incremental)
MATERIALIZED = {node["name"]: node["config"]["materialized"] for node in _MODELS}
# model name → the models it reads
PARENTS = {
    node["name"]: {dep.split(".")[-1] for dep in node["depends_on"]["nodes"] if dep.startswith("model.")}
    for node in _MODELS
}
MODEL_ORDER = list(graphlib.TopologicalSorter(PARENTS).static_order())


def ancestors(name: str) -> set[str]:
    out, todo = set(), list(PARENTS[name])
    while todo:
        if (parent := todo.pop()) not in out:
            out.add(parent)
            todo.extend(PARENTS[parent])
    return out


def with_views(context: dg.AssetExecutionContext, events, views: set[str]):
    """dbt's events, and a materialization of each view an incremental build left out (it reads its tables as they
    are now, so it is current): Dagster runs what depends on it, and wants a multi-asset's outputs upstream first,
    so a view goes out just before the first model built on it, or at the end."""
    pending = [m for m in MODEL_ORDER if m in views]

    def flush(names):
        for name in [m for m in pending if m in names]:
            pending.remove(name)
            yield dg.MaterializeResult(asset_key=name, metadata={"пересоздано": "нет: представление не менялось"})

    for event in events:
        if isinstance(event, dg.Output):
            yield from flush(ancestors(context.asset_key_for_output(event.output_name).path[-1]))
        yield event
    yield from flush(set(pending))


def built_with(value: str | None) -> dict[str, str]:
    """raw.build_state's dbt_fingerprint: the fingerprint each model was last built with (a job runs the models in
    several steps when Python assets sit between them, and each step rebuilds its own). A bare fingerprint, as
    written before, stands for every model."""
    if value is None:
        return {}
    try:
        built = json.loads(value)
    except ValueError:
        built = None
    return built if isinstance(built, dict) else dict.fromkeys(MATERIALIZED, value)


@dbt_assets(
    manifest=MANIFEST,
    project=dbt_project,
    # one asset may write several raw tables (client_profile: the facts and the evidence read)
    dagster_dbt_translator=Client360DbtTranslator(
        DagsterDbtTranslatorSettings(enable_duplicate_source_asset_keys=True)
    ),
    pool="duckdb_write",
)
def warehouse_models(context: dg.AssetExecutionContext, dbt: WarehouseDbtResource, config: WarehouseBuildConfig):
    """Модели хранилища (dbt): staging → intermediate → витрины, с проверками данных.

    Витрины, растущие со временем, обновляются инкрементально; после смены моделей, порогов churn.yml или
    привязки чатов/клиентов WMS — полная пересборка.
    """
    settings = get_settings()
    warehouse = Path(dbt.warehouse_path)
    with duck.connect(warehouse) as con:  # a fresh install: the raw tables dbt reads must exist
        fingerprint = build_fingerprint(con, settings)
        row = con.execute("select value from raw.build_state where key = 'dbt_fingerprint'").fetchone()
    built = built_with(row[0] if row else None)
    models = {key.path[-1] for key in context.selected_asset_keys} & MATERIALIZED.keys()
    full = config.full_refresh or any(built.get(m) != fingerprint for m in models)
    if full:
        context.log.info("Полная пересборка витрин: изменились модели, пороги или привязка клиентов")
    args = build_args(settings, full, dbt.warehouse_path)
    # one target folder per warehouse, beside it (its runs never overlap: pool duckdb_write), not a new one per run:
    # dbt's partial parse stays valid between runs, and the project folder may be read-only (the Docker image)
    target = warehouse.with_name(warehouse.stem + "_dbt")
    events = dbt.cli(args, context=context, target_path=target).stream()
    yield from with_views(context, events, set() if full else {m for m in models if MATERIALIZED[m] == "view"})
    built.update(dict.fromkeys(models, fingerprint))
    with duck.connect(warehouse) as con:
        duck.upsert(con, "raw.build_state", [{"key": "dbt_fingerprint", "value": json.dumps(built, sort_keys=True)}])
