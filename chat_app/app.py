"""The curators' app (Gradio): login, the client list (riskiest first), the client card (profile, health, alerts,
timeline, warehouse chart, notes), and a chat per client with cited answers. Russian UI.

It reads the serving snapshot and the search index, never the live warehouse, and writes only to the app DB
(notes, chat log), so a running pipeline never blocks it. This module assembles the tabs (chat_app/ui/) and
serves them; the formatting is in chat_app/views.py, the access check in chat_app/access.py.
"""

from __future__ import annotations

import asyncio
import os

import gradio as gr
from starlette.middleware import Middleware

from chat_app.sessions import ExpiringSessions
from chat_app.ui import account, admin, card, chat, clients, selection
from chat_app.web import Guard, client_address
from config.settings import get_settings
from warehouse.appdb import AppDB
from warehouse.staff import Staff

TITLE = "client360 — клиенты фулфилмента"

# Gradio's page takes its language from the browser (svelte-i18n's navigator.language, read once by setupi18n in
# gradio/templates/frontend/assets/core-*.js): an English browser gets an English login form and English tooltips.
# Nothing in Gradio sets it, and the login page gets neither `head` nor translations (gradio/routes.py `main`: its
# config is only auth_required and auth_message). So this comes in the HTML of every page, before Gradio's bundle
# (web.Guard): the language is Russian (Gradio's own translation, assets/ru-*.js), and a wrong password keeps the
# login typed (the login form, assets/Login-*.js, empties both fields on a 400; the login is typed back, as if by
# the user, once it has).
PAGE_HEAD = (
    f"<title>{TITLE}</title>"
    + r"""<script>
(() => {
  for (const [name, value] of [["language", "ru"], ["languages", ["ru"]]])
    Object.defineProperty(Navigator.prototype, name, {get: () => value, configurable: true});
  const fetch0 = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const response = await fetch0(input, init);
    const login = init && init.body instanceof FormData ? init.body.get("username") : null;
    if (response.status === 400 && login && /\/login\/?$/.test(String((input && input.url) || input))) {
      setTimeout(() => {
        const box = document.querySelector("input:not([type=password]), textarea");
        if (!box) return;
        box.value = login;
        box.dispatchEvent(new Event("input", {bubbles: true}));
        document.querySelector("input[type=password]")?.focus();
      });
    }
    return response;
  };
})();
</script>"""
)

# A session that has ended (idle, too old) makes the app's calls fail with 401: reload, and the login form shows
# instead of an «Error» in every box. Once per 10 s at most, so a page that cannot log in never loops.
RELOGIN_JS = """<script>
(() => {
  const fetch0 = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const response = await fetch0(input, init);
    const url = String((input && input.url) || input);
    const last = Number(sessionStorage.getItem("c360-relogin") || 0);
    if (response.status === 401 && /\\/(queue|call)\\//.test(url) && Date.now() - last > 10000) {
      sessionStorage.setItem("c360-relogin", String(Date.now()));
      window.location.reload();
    }
    return response;
  };
})();
</script>"""


# Gradio 6.31 sends gr.Error's title but its page ignores it (it reads `_title`): every toast is headed «Error»,
# «Warning» or «Info». The app's messages are Russian sentences; their heading is made Russian here.
TOAST_TITLES_JS = """<script>
(() => {
  const titles = {Error: "Не получилось", Warning: "Внимание", Info: "Сообщение"};
  const rename = () => document.querySelectorAll(".toast-title").forEach(t => {
    const ru = titles[t.textContent.trim()];
    if (ru) t.textContent = ru;
  });
  new MutationObserver(rename).observe(document.documentElement, {childList: true, subtree: true});
})();
</script>"""


CSS = "#signed-in { text-align: right; align-self: center; }"  # the account line (chat_app/ui/account.py)


