"""The client list: search, the riskiest first; a row chooses the client for the card and the chat
(chat_app/ui/selection.py)."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from chat_app import data, views
from chat_app.access import current_user
from chat_app.errors import russian_errors
from warehouse.staff import Staff


@dataclass
class ClientsTab:
    search: gr.Textbox
    table: gr.Dataframe


def build(app: gr.Blocks, staff: Staff) -> ClientsTab:
    @russian_errors
    def list_clients(search: str, request: gr.Request):
        return views.clients_table(data.clients(current_user(staff, request), search or ""))

    with gr.Tab("Клиенты", id="clients"):
        search = gr.Textbox(label="Поиск по названию или ID лида", placeholder="например, 10234 или Зоомир")
        table = gr.Dataframe(
            label="Клиенты: сначала самые рискованные (нажмите на строку, чтобы открыть карточку)",
            interactive=False,
            wrap=True,
            elem_id="clients",
            column_widths=["7%", "17%", "12%", "7%", "10%", "12%", "35%"],
        )
    search.change(list_clients, search, table, api_name="list_clients")
    app.load(list_clients, search, table, api_name="list_clients_on_load", api_visibility="private")
    return ClientsTab(search, table)
