"""The curators' app in a real headless Chromium (Debian's chromium, driven by Playwright): log in, find a client,
open the card with its profile and chart, add a note and see it in the history after the notes sensor runs, ask
the chat and get an answer with readable sources; one client at a time (choosing another one anywhere shows its
own conversation), no question without a client, no «Error» on any screen; a logged-out request is refused and a
curator cannot open a colleague's client. In an English browser too, everything is Russian (the login form, its
wrong-password message, the admin tab) and no framework chrome shows. Screenshots of the main screens go to
docs/screenshots/."""

import re
import shutil
import time
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import dagster as dg
import pytest

from assets.rag.assets import rag_index
from assets.serving import serving_snapshot
from assets.wms.assets import wms_assets
from devkit.wms_sim import WmsSimulator, WmsWorld
from orchestration.dbt import dbt_resource, warehouse_models
from orchestration.resources import all_resources
from tests.test_app import running_app, short_sessions  # noqa: F401  (fixtures)
from tests.test_notes_flow import tick
from warehouse.aliases import save_alias
from warehouse.appdb import notes as notes_table
from warehouse.appdb import users
from warehouse.duck import connect

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def shows(page, text: str, timeout: int = 20000) -> None:
    """Wait until the text is on the screen (visible text of the page, not hidden measuring copies)."""
    page.wait_for_function("t => document.body.innerText.includes(t)", arg=text, timeout=timeout)


def log_in(page, url: str, login: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("Имя пользователя").fill(login)
    page.get_by_label("Пароль").fill(password)
    page.get_by_role("button", name="Войти").click()
    shows(page, "Вы вошли как", 20000)  # the app's own line: the login page names the app too


def shot(page, settings, name: str) -> None:
    """A screenshot for docs/screenshots/, from a run at the real date only (not from the reruns at C360_TODAY)."""
    if settings.today_override is None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / name), full_page=True)


# every shown text that appears on the page (toasts come and go) with «Error», «Ошибка» (Gradio's red box on an
# output whose event failed) or «Не получилось» (the app's failure toast), for the end of a test
WATCH_ERRORS = """
window.__errors = [];
new MutationObserver(ms => { for (const m of ms) for (const n of m.addedNodes) {
  const e = n.nodeType === 1 ? n : n.parentElement;
  if (!e || e === document.body || e === document.documentElement || e.closest("script, style, head")) continue;
  const t = e.innerText || e.textContent || "";
  if (/Error|Ошибка|Не получилось/.test(t)) window.__errors.push(t.slice(0, 200));
} }).observe(document, {childList: true, subtree: true});
"""


# the texts Vega draws on its canvases (the charts' axes and legends are pixels, not page text)
WATCH_CANVAS = """
window.__drawn = [];
const fillText = CanvasRenderingContext2D.prototype.fillText;
CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
  window.__drawn.push(String(text));
  return fillText.call(this, text, ...rest);
};
"""
RU_MONTHS = "янв|фев|мар|апр|май|июн|июл|авг|сен|окт|ноя|дек"
EN_MONTHS = r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"


def drawn(page, pattern: str, timeout: float = 20) -> list[str]:
    """The texts drawn on the charts since the last call, once one of them matches."""
    for _ in range(int(timeout * 5)):
        texts = page.evaluate("window.__drawn")
        if any(re.search(pattern, t) for t in texts):
            page.evaluate("window.__drawn = []")
            return texts
        time.sleep(0.2)
    raise AssertionError(f"no chart text matches {pattern}: {sorted(set(texts))}")


def errors_seen(page) -> list[str]:
    shown = page.inner_text("body")
    return page.evaluate("window.__errors") + re.findall(r".{0,40}(?:Error|Ошибка|Не получилось).{0,40}", shown)


NOTE = ".c360-note:not(:has(.c360-note))"  # a note of the list (Gradio nests a group's class)


