"""The curators' app and its deployment, probed as an attacker and a careless user would, over real HTTP against
the launched app: security headers and the login cookie; a login as slow for an unknown user as for a known one;
failures limited per address too, logged with the address, unlocked by an admin; a password change or a disabled
user ends open sessions at once (from the `client360 users` command, another process); every limit refused with
a Russian sentence and nothing stored; no upload route; an internal error shown as a Russian sentence; outside
Markdown shown as text in a real Chromium (no image fetched, no link); private data files."""

import logging
import os
import re
import stat
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx
import pytest
from gradio_client import Client

from assets.rag.assets import rag_index
from assets.serving import serving_snapshot
from connectors.llm.base import ResponseCache
from ops.backup import make_backup
from orchestration.dbt import dbt_resource, warehouse_models
from orchestration.resources import all_resources
from rag.embeddings import VectorCache
from tests.fakes.server import FakeServer
from tests.test_app import running_app  # noqa: F401  (fixture)
from tests.test_app_browser import ARGS, CHROMIUM, log_in, shows
from warehouse.duck import connect

ROOT = Path(__file__).resolve().parent.parent
HEADERS = {  # what every response carries, from the app alone and from Caddy in front of it
    "content-security-policy": "frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "strict-transport-security": "max-age=",
    "x-content-type-options": "nosniff",
}
ANNA = {"username": "anna", "password": "пароль-анны-1"}


def users_cli(*args: str, password: str | None = None) -> subprocess.CompletedProcess:
    """`client360 users …` in its own process, as an admin runs it next to the running app."""
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "users", *args],
        input=(password or "") + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ,
        cwd=ROOT,
    )


def login(url: str, username: str, password: str, **headers) -> httpx.Response:
    return httpx.post(url + "/login", data={"username": username, "password": password}, headers=headers)


