"""No secret in any message: every credential of the configuration stays out of what the project writes — console,
logs, `client360 doctor`, the Dagster run history (events, metadata, step logs) and the notices to Telegram — even
when every external system fails and echoes the request back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import DagsterRunStatus, RunsFilter
from dagster._serdes import serialize_value

from assets.metadata import md_table
from connectors.bitrix import BitrixClient
from connectors.http import ExternalServiceError, HttpClient
from connectors.redact import redact, register, secrets_in_url
from connectors.telegram_bot import TelegramBot
from connectors.wms import ReferenceWmsAdapter
from devkit.demo import CLIENTS, build_demo_telegram_export
from ops.doctor import Check
from orchestration.resources import all_resources
from orchestration.sensors import failure_notice, run_failure_notice
from tests.conftest import jibri
from tests.fakes.server import FakeServer, Request
from tests.fakes.telegram import FakeTelegramBotApi
from tests.test_cli import cli

ROOT = Path(__file__).resolve().parent.parent

# distinct, greppable values; the marker inside each is looked for too (half a secret is still a leak)
BOT_TOKEN = "7000000001:AAsecretBOT0000000000000000000000000"
HOOK = "secretHOOK7f3k2q9"
GLM_KEY = "4f1e2d3c.secretGLMm9x8c7v6b5"
YANDEX_KEY = "AQVNsecretYANDEXq1w2e3r4"
WMS_TOKEN = "secretWMSz9y8x7w6"
API_HASH = "secretHASHa1b2c3d4e5f6"
PG_PASSWORD = "secretPGp4ssw0rd"
UI_HASH = "$2a$14$secretUIhash0123456789"
MARKERS = ("secretBOT", "secretHOOK", "secretGLM", "secretYANDEX", "secretWMS", "secretHASH", "secretPG", "secretUI")


def leaks(text: str, *extra: str) -> list[str]:
    values = (BOT_TOKEN, HOOK, GLM_KEY, YANDEX_KEY, WMS_TOKEN, API_HASH, PG_PASSWORD, UI_HASH, *MARKERS, *extra)
    return [v for v in values if v in text]


# --- the shapes, known or not ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret", "expected"),
    [
        (
            "Telegram Bot API: HTTP 404 от POST /bot123456:AAxyzUNKNOWNtoken_-q/sendMessage",
            "AAxyzUNKNOWNtoken_-q",
            "Telegram Bot API: HTTP 404 от POST /bot***/sendMessage",
        ),
        (
            "bot token 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw!",
            "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
            "bot token ***!",
        ),
        (
            "Bitrix24: HTTP 404 от POST /rest/1/k3yUNKNOWNhook/crm.lead.list.json: <h1>Not Found</h1>",
            "k3yUNKNOWNhook",
            "Bitrix24: HTTP 404 от POST /rest/1/***/crm.lead.list.json: <h1>Not Found</h1>",
        ),
        ("вебхук https://b24.example.ru/rest/17/q1w2e3r4t5", "q1w2e3r4t5", "вебхук https://b24.example.ru/rest/17/***"),
        (
            "engine postgresql+psycopg2://dagster:Unkn0wnPw@db:5432/dagster failed",
            "Unkn0wnPw",
            "engine postgresql+psycopg2://dagster:***@db:5432/dagster failed",
        ),
        (
            "GET /v1/x?limit=5&api_key=UNKNOWNk&cursor=7&access_token=UNKNOWNt&Password=UNKNOWNp&auth=UNKNOWNa",
            "UNKNOWN",
            "GET /v1/x?limit=5&api_key=***&cursor=7&access_token=***&Password=***&auth=***",
        ),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.UNKNOWNsig", "UNKNOWN", "Authorization: Bearer ***"),
        ("{'Authorization': 'Api-Key AQVN-UNKNOWN-key'}", "UNKNOWN", "{'Authorization': 'Api-Key ***'}"),
        ('{"authorization": "Token UNKNOWN1", "x": 1}', "UNKNOWN", '{"authorization": "***", "x": 1}'),
        ('{"password": "UNKNOWNpw", "prompt_tokens": 5}', "UNKNOWN", '{"password": "***", "prompt_tokens": 5}'),
        ("DAGSTER_PG_PASSWORD=UNKNOWNpg2 и далее", "UNKNOWN", "DAGSTER_PG_PASSWORD=*** и далее"),
    ],
)
def test_anything_shaped_like_a_secret_is_redacted(text, secret, expected):
    assert redact(text) == expected
    assert secret not in redact(text)


def test_ordinary_text_stays_as_it_is():
    for text in (
        "WMS отклонила токен (HTTP 401): проверьте C360_WMS_TOKEN",
        "не задан TELEGRAM_BOT_TOKEN",
        "The access token provided has expired.",
        "нет связи (ConnectError: [Errno 111] Connection refused)",
        "GET /clients/42/orders?since=2026-11-01T00:00:00&limit=500&cursor=1000",
        "sqlite:////srv/client360/data/app.db",
        "dagster/run_key=telegram-export:/data/result.json",
        "basic authentication is not enabled for this webhook",
    ):
        assert redact(text) == text


def test_known_values_are_redacted_wherever_they_appear():
    register("plain-known-value-91", "user:p@ss/w0rd", "4f1e2d3c.knownGLMsecret9")
    text = redact("a plain-known-value-91 b user%3Ap%40ss%2Fw0rd c knownGLMsecret9 d")
    assert text == "a *** b *** c *** d"
    assert secrets_in_url("https://me:pw%21x@h/rest/3/c0de?token=t0k&x=1") == ["pw!x", "c0de", "t0k"]
    assert secrets_in_url("http://127.0.0.1:9/bot123:AA-bb/") == ["123:AA-bb"]


# --- the connectors' errors -----------------------------------------------------------------------------------------


def error_page(path: str, status: int) -> str:
    """Apache httpd's default error page, which names the requested URL."""
    title = {404: "404 Not Found", 500: "500 Internal Server Error"}.get(status, f"{status} Error")
    return (
        f'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN"><html><head><title>{title}</title></head><body>'
        f"<h1>{title.split(' ', 1)[1]}</h1><p>The requested URL {path} was not found on this server.</p></body></html>"
    )


