"""staff_notes: the curators' notes, written in the app (app DB), copied into the warehouse."""

import dagster as dg

from assets.resources import AppDBResource, WarehouseResource
from warehouse.duck import upsert


def _utc(value):
    return value.replace(tzinfo=None) if value is not None and value.tzinfo else value


@dg.asset(
    group_name="notes",
    kinds={"duckdb"},
    pool="duckdb_write",
    description=(
        "Заметки кураторов о клиентах: пишутся в приложении сразу (база приложения), сюда копируются новые, "
        "изменённые и удалённые — чтобы попасть в историю клиента и в поиск для чата."
    ),
)
def staff_notes(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, app_db: AppDBResource
) -> dg.MaterializeResult:
    from warehouse.staff import Staff  # SQLAlchemy and argon2, for this step only

    with warehouse.connect(read_only=True) as con:
        since = con.execute("select max(updated_at) from raw.staff_notes").fetchone()[0]
    changed = Staff(app_db.db()).notes_changed_since(since)
    rows = [
        {
            "note_id": n["id"],
            "client_id": n["client_id"],
            "author": n["author"],
            "text": n["text"],
            "created_at": _utc(n["created_at"]),
            "updated_at": _utc(n["updated_at"]),
            "deleted_at": _utc(n["deleted_at"]),
        }
        for n in changed
    ]
    with warehouse.connect() as con:
        upsert(con, "raw.staff_notes", rows)
        total = con.execute("select count(*) from raw.staff_notes where deleted_at is null").fetchone()[0]
    return dg.MaterializeResult(
        metadata={
            "новых или изменённых": sum(r["deleted_at"] is None for r in rows),
            "удалённых": sum(r["deleted_at"] is not None for r in rows),
            "заметок всего": total,
        }
    )
