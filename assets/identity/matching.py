"""Who a WMS client is in Bitrix24: a sure match by INN, suggestions by legal name, and the conflicts a person must
resolve (one INN on two leads, one name close to two leads). Pure functions: the asset reads and writes the data."""

from __future__ import annotations

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
# a name this close (0…1, rapidfuzz token_sort_ratio) to a lead's names is suggested; never applied without a person
NAME_MIN = 0.9


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


def digits(inn: str | None) -> str:
    return "".join(ch for ch in str(inn or "") if ch.isdigit())


@dataclass
class Candidate:
    wms_client_id: str
    lead_id: str
    kind: str  # inn | name
    confidence: float
    evidence: str
    status: str = "suggested"  # applied | suggested | conflict | rejected


def candidates(
    wms_clients: list[dict], organisations: list[dict], rejected: set[tuple[str, str]], auto_inn: bool = True
) -> list[Candidate]:
    """For each WMS client not linked by the alias file: its INN and name matches among the leads.

    wms_clients: {wms_client_id, name, inn, client_id (the file's lead or None)}; organisations: rows of
    int_lead_organisations {client_id, lead_title, company_title, contact_name, requisite_name, inn, inn_of};
    rejected: (wms_client_id, lead_id) pairs the owner turned down.
    """
    by_inn: dict[str, set[str]] = defaultdict(set)
    names: dict[str, dict[str, str]] = defaultdict(dict)  # lead → normalised name → as written
    for o in organisations:
        if inn := digits(o.get("inn")):
            by_inn[inn].add(o["client_id"])
        for field in ("lead_title", "company_title", "requisite_name"):
            if normal := normal_name(o.get(field)):
                names[o["client_id"]].setdefault(normal, o[field])
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
            mine.append(Candidate(wid, lead, "inn", 1.0, f"ИНН {inn} у {label} в WMS и у лида {lead}{others}"))
        wname = normal_name(w.get("name"))
        for lead, written in names.items():
            if lead in leads:
                continue
            best = max(written, key=lambda n: name_score(wname, n))
            score = name_score(wname, best)
            if score >= NAME_MIN:
                mine.append(
                    Candidate(
                        wid, lead, "name", round(score, 2), f"название {label} в WMS и «{written[best]}» у лида {lead}"
                    )
                )
        for c in mine:
            if (wid, c.lead_id) in rejected:
                c.status = "rejected"
        live = [c for c in mine if c.status != "rejected"]
        sure = [c for c in live if c.kind == "inn"]
        if len(sure) == 1:  # one lead has its INN: the names of other leads do not count against it
            live = sure
            mine = [c for c in mine if c.status == "rejected" or c is sure[0]]
            sure[0].status = "applied" if auto_inn else "suggested"
        elif len(live) > 1:  # two leads with its INN, or names close to two leads: a person decides
            for c in live:
                c.status = "conflict"
        out += mine
    return out
