"""Dagster resources: each declares the settings it uses as fields (shown in the Dagster UI) and builds its connector
clients from them. A secret is an `EnvVar` (its name, resolved when a run starts), never a value in the definitions.
Assets, checks and sensors take them as typed parameters named like their keys; orchestration.resources builds them."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from config.settings import Settings, get_settings

# the clients are built (and their SDKs imported: LanceDB, Telethon, zhipuai, SQLAlchemy, …) when a step asks for
# one, not when the code location is loaded: every run and every step process loads it
if TYPE_CHECKING:
    import duckdb

    from assets.meetings.discovery import RecordingsFolder
    from connectors.bitrix import BitrixClient
    from connectors.llm import LLMClient
    from connectors.stt import SttProvider
    from connectors.telegram_bot import ChatTarget, TelegramBot
    from connectors.telegram_user import TelegramUserClient
    from connectors.wms import WmsAdapter
    from rag.embeddings import Embedder
    from rag.index import RagIndex
    from warehouse.aliases import Aliases
    from warehouse.appdb import AppDB


def _data_dir():
    return Field(description="Папка данных (C360_DATA_DIR)")


def _secret(env: str):
    return Field(None, description=f"Секрет из переменной окружения {env} (значение в определениях не хранится)")


class SettingsResource(dg.ConfigurableResource):
    """A resource whose fields are Settings fields of the same names."""

    def settings(self) -> Settings:
        """The settings with this resource's fields in place of the environment's (what the connector factories
        take); model_validate reads no environment."""
        own = {name: getattr(self, name) for name in type(self).model_fields}
        # resolved when Dagster initializes the resource for a run or a tick; a resource used as constructed is not
        own = {k: v.get_value() if isinstance(v, dg.EnvVar) else v for k, v in own.items()}
        return Settings.model_validate({**get_settings().model_dump(), **own})


class WarehouseResource(SettingsResource):
    """DuckDB warehouse (<data dir>/warehouse.duckdb); connections are opened per write and closed at once."""

    data_dir: str = _data_dir()
    aliases_file: str = Field(description="Файл привязок id других систем к ID лида (C360_ALIASES_FILE)")
    identity_auto_inn: bool = Field(
        description="Клиент WMS с ИНН ровно одного лида привязывается к нему сам (C360_IDENTITY_AUTO_INN)"
    )

    @property
    def path(self) -> Path:
        return self.settings().warehouse_path

    def connect(self, read_only: bool = False) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        from warehouse import duck

        return duck.connect(self.path, read_only=read_only)

    def aliases(self) -> Aliases:
        from warehouse.aliases import load_aliases

        return load_aliases(Path(self.aliases_file))


class RecordingsResource(SettingsResource):
    """The Jibri recordings folder and the room-name prefix."""

    recordings_dir: str = Field(description="Папка записей Jitsi/Jibri (C360_RECORDINGS_DIR)")
    room_prefix: str = Field(description="Префикс имени комнаты перед ID лида (C360_ROOM_PREFIX)")
    timezone: str = Field(description="Часовой пояс команды (C360_TIMEZONE)")
    file_quiet_seconds: int = Field(description="Файл без изменений столько секунд считается дописанным")
    aliases_file: str = Field(description="Файл привязок id других систем к ID лида (C360_ALIASES_FILE)")

    def folder(self) -> RecordingsFolder:
        from assets.meetings.discovery import RecordingsFolder
        from warehouse.aliases import load_aliases

        s = self.settings()
        aliases = load_aliases(s.resolved_aliases_file)
        return RecordingsFolder(
            s.resolved_recordings_dir,
            prefix=s.room_prefix,
            tz=s.tz,
            quiet_seconds=s.file_quiet_seconds,
            aliases={external: lead for (system, external), lead in aliases.items() if system == "recording"},
        )


class TelegramExportsResource(SettingsResource):
    """The folder of Telegram Desktop exports (result.json) the exports sensor watches."""

    telegram_export_dir: str | None = Field(None, description="Папка экспортов Telegram (C360_TELEGRAM_EXPORT_DIR)")
    file_quiet_seconds: int = Field(description="Файл без изменений столько секунд считается дописанным")

    def folder(self) -> Path | None:
        return Path(self.telegram_export_dir) if self.telegram_export_dir else None


class LLMResource(SettingsResource):
    """GLM via zhipuai (llm_provider glm, answers cached in the data dir) or the offline extractive provider."""

    data_dir: str = _data_dir()
    llm_provider: str = Field(description="Поставщик LLM: glm или offline (C360_LLM_PROVIDER)")
    zhipuai_api_key: str | None = _secret("ZHIPUAI_API_KEY")
    glm_model: str = Field(description="Модель GLM (C360_GLM_MODEL)")
    glm_thinking: str = Field(description="Размышление GLM-4.5 и новее: disabled или enabled (C360_GLM_THINKING)")
    glm_base_url: str = Field(description="Адрес API GLM (C360_GLM_BASE_URL)")
    glm_timeout_seconds: float = Field(description="Тайм-аут запроса к GLM, секунд")
    llm_max_input_chars: int = Field(description="Предел длины текста, отдаваемого LLM, символов")

    def client(self) -> LLMClient:
        from config.factory import build_llm

        return build_llm(self.settings())

    def max_input_chars(self) -> int:
        return self.llm_max_input_chars


class SttResource(SettingsResource):
    """Speech-to-text: Yandex SpeechKit or sidecar transcripts."""

    stt_provider: str = Field(description="Распознавание речи: speechkit или sidecar (C360_STT_PROVIDER)")
    yandex_api_key: str | None = _secret("YANDEX_API_KEY")
    yandex_folder_id: str | None = Field(None, description="Каталог Yandex Cloud (YANDEX_FOLDER_ID)")
    speechkit_base_url: str = Field(description="Адрес API SpeechKit (C360_SPEECHKIT_BASE_URL)")
    speechkit_operation_url: str | None = Field(None, description="Адрес операций SpeechKit, если другой")
    speechkit_model: str = Field(description="Модель распознавания SpeechKit (C360_SPEECHKIT_MODEL)")
    speechkit_timeout_seconds: float = Field(description="Сколько ждать распознавания записи, секунд")
    speechkit_max_inline_mb: float = Field(
        description="Больше стольких МБ звука запись отправляется частями (C360_SPEECHKIT_MAX_INLINE_MB, лимит 60)"
    )
    speechkit_max_audio_seconds: float = Field(
        description="Длиннее стольких секунд запись отправляется частями (C360_SPEECHKIT_MAX_AUDIO_SECONDS, лимит 4 ч)"
    )
    data_dir: str = _data_dir()

    def provider(self) -> SttProvider:
        from config.factory import build_stt

        return build_stt(self.settings())


class TelegramBotResource(SettingsResource):
    """Telegram Bot API for reports and alerts."""

    telegram_bot_token: str | None = _secret("TELEGRAM_BOT_TOKEN")
    telegram_bot_api_url: str = Field(description="Адрес Bot API (C360_TELEGRAM_BOT_API_URL)")
    report_chat_id: str | None = Field(None, description="Чат ежедневного отчёта кураторам (C360_REPORT_CHAT_ID)")
    alert_chat_id: str | None = Field(None, description="Группа тревог и сбоев (C360_ALERT_CHAT_ID)")
    report_thread_id: int | None = Field(
        None, description="Тема форума для отчёта в группе кураторов (C360_REPORT_THREAD_ID); пусто — сама группа"
    )
    alert_thread_id: int | None = Field(
        None, description="Тема форума для тревог и сбоев (C360_ALERT_THREAD_ID); пусто — сама группа"
    )
    dagster_url: str = Field(description="Адрес Dagster для ссылок в уведомлениях о сбоях (C360_DAGSTER_URL)")

    def configured(self) -> bool:
        return bool(self.telegram_bot_token and self.report_chat_id)

    def alerts_configured(self) -> bool:
        return bool(self.telegram_bot_token and self.alert_chat_id)

    def report_chat(self) -> ChatTarget:
        from connectors.telegram_bot import ChatTarget

        return ChatTarget(str(self.report_chat_id), self.report_thread_id, "C360_REPORT_CHAT_ID")

    def alert_chat(self) -> ChatTarget:
        from connectors.telegram_bot import ChatTarget

        return ChatTarget(str(self.alert_chat_id), self.alert_thread_id, "C360_ALERT_CHAT_ID")

    def bot(self) -> TelegramBot:
        from config.factory import build_bot

        return build_bot(self.settings())


class AppDBResource(SettingsResource):
    """The app DB (SQLite in the data dir unless C360_APP_DB_URL): ledgers of sent reports, staff, notes."""

    app_db_url: str | None = _secret("C360_APP_DB_URL")
    data_dir: str = _data_dir()

    def db(self) -> AppDB:
        from warehouse.appdb import AppDB

        return AppDB(self.settings().resolved_app_db_url)


class TelegramUserResource(SettingsResource):
    """A staff member's Telegram account via Telethon."""

    telegram_api_id: int | None = Field(None, description="api_id приложения Telegram (TELEGRAM_API_ID)")
    telegram_api_hash: str | None = _secret("TELEGRAM_API_HASH")
    telegram_session: str | None = _secret("TELEGRAM_SESSION")
    telegram_staff_ids: str = Field("", description="Telegram id сотрудников через запятую (C360_TELEGRAM_STAFF_IDS)")

    def client(self) -> TelegramUserClient:
        from connectors.telegram_user import TelegramUserClient, connect_client

        s = self.settings()
        return TelegramUserClient(
            connect_client(s.telegram_api_id, s.telegram_api_hash, s.telegram_session), staff_ids=s.staff_ids
        )


