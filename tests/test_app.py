"""The curators' app over HTTP (Gradio's own client): every route needs a login, a curator sees only their clients
(the riskiest first), the card shows the profile, health and a note written at once; the chat answers with
citations; while a run holds the warehouse the app keeps answering (it reads the serving snapshot)."""

import json
import re
import socket
import subprocess
import sys
import time

import dagster as dg
import duckdb
import httpx
import pytest
from gradio_client import Client

from assets.rag.assets import rag_index
from assets.serving import serving_snapshot
from chat_app.app import build_app, launch
from chat_app.sessions import ExpiringSessions
from orchestration.dbt import dbt_resource, warehouse_models
from orchestration.resources import all_resources
from warehouse.appdb import AppDB
from warehouse.duck import connect
from warehouse.staff import Staff


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def running_app(env, instance):
    with connect(env.warehouse_path) as con:
        for lead, title, curator in ((10234, "ИП Смирнова", 1), (10517, "ООО ДомТекстиль", 2)):
            con.execute(
                "insert into raw.bitrix_leads (lead_id, title, assigned_by_id, assigned_by_name, date_create) "
                "values (?, ?, ?, ?, '2025-03-01')",
                [lead, title, curator, f"Куратор {curator}"],
            )
        con.execute(
            "insert into raw.client_profile_facts (client_id, kind, fact_key, value, origin, sources, "
            "mentions, last_confirmed) values ('10234', 'marketplaces', 'wildberries', 'Wildberries', "
            '\'conversation\', \'[{"ref": "meeting:m1", "at": "2026-11-20 11:00:00"}]\', 1, '
            "'2026-11-20 11:00')"
        )
    assert dg.materialize([warehouse_models], resources={"dbt": dbt_resource()}, instance=instance).success
    assert dg.materialize([serving_snapshot], resources=all_resources(), instance=instance).success
    staff = Staff(AppDB(env.resolved_app_db_url))
    staff.add("anna", "curator", "пароль-анны-1", name="Анна Соколова", bitrix_user_id=1)
    staff.add("boss", "admin", "пароль-босса-1")
    port = free_port()
    app = launch(port=port, prevent_thread_lock=True, staff=staff)
    yield f"http://127.0.0.1:{port}", staff
    app.close()


def test_every_event_has_an_explicit_api_name(env, monkeypatch):
    """The HTTP API's names are the app's own, not Gradio's guesses from function names (`open_card_2`)."""
    from gradio.blocks import BlocksConfig

    given, register = [], BlocksConfig.set_event_trigger

    def spy(self, *args, **kwargs):
        fn = kwargs.get("fn", args[1] if len(args) > 1 else None)
        # a @gr.render's own redraw is Gradio's (undocumented, never called by name); the events it draws name
        # themselves (test_app_browser drives them)
        api_name = "(redraw)" if kwargs.get("renderable") else kwargs.get("api_name")
        given.append((getattr(fn, "__name__", fn), api_name))
        return register(self, *args, **kwargs)

    monkeypatch.setattr(BlocksConfig, "set_event_trigger", spy)
    app, _ = build_app(Staff(AppDB(env.resolved_app_db_url)))
    assert len(given) == len(app.fns) > 0
    assert [fn for fn, api_name in given if not api_name] == [], "every event names itself"
    names = [fn.api_name for fn in app.fns.values() if fn.renderable is None]
    assert len(set(names)) == len(names) and not [n for n in names if re.search(r"_\d+$", n)], names
    public = {fn.api_name for fn in app.fns.values() if fn.api_visibility == "public"}
    assert public == {
        "list_clients",
        "open_card",
        "open_original",
        "add_note",
        "edit_note",
        "delete_note",
        "ask",
        "admin_overview",
        "map_item",
        "accept_identity",
        "reject_identity",
        "set_access",
        "unlock_login",
    }, "the UI-only events (selects, thumbs, page load, repeated triggers) stay out of the API"


def test_opening_the_admin_tab_runs_the_same_admin_checked_handlers_as_refresh(env):
    """A curator never gets admin data from the tab's opening either: it calls the very handlers of «Обновить»,
    which refuse anyone but an admin (test_admin_page_shows_unmapped_users_and_runs_and_maps)."""
    app, _ = build_app(Staff(AppDB(env.resolved_app_db_url)))
    fns = {fn.api_name: fn for fn in app.fns.values()}
    assert fns["admin_overview_on_open"].fn is fns["admin_overview"].fn
    assert fns["identity_choices_on_open"].fn is fns["identity_choices"].fn
    assert fns["admin_overview_on_open"].api_visibility == "private"