# The phone (390 px wide). The client list keeps the name, the health badge and the last contact (the lead ID, the
# alerts, the curator and the reasons stay in the card and the export) and its headers break between words only
# (Gradio's fixed column widths squeezed them to one letter per line, and the tall sticky header caught the taps
# meant for the rows). The tabs are made compact so that all of them fit: Gradio moves the ones that do not fit into
# a «⋯» menu, and the chat was hidden there.
PHONE_CSS = """
#clients .cell-menu-button { display: none; }  /* its sort leaves the colours behind: the list sorts by «Порядок» */
@media (max-width: 640px) {
  #clients th[data-heading="0"], #clients th[data-heading="3"], #clients th[data-heading="5"],
  #clients th[data-heading="6"], #clients .body-cell[data-col="0"], #clients .body-cell[data-col="3"],
  #clients .body-cell[data-col="5"], #clients .body-cell[data-col="6"] { display: none; }
  #clients table, #clients .virtual-body { width: 100% !important; }
  #clients th, #clients .body-cell { min-width: 0 !important; max-width: none !important; }
  /* the same shares for the header and the rows (Gradio draws them as two tables), the date on one line */
  #clients .header-table, #clients thead { display: block; width: 100% !important; margin: 0 !important; }
  #clients thead tr { display: flex; width: 100%; padding: 0 !important; }
  #clients th[data-heading="1"] { flex: 0 0 40% !important; width: 40% !important; }
  #clients th[data-heading="2"] { flex: 0 0 28% !important; width: 28% !important; }
  #clients th[data-heading="4"] { flex: 0 0 32% !important; width: 32% !important; }
  #clients .body-cell[data-col="1"] { flex: 0 0 40% !important; width: 40% !important; }
  #clients .body-cell[data-col="2"] { flex: 0 0 28% !important; width: 28% !important; }
  #clients .body-cell[data-col="4"] { flex: 0 0 32% !important; width: 32% !important; white-space: nowrap; }
  #clients th span { word-break: keep-all !important; overflow-wrap: normal !important; }
  #clients td span, #clients .body-cell span { word-break: normal !important; overflow-wrap: break-word !important; }
  .tab-wrapper .tab-container button { padding: 4px 6px !important; font-size: 13px !important; }
}
"""


def build_app(staff: Staff | None = None) -> tuple[gr.Blocks, Staff]:
    settings = get_settings()
    staff = staff or Staff(AppDB(settings.resolved_app_db_url))
    with gr.Blocks(title=TITLE) as app:
        account.build(app, staff)
        gr.Markdown(f"# {TITLE}")
        selected = gr.Textbox(visible=False)  # the one client every tab shows (chat_app/ui/selection.py)
        with gr.Tabs() as tabs:
            client_list = clients.build(app, staff)
            client_card = card.build(staff, selected)
            client_chat = chat.build(staff, selected, client_card.open_original)
            admin.build(app, staff, settings)
        selection.wire(app, staff, selected, client_list, client_card, client_chat, tabs)
    return app, staff


def launch(
    host: str = "127.0.0.1", port: int = 7860, prevent_thread_lock: bool = False, staff: Staff | None = None
) -> gr.Blocks:
    """Serve the app behind the login; sessions expire (C360_APP_SESSION_HOURS, C360_APP_IDLE_MINUTES) and end at
    once when the user's password changes or the user is disabled."""
    settings = get_settings()
    app, staff = build_app(staff)

    async def check(login: str, password: str) -> bool:
        # the hash check in a thread: a login never stalls the others' requests
        user = await asyncio.to_thread(staff.authenticate, login, password, client_address.get())
        return user is not None

    # uvicorn (started by Gradio) takes the client's address and scheme from X-Forwarded-For/-Proto only when the
    # connection comes from one of these; its own default trusts 127.0.0.1, so anyone there could pose as anyone
    trusted, os.environ["FORWARDED_ALLOW_IPS"] = os.environ.get("FORWARDED_ALLOW_IPS"), settings.trusted_proxies
    try:
        app.launch(
            server_name=host,
            server_port=port,
            auth=check,
            auth_message=f"{TITLE}. Войдите под своим логином и паролем.",
            head=RELOGIN_JS + TOAST_TITLES_JS,
            prevent_thread_lock=True,
            show_error=False,  # handlers say what went wrong in Russian (russian_errors); nothing else shows
            footer_links=[],  # no footer at all (API, «Built with Gradio», settings, runs): not the curators'
            max_file_size=0,  # no upload (the routes are closed by Guard too)
            css=CSS + card.CHART_CSS + PHONE_CSS,
            app_kwargs={"middleware": [Middleware(Guard, head=PAGE_HEAD)]},
        )
    finally:
        if trusted is None:
            os.environ.pop("FORWARDED_ALLOW_IPS", None)
        else:
            os.environ["FORWARDED_ALLOW_IPS"] = trusted
    sessions = ExpiringSessions(
        settings.app_session_hours * 3600, settings.app_idle_minutes * 60, still_valid=staff.session_valid
    )
    for token, login in app.server_app.tokens.items():  # none yet, unless someone logged in during start-up
        sessions[token] = login
    app.server_app.tokens = sessions
    if not prevent_thread_lock:
        app.block_thread()
    return app
