"""The client card: head, profile, health, alerts and notes, the timeline, the warehouse charts, the notes' editing,
and the original behind a reference (a timeline row, a typed reference, a chat citation)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from chat_app import charts, data, views
from chat_app.access import ClientClosed, current_user, require_client
from chat_app.errors import russian_errors
from config.settings import get_settings
from warehouse.staff import MAX_NOTE_CHARS, Staff, User

PERIODS = {"30 дней": 30, "90 дней": 90, "год": 365, "всё время": None}
# the charts take their box's width (Vega's "container"): Gradio leaves the chart's own element as wide as its content
CHART_CSS = "#stock-chart .vega-embed, #flows-chart .vega-embed { width: 100%; }"


@dataclass
class CardTab:
    client_box: gr.Textbox  # the card's lead field (it chooses the client for every tab)
    open_btn: gr.Button
    filters: list[gr.components.Component]  # sources, period, the charts' period
    outputs: list[gr.components.Component]  # what a chosen client changes
    show: Callable  # (user, client_id, sources, period, chart_period) → (the card or None, the outputs' values)
    open_original: Callable  # the handler, for the chat's citations


def _note_number(note_id) -> int:
    if not re.fullmatch(r"#?\d{1,9}", str(note_id or "").strip()):
        raise gr.Error("Укажите номер заметки, например 3")
    return int(str(note_id).strip().lstrip("#"))


def _refused(message: str) -> tuple:
    """The card's outputs when it does not open: the reason in the head, the rest empty (the history's table with
    its own headings: a table without columns is shown with Gradio's «1 2 3»)."""
    return message, "", "", "", views.timeline_table([], None), [], None, None, ""


def _charts(client_id: str, card: dict, chart_period: str) -> tuple:
    """The warehouse charts of an opened card over the chosen months, its open alerts marked."""
    weeks, months, today = data.wms_weeks(client_id), charts.period_months(chart_period), get_settings().today()
    return (
        charts.stock_chart(weeks, card["alerts"], months, today),
        charts.flows_chart(weeks, card["alerts"], months, today),
    )


