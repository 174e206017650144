"""What the app shows, formatted: rows from the serving snapshot and the app DB → Markdown, text and tables, in
Russian. Pure functions (no Gradio, no I/O), so they are tested without a browser."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from datetime import date, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pandas as pd

from config.clock import to_local
from rag.citations import citation_label, sources_once
from warehouse import alerts as words
from warehouse.aliases import (
    EXTERNAL_ID_MAX_CHARS,
    LEAD_ID_RULE,
    client_name,
    is_lead_id,
    provisional_wms_id,
    title_lead,
)
from warehouse.dagster_runs import JOBS
from warehouse.refs import parse_ref

# what Markdown would turn into images, links, HTML, code, tables or headings (CommonMark lets any ASCII punctuation
# be escaped with a backslash); bare URLs and e-mail addresses are autolinked too: their `://`, `www.` and `@`
_MARKDOWN = re.compile(r"([\\`*_\[\]<>!|#~@$&])")
_AUTOLINK = re.compile(r"(?i)(:)(//)|\b(www)(\.)")

SOURCES = {
    "meetings": "встречи",
    "telegram": "Telegram",
    "bitrix": "звонки и письма",
    "wms": "склад",
    "notes": "заметки",
}
ARROWS = {1: "↑", 0: "→", -1: "↓"}
BAND_COLORS = {"красный": "#f8c9c6", "жёлтый": "#fbe7a1", "зелёный": "#cdebd0"}  # the health cell's background
TIMELINE_COLUMNS = ["Когда", "Источник", "Что", "Кратко", "Тон"]
CLIENT_COLUMNS = ["ID лида", "Клиент", "Здоровье", "Тревоги", "Последний контакт", "Куратор", "Причины"]
STOCK = (("остаток", lambda w: w["stock_end"]),)
FLOWS = (  # units per week; outbound split by kind (marketplace = supplies to the marketplaces' warehouses)
    ("на маркетплейсы (FBO)", lambda w: (w["outbound"] or 0) - (w.get("outbound_fbs") or 0)),
    ("FBS", lambda w: w.get("outbound_fbs") or 0),
    ("вывоз клиентом", lambda w: w["withdrawal"]),
    ("приёмка", lambda w: w["inbound"]),
    ("резервы", lambda w: w["reserved"]),
)
FLOW_COLORS = dict(
    zip([name for name, _ in FLOWS], ["#1f77b4", "#17becf", "#d62728", "#2ca02c", "#ff7f0e"], strict=True)
)


def as_text(text) -> str:
    """Outside text (messages, letters, transcripts, titles, model output) for a Markdown view: shown as written,
    never as an image the browser fetches, a live link or HTML. The view's own formatting stays around it."""
    text = _MARKDOWN.sub(r"\\\1", "" if text is None else str(text))
    return _AUTOLINK.sub(lambda m: f"{m[1]}\\/\\/" if m[1] else f"{m[3]}\\.", text)


def as_code(text) -> str:
    """An id or path from outside as inline code (shown literally, as long as it holds no backtick)."""
    return "`" + ("" if text is None else str(text)).replace("`", "'") + "`"


def lead_problem(client_id: str | None) -> str | None:
    """What is wrong with a lead ID typed by the user (stripped), in Russian; None when it is one (or the provisional
    id of a WMS client linked to no lead yet, as the list gives it)."""
    client_id = (client_id or "").strip()
    if not client_id:
        return "Введите ID лида"
    wms_id = provisional_wms_id(client_id)
    if wms_id and wms_id.isprintable() and 0 < len(wms_id) <= EXTERNAL_ID_MAX_CHARS:
        return None
    if not is_lead_id(client_id):
        return f"Не похоже на ID лида: {LEAD_ID_RULE}."
    return None


def trend(value: int | None) -> str:
    """A week-on-week change as an arrow and a signed number (`↑ +3`, `→`, `↓ -5`)."""
    if value is None:
        return ""
    return ARROWS[(value > 0) - (value < 0)] + (f" {value:+d}" if value else "")