def in_view(page, selector: str, width: int = 1440, height: int = 900) -> None:
    """The element's top part is on the screen, where the curator is looking."""
    box = page.locator(selector).bounding_box()
    assert box and 0 <= box["y"] < height - 40 and box["x"] >= 0 and box["x"] < width, box


def fits_the_width(page) -> None:
    """The history scrolls sideways nowhere (its scroller's content is as wide as the scroller)."""
    wide = page.evaluate(
        """() => [...document.querySelectorAll('#timeline, #timeline *')]
            .filter(e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX) && e.clientWidth > 0)
            .map(e => [e.className, e.scrollWidth, e.clientWidth])"""
    )
    assert wide and all(scroll <= client + 1 for _, scroll, client in wide), wide


def chat_text(page) -> str:
    return page.locator("#chat-tab").inner_text()


def cell(page, table: str, text: str):
    """A shown cell of a table (Gradio also renders hidden copies of the rows to measure them)."""
    return page.locator(f"#{table} [data-testid^=cell-]").filter(has_text=text).first


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.mark.calendar
def test_curator_day_in_the_browser(running_app, browser, env, instance, glm, monkeypatch):  # noqa: F811
    url, staff = running_app
    with connect(env.warehouse_path) as con:
        con.execute(  # anna's second client
            "insert into raw.bitrix_leads (lead_id, title, assigned_by_id, assigned_by_name, date_create) "
            "values (11820, 'ООО Зоомир', 1, 'Куратор 1', '2025-05-01')"
        )
        con.execute(
            "insert into raw.telegram_chats (chat_id, title, client_id, mapped_by) "
            "values (-1001234567890, 'client-10234', '10234', 'alias')"
        )
        con.execute(
            "insert into raw.telegram_messages (chat_id, message_id, sent_at, sender_name, direction, kind, "
            "text, source) values (-1001234567890, 1, ?, 'Ольга', 'client', 'message', "
            "'Опять пересорт на Wildberries, выставили штраф', 'export')",
            [datetime.combine(env.today() - timedelta(days=8), clock(9, 0))],
        )
    world = WmsWorld(clients=1, days=120, seed=2)  # the client's warehouse up to «today», for the chart
    save_alias(env.resolved_aliases_file, "wms_client", world.clients[0].wms_id, "10234")
    with WmsSimulator(world) as sim:
        monkeypatch.setenv("C360_WMS_BASE_URL", sim.url)
        monkeypatch.setenv("C360_WMS_TOKEN", sim.token)
        assert dg.materialize(wms_assets, resources=all_resources(), instance=instance).success
    assert dg.materialize([warehouse_models], resources={"dbt": dbt_resource()}, instance=instance).success
    assert dg.materialize([rag_index, serving_snapshot], resources=all_resources(), instance=instance).success
    monkeypatch.setenv("C360_LLM_PROVIDER", "glm")
    cited = []

    def reply(body):  # like a model: cite the passage that carries the complaint, whatever its rank
        parts = re.split(r"(?m)^\[(\d+)\] ", body["messages"][-1]["content"])  # head, then n, passage, n, …
        cited[:] = [n for n, text in zip(parts[1::2], parts[2::2], strict=True) if "Опять пересорт" in text][:1]
        return f"Клиент жаловался на пересорт на Wildberries и штраф [{cited[0]}]." if cited else "Нет в данных."

    glm.reply = reply

    with staff.engine.begin() as con:  # the staff accounts' full names, as an admin sets them
        con.execute(users.update().where(users.c.login == "anna").values(name="Анна Соколова"))
        con.execute(users.update().where(users.c.login == "boss").values(name="Борис Петров"))
    theirs = staff.add_note(staff.get("boss"), "10234", "Проверить тариф на хранение")
    with staff.engine.begin() as con:  # written yesterday morning (whatever the clock and C360_TODAY say)
        at = datetime.combine(env.today() - timedelta(days=1), clock(6, 0))
        con.execute(notes_table.update().where(notes_table.c.id == theirs).values(created_at=at, updated_at=at))
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.add_init_script(WATCH_ERRORS)
    page.add_init_script(WATCH_CANVAS)
    log_in(page, url, "anna", "пароль-анны-1")
    shows(page, "ИП Смирнова", 20000)
    page.get_by_role("tab", name="Чат по клиенту").click()  # no client chosen yet: nothing can be asked
    shows(page, "Сначала выберите клиента")
    assert page.get_by_label("Вопрос").is_disabled()
    page.get_by_role("tab", name="Клиенты").click()
    health = cell(page, "clients", "красный")  # the band in colour: the client is withdrawing its stock
    background = health.evaluate(
        "e => { for (; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor;"
        " if (c !== 'rgba(0, 0, 0, 0)') return c; } }"
    )
    assert background == "rgb(248, 201, 198)"
    assert "ООО ДомТекстиль" not in page.inner_text("body"), "a colleague's client is not listed"
    shot(page, env, "01-clients.png")

    cell(page, "clients", "ИП Смирнова").click()  # a row of the list opens the card
    shows(page, "Wildberries", 20000)
    page.locator(".vega-embed").nth(1).wait_for(timeout=20000)  # both warehouse charts are drawn
    # the first screen is the decision: the score out of 100, why, what to do; no reference string, no day ahead
    shows(page, "из 100", 20000)
    card = page.inner_text("body")
    assert "Почему под риском" in card, card
    assert "Что сделать:" in card and "— Куратор 1, до " in card, "the step, its owner and its day"
    refs = r"\b(meeting|telegram|telegram_day|bitrix|call|email|note|wms_week|wms_order|wms_receipt|wms_reservation):"
    assert not re.search(refs, card), re.search(refs, card)
    today = env.today()
    for before, d, m, y in re.findall(r"(до )?(\d\d)\.(\d\d)\.(\d{4})", card):
        assert before or date(int(y), int(m), int(d)) <= today, f"{d}.{m}.{y} is after today"
    assert not re.search(r"\d\d\.\d\d\.\d{4} 23:59", card), "a chat day has no made-up time"
    # the charts in Russian: months by their Russian names, thousands apart by a space, the chosen period
    texts = drawn(page, rf"^({RU_MONTHS}) 20\d\d$")
    assert not [t for t in texts if re.search(EN_MONTHS, t) or re.search(r"\d,\d{3}", t)], texts
    assert any(re.fullmatch(r"\d{1,3}(\u00a0\d{3})+", t) for t in texts), "«1 000», with a no-break space"
    assert "вывоз клиентом" in texts and "приёмка" in texts
    page.get_by_label("3 мес.").check()  # weeks by their days now: a shorter period, redrawn
    texts = drawn(page, rf"^\d\d ({RU_MONTHS})$")
    assert not [t for t in texts if re.search(EN_MONTHS, t) or re.search(r"\d,\d{3}", t)], texts
    page.locator("#flows-chart").scroll_into_view_if_needed()
    shot(page, env, "09-card-charts.png")
    if env.today_override is None:
        page.set_viewport_size({"width": 390, "height": 844})
        drawn(page, rf"^\d\d ({RU_MONTHS})$")  # redrawn to the phone's width
        shot(page, env, "10-card-charts-phone.png")
        page.set_viewport_size({"width": 1440, "height": 900})
    cell(page, "timeline", "Склад: отгружено").click()  # a row of the history opens the original, in view
    page.locator("#original-view").get_by_text("отгружено на маркетплейсы").wait_for(timeout=20000)
    in_view(page, "#original-view")
    fits_the_width(page)
    long_note = "Клиент просит скидку на хранение. " + "Готов подписать договор на год, если цена будет ниже. " * 8
    page.get_by_label("Новая заметка").fill(long_note)
    page.get_by_role("button", name="Сохранить заметку").click()
    shows(page, "Заметка сохранена", 20000)
    notes = page.locator("#card-notes")
    mine = notes.locator(NOTE).filter(has_text="Клиент просит скидку")
    mine.wait_for(timeout=20000)
    assert "Анна Соколова" in mine.inner_text(), "the author by name, not the login"
    theirs = notes.locator(NOTE).filter(has_text="Проверить тариф")
    assert "Борис Петров" in theirs.inner_text()
    assert theirs.get_by_role("button").count() == 0, "a colleague's note: neither edit nor delete"
    assert tick(instance), "the notes sensor picks the note up"
    page.get_by_role("button", name="Открыть").click()
    shows(page, "Заметка: anna", 20000)
    summary = cell(page, "timeline", "Клиент просит скидку").inner_text().strip()
    assert summary.endswith("…") and len(summary) < len(long_note), summary
    assert long_note.startswith(summary[:-1]) and long_note[len(summary) - 1] in " .", "not cut mid-word"
    fits_the_width(page)
    # a note changed in place, then deleted after a confirmation; the list and the field side by side
    mine = notes.locator(NOTE).filter(has_text="Клиент просит скидку")
    mine.get_by_role("button", name="Изменить").click()
    editor = notes.get_by_label("Текст заметки")
    editor.fill("Клиент просит скидку 10% на хранение")
    notes.get_by_role("button", name="Сохранить", exact=True).click()
    notes.locator(NOTE).filter(has_text="скидку 10%").wait_for(timeout=20000)
    assert [n["text"] for n in staff.notes_of("10234") if n["author"] == "anna"] == [
        "Клиент просит скидку 10% на хранение"
    ]
    field, listed = page.get_by_label("Новая заметка").bounding_box(), notes.locator(NOTE).first.bounding_box()
    assert field["x"] > listed["x"] + listed["width"] - 1 and field["y"] < listed["y"] + listed["height"], "beside"
    cell(page, "timeline", "Заметка: boss").click()  # the shot with an original open beside the history
    page.locator("#original-view").get_by_text("Проверить тариф").wait_for(timeout=20000)
    shot(page, env, "02-card.png")
    mine = notes.locator(NOTE).filter(has_text="скидку 10%")
    mine.get_by_role("button", name="Удалить").click()
    shows(page, "Удалить эту заметку?")
    assert len(staff.notes_of("10234")) == 2, "not before it is confirmed"
    notes.get_by_role("button", name="Точно удалить").click()
    shows(page, "Заметка удалена", 20000)
    assert [n["author"] for n in staff.notes_of("10234")] == ["boss"]
    notes.locator(NOTE).filter(has_text="скидку 10%").wait_for(state="detached", timeout=20000)  # gone from the list
    if env.today_override is None:  # a phone: the original opens under the table, scrolled into view
        page.set_viewport_size({"width": 390, "height": 844})
        cell(page, "timeline", "Склад: отгружено").click()
        page.locator("#original-view").get_by_text("отгружено на маркетплейсы").wait_for(timeout=20000)
        in_view(page, "#original-view", 390, 844)
        page.screenshot(path=str(SHOTS / "13-card-phone.png"))  # what the curator sees: the viewport
        page.set_viewport_size({"width": 1440, "height": 900})

    # the client chosen in the list is the chat's client too: its name and lead in the header
    page.get_by_role("tab", name="Чат по клиенту").click()
    shows(page, "ИП Смирнова · лид 10234", 20000)
    page.get_by_label("Вопрос").fill("На что жаловался клиент?")
    page.get_by_label("Вопрос").press("Enter")
    shows(page, "пересорт на Wildberries и штраф", 30000)
    day = f"{env.today() - timedelta(days=8):%d.%m.%Y}"  # the message's local date
    source = page.get_by_role("radio", name=f"[{cited[0]}] Telegram, {day}")
    source.wait_for(timeout=20000)
    text = chat_text(page)
    assert "telegram:" not in text and "meeting:" not in text and "bitrix:" not in text, "no raw references"
    assert not re.search(r"\d{4}-\d\d-\d\d", text), "dates as dd.mm.yyyy"
    assert text.count("Опять пересорт") == 0, "the source list names the source; the answer says what it holds"
    source.click()  # a source opens the conversation it cites
    page.locator("#cite-view").get_by_text("Опять пересорт на Wildberries").wait_for(timeout=20000)
    link = page.locator("#cite-view").get_by_role("link", name=re.compile("Открыть сообщение в Telegram"))
    assert link.get_attribute("href") == "https://t.me/c/1234567890/1", "the message in its supergroup"
    shot(page, env, "03-chat.png")
    if env.today_override is None:
        page.set_viewport_size({"width": 390, "height": 844})
        shot(page, env, "04-chat-phone.png")
        page.set_viewport_size({"width": 1440, "height": 900})
    page.get_by_role("button", name="Нравится", exact=True).last.click()
    answer = next(m for m in reversed(staff.chat_history(staff.get("anna"), "10234")) if m["role"] == "assistant")
    for _ in range(50):  # the thumb is stored by the app's event handler
        if staff.chat_history(staff.get("anna"), "10234")[-1]["feedback"] == 1:
            break
        time.sleep(0.2)
    assert staff.chat_history(staff.get("anna"), "10234")[-1] == {**answer, "feedback": 1}

    # client B chosen in the list: the chat is B's (its name, its own empty conversation), not A's answers
    page.get_by_role("tab", name="Клиенты").click()
    cell(page, "clients", "ООО Зоомир").click()
    shows(page, "ООО Зоомир · лид 11820", 20000)  # the card
    page.get_by_role("tab", name="Чат по клиенту").click()
    shows(page, "ООО Зоомир · лид 11820", 20000)
    text = chat_text(page)
    assert "ИП Смирнова" not in text and "пересорт" not in text and "Telegram" not in text, text
    assert page.get_by_label("Вопрос").is_enabled()
    assert page.get_by_label("ID лида", exact=True).last.input_value() == "11820"

    # the lead typed in the chat chooses A again, for the card too: A's own conversation comes back
    chat_client = page.get_by_label("ID лида", exact=True).last
    chat_client.fill("10234")
    chat_client.press("Enter")
    shows(page, "ИП Смирнова · лид 10234", 20000)
    shows(page, "пересорт на Wildberries и штраф", 20000)
    page.get_by_role("tab", name="Карточка клиента").click()
    shows(page, "ИП Смирнова · лид 10234", 20000)
    assert page.get_by_label("ID лида", exact=True).first.input_value() == "10234"

    # another client chosen while an answer is still coming: the answer goes to its own client's conversation only
    def slow(body):
        time.sleep(4)
        return "Срок поставки — четверг."

    glm.reply = slow
    page.get_by_role("tab", name="Чат по клиенту").click()
    page.get_by_label("Вопрос").fill("Когда поставка?")
    page.get_by_label("Вопрос").press("Enter")
    chat_client.fill("11820")
    chat_client.press("Enter")
    shows(page, "ООО Зоомир · лид 11820", 20000)
    for _ in range(100):  # the answer comes meanwhile, into its own client's conversation
        if staff.chat_history(staff.get("anna"), "10234")[-1]["text"] == "Срок поставки — четверг.":
            break
        time.sleep(0.2)
    assert staff.chat_history(staff.get("anna"), "10234")[-1]["text"] == "Срок поставки — четверг."
    time.sleep(1)
    assert "четверг" not in chat_text(page) and "Когда поставка" not in chat_text(page), "not into B's chat"
    chat_client.fill("10234")
    chat_client.press("Enter")
    shows(page, "Срок поставки — четверг", 20000)
    page.get_by_role("tab", name="Карточка клиента").click()

    # a client that does not open (a colleague's) chooses none: the chat asks to choose one, no question possible
    page.get_by_label("ID лида", exact=True).first.fill("10517")
    page.get_by_role("button", name="Открыть").click()
    shows(page, "Клиент не найден или закрыт для вас", 20000)
    page.get_by_role("tab", name="Чат по клиенту").click()
    shows(page, "Сначала выберите клиента", 20000)
    assert "ИП Смирнова" not in chat_text(page) and page.get_by_label("Вопрос").is_disabled()
    page.get_by_label("Вопрос").press("Enter")  # even Enter in the closed field sends nothing
    time.sleep(1)
    assert staff.chat_history(staff.get("anna"), "11820") == []
    assert errors_seen(page) == [], "no «Error» and no red boxes in any of these flows"

    page.goto(url + "/?lead=11820")  # a link chooses the client: its card and its chat
    shows(page, "ООО Зоомир · лид 11820", 20000)
    page.get_by_role("tab", name="Чат по клиенту").click()
    shows(page, "ООО Зоомир · лид 11820", 20000)
    assert page.get_by_label("Вопрос").is_enabled() and errors_seen(page) == []

    anonymous = browser.new_page()
    response = anonymous.goto(url + "/config")
    assert response.status in (401, 403)