def build(staff: Staff, selected: gr.Textbox) -> CardTab:
    """The card's tab about the one chosen client (`selected`, shared by every tab)."""

    def show(
        user: User, client_id: str, sources: list[str], period: str, chart_period: str = charts.DEFAULT_PERIOD
    ) -> tuple[dict | None, tuple]:
        if problem := views.lead_problem(client_id):
            return None, _refused(problem)
        try:
            card = require_client(user, client_id)
        except ClientClosed as closed:
            return None, _refused(closed.message)
        events = data.timeline(client_id, sources or None, PERIODS.get(period))
        notes = views.card_notes(staff.notes_of(client_id), get_settings().tz)
        return card, (
            views.card_head(card, client_id),
            views.card_profile(card["profile"]),
            views.card_health(card["health"]),
            views.card_alerts(card["alerts"], card["curator_name"], get_settings().today()) + "\n\n" + notes,
            views.timeline_table(events, get_settings().today()),
            views.timeline_refs(events),
            *_charts(client_id, card, chart_period),
            "",
        )

    @russian_errors
    def open_card(client_id: str, sources: list[str], period: str, chart_period: str, request: gr.Request):
        return show(current_user(staff, request), (client_id or "").strip(), sources, period, chart_period)[1]

    @russian_errors
    def redraw_charts(client_id: str, chart_period: str, request: gr.Request):
        user = current_user(staff, request)
        client_id = (client_id or "").strip()
        if views.lead_problem(client_id):
            return None, None
        try:
            card = require_client(user, client_id)
        except ClientClosed:
            return None, None
        return _charts(client_id, card, chart_period)

    @russian_errors
    def add_note(client_id: str, text: str, request: gr.Request):
        user = current_user(staff, request)
        if views.lead_problem(client_id):  # the button is there before a client is chosen
            return text, "Сначала выберите клиента: заметка пишется в его карточку."
        client_id = client_id.strip()
        require_client(user, client_id)
        staff.add_note(user, client_id, text)
        return "", "Заметка сохранена; в истории клиента и в чате появится через минуту."

    @russian_errors
    def edit_note(note_id: str, text: str, request: gr.Request):
        user = current_user(staff, request)
        number = _note_number(note_id)
        staff.edit_note(user, number, text)
        return "", f"Заметка #{number} изменена (прежний текст сохранён в истории)."

    @russian_errors
    def delete_note(note_id: str, request: gr.Request):
        user = current_user(staff, request)
        number = _note_number(note_id)
        staff.delete_note(user, number)
        return "", f"Заметка #{number} удалена (история правок сохранена)."

    @russian_errors
    def open_original(client_id: str, ref: str, request: gr.Request) -> str:
        """The meeting (summary and transcript), conversation, letter, call, note or week behind a reference."""
        user = current_user(staff, request)
        client_id = (client_id or "").strip()
        try:
            require_client(user, client_id)
        except ClientClosed as closed:
            return closed.message
        return data.original(client_id, ref)

    @russian_errors
    def pick_event(client_id: str, refs: list[str], evt: gr.SelectData, request: gr.Request):
        row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index  # the row as built, sorted or not
        ref = refs[row] if isinstance(row, int) and 0 <= row < len(refs or []) else ""
        return ref, open_original(client_id, ref, request), gr.Accordion(open=True)

    with gr.Tab("Карточка клиента", id="card"):
        with gr.Row():
            client_box = gr.Textbox(label="ID лида", scale=2)
            sources = gr.CheckboxGroup(choices=[(v, k) for k, v in views.SOURCES.items()], label="Источники", scale=3)
            period = gr.Dropdown(choices=list(PERIODS), value="90 дней", label="Период", scale=1)
            open_btn = gr.Button("Открыть", variant="primary", scale=1)
        # the first screen is the decision: who, how healthy, why, what to do; the profile and the history below
        head = gr.Markdown(elem_id="card-head")
        with gr.Row(equal_height=False):  # side by side on a laptop, one under the other on a phone
            with gr.Column(min_width=320):
                health = gr.Markdown(elem_id="card-why")
            with gr.Column(min_width=320):
                alerts = gr.Markdown(elem_id="card-alerts")
        profile = gr.Markdown()
        chart_period = gr.Radio(
            choices=list(charts.PERIODS), value=charts.DEFAULT_PERIOD, label="Склад за период", elem_id="chart-period"
        )
        with gr.Row():
            stock_chart = gr.Plot(label="Остаток на складе, ед.", elem_id="stock-chart", min_width=320)
            flows_chart = gr.Plot(
                label="Движение товара за неделю, ед.",
                elem_id="flows-chart",
                min_width=320,
            )
        timeline_df = gr.Dataframe(
            label="История клиента (нажмите на строку — откроется запись целиком: расшифровка встречи, "
            "переписка, письмо)",
            interactive=False,
            wrap=True,
            elem_id="timeline",
        )
        timeline_refs = gr.State([])  # what each row opens, in the table's order
        with gr.Accordion("Запись целиком", open=False) as original_box:
            ref_box = gr.Textbox(visible=False)  # the opened record's reference: for the API, never shown
            original_view = gr.Markdown(elem_id="original-view")
        with gr.Row():
            note_text = gr.Textbox(label="Новая заметка", lines=2, scale=4, max_length=MAX_NOTE_CHARS)
            note_btn = gr.Button("Сохранить заметку", scale=1)
        with gr.Row():
            note_no = gr.Textbox(label="Номер заметки (#)", scale=1)
            note_new = gr.Textbox(label="Новый текст", scale=3, max_length=MAX_NOTE_CHARS)
            edit_btn = gr.Button("Изменить", scale=1)
            delete_btn = gr.Button("Удалить", variant="stop", scale=1)
        note_status = gr.Markdown()

    card_outputs = [head, profile, health, alerts, timeline_df, timeline_refs, stock_chart, flows_chart, note_status]
    # the field and the button choose the client for every tab (chat_app/ui/selection.py); another filter shows the
    # chosen client's card again (and is the API's way to a card)
    gr.on(
        [sources.change, period.change],
        open_card,
        [selected, sources, period, chart_period],
        card_outputs,
        api_name="open_card",
    )
    chart_period.change(
        redraw_charts,
        [selected, chart_period],
        [stock_chart, flows_chart],
        api_name="card_charts",
        api_visibility="private",
    )
    timeline_df.select(
        pick_event,
        [selected, timeline_refs],
        [ref_box, original_view, original_box],
        api_name="pick_event",
        api_visibility="private",
    )
    ref_box.submit(open_original, [selected, ref_box], original_view, api_name="open_original")
    note_btn.click(add_note, [selected, note_text], [note_text, note_status], api_name="add_note")
    edit_btn.click(edit_note, [note_no, note_new], [note_new, note_status], api_name="edit_note")
    delete_btn.click(delete_note, [note_no], [note_new, note_status], api_name="delete_note")
    return CardTab(
        client_box,
        open_btn,
        [sources, period, chart_period],
        [*card_outputs, ref_box, original_view],
        show,
        open_original,
    )
