"""The chat about the one chosen client: its name and lead in the header, its stored conversation, a question
answered with citations (streamed), the thumbs, and an answer's sources that open the original. No client chosen:
the question's field is closed, with the hint."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from chat_app import views
from chat_app.access import current_user, require_client
from chat_app.errors import russian_errors
from config.settings import Settings, get_settings
from connectors.llm.base import LLMError
from rag.answer import Answer, ClientQA, build_engine
from rag.index import IndexOutdated
from warehouse.staff import Staff, User

log = logging.getLogger("client360.app")
MAX_QUESTION_CHARS = 4000
MAX_PAGES = 10000  # the pages whose shown client is remembered (the oldest forgotten first)
INDEX_REBUILDING = "Поиск по данным сейчас обновляется после смены настроек. Спросите через несколько минут."
MODEL_DOWN = "Модель сейчас не отвечает, ответа нет. Попробуйте через минуту."

_engine_lock = threading.Lock()
_engine: tuple[dict, ClientQA] | None = None


def answer_engine(settings: Settings) -> ClientQA:
    """The answer engine, built once per process and shared by every question (it keeps no per-question state: the
    client and the question are arguments of `ask`). Built again only when the settings change, as they do between
    tests, so a changed configuration is seen as it was when the engine was built per question."""
    global _engine
    key = settings.model_dump()
    with _engine_lock:
        if _engine is None or _engine[0] != key:
            _engine = (key, build_engine(settings))
        return _engine[1]


def cited(citations) -> gr.Radio:
    """An answer's sources as choices that open the original."""
    choices = views.citation_choices(citations)
    return gr.Radio(choices=choices, value=None, visible=bool(choices))


def question_box(open_for: bool) -> gr.Textbox:
    """The question's field: only with a client chosen (nothing to send before)."""
    return gr.Textbox(
        interactive=open_for,
        placeholder="например: что обещали на последней встрече?" if open_for else "Сначала выберите клиента",
    )


@dataclass
class ChatTab:
    client_box: gr.Textbox  # the chat's own lead field (it chooses the client for every tab)
    outputs: list[gr.components.Component]  # what a chosen client changes: head, chatbot, sources, question
    show: Callable  # (request, user, client_id, card or None) → the outputs' values


