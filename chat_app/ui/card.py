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
    """A note's id as the API gives it (3, 3.0 or «3»)."""
    text = str(note_id if note_id is not None else "").strip().removesuffix(".0")
    if not re.fullmatch(r"#?\d{1,9}", text):
        raise gr.Error("Укажите номер заметки, например 3")
    return int(text.lstrip("#"))


# the original opened from the history is brought into view where it is (next to the table on a laptop, under it
# on a phone); the panel scrolls within itself
SCROLL_TO_ORIGINAL = (
    "() => { const e = document.getElementById('original-panel');"
    " if (e) e.scrollIntoView({block: 'nearest', behavior: 'instant'}); }"
)
# the history's columns as shares of the table's width (Gradio sizes an unsized column by its unwrapped text, the
# summary's then overflows sideways): short ones narrow, the summary the most, and it wraps
TIMELINE_WIDTHS = ["13%", "11%", "20%", "42%", "13%"]


def _refused(message: str) -> tuple:
    """The card's outputs when it does not open: the reason in the head, the rest empty (the history's table with
    its own headings: a table without columns is shown with Gradio's «1 2 3»; no notes either)."""
    return message, "", "", "", views.timeline_table([], None), [], None, None, "", []


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
        return card, (
            views.card_head(card, client_id),
            views.card_profile(card["profile"]),
            views.card_health(card["health"]),
            views.card_alerts(card["alerts"], card["curator_name"], get_settings().today()),
            views.timeline_table(events, get_settings().today()),
            views.timeline_refs(events),
            *_charts(client_id, card, chart_period),
            "",
            notes_of(user, client_id),
        )

    def notes_of(user: User, client_id: str) -> list[dict]:
        """The client's notes as the list shows them to this user (who may change which: Staff.may_change)."""
        names = {u.login: u.name for u in staff.list()}
        return views.card_notes(
            staff.notes_of(client_id), get_settings().tz, names, lambda n: Staff.may_change(user, n["author"])
        )

    def client_note(user: User, client_id: str, note_id) -> tuple[str, int]:
        """The chosen client (the user may open it) and one of its own notes: a note of another client is not
        changed from this card."""
        if views.lead_problem(client_id):
            raise gr.Error("Сначала выберите клиента")
        client_id = client_id.strip()
        require_client(user, client_id)
        number = _note_number(note_id)
        note = staff.note(number)
        if note is None or note["client_id"] != client_id:
            raise gr.Error(f"У этого клиента нет заметки {number}")
        return client_id, number

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
            return text, "Сначала выберите клиента: заметка пишется в его карточку.", gr.skip()
        client_id = client_id.strip()
        require_client(user, client_id)
        staff.add_note(user, client_id, text)
        return "", "Заметка сохранена; в истории клиента и в чате появится через минуту.", notes_of(user, client_id)

    @russian_errors
    def edit_note(client_id: str, note_id, text: str, request: gr.Request):
        """A note of the chosen client changed (its author's or, for an admin, anyone's: Staff's rule)."""
        user = current_user(staff, request)
        client_id, number = client_note(user, client_id, note_id)
        staff.edit_note(user, number, text)
        return notes_of(user, client_id), "Заметка изменена (прежний текст сохранён в истории)."

    @russian_errors
    def delete_note(client_id: str, note_id, request: gr.Request):
        user = current_user(staff, request)
        client_id, number = client_note(user, client_id, note_id)
        staff.delete_note(user, number)
        return notes_of(user, client_id), "Заметка удалена (история правок сохранена)."

    # each note's own buttons (the list is drawn by notes_list): which note is being edited or asked about
    def note_action(note_id: int, action: str):
        @russian_errors
        def act(client_id: str, request: gr.Request):
            user = current_user(staff, request)
            client_note(user, client_id, note_id)
            return (note_id, None) if action == "edit" else (None, note_id)

        return act

    def note_change(note_id: int, action: str):
        @russian_errors
        def change(client_id: str, text: str, request: gr.Request):
            if action == "edit":
                notes, status = edit_note(client_id, note_id, text, request)
            else:
                notes, status = delete_note(client_id, note_id, request)
            return notes, None, None, status

        return change

    @russian_errors
    def close_note(request: gr.Request):
        current_user(staff, request)
        return None, None

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
        return ref, open_original(client_id, ref, request)

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
        # the notes: the list with each note's own buttons, the new note's field next to it
        notes_state = gr.State([])  # the chosen client's notes as card_notes gives them
        note_editing = gr.State(None)  # the id of the note being edited
        note_confirming = gr.State(None)  # the id of the note whose deletion is being confirmed
        with gr.Row(equal_height=False, elem_id="card-notes"):
            with gr.Column(scale=3, min_width=320):
                gr.Markdown("### Заметки")

                @gr.render(inputs=[notes_state, note_editing, note_confirming])
                def notes_list(notes: list[dict], editing: int | None, confirming: int | None):
                    if not notes:
                        gr.Markdown("Заметок пока нет.")
                    for n in notes:
                        with gr.Group(elem_classes="c360-note"):
                            gr.Markdown(views.note_markdown(n), elem_classes="c360-note-text", padding=True)
                            if not n["mine"]:
                                continue
                            if editing == n["id"]:
                                box = gr.Textbox(
                                    n["text"],
                                    label="Текст заметки",
                                    lines=3,
                                    max_length=MAX_NOTE_CHARS,
                                    interactive=True,
                                )
                                with gr.Row():
                                    save = gr.Button("Сохранить", variant="primary", size="sm", scale=0)
                                    cancel = gr.Button("Отмена", size="sm", scale=0)
                                save.click(
                                    note_change(n["id"], "edit"),
                                    [selected, box],
                                    [notes_state, note_editing, note_confirming, note_status],
                                    api_name="note_save",
                                    api_visibility="private",
                                )
                            elif confirming == n["id"]:
                                gr.Markdown("Удалить эту заметку? История правок сохранится.", padding=True)
                                with gr.Row():
                                    sure = gr.Button("Точно удалить", variant="stop", size="sm", scale=0)
                                    cancel = gr.Button("Отмена", size="sm", scale=0)
                                sure.click(
                                    note_change(n["id"], "delete"),
                                    [selected, note_status],
                                    [notes_state, note_editing, note_confirming, note_status],
                                    api_name="note_delete_confirmed",
                                    api_visibility="private",
                                )
                            else:
                                with gr.Row():
                                    edit = gr.Button("Изменить", size="sm", scale=0)
                                    delete = gr.Button("Удалить", size="sm", scale=0)
                                for button, action in ((edit, "edit"), (delete, "delete")):
                                    button.click(
                                        note_action(n["id"], action),
                                        [selected],
                                        [note_editing, note_confirming],
                                        api_name=f"note_{action}",
                                        api_visibility="private",
                                    )
                                continue
                            cancel.click(
                                close_note,
                                None,
                                [note_editing, note_confirming],
                                api_name="note_cancel",
                                api_visibility="private",
                            )

            with gr.Column(scale=2, min_width=300):
                note_text = gr.Textbox(label="Новая заметка", lines=3, max_length=MAX_NOTE_CHARS)
                note_btn = gr.Button("Сохранить заметку")
                note_status = gr.Markdown()
                # the API's way to change a note (the list's buttons do it in the page): never shown
                note_id_box = gr.Textbox(visible=False)
                note_edit_box = gr.Textbox(visible=False)
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
        # the history and, next to it (under it on a phone), the original of the row clicked
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=360):
                timeline_df = gr.Dataframe(
                    label="История клиента (нажмите на строку — запись откроется целиком рядом)",
                    interactive=False,
                    wrap=True,
                    column_widths=TIMELINE_WIDTHS,
                    datatype=["str", "str", "str", "markdown", "str"],
                    max_height=640,
                    elem_id="timeline",
                )
            with gr.Column(scale=1, min_width=320, elem_id="original-panel"):
                gr.Markdown("#### Запись целиком\nНажмите на строку истории — запись откроется здесь.")
                ref_box = gr.Textbox(visible=False)  # the opened record's reference: for the API, never shown
                original_view = gr.Markdown(
                    elem_id="original-view",
                    max_height=640,
                    container=True,
                )
        timeline_refs = gr.State([])  # what each row opens, in the table's order

    card_outputs = [
        *(head, profile, health, alerts, timeline_df, timeline_refs, stock_chart, flows_chart),
        note_status,
        notes_state,
    ]
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
        [ref_box, original_view],
        api_name="pick_event",
        api_visibility="private",
    ).then(None, js=SCROLL_TO_ORIGINAL, api_name="show_original", api_visibility="private")
    ref_box.submit(open_original, [selected, ref_box], original_view, api_name="open_original")
    note_btn.click(add_note, [selected, note_text], [note_text, note_status, notes_state], api_name="add_note")
    note_edit_box.submit(
        edit_note, [selected, note_id_box, note_edit_box], [notes_state, note_status], api_name="edit_note"
    )
    note_id_box.submit(delete_note, [selected, note_id_box], [notes_state, note_status], api_name="delete_note")
    return CardTab(
        client_box,
        open_btn,
        [sources, period, chart_period],
        [*card_outputs, ref_box, original_view],
        show,
        open_original,
    )
