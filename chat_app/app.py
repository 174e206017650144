"""The curators' app (Gradio): login, the client list (riskiest first), the client card (profile, health, alerts,
timeline, warehouse chart, notes), and a chat per client with cited answers. Russian UI.

It reads the serving snapshot and the search index, never the live warehouse, and writes only to the app DB
(notes, chat log), so a running pipeline never blocks it.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import os
import re
import time

import gradio as gr
import pandas as pd
from starlette.middleware import Middleware

from chat_app import data
from chat_app.data import as_code, as_text
from chat_app.sessions import ExpiringSessions
from chat_app.web import Guard, client_address
from config.settings import get_settings
from rag.answer import Answer, build_engine
from warehouse.aliases import LEAD_ID_RULE, is_lead_id, title_lead
from warehouse.appdb import AppDB
from warehouse.dagster_runs import RunHistoryError, recent_runs
from warehouse.staff import Staff, StaffError, User

log = logging.getLogger("client360.app")
MAX_QUESTION_CHARS = 4000
INTERNAL_ERROR = (
    "Не получилось: внутренняя ошибка приложения. Попробуйте ещё раз; если повторится — сообщите администратору."
)
ARROWS = {1: "↑", 0: "→", -1: "↓"}
BAND_COLORS = {"красный": "#f8c9c6", "жёлтый": "#fbe7a1", "зелёный": "#cdebd0"}  # the health cell's background
PERIODS = {"30 дней": 30, "90 дней": 90, "год": 365, "всё время": None}
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
MAP_SYSTEMS = {  # what the admin can map to a lead: its label, and when its data arrives after mapping
    "telegram_chat": ("Чат Telegram", "при ежедневной загрузке"),
    "wms_client": ("Клиент WMS", "в течение часа"),
    "recording": (
        "Запись встречи (путь из списка или имя комнаты)",
        "в течение минуты (запись обработается как обычная встреча)",
    ),
}


# A session that has ended (idle, too old) makes the app's calls fail with 401: reload, and the login form shows
# instead of an «Error» in every box. Once per 10 s at most, so a page that cannot log in never loops.
RELOGIN_JS = """<script>
(() => {
  const fetch0 = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const response = await fetch0(input, init);
    const url = String((input && input.url) || input);
    const last = Number(sessionStorage.getItem("c360-relogin") || 0);
    if (response.status === 401 && /\\/(queue|call)\\//.test(url) && Date.now() - last > 10000) {
      sessionStorage.setItem("c360-relogin", String(Date.now()));
      window.location.reload();
    }
    return response;
  };
})();
</script>"""


def _local(at):
    """App DB times are UTC; people read the team's time."""
    from datetime import UTC

    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(get_settings().tz)


