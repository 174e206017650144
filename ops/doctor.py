"""`client360 doctor`: every configured connection checked for real, in Russian: what works, and for what does not,
what to do. A part that is not configured is said to be so (the system works without it), not reported as broken.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from config.settings import Settings
from connectors.redact import redact


@dataclass
class Check:
    name: str
    ok: bool | None  # None: not configured
    detail: str
    fix: str = ""

    def __post_init__(self):  # the details quote errors of the systems checked: never with their credentials
        self.detail, self.fix = redact(self.detail), redact(self.fix)

    def line(self) -> str:
        mark = {True: "✓", False: "✗", None: "·"}[self.ok]
        text = f"{mark} {self.name}: {self.detail}"
        return text + (f"\n    что сделать: {self.fix}" if self.fix and self.ok is False else "")


def _timed(fn: Callable[[], str]) -> tuple[str, float]:
    t0 = time.monotonic()
    detail = fn()
    return detail, time.monotonic() - t0


def check_glm(s: Settings) -> Check:
    if s.llm_provider != "glm" and s.embed_provider != "glm":
        return Check("GLM (Zhipu)", None, "не используется (C360_LLM_PROVIDER=offline): конспекты без нейросети")
    if not s.zhipuai_api_key:
        return Check(
            "GLM (Zhipu)", False, "не задан ключ", "впишите ZHIPUAI_API_KEY в .env (open.bigmodel.cn → API Keys)"
        )
    from connectors.llm.glm import GLMClient

    client = GLMClient(
        s.zhipuai_api_key, model=s.glm_model, base_url=s.glm_base_url, attempts=1, max_tokens=5, timeout=30
    )
    try:
        _, seconds = _timed(lambda: client.complete("Ответь одним словом.", "Проверка связи"))
    except Exception as exc:  # noqa: BLE001 — every failure becomes advice
        return Check(
            "GLM (Zhipu)",
            False,
            f"не отвечает: {exc}",
            "проверьте ключ, баланс аккаунта и C360_GLM_BASE_URL / C360_GLM_MODEL",
        )
    return Check("GLM (Zhipu)", True, f"модель {s.glm_model} ответила за {seconds:.1f} с")


def check_speechkit(s: Settings) -> Check:
    if s.stt_provider != "speechkit":
        return Check("Yandex SpeechKit", None, f"не используется (C360_STT_PROVIDER={s.stt_provider})")
    if not s.yandex_api_key:
        return Check(
            "Yandex SpeechKit",
            False,
            "не задан ключ",
            "впишите YANDEX_API_KEY (API-ключ сервисного аккаунта с ролью ai.speechkit-stt.user)",
        )
    url = f"{s.resolved_speechkit_operation_url.rstrip('/')}/operations/doctor-check"
    try:
        r = httpx.get(url, headers={"Authorization": f"Api-Key {s.yandex_api_key}"}, timeout=15)
    except httpx.HTTPError as exc:
        return Check("Yandex SpeechKit", False, f"нет связи: {exc}", "проверьте доступ сервера в интернет")
    if r.status_code in (401, 403):
        return Check(
            "Yandex SpeechKit",
            False,
            f"ключ не принят (HTTP {r.status_code})",
            "создайте новый API-ключ сервисного аккаунта и проверьте роль ai.speechkit-stt.user",
        )
    if r.status_code >= 500 or r.status_code == 429:  # the key was not judged at all
        return Check(
            "Yandex SpeechKit",
            False,
            f"сервис ответил HTTP {r.status_code}, ключ проверить не удалось",
            "повторите проверку позже",
        )
    # an unknown operation id with a good key: 404 (NOT_FOUND) or 400 (INVALID_ARGUMENT)
    return Check("Yandex SpeechKit", True, "ключ принят")


def check_bitrix(s: Settings) -> Check:
    if not s.bitrix_webhook_url:
        return Check("Битрикс24", None, "не подключён (BITRIX_WEBHOOK_URL пуст)")
    from connectors.bitrix import BitrixClient

    try:
        with BitrixClient(s.bitrix_webhook_url, rate_per_second=5, attempts=1) as client:
            leads = client.call("crm.lead.list", {"select": ["ID"], "order": {"ID": "DESC"}})
            client.call("user.get", {"ID": 1})
    except Exception as exc:  # noqa: BLE001
        return Check(
            "Битрикс24",
            False,
            f"ошибка: {exc}",
            "проверьте адрес вебхука и его права: crm и user (Разработчикам → Входящий вебхук)",
        )
    return Check("Битрикс24", True, f"вебхук работает, лидов: {leads.get('total', '?')}")


def check_wms(s: Settings) -> Check:
    if not s.wms_base_url:
        return Check("WMS", None, "не подключена (C360_WMS_BASE_URL пуст)")
    from config.factory import build_wms

    try:
        clients = list(build_wms(s).clients())
    except Exception as exc:  # noqa: BLE001
        return Check("WMS", False, f"ошибка: {exc}", "проверьте C360_WMS_BASE_URL, C360_WMS_TOKEN и C360_WMS_ADAPTER")
    return Check("WMS", True, f"отвечает, клиентов склада: {len(clients)}")


def check_bot(s: Settings) -> Check:
    if not s.telegram_bot_token:
        return Check("Telegram-бот", None, "не настроен: отчёты и тревоги не отправляются")
    from connectors.telegram_bot import TelegramBot

    try:
        with TelegramBot(s.telegram_bot_token, base_url=s.telegram_bot_api_url, attempts=1) as bot:
            me = bot.call("getMe", {})
            missing = []
            for name, chat in (("отчётов", s.report_chat_id), ("тревог", s.alert_chat_id)):
                if not chat:
                    missing.append(f"не задан чат {name}")
                    continue
                bot.call("getChat", {"chat_id": chat})
    except Exception as exc:  # noqa: BLE001
        return Check(
            "Telegram-бот",
            False,
            f"ошибка: {exc}",
            "проверьте TELEGRAM_BOT_TOKEN (@BotFather) и что бот добавлен в группы C360_REPORT_CHAT_ID и "
            "C360_ALERT_CHAT_ID",
        )
    if missing:
        return Check(
            "Telegram-бот",
            False,
            f"бот @{me.get('username')} работает, но {', '.join(missing)}",
            "впишите ID группы (отрицательное число) в C360_REPORT_CHAT_ID / C360_ALERT_CHAT_ID",
        )
    return Check("Telegram-бот", True, f"@{me.get('username')} видит группы отчётов и тревог")


def check_telethon(s: Settings) -> Check:
    if not s.telegram_session:
        return Check("Telegram (аккаунт для переписки)", None, "не настроен: переписка только из экспортов")
    if not (s.telegram_api_id and s.telegram_api_hash):
        return Check(
            "Telegram (аккаунт для переписки)",
            False,
            "нет TELEGRAM_API_ID / TELEGRAM_API_HASH",
            "получите их на my.telegram.org → API development tools",
        )
    from connectors.telegram_user import connect_client

    async def probe() -> str:
        client = connect_client(s.telegram_api_id, s.telegram_api_hash, s.telegram_session)
        await client.connect()
        try:
            if not await client.is_user_authorized():
                raise RuntimeError("сессия не авторизована")
            me = await client.get_me()
            return getattr(me, "username", None) or getattr(me, "phone", "") or "аккаунт"
        finally:
            await client.disconnect()

    try:
        who = asyncio.run(asyncio.wait_for(probe(), 30))
    except Exception as exc:  # noqa: BLE001
        return Check(
            "Telegram (аккаунт для переписки)",
            False,
            f"ошибка: {exc}",
            "создайте сессию заново: client360 telegram login, строки вставьте в .env",
        )
    return Check("Telegram (аккаунт для переписки)", True, f"сессия действует ({who})")


def check_recordings(s: Settings) -> Check:
    folder = s.resolved_recordings_dir
    if folder is None:
        return Check("Папка записей встреч", None, "не задана (C360_RECORDINGS_DIR)")
    if not folder.is_dir():
        return Check(
            "Папка записей встреч",
            False,
            f"{folder} не найдена",
            "смонтируйте NFS-папку Jibri (см. docs/owner-guide.md) и проверьте C360_RECORDINGS_DIR",
        )
    try:
        sessions = sum(1 for _ in folder.iterdir())
    except OSError as exc:
        return Check("Папка записей встреч", False, f"{folder} не читается: {exc}", "проверьте права доступа к NFS")
    return Check("Папка записей встреч", True, f"{folder}: {sessions} записей/папок")


def check_postgres(s: Settings) -> Check:
    import sqlalchemy as sa

    from warehouse.dagster_runs import dagster_pg_url

    url = dagster_pg_url()
    if url is None:
        return Check("PostgreSQL (Dagster)", None, "не используется: Dagster хранит историю в SQLite")
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 10})
        with engine.connect() as con:
            version = con.execute(sa.text("show server_version")).scalar()
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        return Check(
            "PostgreSQL (Dagster)",
            False,
            f"нет подключения: {str(exc).splitlines()[0]}",
            "проверьте DAGSTER_PG_HOST/PORT/DB/USER/PASSWORD и что контейнер postgres запущен",
        )
    return Check("PostgreSQL (Dagster)", True, f"сервер {version}, база {url.database}")


CHECKS = [
    check_glm,
    check_speechkit,
    check_bitrix,
    check_wms,
    check_bot,
    check_telethon,
    check_recordings,
    check_postgres,
]


def run(settings: Settings) -> list[Check]:
    return [check(settings) for check in CHECKS]
