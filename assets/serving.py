"""serving_snapshot: what the app reads, copied out of the warehouse into its own DuckDB file after each build.

DuckDB lets one process write and blocks even readers of other processes while it does, so the app never opens the
live warehouse: it reads this snapshot, which is written to a new file and then renamed over the old one (readers
that have the old file open keep reading it; the next request opens the new one).
"""

import os
from pathlib import Path

import dagster as dg
import duckdb

from assets.enrichment.profile import client_profile
from assets.notes.assets import staff_notes
from assets.resources import WarehouseResource
from assets.telegram.storage import RENAMED
from config.settings import get_settings

# an unlinked WMS client's or chat's open suggestions and conflicts (assets/identity), as one line for the admin page
OPEN_CANDIDATES = """string_agg(case c.status when 'conflict' then 'конфликт: ' else 'предложение: ' end
                                || c.evidence, '; ' order by c.confidence desc) as candidates"""


def open_candidates_of(system: str, external_id: str) -> str:
    return f"""left join w.staging.stg_identity__candidates as c
               on c.system = '{system}' and c.external_id = {external_id} and c.status in ('suggested', 'conflict')"""


# table in the snapshot → what fills it (from the warehouse, attached as `w`)
TABLES = {
    "clients": "select * from w.marts.dim_clients",
    "health": "select * from w.marts.client_health",
    "alerts": "select * from w.marts.fct_client_alerts where week_end >= current_date - 56",
    "timeline": "select * exclude (loaded_at) from w.marts.fct_client_timeline",
    "profile": "select * from w.marts.client_profile_card",
    "wms_weekly": "select * exclude (loaded_at) from w.intermediate.int_wms_weekly",
    "transcripts": "select recording_id, client_id, text from w.staging.stg_meetings__transcripts",
    "last_contact": """select client_id, max(day) as last_contact from w.marts.fct_client_daily_activity
                       where messages_in + messages_out + meetings + calls + emails > 0 group by 1""",
    # for the admin page: what is not yet tied to a client
    "unmapped_chats": f"""select t.chat_id, t.title, t.chat_type, {OPEN_CANDIDATES}
                          from w.staging.stg_telegram__chats as t
                          {open_candidates_of("telegram_chat", "cast(t.chat_id as varchar)")}
                          where t.client_id is null group by all""",
    "renamed_chats": "select chat_id, mapped_title, title, client_id, title_lead from w.staging.stg_telegram__chats "
    f"where {RENAMED}",
    # a WMS client linked to no lead, with what the identity asset found for it (to accept: `client360 map`)
    "unmapped_wms": f"""select w.wms_client_id, w.name, w.inn, {OPEN_CANDIDATES}
                        from w.intermediate.int_wms_clients as w
                        {open_candidates_of("wms_client", "w.wms_client_id")}
                        where w.lead_id is null group by all""",
    "unmatched_recordings": "select path, room, reason, last_seen_at from w.staging.stg_meetings__unmatched",
    # what the admin accepts or rejects in one click
    "identity_open": "select system, external_id, lead_id, status, confidence, evidence "
    "from w.staging.stg_identity__candidates where status in ('suggested', 'conflict')",
}


def publish(warehouse: Path, target: Path) -> dict[str, int]:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    counts = {}
    con = duckdb.connect(str(tmp))
    try:
        con.execute(f"attach '{warehouse}' as w (read_only)")
        present = {
            (s, t)
            for s, t in con.execute(
                "select schema_name, table_name from duckdb_tables() where database_name = 'w'"
            ).fetchall()
        }
        present |= {
            (s, t)
            for s, t in con.execute(
                "select schema_name, view_name from duckdb_views() where database_name = 'w'"
            ).fetchall()
        }
        for name, sql in TABLES.items():
            source = sql.split(" from w.")[1].split()[0].split(".")
            if tuple(source) not in present:
                continue  # that part of the warehouse is not built yet: the app shows what exists
            con.execute(f"create table {name} as {sql}")
            counts[name] = con.execute(f"select count(*) from {name}").fetchone()[0]
        con.execute("detach w")
    finally:
        con.close()
    os.replace(tmp, target)
    return counts


@dg.asset(
    group_name="app",
    deps=[
        "dim_clients",
        "client_health",
        "fct_client_alerts",
        "fct_client_timeline",
        "client_profile_card",
        "int_wms_weekly",
        "fct_client_daily_activity",
        "stg_meetings__transcripts",
        "stg_telegram__chats",
        "int_wms_clients",
        "stg_identity__candidates",
        "stg_meetings__unmatched",
        client_profile,
        staff_notes,
    ],
    kinds={"duckdb"},
    pool="duckdb_write",
    description=(
        "Снимок витрин для приложения кураторов (отдельный файл serving.duckdb): приложение читает его и никогда "
        "не ждёт, пока запуск пишет в хранилище. Новый снимок заменяет старый целиком."
    ),
)
def serving_snapshot(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = get_settings()
    with warehouse.connect():
        pass  # a fresh install: the warehouse file must exist
    counts = publish(warehouse.path, settings.serving_path)
    return dg.MaterializeResult(metadata={"строк по таблицам": dg.MetadataValue.json(counts)})
