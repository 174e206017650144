"""The chat about one client: the stored conversation, a question answered with citations (streamed), the thumbs,
and an answer's citations that open the original."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

import gradio as gr

from chat_app import views
from chat_app.access import ClientClosed, current_user, require_client
from chat_app.errors import russian_errors
from config.settings import Settings, get_settings
from rag.answer import Answer, ClientQA, build_engine
from warehouse.staff import Staff, User

log = logging.getLogger("client360.app")
MAX_QUESTION_CHARS = 4000

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
    """An answer's citations as choices that open the original."""
    choices = views.citation_choices(citations)
    return gr.Radio(choices=choices, value=None, visible=bool(choices))


def build(staff: Staff, open_original: Callable) -> gr.Textbox:
    """The chat's tab; its client box (which the client list fills) is returned."""

    def shown_message(user: User, client_id: str, shown: list, index) -> dict | None:
        """The stored message behind the chat's n-th shown one (the chat shows the newest of the stored log)."""
        logged = staff.chat_history(user, (client_id or "").strip())[-len(shown) :] if shown else []
        index = index[0] if isinstance(index, list | tuple) else index
        return logged[index] if isinstance(index, int) and 0 <= index < len(logged) else None

    @russian_errors
    def load_chat(client_id: str, request: gr.Request):
        user = current_user(staff, request)
        try:
            require_client(user, client_id)
        except ClientClosed:
            return [], cited(None)
        log_ = staff.chat_history(user, client_id.strip())
        last = next((m["citations"] for m in reversed(log_) if m["role"] == "assistant"), None)
        return views.chat_messages(log_), cited(last)

    @russian_errors
    def pick_answer(client_id: str, shown: list, evt: gr.SelectData, request: gr.Request):
        message = shown_message(current_user(staff, request), client_id, shown, evt.index)
        return cited(message["citations"]) if message and message["role"] == "assistant" else gr.Radio()

    @russian_errors
    def ask(message: str, history: list, client_id: str, request: gr.Request):
        user = current_user(staff, request)
        client_id = (client_id or "").strip()
        require_client(user, client_id, "Выберите клиента, открытого для вас")
        message = (message or "").strip()
        if not message:
            raise gr.Error("Напишите вопрос")
        if len(message) > MAX_QUESTION_CHARS:
            raise gr.Error(f"Вопрос длиннее {MAX_QUESTION_CHARS} символов ({len(message)}): сократите его.")
        history = [
            *history,
            {"role": "user", "content": views.as_text(message)},
            {"role": "assistant", "content": ""},
        ]
        sources = gr.Radio()
        staff.log_chat(user, client_id, "user", message)
        started, first, streamed = time.monotonic(), None, ""
        for piece in answer_engine(get_settings()).ask(client_id, message):
            if isinstance(piece, Answer):
                text = views.answer_markdown(piece.text, piece.citations)
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
                history[-1]["content"] = views.as_text(streamed)
            yield "", history, sources

    @russian_errors
    def feedback(client_id: str, shown: list, like: gr.LikeData, request: gr.Request):
        """The thumb goes to the answer it was given on."""
        user = current_user(staff, request)
        message = shown_message(user, client_id, shown, like.index)
        if message and message["role"] == "assistant":
            staff.rate_answer(user, message["id"], bool(like.liked))

    with gr.Tab("Чат по клиенту", id="chat"):
        chat_client = gr.Textbox(label="ID лида")
        chatbot = gr.Chatbot(label="Ответы по данным клиента, со ссылками на источники", height=480)
        question = gr.Textbox(label="Вопрос", placeholder="что обещали на последней встрече?")
        cite_choice = gr.Radio(
            label="Источники ответа: нажмите, чтобы открыть (или нажмите на другой ответ)", visible=False
        )
        cite_view = gr.Markdown(elem_id="cite-view")

    chat_client.submit(load_chat, chat_client, [chatbot, cite_choice], api_name="load_chat")
    question.submit(ask, [question, chatbot, chat_client], [question, chatbot, cite_choice], api_name="ask")
    chatbot.like(feedback, [chat_client, chatbot], None, api_name="feedback", api_visibility="private")
    chatbot.select(pick_answer, [chat_client, chatbot], cite_choice, api_name="pick_answer", api_visibility="private")
    cite_choice.input(
        open_original, [chat_client, cite_choice], cite_view, api_name="open_citation", api_visibility="private"
    )
    return chat_client
