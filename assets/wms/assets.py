"""WMS assets: clients, daily stock snapshots, and the order/receipt/reservation history, incrementally."""

import hashlib
import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import dagster as dg
from pydantic import Field

from assets.metadata import alias_problems, md_table
from assets.resources import WarehouseResource, WmsResource
from config.clock import as_utc, to_local
from config.settings import get_settings
from connectors.http import ExternalServiceError
from connectors.wms import ORDER_KINDS
from warehouse.duck import upsert

GROUP = "wms"


def parse_utc(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return as_utc(parsed)


def _units(item: dict, problems: list[str]) -> int | None:
    units = item.get("units")
    if isinstance(units, bool) or not isinstance(units, int | float):
        problems.append("bad_units")
        return None
    if units < 0:
        problems.append("negative_units")
    return int(units)


def _base(item: dict, id_key: str, problems: list[str]) -> dict:
    if not isinstance(item, dict):
        item = {"value": item}
    record_id = item.get("id")
    if record_id in (None, ""):
        problems.append("no_id")
        # a content digest, stable across runs (Python's hash() is salted per process)
        digest = hashlib.sha1(json.dumps(item, sort_keys=True, default=str).encode()).hexdigest()[:16]
        record_id = f"noid-{digest}"
    created = parse_utc(item.get("created_at"))
    if created is None:
        problems.append("bad_created_at")
    return {id_key: str(record_id), "created_at": created}


def order_row(client: str, item: dict) -> dict:
    problems: list[str] = []
    row = {"wms_client_id": client, **_base(item, "order_id", problems)}
    kind = item.get("kind") if isinstance(item, dict) else None
    if kind not in ORDER_KINDS:
        problems.append(f"unknown_kind:{kind}")
    row |= {
        "kind": kind,
        "marketplace": item.get("marketplace"),
        "status": item.get("status"),
        "units": _units(item, problems),
    }
    return row | {"record_status": ",".join(problems) or "ok", "raw": json.dumps(item, ensure_ascii=False)}


def receipt_row(client: str, item: dict) -> dict:
    problems: list[str] = []
    row = {"wms_client_id": client, **_base(item, "receipt_id", problems), "units": _units(item, problems)}
    return row | {"record_status": ",".join(problems) or "ok", "raw": json.dumps(item, ensure_ascii=False)}


def reservation_row(client: str, item: dict) -> dict:
    problems: list[str] = []
    row = {
        "wms_client_id": client,
        **_base(item, "reservation_id", problems),
        "units": _units(item, problems),
        "status": item.get("status"),
    }
    return row | {"record_status": ",".join(problems) or "ok", "raw": json.dumps(item, ensure_ascii=False)}


def _skip_or_fail(exc: ExternalServiceError, failed: dict, what: str) -> None:
    """A wrong token stops the run with the setting to fix; one client's broken listing is counted and skipped."""
    if exc.status in (401, 403):
        raise dg.Failure(description=str(exc)) from exc
    failed[what] = str(exc)


@dg.asset(
    group_name=GROUP,
    pool="duckdb_write",
    kinds={"duckdb"},
    description=(
        "Клиенты склада из WMS (id, название, ИНН) и их привязка к ID лида через файл привязок (wms_client). "
        "Непривязанные клиенты сохраняются и перечисляются."
    ),
)
def wms_clients(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, wms: WmsResource
) -> dg.MaterializeResult:
    aliases = warehouse.aliases()
    adapter = wms.adapter()
    try:
        items = list(adapter.clients())
    except ExternalServiceError as exc:
        raise dg.Failure(description=str(exc)) from exc
    finally:
        adapter.close()
    with warehouse.connect() as con:
        # a client whose alias line is broken keeps its lead until the line is fixed
        kept = dict(con.execute("select wms_client_id, client_id from raw.wms_clients").fetchall())
        rows = [
            {
                "wms_client_id": str(c["id"]),
                "name": c.get("name"),
                "inn": c.get("inn"),
                "client_id": aliases.lead(("wms_client", str(c["id"])), kept.get(str(c["id"]))),
            }
            for c in items
            if isinstance(c, dict) and c.get("id") not in (None, "")
        ]
        upsert(con, "raw.wms_clients", rows)
        unmapped = con.execute(
            "select wms_client_id, name from raw.wms_clients where client_id is null order by 1"
        ).fetchall()
    return dg.MaterializeResult(
        metadata={
            "клиентов WMS": len(rows),
            "без клиента (не привязаны)": len(unmapped),
            "непривязанные": md_table(("WMS id", "название"), unmapped, limit=300),
            **alias_problems(aliases),
        }
    )


class StockConfig(dg.Config):
    history_weeks: int = Field(0, description="Догрузить недельные снимки остатков за столько недель назад")


@dg.asset(
    group_name=GROUP,
    deps=[wms_clients],
    pool="duckdb_write",
    kinds={"duckdb"},
    description=(
        "Остатки клиента на складе по SKU: снимок на день (на руках, в резерве). Повторный запуск в тот же день "
        "заменяет снимок, а не дублирует. Можно догрузить недельные снимки за прошлые недели."
    ),
)
def wms_stock(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, wms: WmsResource, config: StockConfig
) -> dg.MaterializeResult:
    settings = get_settings()
    today = settings.today()
    days: list[date | None] = [None] + [today - timedelta(weeks=w) for w in range(1, config.history_weeks + 1)]
    with warehouse.connect(read_only=True) as con:
        clients = [r[0] for r in con.execute("select wms_client_id from raw.wms_clients order by 1").fetchall()]
    adapter = wms.adapter()
    rows, failed = [], {}
    try:
        for client in clients:
            for as_of in days:
                try:
                    items = list(adapter.stock(client, as_of))
                except ExternalServiceError as exc:
                    _skip_or_fail(exc, failed, f"{client} {as_of or 'сейчас'}")
                    continue
                for item in items:
                    problems: list[str] = []
                    stated = parse_utc(item.get("as_of"))
                    day = as_of or (to_local(stated, settings.tz).date() if stated else today)
                    on_hand, reserved = item.get("on_hand"), item.get("reserved")
                    if not isinstance(on_hand, int) or on_hand < 0:
                        problems.append("bad_on_hand")
                    if reserved is not None and (not isinstance(reserved, int) or reserved < 0):
                        problems.append("bad_reserved")
                    rows.append(
                        {
                            "wms_client_id": client,
                            "sku": str(item.get("sku")),
                            "snapshot_date": day,
                            "name": item.get("name"),
                            "on_hand": on_hand if isinstance(on_hand, int) else None,
                            "reserved": reserved if isinstance(reserved, int) else None,
                            "as_of": stated,
                            "record_status": ",".join(problems) or "ok",
                        }
                    )
    finally:
        adapter.close()
    with warehouse.connect() as con:
        upsert(con, "raw.wms_stock", rows)
    return dg.MaterializeResult(
        metadata={
            "клиентов": len(clients),
            "строк снимков": len(rows),
            "снимков на клиента": len(days),
            "ошибки страниц": len(failed),
            "ошибки": dg.MetadataValue.json(failed),
            "записей с проблемами": sum(r["record_status"] != "ok" for r in rows),
        }
    )


def _flow_asset(name: str, method: str, table: str, make_row, description: str):
    @dg.asset(
        name=name,
        group_name=GROUP,
        deps=[wms_clients],
        pool="duckdb_write",
        kinds={"duckdb"},
        description=description,
    )
    def _flow(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, wms: WmsResource
    ) -> dg.MaterializeResult:
        settings = get_settings()
        now = as_utc(settings.now())  # a first pull reaches back from «today»
        with warehouse.connect(read_only=True) as con:
            clients = [r[0] for r in con.execute("select wms_client_id from raw.wms_clients order by 1").fetchall()]
            cursors = dict(con.execute(f"select wms_client_id, max(created_at) from {table} group by 1").fetchall())
            before = con.execute(f"select count(*) from {table}").fetchone()[0]
        adapter = wms.adapter()
        rows, failed = [], {}
        try:
            for client in clients:
                last = cursors.get(client)
                # re-read a window: statuses change after creation; first time: the configured history
                since = (
                    (last - timedelta(days=settings.wms_overlap_days))
                    if last
                    else now - timedelta(days=settings.wms_history_days)
                )
                try:
                    rows += [
                        make_row(client, item) for item in getattr(adapter, method)(client, since.replace(tzinfo=UTC))
                    ]
                except ExternalServiceError as exc:
                    _skip_or_fail(exc, failed, client)
        finally:
            adapter.close()
        with warehouse.connect() as con:
            upsert(con, table, rows)
            after = con.execute(f"select count(*) from {table}").fetchone()[0]
        problems = Counter(p.split(":")[0] for r in rows for p in r["record_status"].split(",") if p != "ok")
        metadata = {
            "клиентов": len(clients),
            "записей получено": len(rows),
            "новых": after - before,
            "всего в таблице": after,
            "записей с проблемами": sum(r["record_status"] != "ok" for r in rows),
            "проблемы": dg.MetadataValue.json(dict(problems)),
            "нечитаемых страниц": len(failed),
            "ошибки": dg.MetadataValue.json(failed),
        }
        if method == "orders":
            metadata["из них вывозов со склада"] = sum(r["kind"] == "withdrawal" for r in rows)
        return dg.MaterializeResult(metadata=metadata)

    return _flow


wms_orders = _flow_asset(
    "wms_orders",
    "orders",
    "raw.wms_orders",
    order_row,
    "Отгрузки клиента из WMS: на маркетплейсы (marketplace), FBS и вывоз товара обратно селлеру (withdrawal — "
    "главный признак ухода). Загружаются новые и изменённые за последние дни.",
)
wms_receipts = _flow_asset(
    "wms_receipts",
    "receipts",
    "raw.wms_receipts",
    receipt_row,
    "Поставки клиента на склад (приёмки) из WMS. Загружаются новые и изменённые за последние дни.",
)
wms_reservations = _flow_asset(
    "wms_reservations",
    "reservations",
    "raw.wms_reservations",
    reservation_row,
    "Резервы товара клиента из WMS (всплеск резервов — признак возможного ухода). Загружаются новые и изменённые.",
)

wms_assets = [wms_clients, wms_stock, wms_orders, wms_receipts, wms_reservations]
