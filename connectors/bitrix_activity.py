"""Bitrix24 activities (calls, e-mails, others) → rows: types, directions, UTC times, clean mail text."""

from __future__ import annotations

import json
import re
from datetime import datetime
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

from config.clock import as_utc

CALL, EMAIL = "2", "4"
OWNER_TYPES = {"1": "lead", "2": "deal", "3": "contact", "4": "company"}
DIRECTIONS = {"1": "incoming", "2": "outgoing"}

_QUOTE_HEADERS = re.compile(
    r"^\s*(-{2,}\s*(Original Message|Исходное сообщение|Пересылаемое сообщение|Forwarded message)\s*-{2,}"
    r"|On .{5,200} wrote:|.{0,200}\s(пишет|написал\(а\)|написал|wrote):\s*$"
    r"|(От|From):\s.+$)",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(
    r"^\s*(--\s*|—\s*|С уважением[,.!]?.*|Best regards[,.]?.*|Отправлено с .+|Sent from my .+)$", re.I
)


class _Text(HTMLParser):
    BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "ul", "ol"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0  # inside <style>/<script>/<head>
        self.quote = 0  # inside <blockquote> (a quoted earlier message)

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script", "head", "title"):
            self.skip += 1
        elif tag == "blockquote" or (tag == "div" and any(k == "class" and v and "quote" in v for k, v in attrs)):
            self.quote += 1
            self.parts.append("\n")
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("style", "script", "head", "title"):
            self.skip = max(0, self.skip - 1)
        elif tag == "blockquote":
            self.quote = max(0, self.quote - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip and not self.quote:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts).replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def trim_reply(text: str) -> str:
    """Cut quoted earlier messages and the signature: keep what this e-mail itself says."""
    kept: list[str] = []
    for line in text.splitlines():
        if _QUOTE_HEADERS.match(line) or _SIGNATURE.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def repair_text(text: str) -> tuple[str, str | None]:
    """Mail bodies mis-decoded somewhere upstream (UTF-8 read as cp1251/latin-1) → (text, status)."""
    if "\ufffd" in text:
        return text.replace("\ufffd", "?"), "body_undecodable"
    if re.search(r"[ÐÑ][\x80-\xbf]|Ð[°-ÿ]", text):
        for wrong in ("latin-1", "cp1252"):
            try:
                return text.encode(wrong).decode("utf-8"), "body_repaired"
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
    if re.search(r"Р[А-Яа-я]С|Рѕ|Рµ|Р°", text):
        try:
            return text.encode("cp1251").decode("utf-8"), "body_repaired"
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return text, None


def file_id_from_url(url: str | None) -> int | None:
    """`…/crm_show_file.php?fileId=3101820&…` → 3101820 (also for activities stored before the file id was kept)."""
    value = parse_qs(urlsplit(url or "").query).get("fileId", [""])[0]
    return int(value) if value.isdigit() else None


def parse_time(value: str | None) -> datetime | None:
    """Bitrix24 ISO with offset → naive UTC; the 9999 sentinel and junk → None."""
    if not value or value.startswith("9999"):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return as_utc(parsed)


def _email_parties(raw: dict) -> tuple[str | None, str | None]:
    settings = raw.get("SETTINGS") if isinstance(raw.get("SETTINGS"), dict) else {}
    meta = settings.get("EMAIL_META") if isinstance(settings.get("EMAIL_META"), dict) else {}
    sender = meta.get("from") or settings.get("MESSAGE_FROM")
    to = meta.get("to")
    comms = [c.get("VALUE") for c in raw.get("COMMUNICATIONS") or [] if isinstance(c, dict) and c.get("VALUE")]
    if raw.get("DIRECTION") == "1":
        sender = sender or ", ".join(comms) or None
    else:
        to = to or ", ".join(comms) or None
    return sender, to


def normalize_activity(raw: dict, owner_clients: dict[tuple[str, str], str]) -> dict:
    """One crm.activity.list row → a raw.bitrix_activities row; problems become a status, never an exception."""
    statuses: list[str] = []
    type_id = str(raw.get("TYPE_ID") or "")
    provider_type = str(raw.get("PROVIDER_TYPE_ID") or "")
    kind = (
        "call"
        if type_id == CALL or provider_type == "CALL"
        else "email"
        if type_id == EMAIL or provider_type == "EMAIL"
        else "other"
    )
    owner_type, owner_id = str(raw.get("OWNER_TYPE_ID") or ""), str(raw.get("OWNER_ID") or "")
    client_id = owner_clients.get((owner_type, owner_id))
    if client_id is None:  # the primary owner is not ours (e.g. a deal we do not know): try its other bindings
        bindings = raw.get("BINDINGS") if isinstance(raw.get("BINDINGS"), list) else []
        client_id = next(
            (
                c
                for b in bindings
                if isinstance(b, dict)
                and (c := owner_clients.get((str(b.get("OWNER_TYPE_ID")), str(b.get("OWNER_ID")))))
            ),
            None,
        )
    if client_id is None:
        statuses.append("owner_unknown")
    if kind == "other":
        statuses.append(f"type_{type_id or 'empty'}_{raw.get('PROVIDER_ID') or 'unknown'}")
    start, end = parse_time(raw.get("START_TIME")), parse_time(raw.get("END_TIME"))
    if parse_time(raw.get("LAST_UPDATED")) is None:
        statuses.append("no_last_updated")
    description = raw.get("DESCRIPTION") or ""
    if not isinstance(description, str):
        description = str(description)
    html = str(raw.get("DESCRIPTION_TYPE")) == "3" or bool(
        re.search(r"<(html|body|div|p|br|blockquote)\b", description, re.I)
    )
    text = html_to_text(description) if html else description.strip()
    text, repaired = repair_text(text)
    if repaired:
        statuses.append(repaired)
    body = trim_reply(text) if kind == "email" else text
    sender, to = _email_parties(raw) if kind == "email" else (None, None)
    files = raw.get("FILES") if isinstance(raw.get("FILES"), list) else []
    # a call's recording: its file id (fetched through disk.file.get, connectors/bitrix_calls.py) and the portal link
    record = (
        next((f for f in files if isinstance(f, dict) and (f.get("id") or f.get("url"))), {}) if kind == "call" else {}
    )
    record_id = str(record.get("id") or "")
    duration = int((end - start).total_seconds()) if kind == "call" and start and end and end >= start else None
    return {
        "activity_id": int(raw["ID"]),
        "client_id": client_id,
        "owner_type": OWNER_TYPES.get(owner_type, owner_type or None),
        "owner_id": int(owner_id) if owner_id.isdigit() else None,
        "kind": kind,
        "type_id": type_id or None,
        "provider_id": raw.get("PROVIDER_ID"),
        "direction": DIRECTIONS.get(str(raw.get("DIRECTION"))),
        "subject": raw.get("SUBJECT"),
        "started_at": start,
        "ended_at": end,
        "duration_s": duration,
        "responsible_id": int(raw["RESPONSIBLE_ID"]) if str(raw.get("RESPONSIBLE_ID") or "").isdigit() else None,
        "completed": raw.get("COMPLETED") == "Y",
        "email_from": sender,
        "email_to": to,
        "body_text": body or None,
        "recording_url": record.get("url"),
        "recording_file_id": int(record_id) if record_id.isdigit() else file_id_from_url(record.get("url")),
        "last_updated": parse_time(raw.get("LAST_UPDATED")),
        "status": ",".join(statuses) or "ok",
        "raw": json.dumps(raw, ensure_ascii=False),
    }
