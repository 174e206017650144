"""Bitrix24 REST simulator (incoming webhook): real method names and JSON shapes, paging, batch, throttling and
errors on demand; the row builders make a portal (leads, contacts, companies, deals, calls, e-mails, to-dos).
Used by the offline demo and by the tests."""

from __future__ import annotations

import functools
import math
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
    "crm.requisite.list": "requisites",
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


# _includes/system-errors.md: the documented status and body of each auth error. INVALID_CREDENTIALS is also
# answered with 401 for a wrong user id or code in the path (crm-item-import.md, im-chat-get.md); the status of
# any of them can be changed with `auth_status` (the issue reports insufficient_scope as 401).
AUTH_ERRORS = {
    "NO_AUTH_FOUND": (401, "Wrong authorization data"),
    "INVALID_CREDENTIALS": (403, "Invalid request credentials"),
    "insufficient_scope": (403, "The request requires higher privileges than provided by the webhook token"),
    "expired_token": (401, "The access token provided has expired."),
    "ACCESS_DENIED": (403, "REST API is available only on commercial plans"),
}
# each method's «Scope:» line in api-reference (voximplant.* → telephony)
SCOPE_OF = {"voximplant": "telephony"}


def _auth_error(code: str, status: int | None = None):
    default, description = AUTH_ERRORS[code]
    return status or default, {}, {"error": code, "error_description": description}


def _value(v):
    if isinstance(v, str) and re.match(r"^\d{4}-\d{2}-\d{2}T", v):
        return datetime.fromisoformat(v)
    if isinstance(v, str) and v.lstrip("-").isdigit():
        return int(v)
    return v


@functools.lru_cache(maxsize=64)
def _id_set(ids: tuple) -> frozenset[int]:  # parsed once per query, not once per row
    return frozenset(int(x) for x in ids)