class EchoingServer(FakeServer):
    """Every external system misconfigured or down in the ways a deployment meets: a web server's own error page that
    names the requested URL (Apache httpd's default 404/500 pages: "The requested URL … was not found on this
    server."), or an echo of the whole request, headers included (as httpbin.org's /anything answers,
    https://httpbin.org/#/Anything), under the status it is told to answer."""

    def __init__(self, mode: str = "html", status: int = 404):
        super().__init__()
        self.mode, self.status = mode, status

    def handle(self, req: Request):
        if self.mode == "echo":
            url = f"{self.url}{req.path}"
            return self.status, {}, {"args": req.query, "headers": req.headers, "method": req.method, "url": url}
        return self.status, {"Content-Type": "text/html; charset=iso-8859-1"}, error_page(req.path, self.status)


def test_a_bot_api_html_404_names_the_method_not_the_token():
    with EchoingServer("html", 404) as server:
        bot = TelegramBot(BOT_TOKEN, base_url=server.url, attempts=1)
        with pytest.raises(ExternalServiceError) as caught:
            bot.send_message("-100", "текст")
    message = str(caught.value)
    assert "HTTP 404 от POST /bot***/sendMessage" in message, message
    assert not leaks(message)


def test_a_bitrix_webhook_html_404_names_the_method_not_the_code():
    with EchoingServer("html", 404) as server:
        client = BitrixClient(f"{server.url}/rest/1/{HOOK}/", rate_per_second=0, attempts=1)
        with pytest.raises(ExternalServiceError) as caught:
            client.call("crm.lead.list")
    message = str(caught.value)
    assert "/rest/1/***/crm.lead.list.json" in message, message
    assert not leaks(message)


def test_retries_log_and_raise_nothing_secret(caplog):
    with EchoingServer("html", 500) as server:
        bot = TelegramBot(BOT_TOKEN, base_url=server.url, attempts=2, base_delay=0, min_interval=0)
        with pytest.raises(ExternalServiceError) as caught:
            bot.call("getMe", {})  # idempotent: retried (a sendMessage's 500 is not: it may have been sent)
    assert caught.value.status == 500
    warnings = [r.getMessage() for r in caplog.records if r.name == "connectors.http"]
    assert warnings and "/bot***/getMe" in warnings[0]
    assert not leaks(str(caught.value) + "\n".join(warnings))


def test_an_echoed_request_keeps_no_credential():
    with EchoingServer("echo", 200) as server:
        wms = ReferenceWmsAdapter(server.url, WMS_TOKEN, attempts=1)
        with pytest.raises(ExternalServiceError) as caught:
            list(wms.clients())
        assert "страница не читается" in str(caught.value)
        assert not leaks(str(caught.value))
        server.status = 500  # and the same echo as an error page
        client = HttpClient(server.url, headers={"Authorization": f"Api-Key {YANDEX_KEY}"}, attempts=1)
        with pytest.raises(ExternalServiceError) as caught:
            client.request("GET", f"/operations/1?api_key={YANDEX_KEY}")
    assert "HTTP 500" in str(caught.value)
    assert not leaks(str(caught.value))


