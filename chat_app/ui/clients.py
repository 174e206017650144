"""The client list: search, the riskiest first; a row opens the client's card (and sets the chat's client)."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from chat_app import data, views
from chat_app.access import current_user
from chat_app.errors import russian_errors
from chat_app.ui.card import CardTab
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


def open_on_select(clients: ClientsTab, card: CardTab, chat_client: gr.Textbox, tabs: gr.Tabs) -> None:
    """A row of the list opens its card on the card's tab and becomes the chat's client."""

    @russian_errors
    def pick_client(evt: gr.SelectData):
        client_id = str(evt.row_value[0]) if evt.row_value else ""
        return client_id, client_id, gr.Tabs(selected="card")

    clients.table.select(
        pick_client, None, [card.client_box, chat_client, tabs], api_name="pick_client", api_visibility="private"
    ).then(card.open_card, card.inputs, card.outputs, api_name="open_picked_card", api_visibility="private")
