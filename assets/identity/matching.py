"""Which Bitrix24 lead a WMS client or a Telegram chat is: a sure match by INN (WMS), suggestions by legal name, by
the phones and usernames of a chat's writers, by the name in a chat's title; and the conflicts a person must resolve
(one INN on two leads, a chat whose writers belong to two clients). Pure functions: the asset reads and writes."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass

from rapidfuzz import fuzz

# legal forms and their long spellings, removed before names are compared («ООО «Ромашка»» = «Ромашка, ООО»)
LEGAL_FORMS = re.compile(
    r"\b(?:общество с ограниченной ответственностью|индивидуальный предприниматель|"
    r"(?:публичное |закрытое |открытое )?акционерное общество|ооо|ип|ао|зао|оао|пао|нко|llc|ltd)\b"
)
_NOT_WORD = re.compile(r"[^\w]+")
_NUMBER = re.compile(r"\d+")
# a name this close (0…1, rapidfuzz) to a lead's names is suggested; never applied without a person
NAME_MIN = 0.9
PERSON_CONFIDENCE = 0.95  # a chat's writer has the phone or username of the lead or its contact


def normal_name(name: str | None) -> str:
    """«ООО "Ромашка-Трейд"» → «ромашка трейд»: case, ё, quotes, punctuation and the legal form removed."""
    text = (name or "").lower().replace("ё", "е")
    text = LEGAL_FORMS.sub(" ", _NOT_WORD.sub(" ", text))
    return " ".join(text.split())


def name_score(a: str, b: str) -> float:
    """How alike two normalised names are; 0 when their numbers differ («Селлер 1» is not «Селлер 11»)."""
    if not a or not b or _NUMBER.findall(a) != _NUMBER.findall(b):
        return 0.0
    return fuzz.token_sort_ratio(a, b) / 100


def title_score(title: str, name: str) -> float:
    """How fully a chat's normalised title carries a lead's name («фф селлер 4 поставки» carries «селлер 4»); the
    name's numbers must all be in the title."""
    if not title or not name or not set(_NUMBER.findall(name)) <= set(_NUMBER.findall(title)):
        return 0.0
    return fuzz.token_set_ratio(title, name) / 100


def digits(value: str | None) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def phone_key(value: str | None) -> str | None:
    """The last ten digits of a Russian number (+7 / 8 / 7 prefixes alike); None for anything shorter."""
    d = digits(value)
    return d[-10:] if len(d) >= 10 else None


def username_key(value: str | None) -> str | None:
    """`@Seller_1`, `t.me/seller_1`, `https://t.me/Seller_1` → `seller_1`."""
    text = str(value or "").strip().lower()
    text = re.sub(r"^(?:https?://)?(?:t\.me|telegram\.me)/", "", text).lstrip("@")
    return text if re.fullmatch(r"[a-z][a-z0-9_]{3,31}", text) else None


@dataclass
class Candidate:
    system: str  # wms_client | telegram_chat
    external_id: str
    lead_id: str
    kind: str  # inn | name | phone | username | title
    confidence: float
    evidence: str
    status: str = "suggested"  # applied | suggested | conflict | rejected


def _settle(mine: list[Candidate], rejected: set[tuple[str, str, str]], sure_kinds: set[str], apply: bool):
    """One item's candidates: the owner's rejections kept as such; a single sure match applied (or suggested when
    applying is off) and the weaker ones of other leads dropped; two or more leads left: a conflict."""
    for c in mine:
        if (c.system, c.external_id, c.lead_id) in rejected:
            c.status = "rejected"
    live = [c for c in mine if c.status != "rejected"]
    sure = [c for c in live if c.kind in sure_kinds]
    if len(sure) == 1:
        sure[0].status = "applied" if apply else "suggested"
        return [c for c in mine if c.status == "rejected" or c is sure[0]]
    if len({c.lead_id for c in live}) > 1:
        for c in live:
            c.status = "conflict"
    return mine


def _lead_names(organisations: list[dict]) -> dict[str, dict[str, str]]:
    names: dict[str, dict[str, str]] = defaultdict(dict)  # lead → normalised name → as written
    for o in organisations:
        for field in ("lead_title", "company_title", "requisite_name"):
            if normal := normal_name(o.get(field)):
                names[o["client_id"]].setdefault(normal, o[field])
    return names


def _named(name: str, names: dict[str, dict[str, str]], skip, score) -> list[tuple[str, str, float]]:
    """(lead, its name as written, score) for every lead, not in `skip`, one of whose names scores ≥ NAME_MIN."""
    out = []
    for lead, written in names.items():
        if lead in skip:
            continue
        best = max(written, key=lambda n: score(name, n))
        if (value := score(name, best)) >= NAME_MIN:
            out.append((lead, written[best], value))
    return out