def build(staff: Staff, selected: gr.Textbox, open_original: Callable) -> ChatTab:
    """The chat's tab about the one chosen client (`selected`, shared by every tab)."""

    def shown_message(user: User, client_id: str, shown: list, index) -> dict | None:
        """The stored message behind the chat's n-th shown one (the chat shows the newest of the stored log)."""
        logged = staff.chat_history(user, (client_id or "").strip())[-len(shown) :] if shown else []
        index = index[0] if isinstance(index, list | tuple) else index
        return logged[index] if isinstance(index, int) and 0 <= index < len(logged) else None

    # the client each page's chat shows now (by Gradio session): an answer still streaming for another one stops
    # showing (it is stored in its own client's conversation all the same)
    showing: OrderedDict[str, str] = OrderedDict()
    showing_lock = threading.Lock()

    def show(request: gr.Request, user: User, client_id: str, card: dict | None) -> tuple:
        """The chat of a chosen client (its own stored conversation and its last answer's sources), or the hint."""
        with showing_lock:
            showing[request.session_hash or ""] = client_id if card is not None else ""
            showing.move_to_end(request.session_hash or "")
            while len(showing) > MAX_PAGES:
                showing.popitem(last=False)
        if card is None:
            return views.chat_head(None, ""), [], cited(None), "", question_box(False)
        log_ = staff.chat_history(user, client_id)
        last = next((m["citations"] for m in reversed(log_) if m["role"] == "assistant"), None)
        return views.chat_head(card, client_id), views.chat_messages(log_), cited(last), "", question_box(True)

    @russian_errors
    def pick_answer(client_id: str, shown: list, evt: gr.SelectData, request: gr.Request):
        message = shown_message(current_user(staff, request), client_id, shown, evt.index)
        return cited(message["citations"]) if message and message["role"] == "assistant" else gr.Radio()

    @russian_errors
    def ask(message: str, history: list, client_id: str, request: gr.Request):
        user = current_user(staff, request)
        client_id = (client_id or "").strip()
        require_client(user, client_id, "Сначала выберите клиента")  # the app's field is closed before; the API
        message = (message or "").strip()
        if not message:  # Enter on an empty field: nothing to answer
            yield "", history, gr.Radio()
            return
        if len(message) > MAX_QUESTION_CHARS:  # the field takes no more; only the API can send a longer one
            raise gr.Error(f"Вопрос длиннее {MAX_QUESTION_CHARS} символов ({len(message)}): сократите его.")
        history = [
            *history,
            {"role": "user", "content": views.as_text(message)},
            {"role": "assistant", "content": ""},
        ]
        sources = gr.Radio()
        staff.log_chat(user, client_id, "user", message)
        started, first, streamed = time.monotonic(), None, ""
        page = request.session_hash or ""
        try:
            for piece in answer_engine(get_settings()).ask(client_id, message):
                if isinstance(piece, Answer):
                    text = views.answer_markdown(piece.text)
                    history[-1]["content"] = text
                    stored = [c.__dict__ for c in piece.citations]
                    sources = cited(stored)
                    first_ms = int(((first or time.monotonic()) - started) * 1000)
                    log.info("первый фрагмент ответа через %d мс (%s, клиент %s)", first_ms, user.login, client_id)
                    staff.log_chat(
                        user,
                        client_id,
                        "assistant",
                        text,
                        first_token_ms=first_ms,
                        citations=json.dumps(stored, ensure_ascii=False),
                    )
                else:
                    first = first or time.monotonic()
                    streamed += piece
                    history[-1]["content"] = views.as_text(streamed)
                if showing.get(page, client_id) == client_id:  # the page still shows this client's chat
                    yield "", history, sources
        except (LLMError, IndexOutdated) as exc:  # said in the chat, not as a failure of the app
            log.warning("ответ не получен (%s, клиент %s): %s", user.login, client_id, exc)
            history[-1]["content"] = INDEX_REBUILDING if isinstance(exc, IndexOutdated) else MODEL_DOWN
            if showing.get(page, client_id) == client_id:
                yield "", history, gr.Radio(visible=False)

    @russian_errors
    def feedback(client_id: str, shown: list, like: gr.LikeData, request: gr.Request):
        """The thumb goes to the answer it was given on."""
        user = current_user(staff, request)
        message = shown_message(user, client_id, shown, like.index)
        if message and message["role"] == "assistant":
            staff.rate_answer(user, message["id"], bool(like.liked))

    with gr.Tab("Чат по клиенту", id="chat", elem_id="chat-tab"):
        with gr.Row(equal_height=True):
            chat_client = gr.Textbox(label="ID лида", placeholder="например, 10234", scale=1, min_width=140)
            head = gr.Markdown(views.chat_head(None, ""), elem_id="chat-head", container=True)
        chatbot = gr.Chatbot(
            label="Ответы по данным клиента, со ссылками на источники",
            height=480,
            elem_id="chat",
            buttons=["copy", "copy_all"],  # no «share»: a client's data goes to no outside service
        )
        question = gr.Textbox(
            label="Вопрос",
            placeholder="Сначала выберите клиента",
            interactive=False,
            max_length=MAX_QUESTION_CHARS,
        )
        cite_choice = gr.Radio(label="Источники ответа: нажмите, чтобы открыть запись", visible=False)
        cite_view = gr.Markdown(elem_id="cite-view")

    outputs = [head, chatbot, cite_choice, cite_view, question]
    question.submit(ask, [question, chatbot, selected], [question, chatbot, cite_choice], api_name="ask")
    chatbot.like(feedback, [selected, chatbot], None, api_name="feedback", api_visibility="private")
    chatbot.select(pick_answer, [selected, chatbot], cite_choice, api_name="pick_answer", api_visibility="private")
    cite_choice.input(
        open_original, [selected, cite_choice], cite_view, api_name="open_citation", api_visibility="private"
    )
    return ChatTab(chat_client, outputs, show)
