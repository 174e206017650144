"""Pulling Bitrix24 CRM entities and resolving which client an activity owner belongs to."""

from __future__ import annotations

import json
from collections.abc import Iterable

import duckdb

from connectors.bitrix import BitrixClient, BitrixError
from connectors.bitrix_activity import parse_time

LEAD_SELECT = ["*", "UF_*", "PHONE", "EMAIL", "IM"]
CHUNK = 50  # ids per `@ID` filter


def chunks(ids: Iterable[int], size: int = CHUNK) -> list[list[int]]:
    ids = sorted(set(ids))
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _multi(values) -> str:
    """PHONE/EMAIL/IM multi-fields → JSON list of {type, value}."""
    out = [{"type": v.get("VALUE_TYPE"), "value": v.get("VALUE")} for v in values or [] if isinstance(v, dict)]
    return json.dumps(out, ensure_ascii=False)


def _int(value) -> int | None:
    return int(value) if str(value or "").isdigit() and int(value) > 0 else None


def lead_row(raw: dict, users: dict[int, str]) -> dict:
    name = " ".join(x for x in (raw.get("NAME"), raw.get("SECOND_NAME"), raw.get("LAST_NAME")) if x) or None
    assigned = _int(raw.get("ASSIGNED_BY_ID"))
    return {
        "lead_id": int(raw["ID"]),
        "title": raw.get("TITLE"),
        "name": name,
        "status_id": raw.get("STATUS_ID"),
        "source_id": raw.get("SOURCE_ID"),
        "assigned_by_id": assigned,
        "assigned_by_name": users.get(assigned) if assigned else None,
        "date_create": parse_time(raw.get("DATE_CREATE")),
        "date_modify": parse_time(raw.get("DATE_MODIFY")),
        "contact_id": _int(raw.get("CONTACT_ID")),
        "company_id": _int(raw.get("COMPANY_ID")),
        "phones": _multi(raw.get("PHONE")),
        "emails": _multi(raw.get("EMAIL")),
        "messengers": _multi(raw.get("IM")),
        "uf": json.dumps({k: v for k, v in raw.items() if k.startswith("UF_")}, ensure_ascii=False),
        "raw": json.dumps(raw, ensure_ascii=False),
    }


def first_error(failed: dict[str, BitrixError]) -> None:
    """Raise the first of a batch's failed sub-calls (each one's message names the method and the cause)."""
    for error in failed.values():
        raise error


def fetch_all(client: BitrixClient, calls: dict[str, tuple[str, dict]]) -> list[dict]:
    """The rows of several list queries (a batch, paged by ID); any failed query fails the whole fetch."""
    if not calls:
        return []
    rows, failed = client.batch_list_all(calls)
    first_error(failed)
    return [r for page in rows.values() for r in page]


def fetch_by_ids(client: BitrixClient, method: str, ids: Iterable[int], select: list[str]) -> list[dict]:
    return fetch_all(
        client, {f"c{i}": (method, {"filter": {"@ID": chunk}, "select": select}) for i, chunk in enumerate(chunks(ids))}
    )


def fetch_users(client: BitrixClient, ids: Iterable[int]) -> dict[int, dict]:
    calls = {f"u{uid}": ("user.get", {"ID": uid}) for uid in sorted(set(ids))}
    if not calls:
        return {}
    results, errors, _next = client.batch(calls)
    first_error({k: client.sub_error("user.get", e) for k, e in errors.items()})
    users = {}
    for rows in results.values():
        for u in rows or []:
            name = " ".join(x for x in (u.get("NAME"), u.get("LAST_NAME")) if x) or u.get("EMAIL") or str(u["ID"])
            users[int(u["ID"])] = {"name": name, "email": u.get("EMAIL"), "active": bool(u.get("ACTIVE", True))}
    return users


