"""The client list in a real headless Chromium at 1440×900 and on a phone (390×844): the filters (mine or all,
health colour, open alerts) change the rows; a header click sorts and a click on a row then opens that row's client;
the shown rows download as CSV (Excel's BOM and `;`) and XLSX, and a logged-out request cannot fetch the file; on
the phone the list reads as rows (name, health, last contact), a tap opens the card and the chat is one tap away."""

import csv
import io
from datetime import timedelta

import duckdb
import httpx
import openpyxl
import pytest

from config.settings import get_settings
from tests.test_app import running_app  # noqa: F401  (fixture)
from tests.test_app_browser import WATCH_ERRORS, browser, errors_seen, log_in, shot, shows  # noqa: F401

# (lead, title, curator, score, band, open alerts, days since the last contact)
CLIENTS = (
    ("10234", "ИП Смирнова", 1, 35, "красный", 2, 3),
    ("11820", "ООО Зоомир", 1, 88, "зелёный", 0, 40),
    ("11821", "ООО Ромашка Трейд", 1, 62, "жёлтый", 1, 10),
    ("10517", "ООО ДомТекстиль", 2, 50, "жёлтый", 0, 1),
)


@pytest.fixture
def client_list(running_app, env):  # noqa: F811
    """The app with these clients in its snapshot: their health, alerts and last contact as given."""
    url, staff = running_app
    today = get_settings().today()
    with duckdb.connect(str(get_settings().serving_path)) as con:
        known = {r[0] for r in con.execute("select client_id from clients").fetchall()}
        template = con.execute("select * from clients limit 1").fetchdf()
        for lead, title, curator, score, band, alerts, days in CLIENTS:
            if lead not in known:
                row = template.copy()
                row[["client_id", "title", "curator_id", "curator_name"]] = [lead, title, curator, f"Куратор {curator}"]
                con.register("new_client", row)
                con.execute("insert into clients select * from new_client")
                con.unregister("new_client")
            con.execute("delete from health where client_id = ?", [lead])
            con.execute(
                "insert into health (client_id, score, band, trend_vs_last_week, top_reasons) values (?, ?, ?, 0, ?)",
                [lead, score, band, "причина " + title],
            )
            con.execute("delete from last_contact where client_id = ?", [lead])
            con.execute(
                "insert into last_contact (client_id, last_contact) values (?, ?)", [lead, today - timedelta(days)]
            )
            con.execute("delete from alerts where client_id = ?", [lead])
            for n in range(alerts):
                con.execute(
                    "insert into alerts (client_id, dedupe_key, week_end, week, alert_type) values (?, ?, ?, ?, 'x')",
                    [lead, f"{lead}-{n}", today, today],
                )
    return url, staff


def shown_leads(page) -> list[str]:
    """The lead IDs of the list's rows, top to bottom, as the page holds them (also where the phone hides the
    column): Gradio draws the shown rows as `.virtual-row`s, besides its hidden measuring copies."""
    page.wait_for_timeout(300)  # the list redraws after a filter's answer
    return page.evaluate(
        """() => [...document.querySelectorAll('#clients .virtual-row')]
             .sort((a, b) => a.dataset.index - b.dataset.index)
             .map(r => r.querySelector('[data-col="0"]').textContent.trim())"""
    )


def wait_rows(page, leads: list[str]) -> None:
    for _ in range(50):
        if shown_leads(page) == leads:
            return
    assert shown_leads(page) == leads


def sort_by(page, order: str) -> None:
    page.get_by_label("Порядок").click()
    page.get_by_role("option", name=order).click()


def background(locator) -> str:
    return locator.evaluate(
        "e => { for (; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor;"
        " if (c !== 'rgba(0, 0, 0, 0)') return c; } }"
    )


def row_cell(page, row: int, col: int):
    return page.locator(f'#clients .virtual-row .body-cell[data-row="{row}"][data-col="{col}"]')


