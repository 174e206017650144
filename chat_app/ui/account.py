"""Who is logged in, at the top: «Вы вошли как Анна Соколова» and «Выйти». «Выйти» links to Gradio's own /logout
route (gradio/routes.py `logout`): it deletes the login cookies, ends the user's sessions (through
chat_app/sessions.py, which logs it) and redirects to the page, which is the login form again."""

from __future__ import annotations

import gradio as gr

from chat_app import views
from chat_app.access import current_user
from chat_app.errors import russian_errors
from warehouse.staff import Staff


def build(app: gr.Blocks, staff: Staff) -> None:
    @russian_errors
    def signed_in(request: gr.Request) -> str:
        user = current_user(staff, request)
        return f"Вы вошли как {views.as_text(user.name or user.login)}"

    with gr.Row(equal_height=True):
        line = gr.Markdown(elem_id="signed-in")
        # a button with a link (Gradio opens a Markdown link in a new tab); relative: the route beside the page
        gr.Button("Выйти", link="logout", size="sm", scale=0, min_width=80, elem_id="logout")
    app.load(signed_in, None, line, api_name="signed_in", api_visibility="private")