def russian_errors(handler):
    """A handler fails with a short Russian sentence: its own (gr.Error, StaffError) or a general one, the details
    going to the log — never an exception's text (`Python int too large…`) on the user's screen."""

    def explain(exc: Exception) -> gr.Error:
        if isinstance(exc, gr.Error):
            return exc
        if isinstance(exc, StaffError):
            return gr.Error(str(exc))
        log.exception("ошибка в %s", handler.__name__)
        return gr.Error(INTERNAL_ERROR)

    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def streaming(*args, **kwargs):
            try:
                yield from handler(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 — every failure becomes a sentence
                raise explain(exc) from None

        return streaming

    @functools.wraps(handler)
    def plain(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 — every failure becomes a sentence
            raise explain(exc) from None

    return plain


def _lead(client_id: str | None) -> str:
    """A lead ID typed by the user, checked; a Russian error otherwise."""
    client_id = (client_id or "").strip()
    if not client_id:
        raise gr.Error("Введите ID лида")
    if not is_lead_id(client_id):
        raise gr.Error(f"Не похоже на ID лида: {LEAD_ID_RULE}.")
    return client_id


def _weekly(weeks: list[dict], series) -> pd.DataFrame | None:
    rows = [
        {"неделя": pd.Timestamp(w["week"]), "ряд": name, "единиц": value(w) or 0}
        for w in weeks
        for name, value in series
    ]
    return pd.DataFrame(rows) if rows else None


def _trend(value) -> str:
    if value is None:
        return ""
    return ARROWS[(value > 0) - (value < 0)] + (f" {value:+d}" if value else "")


def build_app(staff: Staff | None = None) -> tuple[gr.Blocks, Staff]:
    settings = get_settings()
    staff = staff or Staff(AppDB(settings.resolved_app_db_url))

    def me(request: gr.Request) -> User:
        user = staff.get(request.username) if request and request.username else None
        if user is None or not user.active:
            raise gr.Error("Войдите заново")
        return user

    @russian_errors
    def list_clients(search: str, request: gr.Request):
        rows = data.clients(me(request), search or "")
        table = pd.DataFrame(
            [
                {
                    "ID лида": r["client_id"],
                    "Клиент": r["title"],  # a Dataframe cell shows text as it is
                    "Здоровье": f"{r['band'] or '—'} {r['score'] if r['score'] is not None else ''} "
                    f"{_trend(r['trend_vs_last_week'])}".strip(),
                    "Тревоги": r["open_alerts"] or 0,
                    "Последний контакт": r["last_contact"].strftime("%d.%m.%Y") if r["last_contact"] else "—",
                    "Куратор": r["curator_name"] or "—",
                    "Причины": r["top_reasons"] or "",
                }
                for r in rows
            ],
            columns=["ID лида", "Клиент", "Здоровье", "Тревоги", "Последний контакт", "Куратор", "Причины"],
        )
        colors = [f"background-color: {BAND_COLORS[r['band']]}" if r["band"] in BAND_COLORS else "" for r in rows]
        return table.style.apply(lambda _: colors, subset=["Здоровье"])

    @russian_errors
    def open_card(client_id: str, sources: list[str], period: str, request: gr.Request):
        user = me(request)
        client_id = (client_id or "").strip()
        if not is_lead_id(client_id):
            message = f"Не похоже на ID лида: {LEAD_ID_RULE}." if client_id else "Введите ID лида"
            return message, "", "", "", pd.DataFrame(), None, None, ""
        card = data.client(user, client_id)
        if card is None:
            return "Клиент не найден или закрыт для вас", "", "", "", pd.DataFrame(), None, None, ""
        # the card's own formatting around values from outside (Bitrix24, chats, model extractions) shown as text
        head = (
            f"## {as_text(card['title'] or 'лид ' + client_id)} (лид {client_id})\n"
            f"Куратор: {as_text(card['curator_name'] or '—')}"
        )
        p = card["profile"] or {}
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
        profile = "### Профиль\n" + "\n".join(f"- **{k}:** {as_text(v)}" for k, v in facts if v)
        if since:
            profile += f"\n- **С нами с:** {since:%d.%m.%Y}"
        sources_of = {}
        for f in p.get("facts") or []:
            refs = ", ".join(as_code(s["ref"]) for s in json.loads(f["sources"])[-2:])
            sources_of.setdefault(f["kind"], []).append(f"{as_text(f['value'])} — {refs}")
        if sources_of:
            profile += (
                "\n\n<details><summary>Источники фактов</summary>\n\n"
                + "\n".join(f"- {line}" for lines in sources_of.values() for line in lines)
                + "\n</details>"
            )
        h = card["health"]
        health = "### Здоровье\n" + (
            f"**{h['score']}** ({h['band']}) {_trend(h['trend_vs_last_week'])}\n\n{h['top_reasons'] or 'без тревог'}"
            if h
            else "нет данных"
        )
        alerts = "### Тревоги\n" + (
            "\n".join(
                f"- **{a['message']}** (неделя до {a['week_end']:%d.%m.%Y}); записи: "
                + ", ".join(as_code(r) for r in a["evidence_refs"])
                for a in card["alerts"]
            )
            or "нет"
        )
        events = data.timeline(client_id, sources or None, PERIODS.get(period))
        table = pd.DataFrame(
            [
                {
                    "Когда": e["occurred_at"].strftime("%d.%m.%Y %H:%M") if e["occurred_at"] else "",
                    "Источник": data.SOURCES.get(e["source"], e["source"]),
                    "Что": e["title"],
                    "Кратко": (e["summary"] or "")[:300],
                    "Тон": e["tone"] or "",
                    "Ссылка": e["ref"],
                }
                for e in events
            ]
        )
        weeks = data.wms_weeks(client_id)
        notes = "### Заметки\n" + (
            "\n".join(
                f"- #{n['id']} **{n['author']}**, {_local(n['created_at']):%d.%m.%Y %H:%M}: {as_text(n['text'])}"
                for n in staff.notes_of(client_id)
            )
            or "пока нет"
        )
        return head, profile, health, alerts + "\n\n" + notes, table, _weekly(weeks, STOCK), _weekly(weeks, FLOWS), ""

    @russian_errors
    def add_note(client_id: str, text: str, request: gr.Request):
        user = me(request)
        client_id = _lead(client_id)
        if data.client(user, client_id) is None:
            raise gr.Error("Клиент не найден или закрыт для вас")
        staff.add_note(user, client_id, text)
        return "", "Заметка сохранена; в истории клиента и в чате появится через минуту."

    def change_note(note_id: str, text: str, delete: bool, request: gr.Request):
        user = me(request)
        if not re.fullmatch(r"#?\d{1,9}", str(note_id or "").strip()):
            raise gr.Error("Укажите номер заметки, например 3")
        number = int(str(note_id).strip().lstrip("#"))
        if delete:
            staff.delete_note(user, number)
            return "", f"Заметка #{number} удалена (история правок сохранена)."
        staff.edit_note(user, number, text)
        return "", f"Заметка #{number} изменена (прежний текст сохранён в истории)."

    @russian_errors
    def edit_note(note_id: str, text: str, request: gr.Request):
        return change_note(note_id, text, False, request)

    @russian_errors
    def delete_note(note_id: str, request: gr.Request):
        return change_note(note_id, "", True, request)

    @russian_errors
    def open_original(client_id: str, ref: str, request: gr.Request) -> str:
        """The meeting (summary and transcript), conversation, letter, call, note or week behind a reference."""
        user = me(request)
        client_id = (client_id or "").strip()
        if data.client(user, client_id) is None:
            return "Клиент не найден или закрыт для вас"
        return data.original(client_id, ref)

    @russian_errors
    def pick_event(client_id: str, evt: gr.SelectData, request: gr.Request):
        ref = str(evt.row_value[-1]) if evt.row_value else ""  # the row's «Ссылка»
        return ref, open_original(client_id, ref, request), gr.Accordion(open=True)

    @russian_errors
    def pick_client(evt: gr.SelectData):
        client_id = str(evt.row_value[0]) if evt.row_value else ""
        return client_id, client_id, gr.Tabs(selected="card")

    def cited(citations) -> gr.Radio:
        """An answer's citations as choices that open the original."""
        items = json.loads(citations) if isinstance(citations, str) else citations or []
        choices = [(f"[{c['n']}] {c['title']} · {c['time'] or ''}", c["deep_ref"]) for c in items]
        return gr.Radio(choices=choices, value=None, visible=bool(choices))

    @russian_errors
    def load_chat(client_id: str, request: gr.Request):
        user = me(request)
        if data.client(user, (client_id or "").strip()) is None:
            return [], cited(None)
        log_ = staff.chat_history(user, client_id.strip())
        last = next((m["citations"] for m in reversed(log_) if m["role"] == "assistant"), None)
        # the log keeps a question as typed and an answer as shown (already made safe Markdown)
        shown = [{"role": m["role"], "content": as_text(m["text"]) if m["role"] == "user" else m["text"]} for m in log_]
        return shown, cited(last)

    def shown_message(user: User, client_id: str, shown: list, index) -> dict | None:
        """The stored message behind the chat's n-th shown one (the chat shows the newest of the stored log)."""
        logged = staff.chat_history(user, (client_id or "").strip())[-len(shown) :] if shown else []
        index = index[0] if isinstance(index, list | tuple) else index
        return logged[index] if isinstance(index, int) and 0 <= index < len(logged) else None

    @russian_errors
    def pick_answer(client_id: str, shown: list, evt: gr.SelectData, request: gr.Request):
        message = shown_message(me(request), client_id, shown, evt.index)
        return cited(message["citations"]) if message and message["role"] == "assistant" else gr.Radio()

    @russian_errors
    def ask(message: str, history: list, client_id: str, request: gr.Request):
        user = me(request)
        client_id = (client_id or "").strip()
        if data.client(user, client_id) is None:
            raise gr.Error("Выберите клиента, открытого для вас")
        message = (message or "").strip()
        if not message:
            raise gr.Error("Напишите вопрос")
        if len(message) > MAX_QUESTION_CHARS:
            raise gr.Error(f"Вопрос длиннее {MAX_QUESTION_CHARS} символов ({len(message)}): сократите его.")
        history = [*history, {"role": "user", "content": as_text(message)}, {"role": "assistant", "content": ""}]
        sources = gr.Radio()
        staff.log_chat(user, client_id, "user", message)
        engine = build_engine(get_settings())
        started, first, streamed = time.monotonic(), None, ""
        for piece in engine.ask(client_id, message):
            if isinstance(piece, Answer):  # the model's words and the quotes echo outside text: shown as text
                text = as_text(piece.text) + "".join(
                    f"\n\n[{c.n}] {as_text(c.title)} · {c.time or ''} · {as_code(c.deep_ref)} "
                    f"— «{as_text(c.quote[:200])}»"
                    for c in piece.citations
                )
                history[-1]["content"] = text
                sources = cited([c.__dict__ for c in piece.citations])
                first_ms = int(((first or time.monotonic()) - started) * 1000)
                log.info("первый фрагмент ответа через %d мс (%s, клиент %s)", first_ms, user.login, client_id)
                staff.log_chat(
                    user,
                    client_id,
                    "assistant",
                    text,
                    first_token_ms=first_ms,
                    citations=json.dumps([c.__dict__ for c in piece.citations], ensure_ascii=False),
                )
            else:
                first = first or time.monotonic()
                streamed += piece
                history[-1]["content"] = as_text(streamed)
            yield "", history, sources

    @russian_errors
    def feedback(client_id: str, shown: list, like: gr.LikeData, request: gr.Request):
        """The thumb goes to the answer it was given on."""
        user = me(request)
        message = shown_message(user, client_id, shown, like.index)
        if message and message["role"] == "assistant":
            staff.rate_answer(user, message["id"], bool(like.liked))

    @russian_errors
    def admin_overview(request: gr.Request):
        admin(request)
        u = data.unmapped()
        lines = ["### Без клиента", "**Чаты Telegram:**"]
        lines += [
            f"- `{c['chat_id']}` {as_text(c['title'])} — {title_lead(c['title'], settings.room_prefix)[1]}"
            for c in u["chats"]
        ] or ["- нет"]
        lines += [
            "**Переименованные чаты Telegram** (история остаётся у прежнего клиента; перепривязать — ниже, "
            "«Чат Telegram», с отметкой «заменить прежнюю привязку», если чат уже привязан вручную):"
        ]
        lines += [
            f"- `{c['chat_id']}` переименован: «{as_text(c['mapped_title'])}» → «{as_text(c['title'])}»; "
            + (f"клиент — лид {c['client_id']}" if c["client_id"] else "без клиента: ID лида появился позже")
            + ", в новом названии "
            + (f"лид {c['title_lead']}" if c["title_lead"] else "нет ID лида")
            for c in u["renamed"]
        ] or ["- нет"]
        lines += ["**Клиенты WMS:**"] + (
            [f"- {as_code(w['wms_client_id'])} {as_text(w['name'])}" for w in u["wms"]] or ["- нет"]
        )
        lines += [
            "**Записи встреч без ID лида** (привяжите ниже запись — путь из списка — или всю комнату — её имя; "
            "или переименуйте комнату по правилу `client-<ID лида>`):"
        ]
        lines += [
            f"- {as_code(r['path'])} (комната {as_code(r['room'] or '—')}) — {as_text(r['reason'])}"
            for r in u["recordings"]
        ] or ["- нет"]
        lines.append("_Списки обновляются вместе с витринами, раз в час._")
        lines += ["", "### Пользователи"] + [
            f"- **{s.login}** — {s.role}{'' if s.active else ' (отключён)'}"
            f"{', все клиенты' if s.see_all else ''} {as_text(s.name)}"
            for s in staff.list()
        ]
        lines += ["", "### Последние запуски Dagster"]
        try:
            runs = recent_runs(settings, limit=10)
        except RunHistoryError as exc:  # the page shows the rest anyway
            log.warning("история запусков Dagster недоступна: %s", exc)
            lines.append(f"история запусков недоступна: {exc}")
        else:
            url = settings.dagster_url.rstrip("/")
            lines += [f"- {r.status} · {r.job_name} · [{r.run_id[:8]}]({url}/runs/{r.run_id})" for r in runs] or [
                "- нет"
            ]
        return "\n".join(lines)

    def admin(request: gr.Request) -> User:
        user = me(request)
        if user.role != "admin":
            raise gr.Error("Только для администратора")
        return user

    @russian_errors
    def set_access(login: str, see_all: bool, request: gr.Request) -> str:
        user = admin(request)
        login = (login or "").strip()
        staff.set_see_all(login, bool(see_all))
        log.info("%s: %s теперь видит %s", user.login, login, "всех клиентов" if see_all else "своих клиентов")
        return f"{login} теперь видит {'всех клиентов' if see_all else 'только своих клиентов'}."

    @russian_errors
    def unlock_login(login: str, request: gr.Request) -> str:
        user = admin(request)
        login = (login or "").strip()
        staff.unlock(login, by=f"приложение, {user.login}")
        return f"Вход {login} разблокирован: прежние неудачные попытки больше не мешают."

    def map_item(system: str, external_id: str, client_id: str, replace: bool, request: gr.Request):
        from warehouse.aliases import AliasConflict, AliasError, save_alias

        user = admin(request)
        if system not in MAP_SYSTEMS:
            raise gr.Error("Выберите, что привязать")
        external_id, client_id = (external_id or "").strip(), (client_id or "").strip()
        try:
            written = save_alias(
                settings.resolved_aliases_file,
                system,
                external_id,
                client_id,
                f"приложение, {user.login}",
                replace=bool(replace),
            )
        except AliasConflict as exc:
            raise gr.Error(f"Не привязано: {exc}. Перепривязать: отметьте «заменить прежнюю привязку».") from exc
        except AliasError as exc:
            raise gr.Error(f"Не привязано: {exc}.") from exc
        if not written:
            return f"Уже привязано: {as_text(external_id)} → лид {client_id}, ничего не изменено."
        log.info("%s привязал %s %s к лиду %s", user.login, system, external_id, client_id)
        return f"Привязано: {as_text(external_id)} → лид {client_id}. Данные подтянутся {MAP_SYSTEMS[system][1]}."

    with gr.Blocks(title="client360 — клиенты фулфилмента") as app:
        gr.Markdown("# client360 — клиенты фулфилмента")
        with gr.Tabs() as tabs:
            with gr.Tab("Клиенты", id="clients"):
                search = gr.Textbox(label="Поиск по названию или ID лида", placeholder="например, 10234 или Зоомир")
                table = gr.Dataframe(
                    label="Клиенты: сначала самые рискованные (нажмите на строку, чтобы открыть карточку)",
                    interactive=False,
                    wrap=True,
                    elem_id="clients",
                    column_widths=["7%", "17%", "12%", "7%", "10%", "12%", "35%"],
                )
            with gr.Tab("Карточка клиента", id="card"):
                with gr.Row():
                    client_box = gr.Textbox(label="ID лида", scale=2)
                    sources = gr.CheckboxGroup(
                        choices=[(v, k) for k, v in data.SOURCES.items()], label="Источники", scale=3
                    )
                    period = gr.Dropdown(choices=list(PERIODS), value="90 дней", label="Период", scale=1)
                    open_btn = gr.Button("Открыть", variant="primary", scale=1)
                head = gr.Markdown()
                with gr.Row():
                    profile = gr.Markdown()
                    health = gr.Markdown()
                alerts = gr.Markdown()
                with gr.Row():
                    stock_chart = gr.LinePlot(
                        x="неделя", y="единиц", color="ряд", label="Остаток на складе, ед.", color_title=""
                    )
                    flows_chart = gr.LinePlot(
                        x="неделя",
                        y="единиц",
                        color="ряд",
                        label="Отгрузки, вывоз, приёмка и резервы за неделю, ед.",
                        color_title="",
                        color_map=FLOW_COLORS,
                    )
                timeline_df = gr.Dataframe(
                    label="История клиента (нажмите на строку — откроется запись целиком: расшифровка встречи, "
                    "переписка, письмо)",
                    interactive=False,
                    wrap=True,
                    elem_id="timeline",
                )
                with gr.Accordion("Запись целиком", open=False) as original_box:
                    ref_box = gr.Textbox(label="Ссылка на запись (meeting:…, telegram:…, bitrix:…)")
                    original_view = gr.Markdown(elem_id="original-view")
                with gr.Row():
                    note_text = gr.Textbox(label="Новая заметка", lines=2, scale=4)
                    note_btn = gr.Button("Сохранить заметку", scale=1)
                with gr.Row():
                    note_no = gr.Textbox(label="Номер заметки (#)", scale=1)
                    note_new = gr.Textbox(label="Новый текст", scale=3)
                    edit_btn = gr.Button("Изменить", scale=1)
                    delete_btn = gr.Button("Удалить", variant="stop", scale=1)
                note_status = gr.Markdown()
            with gr.Tab("Чат по клиенту", id="chat"):
                chat_client = gr.Textbox(label="ID лида")
                chatbot = gr.Chatbot(label="Ответы по данным клиента, со ссылками на источники", height=480)
                question = gr.Textbox(label="Вопрос", placeholder="что обещали на последней встрече?")
                cite_choice = gr.Radio(
                    label="Источники ответа: нажмите, чтобы открыть (или нажмите на другой ответ)", visible=False
                )
                cite_view = gr.Markdown(elem_id="cite-view")
            with gr.Tab("Администрирование", id="admin", visible=False) as admin_tab:
                overview = gr.Markdown()
                refresh_btn = gr.Button("Обновить")
                with gr.Row():
                    system = gr.Dropdown(
                        choices=[(label, k) for k, (label, _) in MAP_SYSTEMS.items()],
                        value="telegram_chat",
                        label="Что привязать",
                    )
                    external = gr.Textbox(label="ID в системе / путь / комната")
                    lead = gr.Textbox(label="ID лида")
                    replace = gr.Checkbox(label="заменить прежнюю привязку")
                    map_btn = gr.Button("Привязать", variant="primary")
                map_status = gr.Markdown()
                with gr.Row():
                    access_login = gr.Textbox(label="Логин сотрудника")
                    access_all = gr.Checkbox(label="Видит всех клиентов, а не только своих")
                    access_btn = gr.Button("Сохранить доступ")
                    unlock_btn = gr.Button("Разблокировать вход")
                access_status = gr.Markdown()

        search.change(list_clients, search, table)
        app.load(list_clients, search, table)
        card_inputs = [client_box, sources, period]
        card_outputs = [head, profile, health, alerts, timeline_df, stock_chart, flows_chart, note_status]
        table.select(pick_client, None, [client_box, chat_client, tabs]).then(open_card, card_inputs, card_outputs)
        open_btn.click(open_card, card_inputs, card_outputs)
        client_box.submit(open_card, card_inputs, card_outputs)
        timeline_df.select(pick_event, client_box, [ref_box, original_view, original_box])
        ref_box.submit(open_original, [client_box, ref_box], original_view)
        note_btn.click(add_note, [client_box, note_text], [note_text, note_status])
        edit_btn.click(edit_note, [note_no, note_new], [note_new, note_status])
        delete_btn.click(delete_note, [note_no], [note_new, note_status])
        chat_client.submit(load_chat, chat_client, [chatbot, cite_choice])
        question.submit(ask, [question, chatbot, chat_client], [question, chatbot, cite_choice])
        chatbot.like(feedback, [chat_client, chatbot], None)
        chatbot.select(pick_answer, [chat_client, chatbot], cite_choice)
        cite_choice.input(open_original, [chat_client, cite_choice], cite_view)
        refresh_btn.click(admin_overview, None, overview)
        map_btn.click(russian_errors(map_item), [system, external, lead, replace], map_status)
        access_btn.click(set_access, [access_login, access_all], access_status)
        unlock_btn.click(unlock_login, access_login, access_status)

        @russian_errors
        def show_admin(request: gr.Request):
            return gr.update(visible=me(request).role == "admin")

        app.load(show_admin, None, admin_tab)
    return app, staff


def launch(
    host: str = "127.0.0.1", port: int = 7860, prevent_thread_lock: bool = False, staff: Staff | None = None
) -> gr.Blocks:
    """Serve the app behind the login; sessions expire (C360_APP_SESSION_HOURS, C360_APP_IDLE_MINUTES) and end at
    once when the user's password changes or the user is disabled."""
    settings = get_settings()
    app, staff = build_app(staff)

    async def check(login: str, password: str) -> bool:
        # the hash check in a thread: a login never stalls the others' requests
        user = await asyncio.to_thread(staff.authenticate, login, password, client_address.get())
        return user is not None

    # uvicorn (started by Gradio) takes the client's address and scheme from X-Forwarded-For/-Proto only when the
    # connection comes from one of these; its own default trusts 127.0.0.1, so anyone there could pose as anyone
    trusted, os.environ["FORWARDED_ALLOW_IPS"] = os.environ.get("FORWARDED_ALLOW_IPS"), settings.trusted_proxies
    try:
        app.launch(
            server_name=host,
            server_port=port,
            auth=check,
            auth_message="client360: войдите под своим логином",
            head=RELOGIN_JS,
            prevent_thread_lock=True,
            show_error=False,  # handlers say what went wrong in Russian (russian_errors); nothing else shows
            max_file_size=0,  # no upload (the routes are closed by Guard too)
            app_kwargs={"middleware": [Middleware(Guard)]},
        )
    finally:
        if trusted is None:
            os.environ.pop("FORWARDED_ALLOW_IPS", None)
        else:
            os.environ["FORWARDED_ALLOW_IPS"] = trusted
    sessions = ExpiringSessions(
        settings.app_session_hours * 3600, settings.app_idle_minutes * 60, still_valid=staff.session_valid
    )
    for token, login in app.server_app.tokens.items():  # none yet, unless someone logged in during start-up
        sessions[token] = login
    app.server_app.tokens = sessions
    if not prevent_thread_lock:
        app.block_thread()
    return app