class BitrixResource(SettingsResource):
    """Bitrix24 REST via the incoming webhook, rate-limited."""

    bitrix_webhook_url: str | None = _secret("BITRIX_WEBHOOK_URL")
    bitrix_rate_per_second: float = Field(description="Запросов к Битрикс24 в секунду (C360_BITRIX_RATE)")
    bitrix_limit_wait_seconds: float = Field(
        description="Сколько всего ждать сброса лимита времени метода Битрикс24, с (C360_BITRIX_LIMIT_WAIT_SECONDS)"
    )
    bitrix_copilot_wait_hours: float = Field(
        description="Сколько часов после звонка ждать расшифровку CoPilot, прежде чем отправить запись в SpeechKit "
        "(C360_BITRIX_COPILOT_WAIT_HOURS)"
    )
    bitrix_recording_retries: int = Field(
        description="Сколько запусков повторять звонок без доступа к записи или с прерванным распознаванием "
        "(C360_BITRIX_RECORDING_RETRIES)"
    )

    def client(self) -> BitrixClient:
        from connectors.bitrix import BitrixClient

        return BitrixClient(
            self.bitrix_webhook_url or "",
            rate_per_second=self.bitrix_rate_per_second,
            max_limit_wait=self.bitrix_limit_wait_seconds,
        )


