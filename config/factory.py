"""Build connector clients from the one settings object (used by Dagster resources and the CLI alike)."""

from __future__ import annotations

from config.delivery import deliver_report
from config.settings import Settings
from connectors.llm import GLMClient, LLMClient, OfflineLLM, ResponseCache
from connectors.llm.base import OnceNotice
from connectors.stt import SidecarStt, SpeechKitStt, SttProvider
from connectors.telegram_bot import ChatTarget, TelegramBot, escape
from connectors.wms import WmsAdapter, adapter_class


def build_llm(settings: Settings) -> LLMClient:
    provider = settings.llm_provider.lower()
    if provider == "offline":
        return OfflineLLM()
    if provider == "glm":
        return GLMClient(
            settings.zhipuai_api_key or "",
            model=settings.glm_model,
            base_url=settings.glm_base_url,
            cache=ResponseCache(settings.llm_cache_path),
            timeout=settings.glm_timeout_seconds,
            thinking=settings.glm_thinking,
            notice=glm_account_notice(settings),
        )
    raise ValueError(f"неизвестный C360_LLM_PROVIDER={settings.llm_provider!r} (допустимо: glm, offline)")


def glm_account_notice(settings: Settings) -> OnceNotice | None:
    """The owner hears of a GLM account problem (no balance, locked) once, in the alert group; None without one.
    Sent like every other message to a chat: the ledger in the app DB, a group that became a supergroup followed."""
    if not (settings.telegram_bot_token and settings.alert_chat_id):
        return None
    from warehouse.appdb import AppDB

    def send(key: str, text: str) -> None:
        chat = ChatTarget(settings.alert_chat_id, settings.alert_thread_id, "C360_ALERT_CHAT_ID")
        db = AppDB(settings.resolved_app_db_url)
        try:
            with build_bot(settings) as bot:
                deliver_report(bot, db, chat, key, escape(text))
        finally:
            db.dispose()

    return OnceNotice(settings.state_dir / "glm_account_notice.json", send)


def build_stt(settings: Settings) -> SttProvider:
    provider = settings.stt_provider.lower()
    if provider == "sidecar":
        return SidecarStt()
    if provider == "speechkit":
        return SpeechKitStt(
            settings.yandex_api_key or "",
            base_url=settings.speechkit_base_url,
            operation_url=settings.resolved_speechkit_operation_url,
            folder_id=settings.yandex_folder_id,
            model=settings.speechkit_model,
            timeout_seconds=settings.speechkit_timeout_seconds,
            max_inline_bytes=int(settings.speechkit_max_inline_mb * 2**20),
            max_audio_seconds=settings.speechkit_max_audio_seconds,
            ledger_path=settings.state_dir / "speechkit_operations.sqlite",
        )
    raise ValueError(f"неизвестный C360_STT_PROVIDER={settings.stt_provider!r} (допустимо: speechkit, sidecar)")


def build_bot(settings: Settings) -> TelegramBot:
    return TelegramBot(settings.telegram_bot_token or "", base_url=settings.telegram_bot_api_url)


def build_wms(settings: Settings) -> WmsAdapter:
    return adapter_class(settings.wms_adapter)(settings.wms_base_url or "", settings.wms_token or "")