def weekly(weeks: list[dict], series) -> pd.DataFrame | None:
    """Weekly warehouse figures as chart rows (week, series, units); None when there are no weeks."""
    rows = [
        {"неделя": pd.Timestamp(w["week"]), "ряд": name, "единиц": value(w) or 0}
        for w in weeks
        for name, value in series
    ]
    return pd.DataFrame(rows) if rows else None


def clients_table(rows: list[dict]):
    """The client list (a Dataframe cell shows text as it is), the health cell coloured by its band."""
    table = pd.DataFrame(
        [
            {
                "ID лида": r["client_id"],
                "Клиент": r["title"] + (" · не привязан к лиду" if provisional_wms_id(r["client_id"]) else ""),
                "Здоровье": f"{r['band'] or '—'} {r['score'] if r['score'] is not None else ''} "
                f"{trend(r['trend_vs_last_week'])}".strip(),
                "Тревоги": r["open_alerts"] or 0,
                "Последний контакт": r["last_contact"].strftime("%d.%m.%Y") if r["last_contact"] else "—",
                "Куратор": r["curator_name"] or "—",
                "Причины": r["top_reasons"] or "",
            }
            for r in rows
        ],
        columns=CLIENT_COLUMNS,
    )
    colors = [f"background-color: {BAND_COLORS[r['band']]}" if r["band"] in BAND_COLORS else "" for r in rows]
    return table.style.apply(lambda _: colors, subset=["Здоровье"])


def _risk(r: dict) -> tuple:
    band = {band: n for n, band in enumerate(BAND_COLORS)}.get(r["band"], 3)
    return band, r["score"] if r["score"] is not None else 101, -(r["open_alerts"] or 0), r["client_id"]


def _lead(r: dict) -> tuple:
    return len(r["client_id"]), r["client_id"]  # numerically (leads are digits), the provisional WMS ids after them


def _days_ago(r: dict) -> int:
    return -r["last_contact"].toordinal() if r["last_contact"] else 1  # never contacted: the last of the recent


# The list's orders, each by one column (the band's order is the score's); ties by lead. Sorted here, not by Gradio's
# header menu: Gradio 6.31 reorders a sorted table's cells but not their colours, so the bands would colour other rows.
ORDERS = {
    "сначала самые рискованные": _risk,
    "сначала самые здоровые": lambda r: (-(r["score"] if r["score"] is not None else -1), _lead(r)),
    "больше тревог": lambda r: (-(r["open_alerts"] or 0), _risk(r)),
    "давно без контакта": lambda r: (r["last_contact"] or date.min, _lead(r)),
    "недавний контакт": lambda r: (_days_ago(r), _lead(r)),
    "по названию": lambda r: (r["title"].lower(), _lead(r)),
    "по ID лида": _lead,
    "по куратору": lambda r: (r["curator_name"] is None, (r["curator_name"] or "").lower(), _risk(r)),
}
RISKIEST = next(iter(ORDERS))


def order_clients(rows: list[dict], order: str = RISKIEST) -> list[dict]:
    """The rows in the chosen order (an unknown one: the riskiest first); ties keep a fixed order."""
    return sorted(rows, key=ORDERS.get(order, ORDERS[RISKIEST]))


BANDS = tuple(BAND_COLORS)
MINE, ALL = "Мои клиенты", "Все доступные"


def filter_clients(
    rows: list[dict], curator_id: int | None, scope: str = ALL, bands: Iterable[str] = (), alerts_only: bool = False
) -> list[dict]:
    """The rows the list's filters keep, in their order: «мои» are the clients whose curator is this user (by the
    Bitrix24 curator id); bands keep those health colours (none or all of them chosen: every row, also one without a
    score); «есть тревоги» keeps the clients with open alerts. Only narrows the rows it is given (the access check
    has already chosen them)."""
    chosen = set(bands) & set(BANDS)
    every_band = not chosen or chosen == set(BANDS)
    return [
        r
        for r in rows
        if (scope != MINE or (curator_id is not None and r["curator_id"] == curator_id))
        and (every_band or r["band"] in chosen)
        and (not alerts_only or (r["open_alerts"] or 0) > 0)
    ]


