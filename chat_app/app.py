"""The curators' app (Gradio): login, the client list (riskiest first), the client card (profile, health, alerts,
timeline, warehouse chart, notes), and a chat per client with cited answers. Russian UI.

It reads the serving snapshot and the search index, never the live warehouse, and writes only to the app DB
(notes, chat log), so a running pipeline never blocks it.
"""

from __future__ import annotations

import json
import logging
import time

import gradio as gr
import pandas as pd

from chat_app import data
from chat_app.engine import Answer, build_engine
from chat_app.sessions import ExpiringSessions
from chat_app.staff import Staff, StaffError, User
from warehouse.appdb import AppDB
from warehouse.settings import get_settings

log = logging.getLogger("client360.app")
ARROWS = {1: "↑", 0: "→", -1: "↓"}
PERIODS = {"30 дней": 30, "90 дней": 90, "год": 365, "всё время": None}


def _local(at):
    """App DB times are UTC; people read the team's time."""
    from datetime import UTC

    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(get_settings().tz)


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

    def list_clients(search: str, request: gr.Request):
        rows = data.clients(me(request), search or "")
        return pd.DataFrame(
            [
                {
                    "ID лида": r["client_id"],
                    "Клиент": r["title"],
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

    def open_card(client_id: str, sources: list[str], period: str, request: gr.Request):
        user = me(request)
        client_id = (client_id or "").strip()
        card = data.client(user, client_id) if client_id else None
        if card is None:
            message = "Клиент не найден или закрыт для вас" if client_id else "Введите ID лида"
            return message, "", "", "", pd.DataFrame(), None, ""
        head = f"## {card['title'] or 'лид ' + client_id} (лид {client_id})\nКуратор: {card['curator_name'] or '—'}"
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
        profile = "### Профиль\n" + "\n".join(f"- **{k}:** {v}" for k, v in facts if v)
        if since:
            profile += f"\n- **С нами с:** {since:%d.%m.%Y}"
        sources_of = {}
        for f in p.get("facts") or []:
            refs = ", ".join(f"`{s['ref']}`" for s in json.loads(f["sources"])[-2:])
            sources_of.setdefault(f["kind"], []).append(f"{f['value']} — {refs}")
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
                + ", ".join(f"`{r}`" for r in a["evidence_refs"])
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
        chart = (
            pd.DataFrame(
                [
                    {"неделя": pd.Timestamp(w["week"]), "ряд": name, "единиц": w[key] or 0}
                    for w in weeks
                    for name, key in (
                        ("остаток", "stock_end"),
                        ("отгрузки", "outbound"),
                        ("вывоз", "withdrawal"),
                        ("приёмка", "inbound"),
                        ("резервы", "reserved"),
                    )
                ]
            )
            if weeks
            else None
        )
        notes = "### Заметки\n" + (
            "\n".join(
                f"- #{n['id']} **{n['author']}**, {_local(n['created_at']):%d.%m.%Y %H:%M}: {n['text']}"
                for n in staff.notes_of(client_id)
            )
            or "пока нет"
        )
        return head, profile, health, alerts + "\n\n" + notes, table, chart, ""

    def add_note(client_id: str, text: str, request: gr.Request):
        user = me(request)
        if data.client(user, (client_id or "").strip()) is None:
            raise gr.Error("Клиент не найден или закрыт для вас")
        try:
            staff.add_note(user, client_id.strip(), text)
        except StaffError as exc:
            raise gr.Error(str(exc)) from exc
        return "", "Заметка сохранена; в истории клиента и в чате появится через минуту."

    def change_note(note_id: str, text: str, delete: bool, request: gr.Request):
        user = me(request)
        try:
            number = int(str(note_id).strip().lstrip("#"))
            if delete:
                staff.delete_note(user, number)
                return "", f"Заметка #{number} удалена (история правок сохранена)."
            staff.edit_note(user, number, text)
        except ValueError as exc:
            raise gr.Error(str(exc) if isinstance(exc, StaffError) else "Укажите номер заметки, например 3") from exc
        return "", f"Заметка #{number} изменена (прежний текст сохранён в истории)."

    def edit_note(note_id: str, text: str, request: gr.Request):
        return change_note(note_id, text, False, request)

    def delete_note(note_id: str, request: gr.Request):
        return change_note(note_id, "", True, request)

    def show_transcript(client_id: str, ref: str, request: gr.Request):
        user = me(request)
        if data.client(user, (client_id or "").strip()) is None:
            return "Клиент не найден или закрыт для вас"
        recording = (ref or "").strip().removeprefix("meeting:")
        return data.transcript(client_id.strip(), recording) or "Расшифровка не найдена"

    def load_chat(client_id: str, request: gr.Request):
        user = me(request)
        if data.client(user, (client_id or "").strip()) is None:
            return []
        return [{"role": m["role"], "content": m["text"]} for m in staff.chat_history(user, client_id.strip())]

    def ask(message: str, history: list, client_id: str, request: gr.Request):
        user = me(request)
        client_id = (client_id or "").strip()
        if data.client(user, client_id) is None:
            raise gr.Error("Выберите клиента, открытого для вас")
        history = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        staff.log_chat(user, client_id, "user", message)
        engine = build_engine(get_settings())
        started, first = time.monotonic(), None
        for piece in engine.ask(client_id, message):
            if isinstance(piece, Answer):
                text = piece.text + "".join(
                    f"\n\n[{c.n}] {c.title} · {c.time or ''} · `{c.deep_ref}` — «{c.quote[:200]}»"
                    for c in piece.citations
                )
                history[-1]["content"] = text
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
                history[-1]["content"] += piece
            yield "", history

    def feedback(client_id: str, shown: list, like: gr.LikeData, request: gr.Request):
        """The thumb goes to the answer it was given on: the chat shows the newest messages of the stored log."""
        user = me(request)
        logged = staff.chat_history(user, (client_id or "").strip())[-len(shown) :] if shown else []
        index = like.index[0] if isinstance(like.index, list | tuple) else like.index
        if 0 <= index < len(logged) and logged[index]["role"] == "assistant":
            staff.rate_answer(user, logged[index]["id"], bool(like.liked))

    def admin_overview(request: gr.Request):
        user = me(request)
        if user.role != "admin":
            raise gr.Error("Только для администратора")
        u = data.unmapped()
        lines = ["### Без клиента", "**Чаты Telegram:**"]
        lines += [f"- `{c['chat_id']}` {c['title'] or ''}" for c in u["chats"]] or ["- нет"]
        lines += ["**Клиенты WMS:**"] + ([f"- `{w['wms_client_id']}` {w['name'] or ''}" for w in u["wms"]] or ["- нет"])
        lines += ["**Записи встреч без ID лида** (переименуйте комнату по правилу `client-<ID лида>` или папку):"]
        lines += [f"- `{r['path']}` — {r['reason']}" for r in u["recordings"]] or ["- нет"]
        lines += ["", "### Пользователи"] + [
            f"- **{s.login}** — {s.role}{'' if s.active else ' (отключён)'}"
            f"{', все клиенты' if s.see_all else ''} {s.name or ''}"
            for s in staff.list()
        ]
        lines += ["", "### Последние запуски Dagster"]
        try:
            from orchestration.instance import get_instance

            runs = get_instance(settings).get_runs(limit=10)
            url = settings.dagster_url.rstrip("/")
            lines += [f"- {r.status.value} · {r.job_name} · [{r.run_id[:8]}]({url}/runs/{r.run_id})" for r in runs]
        except Exception as exc:  # noqa: BLE001 — the page shows the rest anyway
            lines.append(f"нет доступа к истории запусков: {exc}")
        return "\n".join(lines)

    def map_item(system: str, external_id: str, client_id: str, request: gr.Request):
        from warehouse.aliases import save_alias

        user = me(request)
        if user.role != "admin":
            raise gr.Error("Только для администратора")
        external_id, client_id = (external_id or "").strip(), (client_id or "").strip()
        if not (external_id and client_id.isdigit()):
            raise gr.Error("Нужны ID в системе и ID лида (число)")
        save_alias(settings.resolved_aliases_file, system, external_id, client_id, f"приложение, {user.login}")
        log.info("%s привязал %s %s к лиду %s", user.login, system, external_id, client_id)
        return (
            f"Привязано: {external_id} → лид {client_id}. Вся история подтянется при ближайшей загрузке "
            "(WMS — в течение часа, Telegram — при ежедневной загрузке)."
        )

    with gr.Blocks(title="client360 — клиенты фулфилмента") as app:
        gr.Markdown("# client360 — клиенты фулфилмента")
        with gr.Tab("Клиенты"):
            search = gr.Textbox(label="Поиск по названию или ID лида", placeholder="например, 10234 или Зоомир")
            table = gr.Dataframe(label="Клиенты: сначала самые рискованные", interactive=False, wrap=True)
            search.change(list_clients, search, table)
            app.load(list_clients, search, table)
        with gr.Tab("Карточка клиента"):
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
            chart = gr.LinePlot(x="неделя", y="единиц", color="ряд", label="Склад по неделям", height=300)
            timeline_df = gr.Dataframe(label="История клиента", interactive=False, wrap=True)
            with gr.Accordion("Расшифровка встречи", open=False):
                ref_box = gr.Textbox(label="Ссылка на встречу из истории (meeting:…)")
                transcript_box = gr.Textbox(label="Расшифровка", lines=12)
                ref_box.submit(show_transcript, [client_box, ref_box], transcript_box)
            with gr.Row():
                note_text = gr.Textbox(label="Новая заметка", lines=2, scale=4)
                note_btn = gr.Button("Сохранить заметку", scale=1)
            with gr.Row():
                note_no = gr.Textbox(label="Номер заметки (#)", scale=1)
                note_new = gr.Textbox(label="Новый текст", scale=3)
                edit_btn = gr.Button("Изменить", scale=1)
                delete_btn = gr.Button("Удалить", variant="stop", scale=1)
            note_status = gr.Markdown()
            edit_btn.click(edit_note, [note_no, note_new], [note_new, note_status])
            delete_btn.click(delete_note, [note_no], [note_new, note_status])
            outputs = [head, profile, health, alerts, timeline_df, chart, note_status]
            open_btn.click(open_card, [client_box, sources, period], outputs)
            client_box.submit(open_card, [client_box, sources, period], outputs)
            note_btn.click(add_note, [client_box, note_text], [note_text, note_status])
        with gr.Tab("Чат по клиенту"):
            chat_client = gr.Textbox(label="ID лида")
            chatbot = gr.Chatbot(label="Ответы по данным клиента, со ссылками на источники", height=480)
            question = gr.Textbox(label="Вопрос", placeholder="что обещали на последней встрече?")
            chat_client.submit(load_chat, chat_client, chatbot)
            question.submit(ask, [question, chatbot, chat_client], [question, chatbot])
            chatbot.like(feedback, [chat_client, chatbot], None)
        with gr.Tab("Администрирование", visible=False) as admin_tab:
            overview = gr.Markdown()
            refresh_btn = gr.Button("Обновить")
            with gr.Row():
                system = gr.Dropdown(
                    choices=[("Чат Telegram", "telegram_chat"), ("Клиент WMS", "wms_client")],
                    value="telegram_chat",
                    label="Что привязать",
                )
                external = gr.Textbox(label="ID в системе")
                lead = gr.Textbox(label="ID лида")
                map_btn = gr.Button("Привязать", variant="primary")
            map_status = gr.Markdown()
            refresh_btn.click(admin_overview, None, overview)
            map_btn.click(map_item, [system, external, lead], map_status)

        def show_admin(request: gr.Request):
            return gr.update(visible=me(request).role == "admin")

        app.load(show_admin, None, admin_tab)
    return app, staff


def launch(
    host: str = "127.0.0.1", port: int = 7860, prevent_thread_lock: bool = False, staff: Staff | None = None
) -> gr.Blocks:
    """Serve the app behind the login; sessions expire (C360_APP_SESSION_HOURS, C360_APP_IDLE_MINUTES)."""
    settings = get_settings()
    app, staff = build_app(staff)

    def check(login: str, password: str) -> bool:
        return staff.authenticate(login, password) is not None

    app.launch(
        server_name=host,
        server_port=port,
        auth=check,
        auth_message="client360: войдите под своим логином",
        prevent_thread_lock=True,
        show_error=True,
    )
    sessions = ExpiringSessions(settings.app_session_hours * 3600, settings.app_idle_minutes * 60)
    for token, login in app.server_app.tokens.items():  # none yet, unless someone logged in during start-up
        sessions[token] = login
    app.server_app.tokens = sessions
    if not prevent_thread_lock:
        app.block_thread()
    return app