def test_an_ended_session_brings_back_the_login_form(short_sessions, running_app, browser):  # noqa: F811
    url, _ = running_app
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    log_in(page, url, "anna", "пароль-анны-1")
    shows(page, "ИП Смирнова", 20000)
    time.sleep(3)  # idle longer than a session may be here (1.5 s)
    page.get_by_role("tab", name="Карточка клиента").click()
    page.get_by_label("ID лида", exact=True).first.fill("10234")
    page.get_by_role("button", name="Открыть").click()
    page.get_by_label("Имя пользователя").wait_for(timeout=20000)  # not an «Error» in every box
    assert "Войдите под своим логином" in page.inner_text("body")
    log_in(page, url, "anna", "пароль-анны-1")  # and logging in again works
    shows(page, "ИП Смирнова", 20000)


ENGLISH_BROWSER = {"locale": "en-US", "extra_http_headers": {"Accept-Language": "en-US,en"}}
SIZES = ((1440, 900), (390, 844))
ENGLISH = re.compile(r"(?i)\b(username|password|login|log ?out|incorrect|credentials|error|loading|success|failure)\b")
FOOTER = re.compile(r"Gradio|API|Settings|Настройки|Runs|Создано с помощью")  # Gradio's footer, in either language


def english_page(browser, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height}, **ENGLISH_BROWSER)
    page = context.new_page()
    page.add_init_script(WATCH_ERRORS)
    return context, page