class WmsResource(SettingsResource):
    """The warehouse system's API through the adapter named in wms_adapter."""

    wms_adapter: str = Field(description="Адаптер API WMS: reference или package.module:Class (C360_WMS_ADAPTER)")
    wms_base_url: str | None = Field(None, description="Адрес API WMS (C360_WMS_BASE_URL)")
    wms_token: str | None = _secret("C360_WMS_TOKEN")

    def adapter(self) -> WmsAdapter:
        from config.factory import build_wms

        return build_wms(self.settings())


class RagResource(SettingsResource):
    """The per-client search index (LanceDB in the data dir) and the embeddings provider."""

    data_dir: str = _data_dir()
    embed_provider: str = Field(description="Эмбеддинги: glm или local (C360_EMBED_PROVIDER)")
    embed_model: str = Field(description="Модель эмбеддингов GLM (C360_EMBED_MODEL)")
    embed_dim: int = Field(description="Размерность векторов (C360_EMBED_DIM)")
    zhipuai_api_key: str | None = _secret("ZHIPUAI_API_KEY")
    glm_base_url: str = Field(description="Адрес API GLM (C360_GLM_BASE_URL)")

    def index(self) -> RagIndex:
        from rag.index import RagIndex

        settings = self.settings()
        return RagIndex(settings.rag_path, settings.embed_dim)

    def embedder(self) -> Embedder:
        from rag.embeddings import build_embedder

        return build_embedder(self.settings())