EXPORT_COLUMNS = [
    "ID лида",
    "Клиент",
    "Здоровье",
    "Оценка",
    "Изменение за неделю",
    "Тревоги",
    "Последний контакт",
    "Куратор",
    "Причины",
]
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _as_cell_text(value: str) -> str:
    """Outside text (a Bitrix24 title, reasons) that a spreadsheet would run as a formula is kept as text."""
    return "'" + value if value.startswith(_FORMULA) else value


def export_table(rows: list[dict]) -> pd.DataFrame:
    """The shown rows for CSV/XLSX, Russian headers, one value per cell (score and its change as numbers, the date
    as a date)."""
    return pd.DataFrame(
        [
            {
                "ID лида": r["client_id"],
                "Клиент": _as_cell_text(
                    r["title"] + (" · не привязан к лиду" if provisional_wms_id(r["client_id"]) else "")
                ),
                "Здоровье": r["band"] or "",
                "Оценка": r["score"],
                "Изменение за неделю": r["trend_vs_last_week"],
                "Тревоги": r["open_alerts"] or 0,
                "Последний контакт": r["last_contact"],
                "Куратор": _as_cell_text(r["curator_name"] or ""),
                "Причины": _as_cell_text(r["top_reasons"] or ""),
            }
            for r in rows
        ],
        columns=EXPORT_COLUMNS,
    ).astype({"Оценка": "Int64", "Изменение за неделю": "Int64"})


# the card's own formatting around values from outside (Bitrix24, chats, model extractions) shown as text


HEALTH_PARTS = (  # what takes points off the score (client_health.minus_*), as the card names it
    ("minus_intent", "слова об уходе"),
    ("minus_warehouse", "склад"),
    ("minus_contact", "общение"),
    ("minus_tone", "тон"),
    ("minus_complaints", "жалобы"),
    ("minus_promises", "обещания"),
)
SEVERITY_COLORS = {"critical": "#c62828", "high": "#ef6c00"}


def sparkline(scores: list | None, color: str = "#555555") -> str:
    """Weekly scores (0–100, oldest first) as a small line: an SVG image inline (a data URI, as the page's own CSP
    allows), so no font or emoji is needed."""
    values = [max(0, min(100, s or 0)) for s in scores or []]
    if len(values) < 2:
        return ""
    width, height, step = 8 * (len(values) - 1), 20, 8
    points = " ".join(f"{i * step},{2 + (100 - v) * (height - 4) / 100:.1f}" for i, v in enumerate(values))
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + 4}" height="{height}" viewBox="-2 0 {width + 4} '
        f'{height}"><polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/></svg>'
    )
    data = base64.b64encode(svg.encode()).decode()
    return f'<img alt="" style="display:inline-block;vertical-align:middle" src="data:image/svg+xml;base64,{data}">'


def health_badge(health: dict | None) -> str:
    """«23 из 100 · красный» on its band's colour, the week's change and the line of 12 weekly scores."""
    if not health:
        return "Здоровье: нет данных"
    color = BAND_COLORS.get(health["band"], "#eeeeee")
    badge = (
        f'<span class="c360-badge" style="background:{color};padding:2px 10px;border-radius:10px;font-weight:600">'
        f"{health['score']} из 100 · {health['band']}</span>"
    )
    change = health.get("trend_vs_last_week")
    week = f" {trend(change)} за неделю" if change else (" → за неделю без изменений" if change == 0 else "")
    weeks = health.get("score_weeks") or []
    line = f" · за {len(weeks)} нед.: {sparkline(weeks)}" if len(weeks) > 1 else ""
    return f"Здоровье: {badge}{week}{line}"


def card_head(card: dict, client_id: str) -> str:
    curator = card["curator_name"] or (
        "не назначен: клиент не привязан к лиду (client360 map или «Привязать» у администратора)"
        if provisional_wms_id(client_id)
        else "не назначен — назначьте ответственного в лиде Битрикс24"
    )
    return (
        f"## {as_text(client_name(card.get('title'), client_id))}\n"
        f"Куратор: {as_text(curator)}\n\n{health_badge(card.get('health'))}"
    )


