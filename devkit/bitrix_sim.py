"""Bitrix24 REST simulator (incoming webhook): real method names and JSON shapes, paging, batch, throttling and
errors on demand; the row builders make a portal (leads, contacts, companies, deals, calls, e-mails, to-dos).
Used by the offline demo and by the tests."""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

from devkit.local_http import LoggingHttpServer, Request

PAGE = 50
LISTS = {
    "crm.lead.list": "leads",
    "crm.contact.list": "contacts",
    "crm.company.list": "companies",
    "crm.deal.list": "deals",
    "crm.activity.list": "activities",
}


def php_query(query: str) -> dict:
    """`filter[@OWNER_ID][0]=1&select[0]=*` → nested dicts/lists, as PHP's parse_str does."""
    root: dict = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        names = [key.split("[", 1)[0]] + re.findall(r"\[([^\]]*)\]", key)
        node = root
        for name in names[:-1]:
            node = node.setdefault(name, {})
        node[names[-1]] = value

    def listify(node):
        if isinstance(node, dict):
            node = {k: listify(v) for k, v in node.items()}
            if node and all(k.isdigit() for k in node):
                return [node[k] for k in sorted(node, key=int)]
        return node

    return listify(root)


def _value(v):
    if isinstance(v, str) and re.match(r"^\d{4}-\d{2}-\d{2}T", v):
        return datetime.fromisoformat(v)
    if isinstance(v, str) and v.lstrip("-").isdigit():
        return int(v)
    return v


def _owner_match(row: dict, flt: dict) -> bool:
    """OWNER_TYPE_ID + (@)OWNER_ID must hold on one pair: the primary owner or any of the bindings."""
    ids = flt.get("@OWNER_ID", flt.get("OWNER_ID"))
    ids = {int(x) for x in (ids if isinstance(ids, list) else [ids])}
    pairs = [(row.get("OWNER_TYPE_ID"), row.get("OWNER_ID"))]
    pairs += [(b.get("OWNER_TYPE_ID"), b.get("OWNER_ID")) for b in row.get("BINDINGS") or []]
    return any(str(t) == str(flt["OWNER_TYPE_ID"]) and int(i) in ids for t, i in pairs)


def matches(row: dict, flt: dict) -> bool:
    flt = dict(flt or {})
    if "OWNER_TYPE_ID" in flt and ("@OWNER_ID" in flt or "OWNER_ID" in flt):
        if not _owner_match(row, flt):
            return False
        for key in ("OWNER_TYPE_ID", "@OWNER_ID", "OWNER_ID"):
            flt.pop(key, None)
    for key, expected in flt.items():
        op, field = re.match(r"^(>=|<=|>|<|!=|!@|@|=|!)?(.+)$", key).groups()
        value = _value(row.get(field))
        if op == "@":
            ok = value in {_value(x) for x in (expected if isinstance(expected, list) else [expected])}
        elif op in (">=", ">", "<=", "<"):
            e = _value(expected)
            ok = type(value) is type(e) and {">=": value >= e, ">": value > e, "<=": value <= e, "<": value < e}[op]
        else:
            ok = (value == _value(expected)) != (op in ("!", "!="))
        if not ok:
            return False
    return True