def test_the_list_filters_sorts_opens_the_clicked_row_and_exports_the_shown_rows(client_list, browser, env):  # noqa: F811
    url, staff = client_list
    staff.add("vera", "curator", "пароль-веры-1", bitrix_user_id=1, see_all=True)  # sees all; her own are curator 1's
    page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="ru-RU", accept_downloads=True)
    page.add_init_script(WATCH_ERRORS)
    log_in(page, url, "vera", "пароль-веры-1")
    wait_rows(page, ["10234", "10517", "11821", "11820"])  # the riskiest first: by band, then score

    page.get_by_label("Мои клиенты").check()
    wait_rows(page, ["10234", "11821", "11820"])  # not the colleague's
    page.get_by_label("есть тревоги").check()
    wait_rows(page, ["10234", "11821"])
    page.get_by_label("Все доступные").check()
    page.get_by_label("есть тревоги").uncheck()
    page.locator("#client-bands").get_by_label("жёлтый").check()
    wait_rows(page, ["10517", "11821"])
    page.locator("#client-bands").get_by_label("зелёный").check()
    wait_rows(page, ["10517", "11821", "11820"])
    page.locator("#client-bands").get_by_label("жёлтый").uncheck()
    page.locator("#client-bands").get_by_label("зелёный").uncheck()
    wait_rows(page, ["10234", "10517", "11821", "11820"])

    # sorted by health, the best first (by the score, not the text), then by the last contact, the oldest first;
    # the texts and the colours move with their rows
    sort_by(page, "сначала самые здоровые")
    wait_rows(page, ["11820", "11821", "10517", "10234"])
    assert [row_cell(page, n, 2).inner_text() for n in range(4)] == [
        "зелёный 88 →",
        "жёлтый 62 →",
        "жёлтый 50 →",
        "красный 35 →",
    ]
    assert background(row_cell(page, 0, 2)) == "rgb(205, 235, 208)"  # green
    assert background(row_cell(page, 3, 2)) == "rgb(248, 201, 198)"  # red
    sort_by(page, "давно без контакта")
    wait_rows(page, ["11820", "11821", "10234", "10517"])  # 40, 10, 3 and 1 day ago
    assert row_cell(page, 0, 4).inner_text() == f"{env.today() - timedelta(40):%d.%m.%Y}"
    shot(page, env, "11-clients-sorted.png")
    second = row_cell(page, 1, 1)
    assert second.inner_text() == "ООО Ромашка Трейд"
    page.wait_for_timeout(500)
    second.click()  # the clicked row's client, not the one that row held before the sort
    shows(page, "ООО Ромашка Трейд · лид 11821")
    page.get_by_role("tab", name="Клиенты").click()

    # the download holds exactly the shown rows
    page.locator("#client-bands").get_by_label("жёлтый").check()
    page.get_by_label("Поиск по названию или ID лида").fill("ООО")
    wait_rows(page, ["11821", "10517"])  # still the longest without a contact first
    with page.expect_download() as csv_download:
        page.get_by_role("button", name="Скачать список (CSV)").click()
    download = csv_download.value
    assert download.suggested_filename == f"клиенты-{env.today():%d.%m.%Y}.csv"
    raw = download.path().read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "the BOM Excel needs to read UTF-8"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:4] == ["ID лида", "Клиент", "Здоровье", "Оценка"]
    assert [r[:4] for r in rows[1:]] == [
        ["11821", "ООО Ромашка Трейд", "жёлтый", "62"],
        ["10517", "ООО ДомТекстиль", "жёлтый", "50"],
    ]
    assert [r[0] for r in rows[1:]] == shown_leads(page) and [r[1] for r in rows[1:]] == [
        row_cell(page, n, 1).inner_text() for n in range(2)
    ], "the rows on the screen, in their order"
    with page.expect_download() as xlsx_download:
        page.get_by_role("button", name="Скачать список (XLSX)").click()
    assert xlsx_download.value.suggested_filename == f"клиенты-{env.today():%d.%m.%Y}.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_download.value.path().read_bytes())).active
    assert [[c.value for c in r][:2] for r in sheet.iter_rows(min_row=2)] == [
        ["11821", "ООО Ромашка Трейд"],
        ["10517", "ООО ДомТекстиль"],
    ]
    assert errors_seen(page) == []

    # the file is served to a signed-in session only
    assert "/gradio_api/file=" in download.url
    assert httpx.get(download.url).status_code in (401, 403)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert httpx.get(download.url, cookies=cookies).status_code == 200


def test_on_a_phone_the_list_reads_as_rows_a_tap_opens_the_card_and_the_chat_is_one_tap_away(client_list, browser, env):  # noqa: F811
    url, staff = client_list
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="ru-RU", has_touch=True, is_mobile=True)
    page.add_init_script(WATCH_ERRORS)
    log_in(page, url, "anna", "пароль-анны-1")
    wait_rows(page, ["10234", "11821", "11820"])
    headers = page.evaluate(
        """() => [...document.querySelectorAll('#clients th')].filter(h => h.offsetWidth > 0)
             .map(h => [h.innerText.trim(), h.offsetHeight])"""
    )
    assert [h for h, _ in headers] == ["Клиент", "Здоровье", "Последний контакт"], headers
    assert all(height < 70 for _, height in headers), headers  # a word or two per line, not a letter
    name = row_cell(page, 0, 1)
    assert name.inner_text() == "ИП Смирнова" and name.bounding_box()["width"] > 120, "the name reads in a line"
    assert row_cell(page, 0, 0).is_hidden(), "the lead ID stays on the card"
    for heading, col in ((1, 1), (2, 2), (4, 4)):  # each header over its column, the date on one line
        head = page.locator(f"#clients [data-testid=header-{heading}]").bounding_box()
        body = row_cell(page, 0, col).bounding_box()
        assert abs(head["x"] - body["x"]) < 3 and abs(head["width"] - body["width"]) < 3, (heading, head, body)
    assert row_cell(page, 0, 4).locator("span").first.bounding_box()["height"] < 30, "the date on one line"
    tabs = page.locator('[role="tablist"] [role="tab"]')
    assert tabs.all_inner_texts() == ["Клиенты", "Карточка клиента", "Чат по клиенту"], "no tab behind «⋯»"
    shot(page, env, "12-clients-phone.png")
    name.tap()  # a tap on the row opens its card
    shows(page, "Почему под риском")
    assert page.get_by_role("tab", name="Карточка клиента").get_attribute("aria-selected") == "true"
    assert page.get_by_label("ID лида", exact=True).first.input_value() == "10234"
    page.get_by_role("tab", name="Чат по клиенту").tap()  # one tap to the chat of that client
    page.locator("#chat-tab").get_by_text("ИП Смирнова · лид 10234").wait_for(timeout=20000)
    assert page.get_by_label("Вопрос").is_enabled()
    assert errors_seen(page) == []