def test_the_notice_the_doctor_and_metadata_carry_no_secret():
    run = dg.DagsterRun(job_name="bitrix_pull_job", run_id="r1")
    error = f"Bitrix24: HTTP 404 от POST /rest/1/{HOOK}/crm.lead.list.json (бот {BOT_TOKEN})"
    notice = failure_notice(run, [("bitrix_leads", error)], "https://c360.example.ru/dagster")
    assert "/rest/1/***/crm.lead.list.json" in notice and not leaks(notice)
    line = Check("Telegram-бот", False, f"ошибка: HTTP 404 от POST /bot{BOT_TOKEN}/getMe").line()
    assert "/bot***/getMe" in line and not leaks(line)
    table = md_table(("файл", "причина"), [("a.mp4", f"https://x.bitrix24.ru/rest/1/{HOOK}/")]).value
    assert "/rest/1/***/" in table and not leaks(table)


def test_logs_and_uncaught_errors_of_an_installed_process_are_redacted(tmp_path):
    """What `client360` and the code location install: log records (message, traceback) and the traceback of an
    uncaught error are redacted, for the secrets of the settings."""
    script = """
import logging
from connectors.redact import install
from config.settings import get_settings
install(get_settings)
logging.basicConfig(level=logging.INFO)
try:
    raise RuntimeError("нет связи с %s" % __import__("os").environ["BITRIX_WEBHOOK_URL"])
except RuntimeError:
    logging.getLogger("x").exception("сбой, ключ %s", __import__("os").environ["ZHIPUAI_API_KEY"])
logging.getLogger("x").warning("стек", stack_info=True)
raise ValueError("token " + __import__("os").environ["TELEGRAM_BOT_TOKEN"])
"""
    env = {
        **{k: v for k, v in os.environ.items() if k.startswith(("PATH", "HOME", "LANG"))},
        "PYTHONPATH": str(ROOT),
        "BITRIX_WEBHOOK_URL": f"https://b24.example.ru/rest/1/{HOOK}/",
        "ZHIPUAI_API_KEY": GLM_KEY,
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
    }
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    assert proc.returncode == 1
    assert "сбой, ключ ***" in proc.stderr and "Traceback" in proc.stderr and "ValueError: token ***" in proc.stderr
    assert not leaks(proc.stdout + proc.stderr), proc.stderr


# --- end to end: the path production takes --------------------------------------------------------------------------


class FailingBotApi(FakeTelegramBotApi):
    """The Bot API behind a proxy that lost the route for some calls: getMe answers Apache's 500 page, a message to
    the report group its 404 page (both naming the URL, token included); the alert group still gets its messages."""

    def __init__(self, token: str, report_chat: str):
        super().__init__(token)
        self.report_chat = report_chat

    def handle(self, req: Request):
        method = req.path.rsplit("/", 1)[-1]
        if method == "getMe" or (method == "sendMessage" and str(req.json().get("chat_id")) == self.report_chat):
            status = 500 if method == "getMe" else 404
            return status, {"Content-Type": "text/html; charset=iso-8859-1"}, error_page(req.path, status)
        return super().handle(req)