def test_login_and_logout_are_russian_in_an_english_browser(running_app, browser, env):  # noqa: F811
    url, _ = running_app
    for width, height in SIZES:
        context, page = english_page(browser, width, height)
        page.goto(url)
        page.get_by_label("Имя пользователя").wait_for(timeout=20000)
        assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().locale") == "en-US", "an English browser"
        text = page.inner_text("body")
        assert "Пароль" in text and "client360 — клиенты фулфилмента. Войдите под своим логином и паролем." in text
        assert (
            page.get_by_role("button", name="Войти").is_visible() and page.title() == "client360 — клиенты фулфилмента"
        )
        assert not ENGLISH.search(text) and not FOOTER.search(text), text

        page.get_by_label("Имя пользователя").fill("anna")
        page.get_by_label("Пароль").fill("не тот пароль")
        page.get_by_role("button", name="Войти").click()
        shows(page, "Неверные учетные данные")
        page.wait_for_timeout(300)  # the form has emptied its fields and had the login typed back
        assert page.get_by_label("Имя пользователя").input_value() == "anna", "the login is kept"
        assert page.get_by_label("Пароль").input_value() == ""
        assert not ENGLISH.search(page.inner_text("body"))
        shot(page, env, "05-login.png" if width > 1000 else "06-login-phone.png")

        page.get_by_label("Пароль").fill("пароль-анны-1")  # only the password typed again
        page.get_by_role("button", name="Войти").click()
        shows(page, "Вы вошли как Анна Соколова")
        shows(page, "ИП Смирнова")
        assert page.get_by_role("link", name="Выйти").is_visible()
        page.get_by_role("tab", name="Карточка клиента").click()
        page.get_by_label("ID лида", exact=True).first.fill("10517")  # a colleague's client: refused
        page.get_by_role("button", name="Открыть").click()
        shows(page, "Клиент не найден или закрыт для вас")
        headings = page.locator("#timeline thead").first.inner_text()
        assert "Когда" in headings and "Кратко" in headings and not re.search(r"\b[123]\b", headings), headings
        text = page.inner_text("body")
        assert page.locator("footer").count() == 0 and not FOOTER.search(text), "no footer: " + text
        assert not ENGLISH.search(text) and errors_seen(page) == [], text

        page.get_by_role("link", name="Выйти").click()
        page.get_by_label("Имя пользователя").wait_for(timeout=20000)  # the login form again
        assert "Вы вошли как" not in page.inner_text("body")
        assert page.request.get(url + "/config").status == 401
        context.close()


