"""The one access check every handler goes through: who is asking (a signed-in, active user), may they open this
client, are they an admin. Each refusal is the app's Russian sentence."""

from __future__ import annotations

import gradio as gr

from chat_app import data
from warehouse.staff import Staff, User

CLOSED = "Клиент не найден или закрыт для вас"


class ClientClosed(gr.Error):
    """The client does not exist or is not this user's: a handler may show the sentence instead of failing."""


def current_user(staff: Staff, request: gr.Request | None) -> User:
    user = staff.get(request.username) if request and request.username else None
    if user is None or not user.active:
        raise gr.Error("Войдите заново")
    return user


def require_admin(user: User) -> User:
    if user.role != "admin":
        raise gr.Error("Только для администратора")
    return user


def require_client(user: User, client_id: str | None, refusal: str = CLOSED) -> dict:
    """The client's card (from the serving snapshot) when this user may open it; ClientClosed otherwise."""
    card = data.client(user, (client_id or "").strip())
    if card is None:
        raise ClientClosed(refusal)
    return card