def test_the_answer_engine_is_built_once_and_shared_by_every_question(env, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from chat_app.ui import chat
    from config.settings import get_settings

    built = []
    monkeypatch.setattr(chat, "build_engine", lambda settings: built.append(settings.llm_provider) or object())
    monkeypatch.setattr(chat, "_engine", None)
    with ThreadPoolExecutor(8) as pool:
        engines = list(pool.map(lambda _: chat.answer_engine(get_settings()), range(32)))
    assert built == ["offline"] and all(e is engines[0] for e in engines)
    monkeypatch.setenv("C360_LLM_PROVIDER", "glm")  # a changed configuration is seen, as before
    assert chat.answer_engine(get_settings()) is not engines[0] and built == ["offline", "glm"]


def test_every_route_needs_a_login(running_app):
    url, _ = running_app
    for path in ("/config", "/gradio_api/info", "/gradio_api/queue/join"):
        assert httpx.get(url + path).status_code in (401, 403, 405), path
    assert httpx.post(url + "/login", data={"username": "anna", "password": "не тот"}).status_code == 400
    ok = httpx.post(url + "/login", data={"username": "anna", "password": "пароль-анны-1"})
    assert ok.status_code == 200
    assert httpx.get(url + "/config", cookies=ok.cookies).status_code == 200


def test_a_curator_sees_own_clients_and_a_note_appears_on_the_card(running_app):
    url, staff = running_app
    anna = Client(url, auth=("anna", "пароль-анны-1"), verbose=False)
    table, csv_file, _ = anna.predict(
        "", "Все доступные", [], False, "сначала самые рискованные", api_name="/list_clients"
    )
    assert [row[0] for row in table["data"]] == ["10234"], "the other curator's client is not listed"
    assert "10517" not in open(csv_file, encoding="utf-8-sig").read(), "nor in the download"
    head, profile, health, alerts, *_ = anna.predict("10234", [], "всё время", api_name="/open_card")
    assert "ИП Смирнова" in head and "Wildberries" in profile and "Здоровье" in head and "Почему под риском" in health
    closed = anna.predict("10517", [], "всё время", api_name="/open_card")
    assert closed[0] == "Клиент не найден или закрыт для вас"
    _, status = anna.predict("10234", "Клиент просит скидку на хранение", api_name="/add_note")
    assert "сохранена" in status
    [note] = staff.notes_of("10234")
    assert note["author"] == "anna" and note["text"] == "Клиент просит скидку на хранение"
    with pytest.raises(Exception, match="закрыт для вас"):
        anna.predict("10517", note["id"], "клиент коллеги", api_name="/edit_note")
    status = anna.predict("10234", note["id"], "Клиент просит скидку 10% на хранение", api_name="/edit_note")
    assert "изменена" in status and staff.notes_of("10234")[0]["text"] == "Клиент просит скидку 10% на хранение"
    boss = Client(url, auth=("boss", "пароль-босса-1"), verbose=False)
    every = boss.predict("", "Все доступные", [], False, "по ID лида", api_name="/list_clients")[0]
    assert [row[0] for row in every["data"]] == ["10234", "10517"]
    mine = boss.predict("", "Мои клиенты", [], False, "по ID лида", api_name="/list_clients")[0]
    assert mine["data"] == [] or mine["data"] == [[""] * 7] or not any(r[0] for r in mine["data"]), "none is his"
    with pytest.raises(Exception, match="нет заметки"):  # a note is changed from its own client's card only
        boss.predict("10517", note["id"], "другая карточка", api_name="/edit_note")
    staff.add("igor", "curator", "пароль-игоря-1", bitrix_user_id=1)  # a colleague may not delete anna's note
    igor = Client(url, auth=("igor", "пароль-игоря-1"), verbose=False)
    with pytest.raises(Exception, match="только свои"):
        igor.predict("10234", note["id"], api_name="/delete_note")
    status = anna.predict("10234", note["id"], api_name="/delete_note")
    assert "удалена" in status and staff.notes_of("10234") == []
    assert [v["action"] for v in staff.history(note["id"])] == ["create", "edit", "delete"]


def test_the_app_answers_while_a_run_holds_the_warehouse(running_app, env):
    """Another process holds the warehouse open for writing (as a pipeline run does): the app still answers."""
    url, _ = running_app
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); con.execute('begin'); "
            "con.execute(\"insert into raw.wms_clients (wms_client_id) values ('W-lock')\"); "
            "print('held', flush=True); time.sleep(30)",
            str(env.warehouse_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(duckdb.IOException):  # the warehouse itself is locked now
            duckdb.connect(str(env.warehouse_path), read_only=True)
        anna = Client(url, auth=("anna", "пароль-анны-1"), verbose=False)
        assert [row[0] for row in anna.predict("", api_name="/list_clients")[0]["data"]] == ["10234"]
        head, *_ = anna.predict("10234", [], "всё время", api_name="/open_card")
        assert "ИП Смирнова" in head
    finally:
        holder.kill()
        holder.wait()


def test_admin_page_shows_unmapped_users_and_runs_and_maps(running_app, env, instance, monkeypatch):
    url, _ = running_app
    with connect(env.warehouse_path) as con:
        con.execute("insert into raw.telegram_chats (chat_id, title) values (-1009, 'Новый селлер (без ID)')")
        con.execute("insert into raw.wms_clients (wms_client_id, name) values ('W-77', 'ООО Неизвестный')")
        con.execute("insert into raw.wms_clients (wms_client_id, name) values ('W-78', 'ООО Ромашка')")
        con.execute(
            "insert into raw.identity_candidates (system, external_id, lead_id, kind, confidence, evidence, status) "
            "values ('wms_client', 'W-78', '10777', 'name', 0.95, 'название «ООО Ромашка» в WMS и «Ромашка» у лида "
            "10777', 'suggested'), ('telegram_chat', '-1009', '10666', 'title', 0.9, 'в названии чата …', "
            "'suggested')"
        )
    assert dg.materialize([serving_snapshot], resources=all_resources(), instance=instance).success
    boss = Client(url, auth=("boss", "пароль-босса-1"), verbose=False)
    page = boss.predict(api_name="/admin_overview")
    assert "`-1009` Новый селлер (без ID)" in page and "`W-77` ООО Неизвестный" in page
    assert "**anna** — Анна Соколова, куратор" in page and "**boss** — администратор" in page
    run = instance.get_runs(limit=1)[0]  # materialized outside a job
    assert (
        f"- успешно · обновление отдельных данных (не по заданию) · [{run.run_id[:8]}]"
        f"(http://127.0.0.1:3000/runs/{run.run_id})" in page
    )
    monkeypatch.setenv("DAGSTER_PG_HOST", "127.0.0.1")  # the production run storage, and nothing listens there
    monkeypatch.setenv("DAGSTER_PG_PORT", str(free_port()))
    page = boss.predict(api_name="/admin_overview")
    assert "История запусков недоступна: база запусков Dagster (PostgreSQL 127.0.0.1:" in page
    assert "**anna** — Анна Соколова, куратор" in page, "the rest of the page is shown anyway"
    monkeypatch.delenv("DAGSTER_PG_HOST")
    status = boss.predict("wms_client", "W-77", "10999", api_name="/map_item")
    assert "W-77 → лид 10999" in status
    status = boss.predict("recording", "planerka", "10888", api_name="/map_item")
    assert "planerka → лид 10888" in status and "в течение минуты" in status
    assert "wms_client,W-77,10999" in env.resolved_aliases_file.read_text()
    assert "recording,planerka,10888" in env.resolved_aliases_file.read_text()
    # the identity asset's suggestions: accepted or rejected in one click, by the value the list offers
    assert "предложение: название «ООО Ромашка» в WMS" in boss.predict(api_name="/admin_overview")
    status = boss.predict("wms_client|W-78|10777", api_name="/accept_identity")
    assert "клиент WMS W-78 → лид 10777" in status and "wms_client,W-78,10777" in env.resolved_aliases_file.read_text()
    status = boss.predict("telegram_chat|-1009|10666", api_name="/reject_identity")
    assert "больше не предлагается" in status
    assert ("telegram_chat", "-1009", "10666") in AppDB(env.resolved_app_db_url).identity_rejections()
    with pytest.raises(Exception, match="Выберите предложение из списка"):
        boss.predict("wms_client|W-77|10001", api_name="/accept_identity")  # nothing suggested that
    anna = Client(url, auth=("anna", "пароль-анны-1"), verbose=False)
    with pytest.raises(Exception, match="Только для администратора"):
        anna.predict("wms_client|W-78|10777", api_name="/accept_identity")
    with pytest.raises(Exception, match="Только для администратора"):
        anna.predict(api_name="/admin_overview")
    with pytest.raises(Exception, match="Только для администратора"):
        anna.predict("anna", True, api_name="/set_access")

    # a curator's «see all clients» is the admin's setting
    assert [row[0] for row in anna.predict("", api_name="/list_clients")[0]["data"]] == ["10234"]
    assert "anna теперь видит всех клиентов" in boss.predict("anna", True, api_name="/set_access")
    assert {row[0] for row in anna.predict("", api_name="/list_clients")[0]["data"]} == {"10234", "10517"}
    assert "ДомТекстиль" in anna.predict("10517", [], "всё время", api_name="/open_card")[0]
    boss.predict("anna", False, api_name="/set_access")
    assert [row[0] for row in anna.predict("", api_name="/list_clients")[0]["data"]] == ["10234"]
    with pytest.raises(Exception, match="пользователя nobody нет"):
        boss.predict("nobody", True, api_name="/set_access")


def test_a_reference_opens_the_whole_original_with_the_cited_place_marked(running_app, env, instance):
    """Timeline rows and chat citations open the meeting (summary and transcript), the chat conversation, never
    another client's data."""
    url, _ = running_app
    turns = [
        (i * 60.0, "Ольга" if i % 2 else "Анна", f"Реплика {i}: " + "про поставку и маркировку " * 8) for i in range(12)
    ]
    with connect(env.warehouse_path) as con:
        con.execute(
            "insert into raw.meeting_summaries (recording_id, client_id, meeting_date, started_at, summary, "
            "summary_text) values ('m1', '10234', '2026-11-20', '2026-11-20 11:00', '{\"topic\": \"Поставки\"}', "
            "'Договорились о поставке в декабре')"
        )
        con.execute(
            "insert into raw.meeting_transcripts (recording_id, client_id, provider, text, segments) "
            "values ('m1', '10234', 'sidecar', 'весь текст', ?)",
            [json.dumps([{"start": t, "speaker": who, "text": text} for t, who, text in turns], ensure_ascii=False)],
        )
        con.execute(
            "insert into raw.telegram_chats (chat_id, title, client_id, mapped_by) "
            "values (-1001, 'client-10234', '10234', 'title'), (-1002, 'client-10517', '10517', 'title')"
        )
        for chat, n, text in ((-1001, 1, "Где наша поставка?"), (-1001, 2, "Уже на складе"), (-1002, 1, "Чужое")):
            con.execute(
                "insert into raw.telegram_messages (chat_id, message_id, sent_at, direction, kind, text, source) "
                "values (?, ?, ?, 'client', 'message', ?, 'export')",
                [chat, n, f"2026-11-23 09:0{n}", text],
            )
    assert dg.materialize([rag_index], resources=all_resources(), instance=instance).success
    anna = Client(url, auth=("anna", "пароль-анны-1"), verbose=False)
    page = anna.predict("10234", "meeting:m1@540", api_name="/open_original")
    assert page.startswith("### Встреча 20.11.2026 11:00: Поставки") and "Договорились о поставке" in page
    lines = page.split("\n\n")
    for i in range(12):  # the whole transcript, each turn once
        assert sum(f"Реплика {i}:" in x for x in lines) == 1, i
    marked = [x for x in lines if x.startswith("> **")]
    # the transcript is outside text: its brackets are escaped (shown as written, never a link)
    assert marked[0].startswith("> **\\[09:00\\] Ольга: Реплика 9:"), "the cited window, from 9:00, is marked"
    assert [x for x in marked if "Реплика 8:" in x] == []
    whole = anna.predict("10234", "meeting:m1", api_name="/open_original")  # the history's row: nothing singled out
    assert "Договорились о поставке" in whole and "Реплика 11:" in whole and "> **" not in whole
    chat = anna.predict("10234", "telegram:-1001:2", api_name="/open_original")  # one message → its conversation
    assert "Где наша поставка?" in chat and "Уже на складе" in chat and "Чужое" not in chat
    day = anna.predict("10234", "telegram_day:10234:2026-11-23", api_name="/open_original")
    assert "Уже на складе" in day and "Чужое" not in day
    assert "Чужое" not in anna.predict("10234", "telegram:-1002:1", api_name="/open_original")
    assert anna.predict("10517", "telegram:-1002:1", api_name="/open_original") == "Клиент не найден или закрыт для вас"


def test_sessions_end_when_idle_or_too_old():
    now = [0.0]
    sessions = ExpiringSessions(lifetime_s=100, idle_s=10, clock=lambda: now[0])
    sessions["t1"] = "anna"
    now[0] = 9
    assert sessions.get("t1") == "anna"  # a request keeps the session alive
    now[0] = 18
    assert "t1" in sessions
    now[0] = 29
    assert sessions.get("t1") is None and "t1" not in sessions  # 11 s without a request
    sessions["t2"] = "anna"
    for t in range(35, 200, 5):
        now[0] = t
        if sessions.get("t2") is None:
            break
    assert t == 130  # logged in at 29: ended by age (100 s) although never idle
    sessions["t3"] = "boss"
    now[0] += 11
    sessions["t4"] = "anna"  # a new login sweeps sessions nobody came back to
    assert list(sessions.keys()) == ["t4"]


@pytest.fixture
def short_sessions(monkeypatch):
    monkeypatch.setenv("C360_APP_IDLE_MINUTES", str(1.5 / 60))


def test_an_idle_browser_session_is_logged_out(short_sessions, running_app):
    url, _ = running_app
    ok = httpx.post(url + "/login", data={"username": "anna", "password": "пароль-анны-1"})
    for _ in range(3):  # 3 s of requests a second apart: the session lives on
        assert httpx.get(url + "/config", cookies=ok.cookies).status_code == 200
        time.sleep(1)
    time.sleep(2)
    assert httpx.get(url + "/config", cookies=ok.cookies).status_code == 401
    assert httpx.get(url + "/gradio_api/info", cookies=ok.cookies).status_code == 401


def test_logging_out_ends_the_session_on_the_server(running_app, caplog):
    """Gradio's /logout (the app's «Выйти») ends the user's sessions in the app's ExpiringSessions, not only the
    browser's cookie: the old cookie no longer opens anything."""
    url, _ = running_app
    ok = httpx.post(url + "/login", data={"username": "anna", "password": "пароль-анны-1"})
    other = httpx.post(url + "/login", data={"username": "anna", "password": "пароль-анны-1"})  # another browser
    boss = httpx.post(url + "/login", data={"username": "boss", "password": "пароль-босса-1"})
    assert httpx.get(url + "/config", cookies=ok.cookies).status_code == 200
    with caplog.at_level("INFO", logger="client360.auth"):
        out = httpx.get(url + "/logout", cookies=ok.cookies)
    assert out.status_code == 302 and out.headers["location"].rstrip("/") == url
    assert httpx.get(url + "/config", cookies=ok.cookies).status_code == 401
    assert httpx.get(url + "/config", cookies=other.cookies).status_code == 401, "all of the user's sessions"
    assert httpx.get(url + "/config", cookies=boss.cookies).status_code == 200, "nobody else's"
    assert caplog.messages.count("сессия anna завершена (выход)") == 2


def test_every_page_gets_the_apps_head_first_the_login_page_too(running_app):
    """The Russian language and the login kept after a wrong password come in the page's HTML (chat_app/web.py):
    Gradio's own `head` never reaches its login page."""
    from chat_app.app import PAGE_HEAD

    url, _ = running_app
    login_page = httpx.get(url + "/")
    assert "auth_required" in login_page.text, "the login page"
    ok = httpx.post(url + "/login", data={"username": "anna", "password": "пароль-анны-1"})
    app_page = httpx.get(url + "/", cookies=ok.cookies)
    assert "auth_required" not in app_page.text
    for page in (login_page, app_page):
        head = page.text.index("<head>") + len("<head>")
        assert page.text[head : head + len(PAGE_HEAD)] == PAGE_HEAD
        assert page.text.count(PAGE_HEAD) == 1 and int(page.headers["content-length"]) == len(page.content)
        assert page.text.index(PAGE_HEAD) < page.text.index('<script type="module"'), "before Gradio's bundle"
    assert PAGE_HEAD not in httpx.get(url + "/config", cookies=ok.cookies).text, "pages only"
