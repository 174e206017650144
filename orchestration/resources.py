"""The code location's resources, configured from the settings (the classes are in `assets.resources`)."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from assets.resources import (
    AppDBResource,
    BitrixResource,
    LLMResource,
    RagResource,
    RecordingsResource,
    SettingsResource,
    SttResource,
    TelegramBotResource,
    TelegramExportsResource,
    TelegramUserResource,
    WarehouseResource,
    WmsResource,
)
from config.settings import Settings, get_settings

# Settings fields that are secrets (or may hold one: a database URL with a password) → their environment variable
SECRETS = {
    "zhipuai_api_key": "ZHIPUAI_API_KEY",
    "yandex_api_key": "YANDEX_API_KEY",
    "telegram_bot_token": "TELEGRAM_BOT_TOKEN",
    "telegram_api_hash": "TELEGRAM_API_HASH",
    "telegram_session": "TELEGRAM_SESSION",
    "bitrix_webhook_url": "BITRIX_WEBHOOK_URL",
    "wms_token": "C360_WMS_TOKEN",
    "app_db_url": "C360_APP_DB_URL",
}
# paths whose default lies under the data dir: the resource shows the one in use
RESOLVED = {"recordings_dir": "resolved_recordings_dir", "aliases_file": "resolved_aliases_file"}


RESOURCES: dict[str, type[SettingsResource]] = {
    "warehouse": WarehouseResource,
    "recordings": RecordingsResource,
    "telegram_exports": TelegramExportsResource,
    "llm": LLMResource,
    "stt": SttResource,
    "telegram": TelegramBotResource,
    "app_db": AppDBResource,
    "telegram_user": TelegramUserResource,
    "bitrix": BitrixResource,
    "wms": WmsResource,
    "rag": RagResource,
}


def field_value(settings: Settings, name: str):
    """A Settings field as a resource field: a secret set in the environment with this value is its EnvVar (an unset
    one is None; one given explicitly, as the demo's simulator token, stays as given), a path a string."""
    value = getattr(settings, RESOLVED.get(name, name))
    if name in SECRETS and value is not None and os.environ.get(SECRETS[name]) == value:
        return dg.EnvVar(SECRETS[name])
    return str(value) if isinstance(value, Path) else value


def all_resources(settings: Settings | None = None) -> dict[str, dg.ConfigurableResource]:
    """Every resource of the code location, configured from these settings (by default the environment's)."""
    from orchestration.dbt import dbt_resource  # dbt's manifest is parsed on import: not for every resource user

    settings = settings or get_settings()
    built: dict[str, dg.ConfigurableResource] = {
        key: cls(**{name: field_value(settings, name) for name in cls.model_fields}) for key, cls in RESOURCES.items()
    }
    return {**built, "dbt": dbt_resource(settings=settings)}