def card_profile(profile: dict | None) -> str:
    p = profile or {}
    facts = [
        ("Что продаёт", p.get("products")),
        ("Бренды", p.get("brands")),
        ("Маркетплейсы", p.get("marketplaces")),
        ("Схемы", p.get("schemes")),
        ("Объёмы", p.get("volumes")),
        ("Боли", p.get("pains")),
        ("Конфликты", p.get("conflicts")),
    ]
    since = p.get("with_us_since")
    text = "### Профиль\n" + "\n".join(f"- **{k}:** {as_text(v)}" for k, v in facts if v)
    if since:
        text += f"\n- **С нами с:** {since:%d.%m.%Y}"
    sources_of: dict[str, list[str]] = {}
    for f in p.get("facts") or []:
        refs = ", ".join(as_text(source_label(s["ref"], s.get("at"))) for s in json.loads(f["sources"])[-2:])
        sources_of.setdefault(f["kind"], []).append(f"{as_text(f['value'])} — {refs}")
    if sources_of:
        text += (
            "\n\n<details><summary>Источники фактов</summary>\n\n"
            + "\n".join(f"- {line}" for lines in sources_of.values() for line in lines)
            + "\n</details>"
        )
    return text


# a reference's kind → the source citation_label names (a Bitrix24 activity may be a call or a letter: «Битрикс24»)
REF_SOURCES = {
    "meeting": "meeting",
    "telegram": "telegram",
    "telegram_day": "telegram",
    "call": "call",
    "email": "email",
    "note": "note",
    "wms_week": "wms",
    "wms_month": "wms",
    "wms_period": "wms",
}


def source_label(ref: str, at) -> str:
    """Where a fact was said, as a person reads it: «Встреча 20.11.2026, 11:00», «Telegram, 23.11.2026»."""
    kind = str(ref or "").split(":", 1)[0]
    if kind in REF_SOURCES:
        return citation_label(REF_SOURCES[kind], ref, at, None)
    when = citation_label("", ref, at, None).removeprefix("Запись")  # «, 20.11.2026» or nothing
    return {"bitrix": "Битрикс24", "bitrix_lead": "Лид в Битрикс24"}.get(kind, "Запись") + when


def card_health(health: dict | None) -> str:
    """Why the client is at risk: the reasons as sentences, and what the score is made of."""
    if not health:
        return "### Почему под риском\nнет данных"
    reasons = [r.strip() for r in (health["top_reasons"] or "").split(";") if r.strip()]
    text = "### Почему под риском\n" + (
        "\n".join(f"- {as_text(r[:1].upper() + r[1:])}" for r in reasons[:3]) if reasons else "Тревожных признаков нет."
    )
    lost = [(name, health.get(column) or 0) for column, name in HEALTH_PARTS]
    total = sum(points for _, points in lost)
    if total:
        parts = ", ".join(f"{name} −{points} ({round(100 * points / total)} %)" for name, points in lost if points)
        text += f"\n\nСнижают оценку: {parts}."
    return text


def card_alerts(alerts: list[dict], curator: str | None, today: date) -> str:
    """Each open alert: what, when, the figures, the evidence as dated lines, and what to do, by whom and by when."""
    lines = []
    for a in words.in_order(alerts):
        dot = f'<span style="color:{SEVERITY_COLORS.get(a["severity"], "#555555")}">●</span>'
        lines.append(f"{dot} **{as_text(words.headline(a, today))}**  ")
        lines.append(as_text(words.sentence(a)) + "  ")
        lines += [f"{as_text(e)}  " for e in words.evidence_lines(a)]
        if todo := words.step(a, curator, today):
            lines.append(f"**Что сделать:** {as_text(todo)}")
        lines.append("")
    return "### Тревоги и что сделать\n" + ("\n".join(lines).strip() or "Открытых тревог нет.")


def note_author(login: str, names: dict[str, str | None]) -> str:
    """A note's author as colleagues know them: the staff account's full name, the login when it has none."""
    return (names.get(login) or "").strip() or login


def card_notes(notes: list[dict], tz: ZoneInfo, names: dict[str, str | None], mine) -> list[dict]:
    """The client's notes as the card lists them, newest first: who (full name), when (the team's local time), the
    text, and whether this user may change it (`mine(note)`: Staff's rule)."""
    return [
        {
            "id": int(n["id"]),
            "author": note_author(n["author"], names),
            "when": f"{to_local(n['created_at'], tz):%d.%m.%Y %H:%M}",
            "text": n["text"],
            "mine": bool(mine(n)),
        }
        for n in notes
    ]