def telethon_session(port: int) -> str:
    """A real StringSession whose data centre is 127.0.0.1:port (nothing listens there)."""
    from telethon.crypto import AuthKey
    from telethon.sessions import StringSession

    session = StringSession()
    session.set_dc(2, "127.0.0.1", port)
    session.auth_key = AuthKey(os.urandom(256))
    return session.save()


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_secret_anywhere_when_every_external_system_fails(env, tmp_path, monkeypatch):
    today = env.today()
    days = [today - timedelta(days=d) for d in (2, 1)]
    for n, (lead, *_rest) in enumerate(CLIENTS[:2]):
        jibri(env.recordings_dir, f"s{n}", lead, datetime.combine(days[n], datetime.min.time()).replace(hour=11))
    exports = tmp_path / "exports"
    build_demo_telegram_export(exports / "ChatExport_1", days, env.tz)
    report_chat, alert_chat = "-1001234567890", "-1009999"
    session = telethon_session(closed_port())
    with (
        FailingBotApi(BOT_TOKEN, report_chat) as bot,
        EchoingServer("html", 404) as bitrix,
        EchoingServer("echo", 200) as wms,
        EchoingServer("echo", 401) as glm,
        EchoingServer("echo", 403) as speechkit,
    ):
        secrets = {
            "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
            "C360_TELEGRAM_BOT_API_URL": bot.url,
            "C360_REPORT_CHAT_ID": report_chat,
            "C360_ALERT_CHAT_ID": alert_chat,
            "C360_REPORT_HOUR": "0",
            "BITRIX_WEBHOOK_URL": f"{bitrix.url}/rest/1/{HOOK}/",
            "C360_BITRIX_RATE": "100",
            "C360_WMS_BASE_URL": wms.url,
            "C360_WMS_TOKEN": WMS_TOKEN,
            "C360_LLM_PROVIDER": "glm",
            "C360_EMBED_PROVIDER": "glm",
            "ZHIPUAI_API_KEY": GLM_KEY,
            "C360_GLM_BASE_URL": f"{glm.url}/api/paas/v4/",
            "C360_STT_PROVIDER": "speechkit",
            "YANDEX_API_KEY": YANDEX_KEY,
            "C360_SPEECHKIT_BASE_URL": speechkit.url,
            "C360_SPEECHKIT_OPERATION_URL": f"http://127.0.0.1:{closed_port()}",
            "TELEGRAM_API_ID": "12345",
            "TELEGRAM_API_HASH": API_HASH,
            "TELEGRAM_SESSION": session,
            "C360_TELEGRAM_EXPORT_DIR": str(exports),
            "C360_FILE_QUIET_SECONDS": "0",
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(closed_port()),
            "DAGSTER_PG_DB": "dagster",
            "DAGSTER_PG_USER": "dagster",
            "DAGSTER_PG_PASSWORD": PG_PASSWORD,
            "DAGSTER_UI_PASSWORD_HASH": UI_HASH,
            "PYTHONPATH": str(ROOT),  # the code of this checkout
        }
        run = cli("run", cwd=tmp_path, env_extra=secrets)
        doctor = cli("doctor", cwd=tmp_path, env_extra=secrets)

        # what the daemon's run-failure sensor does for each failed run (it runs in the code server)
        for name, value in secrets.items():
            monkeypatch.setenv(name, value)
        home = env.data_dir / "dagster_home"
        with dg.DagsterInstance.from_config(str(home)) as instance:
            failed = instance.get_runs(filters=RunsFilter(statuses=[DagsterRunStatus.FAILURE]))
            for failed_run in failed:
                [failure] = instance.get_records_for_run(
                    failed_run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
                ).records
                context = dg.build_run_status_sensor_context(
                    sensor_name="run_failure_notice",
                    dagster_instance=instance,
                    dagster_run=failed_run,
                    dagster_event=failure.event_log_entry.dagster_event,
                    resources={"telegram": all_resources()["telegram"], "app_db": all_resources()["app_db"]},
                ).for_run_failure()
                run_failure_notice(context)
            events = [serialize_value(entry) for r in instance.get_runs() for entry in instance.all_logs(r.run_id)]

    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    failed_jobs = {r.job_name for r in failed}
    assert {"bitrix_pull_job", "wms_pull_job", "meeting_pipeline_job", "telegram_pull_job"} <= failed_jobs, run.stdout
    assert "✗" in doctor.stdout and doctor.returncode == 1
    for what, text in (("client360 run", run.stdout + run.stderr), ("client360 doctor", doctor.stdout + doctor.stderr)):
        assert not leaks(text, session), f"{what}: {leaks(text, session)}\n{text[-4000:]}"
    assert "/rest/1/***/" in run.stderr + doctor.stdout, "the error still says which call failed"

    assert events, "the run history was read"
    for event in events:
        assert not leaks(event, session), event[:3000]

    # the notices still go out, with the redacted errors
    notices = [m for m in bot.messages if "Сбой запуска" in m["text"]]
    assert len(notices) >= len(failed)
    assert any("daily_report_job" in m["text"] and "/bot***/sendMessage" in m["text"] for m in notices), notices
    for message in bot.messages:
        assert not leaks(json.dumps(message, ensure_ascii=False), session), message["text"]

    # every file the runs left: Dagster's SQLite storage and step logs, the caches, the warehouse, the state
    files = [p for p in env.data_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".err" for p in files), "the step logs are among them"
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace")
        assert not leaks(text, session), f"{path}: {leaks(text, session)}"
