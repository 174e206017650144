"""`client360 doctor` against the local fakes: what works is said to work, a failing one says what to fix,
what is not configured is said so — and the exit code tells a script whether all is well."""

import contextlib
import io

from cli.main import main
from devkit.wms_sim import WmsSimulator, WmsWorld
from tests.fakes.bitrix import FakeBitrix24


def doctor() -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["doctor"])
    return code, out.getvalue()


def test_doctor_reports_each_connection(env, recordings, glm, speechkit, telegram, monkeypatch):
    monkeypatch.setenv("C360_LLM_PROVIDER", "glm")
    monkeypatch.setenv("C360_STT_PROVIDER", "speechkit")
    monkeypatch.setenv("C360_ALERT_CHAT_ID", "-1009876543210")
    telegram.chats = {"-1001234567890", "-1009876543210"}
    with FakeBitrix24() as bitrix, WmsSimulator(WmsWorld(clients=3, days=30, seed=1)) as wms:
        monkeypatch.setenv("BITRIX_WEBHOOK_URL", bitrix.webhook_url)
        monkeypatch.setenv("C360_WMS_BASE_URL", wms.url)
        monkeypatch.setenv("C360_WMS_TOKEN", wms.token)
        code, out = doctor()
        assert code == 0, out
        assert "✓ GLM (Zhipu): модель" in out and "✓ Yandex SpeechKit: ключ принят" in out
        assert "✓ Битрикс24: вебхук работает" in out and "✓ WMS: отвечает, клиентов склада: 3" in out
        assert "✓ Telegram-бот: @client360_bot видит группы" in out and "✓ Папка записей встреч" in out
        assert "· Telegram (аккаунт для переписки): не настроен" in out and "· PostgreSQL (Dagster)" in out

        bitrix.error_code = "insufficient_scope"  # the webhook lost its CRM right
        monkeypatch.setenv("YANDEX_API_KEY", "revoked-key")
        code, out = doctor()
    assert code == 1
    assert "✗ Битрикс24: ошибка" in out and "права: crm и user" in out
    assert "✗ Yandex SpeechKit: ключ не принят (HTTP 401)" in out and "ai.speechkit-stt.user" in out
    assert "✓ GLM (Zhipu)" in out and "с ошибкой: 2" in out

    speechkit.unavailable = True  # a service that is down says nothing about the key
    monkeypatch.setenv("YANDEX_API_KEY", speechkit.api_key)
    code, out = doctor()
    assert "✗ Yandex SpeechKit: сервис ответил HTTP 503, ключ проверить не удалось" in out


def test_doctor_names_a_missing_folder_and_an_unreachable_database(env, monkeypatch, tmp_path):
    monkeypatch.setenv("C360_RECORDINGS_DIR", str(tmp_path / "not-mounted"))
    monkeypatch.setenv("DAGSTER_PG_HOST", "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", "5432")
    monkeypatch.setenv("DAGSTER_PG_DB", "no_such_database_c360")
    monkeypatch.setenv("DAGSTER_PG_USER", "postgres")
    code, out = doctor()
    assert code == 1
    assert "✗ Папка записей встреч" in out and "смонтируйте NFS-папку Jibri" in out
    assert "✗ PostgreSQL (Dagster): нет подключения" in out and "DAGSTER_PG_HOST" in out
    assert "· GLM (Zhipu): не используется" in out