class BitrixSimulator(LoggingHttpServer):
    def __init__(self, token: str = "k3y"):
        super().__init__()
        self.token = token
        self.leads: dict[int, dict] = {}
        self.contacts: dict[int, dict] = {}
        self.companies: dict[int, dict] = {}
        self.deals: dict[int, dict] = {}
        self.activities: dict[int, dict] = {}
        self.users: dict[int, dict] = {}
        self.http_requests = 0
        self.calls: Counter = Counter()  # method → calls, sub-calls of batch included
        self.rows_served: Counter = Counter()  # method → rows returned
        self.throttle_next = 0  # answer QUERY_LIMIT_EXCEEDED this many times
        self.fail_next = 0  # answer 500 this many times
        self.error_code: str | None = None  # e.g. "insufficient_scope" for every call

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/rest/1/{self.token}/"

    def _time(self) -> dict:
        now = time.time()
        return {
            "start": now,
            "finish": now,
            "duration": 0.001,
            "processing": 0.001,
            "date_start": "2026-11-25T10:00:00+03:00",
            "date_finish": "2026-11-25T10:00:00+03:00",
            "operating_reset_at": int(now) + 600,
            "operating": 0,
        }

    def handle(self, req: Request):
        if req.path.startswith("/records/"):
            return self.record(req)
        prefix = f"/rest/1/{self.token}/"
        if not req.path.startswith(prefix):
            return 401, {}, {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"}
        self.http_requests += 1
        method = req.path[len(prefix) :].removesuffix(".json")
        if self.throttle_next:
            self.throttle_next -= 1
            return 503, {}, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
        if self.fail_next:
            self.fail_next -= 1
            return 500, {}, {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"}
        if self.error_code == "insufficient_scope":
            return (
                403,
                {},
                {
                    "error": "insufficient_scope",
                    "error_description": "The request requires higher privileges than provided by the webhook token",
                },
            )
        if self.error_code == "expired_token":
            return 401, {}, {"error": "expired_token", "error_description": "The access token provided has expired."}
        params = req.json() if req.body else {k: v for k, v in php_query(urlsplit(req.path).query).items()}
        if method == "batch":
            return 200, {}, {"result": self.batch(params), "time": self._time()}
        status, body = self.run(method, params)
        return status, {}, {**body, "time": self._time()}

    def run(self, method: str, params: dict) -> tuple[int, dict]:
        self.calls[method] += 1
        if method in LISTS:
            rows = [r for r in getattr(self, LISTS[method]).values() if matches(r, params.get("filter") or {})]
            rows.sort(key=lambda r: int(r["ID"]))
            start = int(params.get("start") or 0)
            page = rows[start : start + PAGE]
            self.rows_served[method] += len(page)
            body = {"result": page, "total": len(rows)}
            if start + PAGE < len(rows):
                body["next"] = start + PAGE
            return 200, body
        if method == "user.get":
            ids = params.get("ID")
            ids = {int(x) for x in (ids if isinstance(ids, list) else [ids])} if ids else set(self.users)
            return 200, {"result": [u for uid, u in self.users.items() if uid in ids], "total": len(ids)}
        return 404, {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}

    def batch(self, params: dict) -> dict:
        cmd = params.get("cmd") or {}
        if len(cmd) > 50:
            return {"result": {}, "result_error": {"batch": {"error": "ERROR_BATCH_LENGTH_EXCEEDED"}}}
        out = {"result": {}, "result_error": {}, "result_total": {}, "result_next": {}, "result_time": {}}
        for key, call in cmd.items():
            method, _, query = call.partition("?")
            status, body = self.run(method, php_query(query))
            if status != 200:
                out["result_error"][key] = {"error": body["error"], "error_description": body["error_description"]}
                continue
            out["result"][key] = body["result"]
            out["result_total"][key] = body.get("total")
            if "next" in body:
                out["result_next"][key] = body["next"]
        return out

    def record(self, req: Request):
        rid = req.path.rsplit("/", 1)[-1]
        content = getattr(self, "recordings", {}).get(rid)
        if content is None:
            return 404, {}, "<html><body>Файл не найден</body></html>"
        return 200, {"Content-Type": "audio/mpeg"}, content


# --- a portal's rows, as the REST API returns them ---


MSK = timezone(timedelta(hours=3))

EMAIL_HTML = (
    "<html><head><style>p{{margin:0}}</style></head><body><p>Добрый день!</p>"
    "<p>По поставке №{n}: {text}</p><p>С уважением,<br>Ольга Смирнова<br>+7 999 123-45-67</p>"
    "<blockquote>От: Анна Соколова &lt;anna@ff-sklad.ru&gt;<br>Прошлое письмо, которое цитируют</blockquote>"
    "</body></html>"
)


def iso(dt: datetime) -> str:
    return dt.astimezone(MSK).isoformat()


def add_lead(
    fake,
    lead_id: int,
    *,
    contact=None,
    company=None,
    deal=None,
    assigned=1,
    modified=None,
    created=None,
    title=None,
    person=("Ольга", "Смирнова"),
):
    base = datetime(2026, 11, 20, 12, 0, tzinfo=MSK)
    modified, created = modified or base, created or base - timedelta(days=400)
    fake.leads[lead_id] = {
        "ID": str(lead_id),
        "TITLE": title or f"Фулфилмент для селлера №{lead_id}",
        "NAME": person[0],
        "LAST_NAME": person[1],
        "STATUS_ID": "CONVERTED" if contact else "IN_PROCESS",
        "SOURCE_ID": "WEB",
        "ASSIGNED_BY_ID": str(assigned),
        "DATE_CREATE": iso(created),
        "DATE_MODIFY": iso(modified),
        "CONTACT_ID": str(contact) if contact else None,
        "COMPANY_ID": str(company) if company else None,
        "PHONE": [{"ID": str(lead_id), "VALUE_TYPE": "WORK", "VALUE": f"+7900{lead_id:07d}", "TYPE_ID": "PHONE"}],
        "EMAIL": [
            {"ID": str(lead_id), "VALUE_TYPE": "WORK", "VALUE": f"seller{lead_id}@example.ru", "TYPE_ID": "EMAIL"}
        ],
        "IM": [{"ID": str(lead_id), "VALUE_TYPE": "TELEGRAM", "VALUE": f"@seller{lead_id}", "TYPE_ID": "IM"}],
        "UF_CRM_MARKETPLACES": ["WB", "OZON"],
        "UF_CRM_SKU_COUNT": "120",
    }
    if contact:
        fake.contacts[contact] = {
            "ID": str(contact),
            "NAME": "Ольга",
            "LAST_NAME": "Смирнова",
            "COMPANY_ID": str(company) if company else None,
            "ASSIGNED_BY_ID": str(assigned),
            "PHONE": [{"VALUE_TYPE": "MOBILE", "VALUE": "+79001112233"}],
        }
    if company:
        fake.companies[company] = {
            "ID": str(company),
            "TITLE": f"ООО «Селлер {lead_id}»",
            "EMAIL": [{"VALUE_TYPE": "WORK", "VALUE": f"office{lead_id}@example.ru"}],
        }
    if deal:
        fake.deals[deal] = {
            "ID": str(deal),
            "TITLE": "Хранение и отгрузки",
            "STAGE_ID": "WON",
            "LEAD_ID": str(lead_id),
            "CONTACT_ID": str(contact) if contact else None,
            "OPPORTUNITY": "150000.00",
        }


def call(
    aid, owner_type, owner_id, start, *, minutes=4, direction="2", updated=None, text="Обсудили отгрузку", record=None
):
    row = {
        "ID": str(aid),
        "OWNER_TYPE_ID": str(owner_type),
        "OWNER_ID": str(owner_id),
        "TYPE_ID": "2",
        "PROVIDER_ID": "VOXIMPLANT_CALL",
        "PROVIDER_TYPE_ID": "CALL",
        "SUBJECT": "Исходящий звонок" if direction == "2" else "Входящий звонок",
        "START_TIME": iso(start),
        "END_TIME": iso(start + timedelta(minutes=minutes)),
        "COMPLETED": "Y",
        "STATUS": "2",
        "RESPONSIBLE_ID": "1",
        "DESCRIPTION": text,
        "DESCRIPTION_TYPE": "1",
        "DIRECTION": direction,
        "CREATED": iso(start),
        "LAST_UPDATED": iso(updated or start),
        "SETTINGS": [],
        "COMMUNICATIONS": [{"TYPE": "PHONE", "VALUE": "+79001112233"}],
    }
    if record:
        row["FILES"] = [{"id": aid, "url": record}]
    return row


def email(
    aid,
    owner_type,
    owner_id,
    start,
    *,
    subject="Акт сверки",
    direction="1",
    updated=None,
    html=None,
    n=1,
    text="пришлите, пожалуйста, акт сверки до пятницы.",
):
    return {
        "ID": str(aid),
        "OWNER_TYPE_ID": str(owner_type),
        "OWNER_ID": str(owner_id),
        "TYPE_ID": "4",
        "PROVIDER_ID": "CRM_EMAIL",
        "PROVIDER_TYPE_ID": "EMAIL",
        "SUBJECT": subject,
        "START_TIME": iso(start),
        "END_TIME": iso(start),
        "DEADLINE": "9999-12-31T00:00:00+03:00",
        "COMPLETED": "Y",
        "STATUS": "2",
        "RESPONSIBLE_ID": "1",
        "DIRECTION": direction,
        "DESCRIPTION": html if html is not None else EMAIL_HTML.format(n=n, text=text),
        "DESCRIPTION_TYPE": "3",
        "CREATED": iso(start),
        "LAST_UPDATED": iso(updated or start),
        "SETTINGS": {"EMAIL_META": {"from": "Ольга Смирнова <seller@example.ru>", "to": "anna@ff-sklad.ru"}},
        "COMMUNICATIONS": [{"TYPE": "EMAIL", "VALUE": "seller@example.ru"}],
    }


def todo(aid, owner_type, owner_id, start):
    return {
        "ID": str(aid),
        "OWNER_TYPE_ID": str(owner_type),
        "OWNER_ID": str(owner_id),
        "TYPE_ID": "6",
        "PROVIDER_ID": "CRM_TODO",
        "PROVIDER_TYPE_ID": "TODO",
        "SUBJECT": "Перезвонить по тарифам",
        "START_TIME": iso(start),
        "END_TIME": iso(start),
        "COMPLETED": "N",
        "RESPONSIBLE_ID": "1",
        "DESCRIPTION": "",
        "DIRECTION": "0",
        "CREATED": iso(start),
        "LAST_UPDATED": iso(start),
    }