def cookies_of(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def ended(url: str, cookies) -> bool:
    """The session is refused within a few seconds (the app re-reads the user at most once a second)."""
    for _ in range(50):
        if httpx.get(url + "/config", cookies=cookies).status_code == 401:
            return True
        time.sleep(0.1)
    return False


def test_security_headers_and_a_samesite_lax_login_cookie(running_app):  # noqa: F811
    url, _ = running_app
    page, ok = httpx.get(url + "/"), login(url, **ANNA)
    for response in (page, ok, login(url, "anna", "не тот")):
        for name, value in HEADERS.items():
            assert value in response.headers.get(name, ""), (response.url, name)
    assert ok.status_code == 200
    cookies = cookies_of(ok)
    assert len(cookies) == 2 and all("samesite=lax" in c.lower() for c in cookies), cookies
    assert not any("samesite=none" in c.lower() for c in cookies)
    secure = [c for c in cookies if c.startswith("access-token-") and "unsecure" not in c]
    assert len(secure) == 1 and "secure" in secure[0].lower().split("; "), "the HTTPS cookie stays Secure"
    assert httpx.get(url + "/config", cookies=ok.cookies).status_code == 200


def test_caddy_sends_the_same_headers():
    text = (ROOT / "deploy" / "Caddyfile").read_text()
    site = text[text.index("{$C360_DOMAIN}") :]
    for name, value in HEADERS.items():
        assert re.search(rf'(?im)^\s*{re.escape(name)}\s+"[^"\n]*{re.escape(value)}', site), name


def test_login_takes_as_long_for_an_unknown_user_as_for_a_known_one(running_app):  # noqa: F811
    url, _ = running_app
    login(url, "nobody-warmup", "x")

    def took(username: str) -> float:
        started = time.perf_counter()
        assert login(url, username, "неверный-пароль").status_code == 400
        return time.perf_counter() - started

    known = statistics.median(took("anna") for _ in range(7))
    unknown = statistics.median(took(f"nobody{i}") for i in range(7))
    assert max(known, unknown) < 2 * min(known, unknown), (known, unknown)


def test_failed_logins_are_logged_with_the_address_and_limited_per_address_until_unlocked(
    running_app,  # noqa: F811
    caplog,
):
    url, staff = running_app
    staff.add("igor", "viewer", "пароль-игоря-1")
    with caplog.at_level(logging.WARNING, logger="client360.auth"):
        # X-Forwarded-For from a proxy nobody configured as trusted is not believed
        login(url, "anna", "не тот", **{"X-Forwarded-For": "203.0.113.9"})
    failed = [r.getMessage() for r in caplog.records if "неудачный вход: anna" in r.getMessage()]
    assert failed and "127.0.0.1" in failed[0] and "203.0.113.9" not in failed[0], failed
    for i in range(25):  # many logins, each tried a few times: no login is locked, the address is
        login(url, f"guess{i % 6}", "не тот")
    assert login(url, **ANNA).status_code == 400, "the address is locked, even with the right password"
    assert login(url, "igor", "пароль-игоря-1").status_code == 400

    run = users_cli("unlock", "anna")
    assert run.returncode == 0 and "anna разблокирован" in run.stdout, run.stderr
    assert login(url, **ANNA).status_code == 200, "the admin unlocked anna"
    assert login(url, "igor", "пароль-игоря-1").status_code == 400, "the address stays locked for the others"
    run = users_cli("unlock", "nobody")
    assert run.returncode == 1 and "пользователя nobody нет" in run.stderr


def test_an_admin_unlocks_a_login_on_the_admin_page(running_app):  # noqa: F811
    url, _ = running_app
    boss = Client(url, auth=("boss", "пароль-босса-1"), verbose=False)
    for _ in range(5):
        login(url, "anna", "не тот")
    assert login(url, **ANNA).status_code == 400, "five failures lock the login"
    assert "Вход anna разблокирован" in boss.predict("anna", api_name="/unlock_login")
    anna = Client(url, auth=("anna", "пароль-анны-1"), verbose=False)
    with pytest.raises(Exception, match="Только для администратора"):
        anna.predict("boss", api_name="/unlock_login")
    with pytest.raises(Exception, match="пользователя nobody нет"):
        boss.predict("nobody", api_name="/unlock_login")


@pytest.fixture
def behind_a_proxy(monkeypatch):
    monkeypatch.setenv("C360_TRUSTED_PROXIES", "127.0.0.1")


def test_behind_a_trusted_proxy_the_forwarded_address_and_scheme_count(behind_a_proxy, running_app, caplog):  # noqa: F811
    url, _ = running_app
    with caplog.at_level(logging.WARNING, logger="client360.auth"):
        login(url, "anna", "не тот", **{"X-Forwarded-For": "203.0.113.9"})
    assert any("неудачный вход: anna" in r.getMessage() and "203.0.113.9" in r.getMessage() for r in caplog.records)
    ok = login(url, **ANNA, **{"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    cookies = cookies_of(ok)
    assert len(cookies) == 2 and all("secure" in c.lower().split("; ") for c in cookies), "over HTTPS both are Secure"


def test_a_password_change_or_a_disabled_user_ends_open_sessions(running_app):  # noqa: F811
    url, _ = running_app
    anna, boss = login(url, **ANNA).cookies, login(url, "boss", "пароль-босса-1").cookies
    anna_app = Client(url, auth=("anna", "пароль-анны-1"), verbose=False)
    assert httpx.get(url + "/config", cookies=anna).status_code == 200
    run = users_cli("set-password", "anna", "--password-stdin", password="новый-пароль-анны")
    assert run.returncode == 0, run.stderr
    assert ended(url, anna), "the session opened with the old password ends"
    assert ended(url, anna_app.cookies)
    with pytest.raises(Exception, match="401"):  # the app's API refuses that session too
        anna_app.predict("", api_name="/list_clients")
    assert httpx.get(url + "/config", cookies=boss).status_code == 200, "others stay logged in"
    assert login(url, "anna", "новый-пароль-анны").status_code == 200
    assert users_cli("disable", "boss").returncode == 0
    assert ended(url, boss), "a disabled user's session ends"


def test_every_limit_is_refused_in_russian_and_stores_nothing(running_app):  # noqa: F811
    url, staff = running_app
    anna = Client(url, auth=("anna", "пароль-анны-1"), verbose=False)
    with pytest.raises(Exception, match="заметка длиннее 10000 символов"):
        anna.predict("10234", "я" * 10001, api_name="/add_note")
    with pytest.raises(Exception):  # noqa: B017 — a megabyte is refused (by the note limit or the body limit)
        anna.predict("10234", "я" * 1_000_000, api_name="/add_note")
    assert staff.notes_of("10234") == []
    with pytest.raises(Exception, match="Вопрос длиннее 4000 символов"):
        anna.predict("а" * 105_000, [], "10234", api_name="/ask")
    assert staff.chat_history(staff.get("anna"), "10234") == []
    head, *_ = anna.predict("10234" + "9" * 30, [], "всё время", api_name="/open_card")
    assert head.startswith("Не похоже на ID лида") and "12" in head
    with pytest.raises(Exception, match="Укажите номер заметки"):  # today: «Python int too large to convert…»
        anna.predict("10234", "9" * 30, "текст", api_name="/edit_note")

    cookies = login(url, **ANNA).cookies
    big = httpx.post(url + "/gradio_api/queue/join", content=b"{" + b" " * 3 * 2**20 + b"}", cookies=cookies)
    assert big.status_code == 413 and "слишком большой" in big.json()["detail"]
    assert staff.notes_of("10234") == [] and staff.chat_history(staff.get("anna"), "10234") == []


def test_the_upload_route_is_closed(running_app, env):  # noqa: F811
    url, _ = running_app
    cookies = login(url, **ANNA).cookies
    files = {"files": ("evil.html", b"<script>alert(1)</script>", "text/html")}
    response = httpx.post(url + "/gradio_api/upload", files=files, cookies=cookies)
    assert response.status_code in (403, 404) and "evil.html" not in response.text
    assert "Загрузка файлов" in response.json()["detail"]


def test_an_internal_error_reaches_the_user_as_a_russian_sentence(running_app, env, caplog):  # noqa: F811
    url, _ = running_app
    env.serving_path.write_bytes(b"not a duckdb file " * 100)  # a snapshot that cannot be read
    anna = Client(url, auth=("anna", "пароль-анны-1"), verbose=False)
    with pytest.raises(Exception) as refused:  # noqa: PT011
        anna.predict("", api_name="/list_clients")
    message = str(refused.value)
    assert "внутренняя ошибка" in message and "duckdb" not in message.lower() and str(env.data_dir) not in message
    assert "ошибка в list_clients" in caplog.text, "the details are in the log"


class Pixels(FakeServer):
    """A remote image host: it only counts who fetched from it (a 1×1 PNG to anyone who asks)."""

    PNG = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )

    def handle(self, req):
        return 200, {"Content-Type": "image/png"}, self.PNG


def test_outside_markdown_is_shown_as_text_in_the_browser(running_app, env, instance, glm, monkeypatch):  # noqa: F811
    from playwright.sync_api import sync_playwright

    url, staff = running_app
    with Pixels() as pixels:
        bait = (
            f"Смотрите ![фото]({pixels.url}/message.png) и [накладная]({pixels.url}/link) "
            f'<img src="{pixels.url}/raw.png"> {pixels.url}/bare'
        )
        with connect(env.warehouse_path) as con:
            con.execute(
                "insert into raw.telegram_chats (chat_id, title, client_id, mapped_by) "
                f"values (-1001, 'client-10234 ![]({pixels.url}/title.png)', '10234', 'alias')"
            )
            con.execute(
                "insert into raw.telegram_messages (chat_id, message_id, sent_at, sender_name, direction, kind, "
                "text, source) values (-1001, 1, ?, 'Ольга', 'client', 'message', ?, 'export')",
                [datetime.combine(env.today() - timedelta(days=2), datetime.min.time()), bait],
            )
        staff.add_note(staff.get("anna"), "10234", f"Заметка ![]({pixels.url}/note.png)")
        assert dg.materialize([warehouse_models], resources={"dbt": dbt_resource()}, instance=instance).success
        assert dg.materialize([rag_index, serving_snapshot], resources=all_resources(), instance=instance).success
        monkeypatch.setenv("C360_LLM_PROVIDER", "glm")
        glm.reply = lambda body: f"Клиент прислал фото ![]({pixels.url}/answer.png) [1]."

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            log_in(page, url, "anna", "пароль-анны-1")
            page.get_by_role("tab", name="Карточка клиента").click()
            page.get_by_label("ID лида", exact=True).first.fill("10234")
            page.get_by_role("button", name="Открыть").click()
            shows(page, f"Заметка ![]({pixels.url}/note.png)")  # the note, as written
            page.get_by_role("tab", name="Чат по клиенту").click()
            chat_client = page.get_by_label("ID лида", exact=True).last
            chat_client.fill("10234")
            chat_client.press("Enter")
            page.get_by_label("Вопрос").fill(f"Что на фото ![]({pixels.url}/question.png)?")
            page.get_by_label("Вопрос").press("Enter")
            shows(page, f"Клиент прислал фото ![]({pixels.url}/answer.png)", 30000)
            page.get_by_role("radio", name=re.compile(r"^\[1\] Telegram")).click()  # the cited message, in the chat
            page.locator("#cite-view").get_by_text("накладная", exact=False).wait_for(timeout=20000)
            page.locator("#cite-view").get_by_text("message.png", exact=False).wait_for(timeout=20000)
            time.sleep(1)  # let any image request the page would make arrive
            host = pixels.url.removeprefix("http://")
            live = page.evaluate(
                "host => [...document.querySelectorAll('img[src], a[href], iframe[src]')]"
                ".map(e => e.src || e.href).filter(u => u.includes(host))",
                host,
            )
            body = page.inner_text("body")
            browser.close()
        assert live == [], "outside text made no image, link or frame"
        assert pixels.requests == [], [r.path for r in pixels.requests]
        assert "накладная" in body and "message.png" in body, "the text itself is shown"


def test_data_files_with_hashes_and_client_data_are_private(running_app, env, tmp_path):  # noqa: F811
    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(env.data_dir / "app.db") == 0o600 and mode(env.data_dir) == 0o700
    ResponseCache(env.llm_cache_path).put("k", "m", "ответ о клиенте", 1, 1)
    VectorCache(env.embed_cache_path)
    for cache in (env.llm_cache_path, env.embed_cache_path):
        assert mode(cache) == 0o600, cache
        assert all(mode(p) == 0o600 for p in cache.parent.glob(cache.name + "-*")), "its WAL files too"
    folder = make_backup(env, tmp_path / "backups")
    assert mode(tmp_path / "backups") == 0o700 and mode(folder) == 0o700
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files and all(mode(p) == 0o600 for p in files), {p.name: oct(mode(p)) for p in files}