def open_tab(page, name: str) -> None:
    """A tab; on a phone the ones that do not fit in the row are under «⋯» (Gradio's overflow menu)."""
    tab = page.get_by_role("tab", name=name)
    if not tab.is_visible():
        page.locator(".overflow-menu button").first.click()
        tab = page.locator(".overflow-dropdown").get_by_text(name, exact=True)
    tab.click()


def test_the_admin_tab_is_russian_and_filled_when_it_opens(running_app, browser, env, instance):  # noqa: F811
    from orchestration.definitions import build_defs
    from warehouse.dagster_runs import JOBS

    url, _ = running_app
    job = build_defs(all_resources()).resolve_job_def("unmatched_recordings_job")
    assert job.execute_in_process(instance=instance).success  # a run of a job, for the run history
    described = JOBS["unmatched_recordings_job"].rstrip(".")
    for width, height in SIZES:
        context, page = english_page(browser, width, height)
        log_in(page, url, "anna", "пароль-анны-1")  # a curator has no admin tab
        shows(page, "ИП Смирнова")
        assert page.get_by_text("Администрирование").count() == 0
        assert "Последние запуски" not in page.inner_text("body")
        page.get_by_role("link", name="Выйти").click()
        log_in(page, url, "boss", "пароль-босса-1")
        shows(page, "Вы вошли как boss")
        open_tab(page, "Администрирование")  # and nothing else: no «Обновить»
        shows(page, described)
        overview = page.locator("#admin-overview").inner_text()
        assert "- успешно · " not in overview and "успешно · " + described in overview
        assert "anna — Анна Соколова, куратор" in overview and "boss — администратор" in overview
        assert "обновление отдельных данных (не по заданию)" in overview, "the runs outside a job"
        assert not re.search(r"SUCCESS|FAILURE|curator|admin\b|_job|ASSET", overview), overview
        # each list apart: the heading of the next list is a block of its own, after the list
        for heading in ("Чаты Telegram", "Клиенты WMS без лида", "Пользователи", "Последние запуски Dagster"):
            assert page.locator("#admin-overview").get_by_role("heading", name=heading, exact=True).is_visible(), (
                heading
            )
        lists = page.locator("#admin-overview ul")
        assert lists.count() == 6, "four lists of what has no client, the users, the runs"
        boxes = [lists.nth(i).bounding_box() for i in range(lists.count())]
        assert all(b["y"] + b["height"] + 16 <= a["y"] for b, a in zip(boxes, boxes[1:], strict=False))
        text = page.inner_text("body")
        assert not ENGLISH.search(text) and not FOOTER.search(text) and errors_seen(page) == [], text
        shot(page, env, "07-admin.png" if width > 1000 else "08-admin-phone.png")
        context.close()
