"""The client list: search and filters (mine or all I may open, health colour, open alerts), the riskiest first or in
the order chosen (by any column but the reasons); the shown rows download as CSV or XLSX; a row chooses the client
for the card and the chat (chat_app/ui/selection.py)."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from chat_app import data, export, views
from chat_app.access import current_user
from chat_app.errors import russian_errors
from config.settings import get_settings
from warehouse.staff import Staff


@dataclass
class ClientsTab:
    search: gr.Textbox
    table: gr.Dataframe


def build(app: gr.Blocks, staff: Staff) -> ClientsTab:
    @russian_errors
    def list_clients(search: str, scope: str, bands: list[str], alerts_only: bool, order: str, request: gr.Request):
        user = current_user(staff, request)
        rows = data.clients(user, search or "", scope or views.ALL, bands or [], bool(alerts_only), order)
        # the files hold exactly these rows, so a download is always the list on the screen
        return views.clients_table(rows), *export.files(rows, get_settings().today())

    with gr.Tab("Клиенты", id="clients"):
        with gr.Row(elem_id="client-filters"):
            search = gr.Textbox(
                label="Поиск по названию или ID лида", placeholder="например, 10234 или Зоомир", scale=3, min_width=220
            )
            scope = gr.Radio(
                [views.ALL, views.MINE], value=views.ALL, label="Показать", elem_id="client-scope", min_width=220
            )
            bands = gr.CheckboxGroup(
                list(views.BANDS), label="Здоровье (ничего не отмечено — все)", elem_id="client-bands", min_width=220
            )
            alerts_only = gr.Checkbox(label="есть тревоги", elem_id="client-alerts", min_width=120)
            order = gr.Dropdown(
                list(views.ORDERS), value=views.RISKIEST, label="Порядок", elem_id="client-order", min_width=200
            )
        with gr.Row(elem_id="client-export"):
            csv = gr.DownloadButton("Скачать список (CSV)", size="sm", elem_id="export-csv", min_width=160, scale=0)
            xlsx = gr.DownloadButton("Скачать список (XLSX)", size="sm", elem_id="export-xlsx", min_width=160, scale=0)
        table = gr.Dataframe(
            label="Клиенты (нажмите на строку, чтобы открыть карточку)",
            interactive=False,
            wrap=True,
            elem_id="clients",
            buttons=[],  # Gradio's copy and fullscreen buttons are labelled in English only
            column_widths=["7%", "17%", "12%", "7%", "10%", "12%", "35%"],
        )
    filters = [search, scope, bands, alerts_only, order]
    gr.on(
        [search.change, scope.change, bands.change, alerts_only.change, order.change],
        list_clients,
        filters,
        [table, csv, xlsx],
        api_name="list_clients",
    )
    app.load(list_clients, filters, [table, csv, xlsx], api_name="list_clients_on_load", api_visibility="private")
    return ClientsTab(search, table)