def owner_clients(con: duckdb.DuckDBPyConnection, aliases: dict[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    """(OWNER_TYPE_ID, OWNER_ID) as Bitrix strings → client_id, for leads, their contacts, companies and deals."""
    owners: dict[tuple[str, str], str] = {}
    for lead_id, contact_id, company_id in con.execute(
        "select lead_id, contact_id, company_id from raw.bitrix_leads order by lead_id"
    ).fetchall():
        client = str(lead_id)
        owners[("1", client)] = client
        if contact_id:
            owners.setdefault(("3", str(contact_id)), client)
        if company_id:
            owners.setdefault(("4", str(company_id)), client)
    for system, type_id in (("bitrix_contact", "3"), ("bitrix_company", "4")):
        for (sys_name, external), client in aliases.items():
            if sys_name == system:
                owners[(type_id, external)] = client
    for deal_id, lead_id, contact_id, company_id in con.execute(
        "select deal_id, lead_id, contact_id, company_id from raw.bitrix_deals order by deal_id"
    ).fetchall():
        client = (
            owners.get(("1", str(lead_id))) or owners.get(("3", str(contact_id))) or owners.get(("4", str(company_id)))
        )
        if client:
            owners[("2", str(deal_id))] = client
    return owners


def ids_of(rows: list[dict], field: str) -> list[int]:
    return sorted({i for i in (_int(r.get(field)) for r in rows) if i})


def contact_row(c: dict) -> dict:
    return {
        "contact_id": int(c["ID"]),
        "name": " ".join(x for x in (c.get("NAME"), c.get("LAST_NAME")) if x) or None,
        "company_id": _int(c.get("COMPANY_ID")),
        "assigned_by_id": _int(c.get("ASSIGNED_BY_ID")),
        "phones": _multi(c.get("PHONE")),
        "emails": _multi(c.get("EMAIL")),
        "messengers": _multi(c.get("IM")),
        "raw": json.dumps(c, ensure_ascii=False),
    }


def company_row(c: dict) -> dict:
    return {
        "company_id": int(c["ID"]),
        "title": c.get("TITLE"),
        "phones": _multi(c.get("PHONE")),
        "emails": _multi(c.get("EMAIL")),
        "raw": json.dumps(c, ensure_ascii=False),
    }


REQUISITE_OWNERS = {"3": "контакт", "4": "компания"}  # ENTITY_TYPE_ID (crm.enum.ownertype) → in Russian


def fetch_requisites(client: BitrixClient, contacts: Iterable[int], companies: Iterable[int]) -> list[dict]:
    """The requisites (crm-requisite-list.md: ENTITY_TYPE_ID 3 contact / 4 company, ENTITY_ID, RQ_INN …) of these
    contacts and companies."""
    select = [
        "ID",
        "ENTITY_TYPE_ID",
        "ENTITY_ID",
        "NAME",
        "RQ_INN",
        "RQ_COMPANY_NAME",
        "RQ_COMPANY_FULL_NAME",
        "RQ_NAME",
    ]
    calls = {}
    for type_id, ids in (("3", contacts), ("4", companies)):
        for i, chunk in enumerate(chunks(ids)):
            flt = {"ENTITY_TYPE_ID": type_id, "@ENTITY_ID": chunk}
            calls[f"r{type_id}_{i}"] = ("crm.requisite.list", {"filter": flt, "select": select})
    return fetch_all(client, calls)


def requisite_row(r: dict) -> dict:
    inn = "".join(ch for ch in str(r.get("RQ_INN") or "") if ch.isdigit())
    return {
        "requisite_id": int(r["ID"]),
        "entity_type_id": _int(r.get("ENTITY_TYPE_ID")),
        "entity_id": _int(r.get("ENTITY_ID")),
        "name": r.get("NAME"),
        "company_name": r.get("RQ_COMPANY_NAME") or r.get("RQ_COMPANY_FULL_NAME") or r.get("RQ_NAME") or None,
        "inn": inn or None,
        "raw": json.dumps(r, ensure_ascii=False),
    }


def deal_row(d: dict) -> dict:
    amount = d.get("OPPORTUNITY")
    return {
        "deal_id": int(d["ID"]),
        "title": d.get("TITLE"),
        "stage_id": d.get("STAGE_ID"),
        "lead_id": _int(d.get("LEAD_ID")),
        "contact_id": _int(d.get("CONTACT_ID")),
        "company_id": _int(d.get("COMPANY_ID")),
        "opportunity": float(amount) if amount not in (None, "") else None,
        "raw": json.dumps(d, ensure_ascii=False),
    }


def activity_hours(con: duckdb.DuckDBPyConnection, since) -> list:
    """The hours (UTC) in which calls and e-mails took place since `since`: which days have something to summarize."""
    return [
        r[0]
        for r in con.execute(
            "select distinct date_trunc('hour', started_at) from raw.bitrix_activities where started_at >= ?", [since]
        ).fetchall()
    ]