def note_markdown(note: dict) -> str:
    """One note of the list: the author and time in bold, the text shown as written."""
    return f"**{as_text(note['author'])}**, {note['when']}\n\n{as_text(note['text'])}"


def event_when(event: dict, today: date) -> str:
    """When an event happened, as honestly as it is known: a warehouse week by its days up to today, a chat day by
    its date (its summary has no time of its own), anything else to the minute."""
    at = event["occurred_at"]
    if not at:
        return ""
    if event.get("kind") == "склад за неделю":
        return words.week_label(at.date() - timedelta(days=6), at.date(), today)
    if event.get("kind") == "переписка за день":
        return f"{at:%d.%m.%Y}"
    return f"{at:%d.%m.%Y %H:%M}"


SUMMARY_CHARS = 300  # a summary's length in the history's table; the whole of it is in the original
# what a summary says of itself: its tone line (the table has a column for it), its risks and complaints
_TONE_LINE = re.compile(r"(?m)^Тон: (\S+)\s*$")
_TROUBLE = re.compile(r"(?m)^(Риски и недовольство|Жалобы):")
TONE_WORDS = ("позитивный", "нейтральный", "негативный")


def event_tone(event: dict) -> str:
    """One tone word that agrees with the summary shown next to it: the tone the summary states, else the signal's;
    a summary that lists risks or complaints is never «позитивный» (then «смешанный»)."""
    summary = event.get("summary") or ""
    stated = _TONE_LINE.search(summary)
    tone = stated[1] if stated and stated[1] in TONE_WORDS else (event.get("tone") or "")
    if tone == "позитивный" and _TROUBLE.search(summary):
        return "смешанный"
    return tone


def short_summary(text: str | None, limit: int = SUMMARY_CHARS) -> str:
    """A summary for the history's table: its lines kept (a list stays a list), its tone line left to the tone
    column, and when longer than `limit`, cut after the last whole sentence or word that fits, with «…»."""
    lines = [line.rstrip() for line in _TONE_LINE.sub("", text or "").splitlines() if line.strip()]
    whole = "\n".join(lines)
    if len(whole) <= limit:
        return whole
    head = whole[: limit + 1]
    cut = max(head.rfind(". ", 0, limit), head.rfind("\n", 0, limit), head.rfind("; ", 0, limit))
    if cut < limit // 2:  # no sentence ends late enough: the last whole word
        cut = max(head.rfind(" ", 0, limit), head.rfind("\n", 0, limit))
    if cut <= 0:
        cut = limit
    return whole[:cut].rstrip(" ,;:.\n-—") + "…"


def summary_cell(text: str | None) -> str:
    """The table's «Кратко» cell (a Markdown column): the short summary as text, each line its own line."""
    return "  \n".join(as_text(line) for line in short_summary(text).splitlines())


def timeline_table(events: list[dict], today: date) -> pd.DataFrame:
    """The history as a table; the reference behind each row stays out of sight (timeline_refs, in the same order)."""
    return pd.DataFrame(
        [
            {
                "Когда": event_when(e, today),
                "Источник": SOURCES.get(e["source"], e["source"]),
                "Что": e["title"],
                "Кратко": summary_cell(e["summary"]),
                "Тон": event_tone(e),
            }
            for e in events
        ],
        columns=TIMELINE_COLUMNS,
    )


def timeline_refs(events: list[dict]) -> list[str]:
    """What each row of timeline_table opens (a row's index in the table is kept when the user sorts it)."""
    return [e["ref"] for e in events]


_PORTAL_HOST = re.compile(r"(?i)^[a-z0-9](?:[a-z0-9-]{0,62}\.)+[a-z0-9-]{2,63}(?::\d{1,5})?$")


