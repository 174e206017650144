"""The admin's tab (shown to admins only): what no client owns yet, users and runs; mapping an external id to a
lead, a curator's access to all clients, unlocking a login."""

from __future__ import annotations

import logging

import gradio as gr

from chat_app import data, views
from chat_app.access import current_user, require_admin
from chat_app.errors import russian_errors
from config.settings import Settings
from warehouse.aliases import AliasConflict, AliasError, save_alias
from warehouse.appdb import AppDB
from warehouse.dagster_runs import RunHistoryError, recent_runs
from warehouse.staff import Staff

log = logging.getLogger("client360.app")
MAP_SYSTEMS = {  # what the admin can map to a lead: its label, and when its data arrives after mapping
    "telegram_chat": ("Чат Telegram", "при ежедневной загрузке"),
    "wms_client": ("Клиент WMS", "в течение часа"),
    "recording": (
        "Запись встречи (путь из списка или имя комнаты)",
        "в течение минуты (запись обработается как обычная встреча)",
    ),
}


def build(app: gr.Blocks, staff: Staff, settings: Settings) -> None:
    @russian_errors
    def admin_overview(request: gr.Request):
        require_admin(current_user(staff, request))
        unmapped, users = data.unmapped(), staff.list()
        try:
            runs, runs_error = recent_runs(settings, limit=10), None
        except RunHistoryError as exc:  # the page shows the rest anyway
            log.warning("история запусков Dagster недоступна: %s", exc)
            runs, runs_error = None, str(exc)
        return views.admin_page(
            unmapped,
            users,
            runs,
            runs_error,
            room_prefix=settings.room_prefix,
            dagster_url=settings.dagster_url,
        )

    @russian_errors
    def set_access(login: str, see_all: bool, request: gr.Request) -> str:
        user = require_admin(current_user(staff, request))
        login = (login or "").strip()
        staff.set_see_all(login, bool(see_all))
        log.info("%s: %s теперь видит %s", user.login, login, "всех клиентов" if see_all else "своих клиентов")
        return f"{login} теперь видит {'всех клиентов' if see_all else 'только своих клиентов'}."

    @russian_errors
    def unlock_login(login: str, request: gr.Request) -> str:
        user = require_admin(current_user(staff, request))
        login = (login or "").strip()
        staff.unlock(login, by=f"приложение, {user.login}")
        return f"Вход {login} разблокирован: прежние неудачные попытки больше не мешают."

    @russian_errors
    def map_item(system: str, external_id: str, client_id: str, replace: bool, request: gr.Request):
        user = require_admin(current_user(staff, request))
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
            return f"Уже привязано: {views.as_text(external_id)} → лид {client_id}, ничего не изменено."
        log.info("%s привязал %s %s к лиду %s", user.login, system, external_id, client_id)
        return f"Привязано: {views.as_text(external_id)} → лид {client_id}. Данные подтянутся {MAP_SYSTEMS[system][1]}."

    def suggestion_choices() -> list[tuple[str, str]]:
        return [
            (views.identity_choice(r), "|".join((r["system"], r["external_id"], r["lead_id"])))
            for r in data.identity_open()
        ]

    @russian_errors
    def refresh_choices(request: gr.Request):
        require_admin(current_user(staff, request))
        choices = suggestion_choices()
        return gr.update(choices=choices, value=choices[0][1] if choices else None)

    def decide(choice: str | None, accept: bool, request: gr.Request) -> str:
        user = require_admin(current_user(staff, request))
        known = {value for _, value in suggestion_choices()}
        if not choice or choice not in known:
            raise gr.Error("Выберите предложение из списка (или нажмите «Обновить»)")
        system, external_id, lead_id = choice.split("|")
        what = f"{views.IDENTITY_WHAT[system]} {external_id}"
        if accept:
            try:
                save_alias(settings.resolved_aliases_file, system, external_id, lead_id, f"приложение, {user.login}")
            except AliasError as exc:
                raise gr.Error(f"Не привязано: {exc}.") from exc
            log.info("%s принял предложение: %s %s → лид %s", user.login, system, external_id, lead_id)
            return f"Привязано: {views.as_text(what)} → лид {lead_id}. Данные подтянутся {MAP_SYSTEMS[system][1]}."
        db = AppDB(settings.resolved_app_db_url)
        try:
            db.reject_identity(system, external_id, lead_id, f"приложение, {user.login}")
        finally:
            db.dispose()
        log.info("%s отклонил предложение: %s %s → лид %s", user.login, system, external_id, lead_id)
        return f"Отклонено: {views.as_text(what)} — не лид {lead_id}; больше не предлагается."

    @russian_errors
    def accept_identity(choice: str | None, request: gr.Request) -> str:
        return decide(choice, True, request)

    @russian_errors
    def reject_identity(choice: str | None, request: gr.Request) -> str:
        return decide(choice, False, request)

    @russian_errors
    def show_admin(request: gr.Request):
        return gr.update(visible=current_user(staff, request).role == "admin")

    with gr.Tab("Администрирование", id="admin", visible=False) as admin_tab:
        overview = gr.Markdown(elem_id="admin-overview")
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
            # its choices come when the tab opens and with «Обновить»; the handler checks a value against the current
            # suggestions itself
            suggestion = gr.Dropdown(
                label="Предложения и конфликты сопоставления с лидами", choices=[], allow_custom_value=True, scale=4
            )
            accept_btn = gr.Button("Принять", variant="primary", scale=1)
            reject_btn = gr.Button("Отклонить", scale=1)
        decision_status = gr.Markdown()
        with gr.Row():
            access_login = gr.Textbox(label="Логин сотрудника")
            access_all = gr.Checkbox(label="Видит всех клиентов, а не только своих")
            access_btn = gr.Button("Сохранить доступ")
            unlock_btn = gr.Button("Разблокировать вход")
        access_status = gr.Markdown()

    refresh_btn.click(admin_overview, None, overview, api_name="admin_overview").then(
        refresh_choices, None, suggestion, api_name="identity_choices", api_visibility="private"
    )
    # opening the tab shows the page at once (the same handlers, the same admin check)
    admin_tab.select(admin_overview, None, overview, api_name="admin_overview_on_open", api_visibility="private").then(
        refresh_choices, None, suggestion, api_name="identity_choices_on_open", api_visibility="private"
    )
    accept_btn.click(accept_identity, suggestion, decision_status, api_name="accept_identity")
    reject_btn.click(reject_identity, suggestion, decision_status, api_name="reject_identity")
    map_btn.click(map_item, [system, external, lead, replace], map_status, api_name="map_item")
    access_btn.click(set_access, [access_login, access_all], access_status, api_name="set_access")
    unlock_btn.click(unlock_login, access_login, access_status, api_name="unlock_login")
    app.load(show_admin, None, admin_tab, api_name="show_admin", api_visibility="private")
