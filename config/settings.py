"""The one settings object: environment variables (and `.env`), names from the design contract."""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

GLM_THINKING = ("disabled", "enabled")
EMBED_DIMS = (256, 512, 1024, 2048)  # embedding-3 `dimensions` (docs.bigmodel.cn «文本嵌入», the API reference)
EMBED_DEFAULT_DIM = {"local": 300, "glm": 1024}  # local: navec's vectors are 300-d


def _env(name: str, default=None, **kw):
    return Field(default, validation_alias=name, **kw)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True, env_ignore_empty=True)

    # storage
    data_dir: Path = _env("C360_DATA_DIR", Path("./data"))
    recordings_dir: Path | None = _env("C360_RECORDINGS_DIR")
    app_db_url: str | None = _env("C360_APP_DB_URL")
    timezone: str = _env("C360_TIMEZONE", "Europe/Moscow")
    # «today» for the whole system (demo world, simulators, reports, models); unset = the real date. Tests pin it
    # to a Sunday, the 1st of a month, 1 January… so nothing depends on the calendar of the day they run
    today_override: date | None = _env("C360_TODAY")
    # the curators' app: a login lasts a working day at most and ends after two idle hours
    app_session_hours: float = _env("C360_APP_SESSION_HOURS", 12.0)
    app_idle_minutes: float = _env("C360_APP_IDLE_MINUTES", 120.0)
    # addresses or networks of the reverse proxy (Caddy) whose X-Forwarded-For / -Proto the app believes;
    # comma-separated, empty = none (the connecting address is the client's)
    trusted_proxies: str = _env("C360_TRUSTED_PROXIES", "")

    # meetings
    room_prefix: str = _env("C360_ROOM_PREFIX", "client")
    # a plain file untouched this long is complete even without a previous sensor tick (one-shot runs)
    file_quiet_seconds: int = _env("C360_FILE_QUIET_SECONDS", 300)

    # LLM
    llm_provider: str = _env("C360_LLM_PROVIDER", "offline")
    zhipuai_api_key: str | None = _env("ZHIPUAI_API_KEY")
    glm_base_url: str = _env("C360_GLM_BASE_URL", "https://open.bigmodel.cn/api/paas/v4/")
    glm_model: str = _env("C360_GLM_MODEL", "glm-4-flash-250414")
    # thinking of GLM-4.5 and later (on by default there): summaries and extraction need none; enabled: slower, dearer
    glm_thinking: str = _env("C360_GLM_THINKING", "disabled")
    glm_timeout_seconds: float = _env("C360_GLM_TIMEOUT_SECONDS", 120.0)
    llm_max_input_chars: int = _env("C360_LLM_MAX_INPUT_CHARS", 60000)
    embed_provider: str = _env("C360_EMBED_PROVIDER", "local")
    embed_model: str = _env("C360_EMBED_MODEL", "embedding-3")
    embed_dim: int = _env("C360_EMBED_DIM", 0)  # 0: the provider's own (local 300, glm 1024)

    # speech-to-text
    stt_provider: str = _env("C360_STT_PROVIDER", "sidecar")
    yandex_api_key: str | None = _env("YANDEX_API_KEY")
    yandex_folder_id: str | None = _env("YANDEX_FOLDER_ID")
    speechkit_base_url: str = _env("C360_SPEECHKIT_BASE_URL", "https://stt.api.cloud.yandex.net")
    # SpeechKit polls operations on another host; when the base URL is overridden (tests, proxy) both live there
    speechkit_operation_url: str | None = _env("C360_SPEECHKIT_OPERATION_URL")
    speechkit_model: str = _env("C360_SPEECHKIT_MODEL", "general")
    speechkit_timeout_seconds: float = _env("C360_SPEECHKIT_TIMEOUT_SECONDS", 4 * 3600.0)
    # SpeechKit's async limits (docs: speechkit/concepts/limits): a longer or larger recording goes in parts
    speechkit_max_inline_mb: float = _env("C360_SPEECHKIT_MAX_INLINE_MB", 60.0)
    speechkit_max_audio_seconds: float = _env("C360_SPEECHKIT_MAX_AUDIO_SECONDS", 4 * 3600.0)

    # Telegram Bot API (reports, alerts)
    telegram_bot_token: str | None = _env("TELEGRAM_BOT_TOKEN")
    telegram_bot_api_url: str = _env("C360_TELEGRAM_BOT_API_URL", "https://api.telegram.org")
    report_chat_id: str | None = _env("C360_REPORT_CHAT_ID")
    alert_chat_id: str | None = _env("C360_ALERT_CHAT_ID")
    # forum groups: the topic (message_thread_id) each message goes to; unset = the group itself
    report_thread_id: int | None = _env("C360_REPORT_THREAD_ID")
    alert_thread_id: int | None = _env("C360_ALERT_THREAD_ID")
    report_hour: int = _env("C360_REPORT_HOUR", 9)
    dagster_url: str = _env("C360_DAGSTER_URL", "http://127.0.0.1:3000")  # links in failure notices
    app_url: str = _env("C360_APP_URL", "http://127.0.0.1:7860")  # the curators' app, as linked from the alerts
    backup_dir: Path = _env("C360_BACKUP_DIR", Path("./backups"))
    backup_keep_days: int = _env("C360_BACKUP_KEEP_DAYS", 14)
    price_glm_rub_per_mtokens: float | None = _env("C360_PRICE_GLM_RUB_PER_MTOKENS")  # for `client360 usage`
    price_speechkit_rub_per_min: float | None = _env("C360_PRICE_SPEECHKIT_RUB_PER_MIN")
    partitions_start: str = _env("C360_PARTITIONS_START", "2025-01-01")
    # `client360 run` makes the daily summaries missing for up to this many days back (after downtime)
    catchup_days: int = _env("C360_CATCHUP_DAYS", 7)

    # Telegram user account (Telethon)
    telegram_api_id: int | None = _env("TELEGRAM_API_ID")
    telegram_api_hash: str | None = _env("TELEGRAM_API_HASH")
    telegram_session: str | None = _env("TELEGRAM_SESSION")
    telegram_export_dir: Path | None = _env("C360_TELEGRAM_EXPORT_DIR")
    # staff Telegram user ids besides the pulling account itself (comma-separated): their messages are "ours"
    telegram_staff_ids: str = _env("C360_TELEGRAM_STAFF_IDS", "")
    telegram_pull_cron: str = _env("C360_TELEGRAM_PULL_CRON", "0 6 * * *")
    telegram_edit_lookback_days: int = _env("C360_TELEGRAM_EDIT_LOOKBACK_DAYS", 3)
    # editable mapping of other systems' ids to client_id (CSV: system,external_id,client_id,note)
    aliases_file: Path | None = _env("C360_ALIASES_FILE")
    # a WMS client whose INN is that of exactly one lead's company or contact is linked to it without asking
    identity_auto_inn: bool = _env("C360_IDENTITY_AUTO_INN", True)
    # a WMS client linked to no lead yet: in the app only for admins (and viewers), or for every curator too
    unlinked_visible_to_all: bool = _env("C360_UNLINKED_VISIBLE_TO_ALL", False)

    # Bitrix24, WMS
    bitrix_webhook_url: str | None = _env("BITRIX_WEBHOOK_URL")
    bitrix_rate_per_second: float = _env("C360_BITRIX_RATE", 2.0)  # Bitrix24 leaky bucket drains 2 req/s
    bitrix_overlap_minutes: int = _env("C360_BITRIX_OVERLAP_MINUTES", 10)
    # a method out of its time budget (OPERATION_TIME_LIMIT, ten minutes' window) is waited for, this long in all
    bitrix_limit_wait_seconds: float = _env("C360_BITRIX_LIMIT_WAIT_SECONDS", 900.0)
    # a call CoPilot has no transcript for yet (null) is sent to SpeechKit only this long after it ended
    bitrix_copilot_wait_hours: float = _env("C360_BITRIX_COPILOT_WAIT_HOURS", 6.0)
    # runs a call's recording is tried again while the portal denies it (or its recognition broke off), then given up
    bitrix_recording_retries: int = _env("C360_BITRIX_RECORDING_RETRIES", 48)
    bitrix_cron: str = _env("C360_BITRIX_CRON", "0 * * * *")
    wms_base_url: str | None = _env("C360_WMS_BASE_URL")
    wms_token: str | None = _env("C360_WMS_TOKEN")
    # adapter by name ("reference") or "package.module:Class" for another WMS API shape
    wms_adapter: str = _env("C360_WMS_ADAPTER", "reference")
    wms_overlap_days: int = _env("C360_WMS_OVERLAP_DAYS", 3)  # statuses change after creation: re-read a window
    wms_history_days: int = _env("C360_WMS_HISTORY_DAYS", 365)  # how far back the first ingest goes
    wms_cron: str = _env("C360_WMS_CRON", "15 * * * *")

    @field_validator("glm_thinking")
    @classmethod
    def _thinking(cls, value: str) -> str:
        if value.strip().lower() not in GLM_THINKING:
            raise ValueError(f"C360_GLM_THINKING={value!r}: допустимо {' или '.join(GLM_THINKING)}")
        return value.strip().lower()

    @model_validator(mode="after")
    def _embed_dim(self) -> Settings:
        provider = self.embed_provider.strip().lower()
        if not self.embed_dim:
            self.embed_dim = EMBED_DEFAULT_DIM.get(provider, 0)
        # GLM's embedding-3 makes only these sizes; the local word vectors only theirs
        if provider == "glm" and self.embed_dim not in EMBED_DIMS:
            raise ValueError(
                f"C360_EMBED_DIM={self.embed_dim}: модель embedding-3 (C360_EMBED_PROVIDER=glm) даёт векторы только "
                f"размерности {', '.join(map(str, EMBED_DIMS))}; выберите одну из них (по умолчанию 1024)"
            )
        if provider == "local" and self.embed_dim != EMBED_DEFAULT_DIM["local"]:
            raise ValueError(
                f"C360_EMBED_DIM={self.embed_dim}: локальные эмбеддинги (C360_EMBED_PROVIDER=local, векторы слов "
                "navec) имеют размерность 300; уберите C360_EMBED_DIM из .env или задайте 300"
            )
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def now(self) -> datetime:
        """The current moment in the team's timezone; with C360_TODAY, the same time of day on that date."""
        real = datetime.now(self.tz)
        if self.today_override is None:
            return real
        return datetime.combine(self.today_override, real.timetz())

    def today(self) -> date:
        return self.now().date()

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def llm_cache_path(self) -> Path:
        return self.data_dir / "llm_cache.sqlite"

    @property
    def serving_path(self) -> Path:  # the app's snapshot of the marts (assets/serving.py)
        return self.data_dir / "serving.duckdb"

    @property
    def rag_path(self) -> Path:
        return self.data_dir / "rag_index"

    @property
    def embed_cache_path(self) -> Path:
        return self.data_dir / "embed_cache.sqlite"

    @property
    def dagster_home(self) -> Path:
        """$DAGSTER_HOME if set; otherwise the embedded instance under the data dir."""
        return Path(os.environ.get("DAGSTER_HOME") or self.data_dir / "dagster_home").resolve()

    @property
    def state_dir(self) -> Path:
        return self.data_dir / "state"

    @property
    def resolved_app_db_url(self) -> str:
        return self.app_db_url or f"sqlite:///{(self.data_dir / 'app.db').resolve()}"

    @property
    def staff_ids(self) -> set[int]:
        return {int(x) for x in self.telegram_staff_ids.replace(";", ",").split(",") if x.strip()}

    @property
    def resolved_aliases_file(self) -> Path:
        return self.aliases_file or self.data_dir / "client_aliases.csv"

    @property
    def resolved_recordings_dir(self) -> Path:
        return self.recordings_dir or self.data_dir / "recordings"

    @property
    def resolved_speechkit_operation_url(self) -> str:
        if self.speechkit_operation_url:
            return self.speechkit_operation_url
        if "stt.api.cloud.yandex.net" in self.speechkit_base_url:
            return "https://operation.api.cloud.yandex.net"
        return self.speechkit_base_url


def get_settings() -> Settings:
    """Read the settings afresh (cheap), so a changed environment or `.env` is always seen."""
    return Settings()