def bitrix_portal(webhook_url: str | None) -> str | None:
    """The portal's address from the incoming webhook's URL (`https://<portal>/rest/<user>/<token>/`): scheme and
    host only, never the token; None when there is no webhook or its host is not a plain host name."""
    if not webhook_url:
        return None
    parts = urlsplit(webhook_url.strip())
    if parts.scheme not in ("https", "http") or not _PORTAL_HOST.match(parts.netloc or ""):
        return None
    return f"{parts.scheme}://{parts.netloc.lower()}"


def link_out(ref: str, client_id: str, portal: str | None) -> tuple[str, str] | None:
    """Where the original lives outside the app, as (the link's words, our own URL) built from validated ids only:
    a Bitrix24 activity → its lead's page (the activity is in the lead's timeline; Bitrix24 documents no page of an
    activity's own), a Telegram message of a supergroup or channel (chat id `-100…`) → `t.me/c/<id>/<message>`;
    a basic group's message has no link."""
    parsed = parse_ref(ref)
    if parsed is None:
        return None
    if parsed.kind in ("bitrix", "call", "bitrix_lead") and portal and is_lead_id(client_id):
        lead = parsed.parts[0] if parsed.kind == "bitrix_lead" else client_id
        if lead.isdigit():
            return "Открыть лид в Битрикс24 (запись — в его ленте)", f"{portal}/crm/lead/details/{int(lead)}/"
    if parsed.kind == "telegram":
        chat, message = parsed.parts[0], parsed.parts[1].partition("-")[0]
        if re.fullmatch(r"-100\d{1,15}", chat) and message.isdigit():
            return "Открыть сообщение в Telegram", f"https://t.me/c/{chat[4:]}/{int(message)}"
    return None


def with_link(original: str, link: tuple[str, str] | None) -> str:
    """The original's Markdown with its link out under the title (Gradio opens Markdown links in a new tab)."""
    if link is None:
        return original
    title, sep, rest = original.partition("\n\n")
    line = f"[{link[0]} ↗]({link[1]})"
    return f"{title}\n\n{line}{sep}{rest}" if sep else f"{original}\n\n{line}"


def citation_choices(citations) -> list[tuple[str, str]]:
    """An answer's sources (stored JSON or dicts), each once, as (its label with its numbers, the reference that
    opens the cited passage)."""
    items = json.loads(citations) if isinstance(citations, str) else citations or []
    return [(f"[{', '.join(map(str, ns))}] {label}", ref) for ns, label, ref in sources_once(items)]


def answer_markdown(text: str) -> str:
    """A finished answer as shown and logged: the model's words (outside text) shown as text. Its sources are the
    list under the chat (citation_choices), the quotes not repeated: the answer already says them."""
    return as_text(text)


def chat_head(card: dict | None, client_id: str) -> str:
    """The chat's header: whose conversation this is, or what to do first."""
    if card is None:
        return "**Сначала выберите клиента**: в списке клиентов или по ID лида."
    if provisional_wms_id(client_id):
        return f"### {as_text(client_name(card.get('title'), client_id))}"
    return f"### {as_text(card['title'])} · лид {client_id}" if card["title"] else f"### лид {client_id}"


def chat_messages(log: list[dict]) -> list[dict]:
    """The stored chat as the Chatbot shows it: a question as typed (made text), an answer as shown already."""
    return [{"role": m["role"], "content": as_text(m["text"]) if m["role"] == "user" else m["text"]} for m in log]


IDENTITY_WHAT = {"wms_client": "клиент WMS", "telegram_chat": "чат Telegram"}
IDENTITY_STATUS = {"suggested": "предложение", "conflict": "конфликт"}


def identity_choice(row: dict) -> str:
    """«предложение: клиент WMS W00004 → лид 10004 (название «Селлер 4» в WMS и …)» for the admin's list."""
    what = f"{IDENTITY_WHAT[row['system']]} {row['external_id']}"
    return f"{IDENTITY_STATUS[row['status']]}: {what} → лид {row['lead_id']} ({row['evidence']})"


ROLES = {"admin": "администратор", "curator": "куратор", "viewer": "наблюдатель"}  # warehouse/staff.py ROLES
RUN_STATUSES = {  # every status of a Dagster run (dagster's DagsterRunStatus)
    "QUEUED": "в очереди",
    "NOT_STARTED": "не начат",
    "MANAGED": "под внешним управлением",
    "STARTING": "запускается",
    "STARTED": "идёт",
    "SUSPENDED": "приостановлен",
    "SUCCESS": "успешно",
    "FAILURE": "ошибка",
    "CANCELING": "отменяется",
    "CANCELED": "отменён",
}


