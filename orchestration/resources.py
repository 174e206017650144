"""Dagster resources: thin wrappers that build connector clients from the one settings object."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import dagster as dg

from config.settings import get_settings

# the clients are built (and their SDKs imported: LanceDB, Telethon, zhipuai, SQLAlchemy, …) when a step asks for
# one, not when the code location is loaded: every run and every step process loads it
if TYPE_CHECKING:
    import duckdb

    from assets.meetings.discovery import RecordingsFolder
    from connectors.bitrix import BitrixClient
    from connectors.llm import LLMClient
    from connectors.stt import SttProvider
    from connectors.telegram_bot import TelegramBot
    from connectors.telegram_user import TelegramUserClient
    from connectors.wms import WmsAdapter
    from rag.embeddings import Embedder
    from rag.index import RagIndex
    from warehouse.appdb import AppDB


class WarehouseResource(dg.ConfigurableResource):
    """DuckDB warehouse (C360_DATA_DIR/warehouse.duckdb); connections are opened per write and closed at once."""

    def connect(self, read_only: bool = False) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        from warehouse import duck

        return duck.connect(get_settings().warehouse_path, read_only=read_only)


class RecordingsResource(dg.ConfigurableResource):
    """The Jibri recordings folder (C360_RECORDINGS_DIR) and the room-name prefix."""

    def folder(self) -> RecordingsFolder:
        from assets.meetings.discovery import RecordingsFolder
        from warehouse.aliases import load_aliases

        s = get_settings()
        aliases = load_aliases(s.resolved_aliases_file)
        return RecordingsFolder(
            s.resolved_recordings_dir,
            prefix=s.room_prefix,
            tz=s.tz,
            quiet_seconds=s.file_quiet_seconds,
            aliases={external: lead for (system, external), lead in aliases.items() if system == "recording"},
        )


class LLMResource(dg.ConfigurableResource):
    """GLM via zhipuai (C360_LLM_PROVIDER=glm) or the offline extractive provider."""

    def client(self) -> LLMClient:
        from config.factory import build_llm

        return build_llm(get_settings())

    def max_input_chars(self) -> int:
        return get_settings().llm_max_input_chars


class SttResource(dg.ConfigurableResource):
    """Speech-to-text: Yandex SpeechKit or sidecar transcripts (C360_STT_PROVIDER)."""

    def provider(self) -> SttProvider:
        from config.factory import build_stt

        return build_stt(get_settings())


class TelegramBotResource(dg.ConfigurableResource):
    """Telegram Bot API for reports and alerts."""

    def configured(self) -> bool:
        s = get_settings()
        return bool(s.telegram_bot_token and s.report_chat_id)

    def bot(self) -> TelegramBot:
        from config.factory import build_bot

        return build_bot(get_settings())

    def report_chat_id(self) -> str:
        return get_settings().report_chat_id or ""


class AppDBResource(dg.ConfigurableResource):
    """The app DB (C360_APP_DB_URL; SQLite in the data dir by default): ledgers of sent reports."""

    def db(self) -> AppDB:
        from warehouse.appdb import AppDB

        return AppDB(get_settings().resolved_app_db_url)


class TelegramUserResource(dg.ConfigurableResource):
    """A staff member's Telegram account via Telethon (TELEGRAM_API_ID, TELEGRAM_API_HASH, TELEGRAM_SESSION)."""

    def client(self) -> TelegramUserClient:
        from connectors.telegram_user import TelegramUserClient, connect_client

        s = get_settings()
        return TelegramUserClient(
            connect_client(s.telegram_api_id, s.telegram_api_hash, s.telegram_session), staff_ids=s.staff_ids
        )


class BitrixResource(dg.ConfigurableResource):
    """Bitrix24 REST via the incoming webhook (BITRIX_WEBHOOK_URL), rate-limited (C360_BITRIX_RATE)."""

    def client(self) -> BitrixClient:
        from connectors.bitrix import BitrixClient

        s = get_settings()
        return BitrixClient(s.bitrix_webhook_url or "", rate_per_second=s.bitrix_rate_per_second)


class WmsResource(dg.ConfigurableResource):
    """The warehouse system's API (C360_WMS_BASE_URL, C360_WMS_TOKEN) through the adapter in C360_WMS_ADAPTER."""

    def adapter(self) -> WmsAdapter:
        from config.factory import build_wms

        return build_wms(get_settings())


class RagResource(dg.ConfigurableResource):
    """The per-client search index (LanceDB in the data dir) and the embeddings provider (C360_EMBED_PROVIDER)."""

    def index(self) -> RagIndex:
        from rag.index import RagIndex

        settings = get_settings()
        return RagIndex(settings.rag_path, settings.embed_dim)

    def embedder(self) -> Embedder:
        from rag.embeddings import build_embedder

        return build_embedder(get_settings())


def all_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        "warehouse": WarehouseResource(),
        "recordings": RecordingsResource(),
        "llm": LLMResource(),
        "stt": SttResource(),
        "telegram": TelegramBotResource(),
        "app_db": AppDBResource(),
        "telegram_user": TelegramUserResource(),
        "bitrix": BitrixResource(),
        "wms": WmsResource(),
        "rag": RagResource(),
    }