def _owner_match(row: dict, flt: dict) -> bool:
    """OWNER_TYPE_ID + (@)OWNER_ID must hold on one pair: the primary owner or any of the bindings."""
    ids = flt.get("@OWNER_ID", flt.get("OWNER_ID"))
    ids = _id_set(tuple(ids) if isinstance(ids, list) else (ids,))
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
        # crm-requisite-list.md: ENTITY_TYPE_ID "3"/"4", ENTITY_ID, RQ_INN …; `requisites_denied`: the documented
        # refusal of a user without the right, 400 {"error": 0, "error_description": "Access denied."}
        self.requisites: dict[int, dict] = {}
        self.requisites_denied = False
        self.users: dict[int, dict] = {}
        self.http_requests = 0
        self.calls: Counter = Counter()  # method → calls, sub-calls of batch included
        self.rows_served: Counter = Counter()  # method → rows returned
        self.throttle_next = 0  # answer QUERY_LIMIT_EXCEEDED this many times
        self.fail_next = 0  # answer 500 this many times
        # auth: every call answered with this documented error (AUTH_ERRORS), at its status or `auth_status`;
        # a wrong code in the path answers `wrong_code_error`, a path with no user id/code NO_AUTH_FOUND
        self.error_code: str | None = None
        self.auth_status: int | None = None
        self.wrong_code_error = "INVALID_CREDENTIALS"  # 401 (crm-item-import.md); NO_AUTH_FOUND per system-errors.md
        self.scopes: set[str] | None = None  # the webhook's rights; a method outside them: insufficient_scope
        # limits.md, resource limits: seconds of execution each method may sum per webhook over the window (ten
        # one-minute buckets); past it, 429 OPERATION_TIME_LIMIT until the oldest bucket expires. Each call costs
        # `operating_cost` seconds; the window is shortened in tests; `reset_format` "unix" (limits.md) or "iso"
        # (the crm-activity-list.md example); `reset_in_error` False: the 429 carries no reset time
        self.operating_limit: dict[str, float] = {}
        self.operating_cost = 1.0
        self.operating_window = 600.0
        self.reset_format = "unix"
        self.reset_in_error = True
        self._buckets: dict[str, dict[float, float]] = {}  # method → bucket start → seconds
        self.blocked: Counter = Counter()  # method → calls refused with OPERATION_TIME_LIMIT
        # huge-data.md: a list call without start=-1 counts `total` (a COUNT over the filter): counted per method
        self.count_queries: Counter = Counter()
        # calls (connectors/bitrix_calls.py): Drive files by id with their content (disk-file-get.md), served at
        # their DOWNLOAD_URL; telephony statistics rows (voximplant-statistic-get.md); CoPilot transcripts by
        # activity (crm-activity-call-get-transcript.md): the text, or None (not ready or none); `copilot` "on",
        # "off" (403 ACCESS_DENIED: AI call processing disabled) or "absent" (an older portal: no such method)
        self.recordings: dict[int, bytes] = {}
        self.telephony: list[dict] = []
        self.transcripts: dict[int, str | None] = {}
        self.copilot = "on"
        self.relative_download_url = False  # the docs show DOWNLOAD_URL absolute; a relative one is handled too
        self.download_login_page = False  # the portal answers the file's DOWNLOAD_URL with its login page

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/rest/1/{self.token}/"

    def _time(self, method: str | None = None) -> dict:
        """The `time` object of an answer (api-reference/data-types.md#time, limits.md): `operating` is the method's
        summed execution time, `operating_reset_at` when its oldest bucket expires."""
        now = time.time()
        buckets = self._live_buckets(method, now) if method else {}
        reset = min(buckets) + self.operating_window if buckets else now + self.operating_window
        return {
            "start": now,
            "finish": now,
            "duration": 0.001,
            "processing": 0.001,
            "date_start": "2026-11-25T10:00:00+03:00",
            "date_finish": "2026-11-25T10:00:00+03:00",
            "operating_reset_at": (
                datetime.fromtimestamp(math.ceil(reset), MSK).isoformat()
                if self.reset_format == "iso"
                else math.ceil(reset)
            ),
            "operating": sum(buckets.values()),
        }

    def _live_buckets(self, method: str, now: float) -> dict[float, float]:
        buckets = self._buckets.setdefault(method, {})
        for start in [b for b in buckets if math.ceil(b + self.operating_window) <= now]:
            del buckets[start]
        return buckets

    def _over_budget(self, method: str) -> bool:
        """limits.md: the summed time is checked before each call; the call that passes the limit still runs, the
        next one is blocked until buckets expire. A bucket spans a tenth of the window from its first call."""
        if method not in self.operating_limit:
            return False
        now = time.time()
        buckets = self._live_buckets(method, now)
        if sum(buckets.values()) > self.operating_limit[method]:
            self.blocked[method] += 1
            return True
        current = max(buckets, default=None)
        if current is None or now - current >= self.operating_window / 10:
            current = now
        buckets[current] = buckets.get(current, 0.0) + self.operating_cost
        return False

    def _time_limit(self, method: str) -> dict:
        body = {"error": "OPERATION_TIME_LIMIT", "error_description": "Method is blocked due to operation time limit."}
        return {**body, "time": self._time(method)} if self.reset_in_error else body

    def handle(self, req: Request):
        if req.path == "/bitrix/tools/crm_show_file.php":
            return self.show_file(req)
        if req.path == "/rest/download.json":
            return self.download(req)
        prefix = f"/rest/1/{self.token}/"
        if not req.path.startswith(prefix):
            self.http_requests += 1
            if re.match(r"^/rest/\d+/[^/]+/[^/]+$", urlsplit(req.path).path):  # a user id and a code: a wrong one
                return _auth_error(self.wrong_code_error, 401)
            return _auth_error("NO_AUTH_FOUND")  # /rest/<method>: no credentials at all
        self.http_requests += 1
        method = urlsplit(req.path).path[len(prefix) :].removesuffix(".json")
        if self.throttle_next:
            self.throttle_next -= 1
            return 503, {}, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
        if self.fail_next:
            self.fail_next -= 1
            return 500, {}, {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"}
        if self.error_code:
            return _auth_error(self.error_code, self.auth_status)
        if method != "batch" and not self._in_scope(method):
            return _auth_error("insufficient_scope", self.auth_status)
        params = req.json() if req.body else {k: v for k, v in php_query(urlsplit(req.path).query).items()}
        if method == "batch":  # the outer call is not counted in `operating` (limits.md)
            return 200, {}, {"result": self.batch(params), "time": self._time()}
        if self._over_budget(method):
            return 429, {}, self._time_limit(method)
        status, body = self.run(method, params)
        return status, {}, {**body, "time": self._time(method)}

    def _in_scope(self, method: str) -> bool:
        family = method.split(".", 1)[0]
        return self.scopes is None or SCOPE_OF.get(family, family) in self.scopes

    def run(self, method: str, params: dict) -> tuple[int, dict]:
        self.calls[method] += 1
        if method == "crm.requisite.list" and self.requisites_denied:
            return 400, {"error": 0, "error_description": "Access denied."}
        if method in LISTS:
            rows = [r for r in getattr(self, LISTS[method]).values() if matches(r, params.get("filter") or {})]
            rows.sort(key=lambda r: int(r["ID"]))
            for field, direction in reversed(list((params.get("order") or {}).items())):
                rows.sort(key=lambda r, f=field: _value(r.get(f)), reverse=str(direction).upper() == "DESC")
            start = int(params.get("start") or 0)
            if start == -1:  # huge-data.md: no COUNT — `total` comes back 0 and there is no `next`
                page = rows[:PAGE]
                self.rows_served[method] += len(page)
                return 200, {"result": page, "total": 0}
            self.count_queries[method] += 1
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
        if method == "crm.activity.call.getTranscript" and self.copilot != "absent":
            return self.get_transcript(params)
        if method == "disk.file.get":
            return self.disk_file(params)
        if method == "voximplant.statistic.get":
            flt = params.get("FILTER") or {}
            rows = [r for r in self.telephony if matches(r, flt)]
            return 200, {"result": rows[:PAGE], "total": len(rows)}
        return 404, {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}

    def get_transcript(self, params: dict) -> tuple[int, dict]:
        """crm-activity-call-get-transcript.md: `result` {transcription} or null; 400 NOT_FOUND; 403 ACCESS_DENIED
        when AI call processing is disabled."""
        activity = int(params.get("activityId") or 0)
        if self.copilot == "off":
            return 403, {"error": "ACCESS_DENIED", "error_description": "Access denied"}
        if activity not in self.activities:
            return 400, {"error": "NOT_FOUND", "error_description": "Element not found"}
        text = self.transcripts.get(activity)
        return 200, {"result": {"transcription": text} if text else None}

    def disk_file(self, params: dict) -> tuple[int, dict]:
        """disk-file-get.md: the file's fields with DOWNLOAD_URL (its own auth and token); 400 ERROR_NOT_FOUND."""
        file_id = int(params.get("id") or 0)
        if file_id not in self.recordings:
            return 400, {"error": "ERROR_NOT_FOUND", "error_description": f"Could not find entity with id `{file_id}`"}
        link = f"/rest/download.json?auth=d0wnl0adauth{file_id}&token=disk%7CaWQ9{file_id}"
        return 200, {
            "result": {
                "ID": str(file_id),
                "NAME": f"record-{file_id}.mp3",
                "TYPE": "file",
                "FILE_ID": str(file_id + 100000),
                "SIZE": str(len(self.recordings[file_id])),
                "DOWNLOAD_URL": link if self.relative_download_url else self.url + link,
                "DETAIL_URL": f"{self.url}/company/personal/user/1/disk/file/Записи звонков/record-{file_id}.mp3",
            }
        }

    def batch(self, params: dict) -> dict:
        cmd = params.get("cmd") or {}
        if len(cmd) > 50:
            return {"result": {}, "result_error": {"batch": {"error": "ERROR_BATCH_LENGTH_EXCEEDED"}}}
        out = {"result": {}, "result_error": {}, "result_total": {}, "result_next": {}, "result_time": {}}
        for key, call in cmd.items():
            method, _, query = call.partition("?")
            if not self._in_scope(method):  # batch.md, «Error example»: the code, an empty description
                out["result_error"][key] = {"error": "insufficient_scope", "error_description": ""}
                continue
            if self._over_budget(method):  # each sub-call counts against its own method (limits.md)
                out["result_error"][key] = {k: v for k, v in self._time_limit(method).items() if k != "time"}
                continue
            status, body = self.run(method, php_query(query))
            if status != 200:
                out["result_error"][key] = {"error": body["error"], "error_description": body["error_description"]}
                continue
            out["result_time"][key] = self._time(method)
            out["result"][key] = body["result"]
            out["result_total"][key] = body.get("total")
            if "next" in body:
                out["result_next"][key] = body["next"]
        return out

    def show_file(self, req: Request):
        """crm_show_file.php (the FILES url of crm-activity-list.md, `auth=` empty): a request without a browser
        session gets the portal's login page, HTML with status 200, as a real portal answers it."""
        return 200, {"Content-Type": "text/html; charset=UTF-8"}, LOGIN_PAGE

    def download(self, req: Request):
        file_id = int((req.query.get("token") or "disk|0").rsplit("|", 1)[-1].removeprefix("aWQ9") or 0)
        if self.download_login_page or req.query.get("auth") != f"d0wnl0adauth{file_id}":
            return self.show_file(req)
        if file_id not in self.recordings:
            return 404, {"Content-Type": "text/html; charset=UTF-8"}, "<html><body>Файл не найден</body></html>"
        return 200, {"Content-Type": "application/octet-stream"}, self.recordings[file_id]


LOGIN_PAGE = (
    '<!DOCTYPE html><html><head><meta charset="UTF-8"><title>Авторизация</title></head><body>'
    '<form name="form_auth" method="post" target="_top" action="/auth/?login=yes">'
    '<input type="hidden" name="AUTH_FORM" value="Y"><input type="text" name="USER_LOGIN">'
    '<input type="password" name="USER_PASSWORD"><input type="submit" value="Войти"></form></body></html>'
)


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


def add_requisite(fake, requisite_id: int, *, company=None, contact=None, inn: str, name: str | None = None):
    """A requisite of a company (ENTITY_TYPE_ID 4) or contact (3), as crm.requisite.list returns it: every value a
    string (crm-requisite-list.md, «Response on Success»)."""
    owner, type_id = (company, "4") if company else (contact, "3")
    fake.requisites[requisite_id] = {
        "ID": str(requisite_id),
        "ENTITY_TYPE_ID": type_id,
        "ENTITY_ID": str(owner),
        "PRESET_ID": "1",
        "NAME": "Организация",
        "RQ_INN": inn,
        "RQ_COMPANY_NAME": name,
        "RQ_COMPANY_FULL_NAME": name,
    }


def call(
    aid,
    owner_type,
    owner_id,
    start,
    *,
    minutes=4,
    direction="2",
    updated=None,
    text="Обсудили отгрузку",
    record=None,
    portal="https://portal.bitrix24.ru",
):
    """A call activity; `record`: the id of its recording's file (FILES, as crm-activity-list.md shows it)."""
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
        show = f"{portal}/bitrix/tools/crm_show_file.php?fileId={record}&ownerTypeId=6&ownerId={aid}&auth="
        row["FILES"] = [{"id": record, "url": show}]
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
