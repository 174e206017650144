"""Identity: which Bitrix24 lead each WMS client and Telegram chat is. A sure INN match is applied (unless
C360_IDENTITY_AUTO_INN is off); close names, and chats one of whose people has a lead's phone or username, are
suggested; conflicts listed. A WMS client linked to no lead keeps a provisional identity (`wms-<id>`, dbt
macros/identity.sql) and is scored and alerted on all the same."""

import dagster as dg

from assets.identity.matching import chat_candidates, wms_candidates
from assets.metadata import md_table
from assets.resources import AppDBResource, WarehouseResource
from warehouse.duck import fetch_dicts

GROUP = "identity"
STATUS = {"applied": "привязан", "suggested": "предложение", "conflict": "конфликт", "rejected": "отклонён"}
KIND = {"inn": "ИНН", "name": "название", "phone": "телефон", "username": "имя в Telegram", "title": "название чата"}
SYSTEM = {"wms_client": "WMS", "telegram_chat": "чат"}
# the people of chats without a client, and the leads' and their contacts' phones and messengers
MEMBERS = "select chat_id, name, username, phone from staging.stg_telegram__chat_members"
PEOPLE = """select client_id, phones, messengers from staging.stg_bitrix24__leads
            union all
            select l.client_id, c.phones, c.messengers
            from staging.stg_bitrix24__leads as l join staging.stg_bitrix24__contacts as c using (contact_id)"""


def _rows(con, sql: str) -> list[dict]:
    """The rows of a dbt view; none before the first build has made it."""
    try:
        return fetch_dicts(con, sql)
    except Exception as exc:  # duckdb.CatalogException: the view does not exist yet
        if "does not exist" in str(exc):
            return []
        raise


@dg.asset(
    group_name=GROUP,
    deps=[
        dg.AssetKey(key)
        for key in (
            "stg_wms__clients",
            "int_lead_organisations",
            "stg_telegram__chats",
            "stg_telegram__chat_members",
            "stg_bitrix24__leads",
            "stg_bitrix24__contacts",
        )
    ],
    pool="duckdb_write",
    kinds={"duckdb"},
    description=(
        "Сопоставление клиентов WMS с лидами Битрикс24: совпадение ИНН (реквизиты компании или контакта лида) "
        "привязывает клиента само, похожее название — предложение владельцу, два лида с одним ИНН или два похожих "
        "названия — конфликт. Принять или отклонить: client360 map. Непривязанный клиент всё равно оценивается "
        "и попадает в тревоги под своим названием из WMS. Чат Telegram без клиента получает предложение, если в нём "
        "есть человек с телефоном или именем пользователя лида или его контакта, или если в названии чата — "
        "название лида."
    ),
)
def client_identity(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, app_db: AppDBResource
) -> dg.MaterializeResult:
    db = app_db.db()
    try:
        rejected = db.identity_rejections()
    finally:
        db.dispose()
    with warehouse.connect() as con:
        wms = _rows(con, "select wms_client_id, name, inn, client_id from staging.stg_wms__clients")
        organisations = _rows(con, "select * from intermediate.int_lead_organisations")
        chats = _rows(con, "select chat_id, title, client_id from staging.stg_telegram__chats")
        found = wms_candidates(wms, organisations, rejected, auto_inn=warehouse.identity_auto_inn)
        found += chat_candidates(chats, _rows(con, MEMBERS), _rows(con, PEOPLE), organisations, rejected)
        con.execute("delete from raw.identity_candidates")
        if found:
            con.executemany(
                "insert into raw.identity_candidates (system, external_id, lead_id, kind, confidence, evidence, "
                "status) values (?, ?, ?, ?, ?, ?, ?)",
                [(c.system, c.external_id, c.lead_id, c.kind, c.confidence, c.evidence, c.status) for c in found],
            )
    by_status = {s: [c for c in found if c.status == s] for s in STATUS}
    linked = {c.external_id for c in by_status["applied"] if c.system == "wms_client"}
    unlinked = [w for w in wms if not w.get("client_id") and w["wms_client_id"] not in linked]
    table = lambda rows: md_table(  # noqa: E731
        ("что", "id", "лид", "по", "уверенность", "основание"),
        [(SYSTEM[c.system], c.external_id, c.lead_id, KIND[c.kind], f"{c.confidence:.2f}", c.evidence) for c in rows],
        limit=300,
    )
    return dg.MaterializeResult(
        metadata={
            "клиентов WMS": len(wms),
            "чатов без клиента": sum(not c.get("client_id") for c in chats),
            "привязаны файлом": sum(bool(w.get("client_id")) for w in wms),
            "привязаны по ИНН": len(linked),
            "без лида (временный ID wms-…)": len(unlinked),
            "предложения": table(by_status["suggested"]),
            "конфликты": table(by_status["conflict"]),
            "отклонены владельцем": len(by_status["rejected"]),
            "не привязаны": md_table(
                ("WMS", "название"), [(w["wms_client_id"], w.get("name") or "") for w in unlinked], limit=300
            ),
        }
    )