def wms_candidates(
    wms_clients: list[dict], organisations: list[dict], rejected: set[tuple[str, str, str]], auto_inn: bool = True
) -> list[Candidate]:
    """For each WMS client not linked by the alias file: its INN and name matches among the leads.

    wms_clients: {wms_client_id, name, inn, client_id (the file's lead or None)}; organisations: rows of
    int_lead_organisations {client_id, lead_title, company_title, requisite_name, inn}; rejected: (system, external
    id, lead) the owner turned down."""
    by_inn: dict[str, set[str]] = defaultdict(set)
    for o in organisations:
        if inn := digits(o.get("inn")):
            by_inn[inn].add(o["client_id"])
    names = _lead_names(organisations)
    out: list[Candidate] = []
    for w in wms_clients:
        if w.get("client_id"):
            continue
        wid, label = w["wms_client_id"], f"«{w.get('name') or w['wms_client_id']}»"
        mine: list[Candidate] = []
        inn = digits(w.get("inn"))
        leads = sorted(by_inn.get(inn, ())) if inn else []
        for lead in leads:
            others = f"; этот ИНН и у {', '.join(f'лида {x}' for x in leads if x != lead)}" if len(leads) > 1 else ""
            why = f"ИНН {inn} у {label} в WMS и у лида {lead}{others}"
            mine.append(Candidate("wms_client", wid, lead, "inn", 1.0, why))
        for lead, written, score in _named(normal_name(w.get("name")), names, leads, name_score):
            why = f"название {label} в WMS и «{written}» у лида {lead}"
            mine.append(Candidate("wms_client", wid, lead, "name", round(score, 2), why))
        out += _settle(mine, rejected, {"inn"}, auto_inn)
    return out


def _contact_points(people: list[dict]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """phone key → leads, username → leads, from the leads' and their contacts' PHONE and IM fields (JSON lists of
    {type, value}, connectors' _multi)."""
    phones, usernames = defaultdict(set), defaultdict(set)
    for p in people:
        for raw in (p.get("phones"), p.get("messengers")):
            values = json.loads(raw) if isinstance(raw, str) else raw or []
            for v in values:
                value = v.get("value") if isinstance(v, dict) else v
                if key := phone_key(value):
                    phones[key].add(p["client_id"])
                if key := username_key(value):
                    usernames[key].add(p["client_id"])
    return phones, usernames


def chat_candidates(
    chats: list[dict],
    members: list[dict],
    people: list[dict],
    organisations: list[dict],
    rejected: set[tuple[str, str, str]],
) -> list[Candidate]:
    """For each Telegram chat without a client: the leads whose (or whose contact's) phone or username one of the
    chat's people has, and the leads whose name its title carries. Suggestions only: a phone can be a shared office
    number, a title anything; two leads are a conflict.

    chats: {chat_id, title, client_id}; members: {chat_id, name, username, phone} (staff left out); people:
    {client_id, phones, messengers} of leads and their contacts."""
    phones, usernames = _contact_points(people)
    names = _lead_names(organisations)
    by_chat: dict[str, list[dict]] = defaultdict(list)
    for m in members:
        by_chat[str(m["chat_id"])].append(m)
    out: list[Candidate] = []
    for chat in chats:
        if chat.get("client_id"):
            continue
        cid, title = str(chat["chat_id"]), chat.get("title") or str(chat["chat_id"])
        found: dict[str, Candidate] = {}
        for m in by_chat.get(cid, []):
            who = m.get("name") or "участник"
            for kind, key, index in (
                ("phone", phone_key(m.get("phone")), phones),
                ("username", username_key(m.get("username")), usernames),
            ):
                for lead in sorted(index.get(key, ())) if key else ():
                    shown = f"@{key}" if kind == "username" else f"+7{key}"
                    why = f"в чате «{title}» есть {who} ({shown}) — это контакт лида {lead} в Битрикс24"
                    found.setdefault(lead, Candidate("telegram_chat", cid, lead, kind, PERSON_CONFIDENCE, why))
        for lead, written, score in _named(normal_name(title), names, found, title_score):
            why = f"в названии чата «{title}» — «{written}» (лид {lead})"
            found[lead] = Candidate("telegram_chat", cid, lead, "title", round(score * 0.9, 2), why)
        out += _settle(list(found.values()), rejected, set(), False)
    return out