def job_title(job_name: str) -> str:
    """What a run's job does: its description (warehouse/dagster_runs.py JOBS) without the final full stop."""
    if job_name in JOBS:
        return JOBS[job_name].rstrip(".")
    if job_name.startswith("__"):  # Dagster's own name for assets materialized outside a job (__ASSET_JOB, …)
        return "обновление отдельных данных (не по заданию)"
    return f"задание {as_code(job_name)}"


def _section(heading: str, note: str, items: list[str]) -> str:
    """A list under its own heading (and a note on what it is), apart from the next one."""
    return "\n\n".join([f"#### {heading}", *([note] if note else []), "\n".join(items or ["- нет"])])


def admin_page(
    unmapped: dict[str, list[dict]],
    users: Iterable,
    runs: list | None,
    runs_error: str | None,
    *,
    room_prefix: str,
    dagster_url: str,
) -> str:
    """The admin overview: what no client owns yet, the users, the latest Dagster runs (or why they are not known);
    each list under its own heading, so none runs into the next."""
    u = unmapped
    chats = [
        f"- `{c['chat_id']}` {as_text(c['title'])} — {title_lead(c['title'], room_prefix)[1]}"
        + (f"; {as_text(c['candidates'])}" if c.get("candidates") else "")
        for c in u["chats"]
    ]
    renamed = [
        f"- `{c['chat_id']}` переименован: «{as_text(c['mapped_title'])}» → «{as_text(c['title'])}»; "
        + (f"клиент — лид {c['client_id']}" if c["client_id"] else "без клиента: ID лида появился позже")
        + ", в новом названии "
        + (f"лид {c['title_lead']}" if c["title_lead"] else "нет ID лида")
        for c in u["renamed"]
    ]
    wms = [
        f"- {as_code(w['wms_client_id'])} {as_text(w['name'])}"
        + (f" — {as_text(w['candidates'])}" if w.get("candidates") else "")
        for w in u["wms"]
    ]
    recordings = [
        f"- {as_code(r['path'])} (комната {as_code(r['room'] or '—')}) — {as_text(r['reason'])}"
        for r in u["recordings"]
    ]
    people = [
        f"- **{s.login}** — "
        + ", ".join(
            ([as_text(s.name)] if s.name else [])
            + [ROLES.get(s.role, as_text(s.role))]
            + (["все клиенты"] if s.see_all else [])
            + ([] if s.active else ["отключён"])
        )
        for s in users
    ]
    if runs_error is not None:
        history = f"История запусков недоступна: {runs_error}"
    else:
        url = dagster_url.rstrip("/")
        history = (
            "\n".join(
                f"- {RUN_STATUSES.get(r.status, as_text(r.status))} · {job_title(r.job_name)} · "
                f"[{r.run_id[:8]}]({url}/runs/{r.run_id})"
                for r in runs or []
            )
            or "- нет"
        )
    return "\n\n".join(
        [
            "## Без клиента",
            _section("Чаты Telegram", "", chats),
            _section(
                "Переименованные чаты Telegram",
                "История остаётся у прежнего клиента; перепривязать — ниже, «Чат Telegram», с отметкой «заменить "
                "прежнюю привязку», если чат уже привязан вручную.",
                renamed,
            ),
            _section(
                "Клиенты WMS без лида",
                "Оцениваются и попадают в тревоги под своим названием; принять предложение: `client360 map`, "
                "или привяжите ниже.",
                wms,
            ),
            _section(
                "Записи встреч без ID лида",
                "Привяжите ниже запись — путь из списка — или всю комнату — её имя; или переименуйте комнату по "
                "правилу `client-<ID лида>`.",
                recordings,
            ),
            "_Списки обновляются вместе с витринами, раз в час._",
            "## Пользователи",
            "\n".join(people) or "- нет",
            "## Последние запуски Dagster",
            history,
        ]
    )
