"""The one chosen client every tab shows: a row of the list, the lead typed in the card or in the chat, or a link
(`/?lead=10234`) chooses it for the card and the chat at once. The chat then holds that client's own conversation
(an answer still streaming for the one before is no longer shown: chat.ChatTab.show). A lead that does not open
chooses no client."""

from __future__ import annotations

import gradio as gr

from chat_app.access import current_user
from chat_app.errors import russian_errors
from chat_app.ui.card import CardTab
from chat_app.ui.chat import ChatTab
from chat_app.ui.clients import ClientsTab
from warehouse.staff import Staff


def wire(app: gr.Blocks, staff: Staff, selected: gr.Textbox, clients: ClientsTab, card: CardTab, chat: ChatTab, tabs):
    def choose(request: gr.Request, client_id, sources: list[str], period: str, chart_period: str) -> tuple:
        user = current_user(staff, request)
        client_id = str(client_id or "").strip()
        found, card_view = card.show(user, client_id, sources, period, chart_period)
        chosen = client_id if found is not None else ""
        return (chosen, client_id, client_id, *card_view, "", "", *chat.show(request, user, chosen, found))

    @russian_errors
    def typed(client_id: str, sources: list[str], period: str, chart_period: str, request: gr.Request):
        return choose(request, client_id, sources, period, chart_period)

    @russian_errors
    def picked(sources: list[str], period: str, chart_period: str, evt: gr.SelectData, request: gr.Request):
        client_id = evt.row_value[0] if evt.row_value else ""
        return *choose(request, client_id, sources, period, chart_period), gr.Tabs(selected="card")

    @russian_errors
    def linked(sources: list[str], period: str, chart_period: str, request: gr.Request):
        lead = request.query_params.get("lead")
        if not lead:
            return tuple(gr.skip() for _ in range(len(outputs) + 1))
        return *choose(request, lead, sources, period, chart_period), gr.Tabs(selected="card")

    outputs = [selected, card.client_box, chat.client_box, *card.outputs, *chat.outputs]
    for name, trigger, box in (
        ("choose_in_card", card.client_box.submit, card.client_box),
        ("open_in_card", card.open_btn.click, card.client_box),
        ("choose_in_chat", chat.client_box.submit, chat.client_box),
    ):
        trigger(typed, [box, *card.filters], outputs, api_name=name, api_visibility="private")
    clients.table.select(
        picked,
        card.filters,
        [*outputs, tabs],
        api_name="pick_client",
        api_visibility="private",
    )
    app.load(linked, card.filters, [*outputs, tabs], api_name="open_linked_client", api_visibility="private")
