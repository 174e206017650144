from __future__ import annotations

from datetime import datetime

import dagster as dg
import pytest

from config.settings import get_settings
from devkit.demo import write_jibri_session
from tests.fakes.glm import FakeGLM
from tests.fakes.speechkit import FakeSpeechKit
from tests.fakes.telegram import FakeTelegramBotApi

DIALOGUE = [
    ("Анна Соколова", "Добрый день! Обсудим поставки на Ozon на следующую неделю."),
    ("Ольга Смирнова", "В прошлую поставку был пересорт, Wildberries выставил штраф."),
    ("Анна Соколова", "Договорились: проверим ошибку и пришлём акт до пятницы."),
]


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "calendar: depends on «today» (Settings.today()); .ci/run runs these again with C360_TODAY at hard dates",
    )


@pytest.fixture
def env(tmp_path, monkeypatch):
    """An isolated, offline configuration: data and recordings under tmp_path, no keys."""
    monkeypatch.chdir(tmp_path)  # no developer's .env leaks in
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "C360_REPORT_CHAT_ID",
        "ZHIPUAI_API_KEY",
        "YANDEX_API_KEY",
        "DAGSTER_HOME",
        "C360_APP_DB_URL",
        "C360_TELEGRAM_BOT_API_URL",
        "C360_SPEECHKIT_BASE_URL",
        "C360_GLM_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("C360_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("C360_RECORDINGS_DIR", str(tmp_path / "recordings"))
    monkeypatch.setenv("C360_LLM_PROVIDER", "offline")
    monkeypatch.setenv("C360_STT_PROVIDER", "sidecar")
    monkeypatch.setenv("C360_TIMEZONE", "Europe/Moscow")
    (tmp_path / "recordings").mkdir()
    return get_settings()


@pytest.fixture
def recordings(env):
    return env.recordings_dir


@pytest.fixture
def instance(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as inst:
        yield inst


@pytest.fixture
def telegram(monkeypatch):
    with FakeTelegramBotApi() as server:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", server.token)
        monkeypatch.setenv("C360_TELEGRAM_BOT_API_URL", server.url)
        monkeypatch.setenv("C360_REPORT_CHAT_ID", "-1001234567890")
        yield server


@pytest.fixture
def speechkit(monkeypatch):
    with FakeSpeechKit() as server:
        monkeypatch.setenv("YANDEX_API_KEY", server.api_key)
        monkeypatch.setenv("C360_SPEECHKIT_BASE_URL", server.url)
        yield server


@pytest.fixture
def glm(monkeypatch):
    with FakeGLM() as server:
        monkeypatch.setenv("ZHIPUAI_API_KEY", server.api_key)
        monkeypatch.setenv("C360_GLM_BASE_URL", server.base_url)
        yield server


def glm_env(monkeypatch, server: FakeGLM, telegram, alert_chat: str = "-1009876543210") -> None:
    """GLM as configured in production: the factory's clients, the alert group (topic 7) on the fake Bot API."""
    monkeypatch.setenv("C360_LLM_PROVIDER", "glm")
    monkeypatch.setenv("ZHIPUAI_API_KEY", server.api_key)
    monkeypatch.setenv("C360_GLM_BASE_URL", server.base_url)
    monkeypatch.setenv("C360_ALERT_CHAT_ID", alert_chat)
    monkeypatch.setenv("C360_ALERT_THREAD_ID", "7")
    telegram.forums = {"-1009876543210": {7}}


def jibri(root, session: str, lead: str, started: datetime, lines=DIALOGUE, **kw):
    return write_jibri_session(root, session, f"client-{lead}", started, lines, **kw)


def pull_wms_world(settings, instance, monkeypatch, world) -> None:
    """Every client of a simulated WMS mapped to its lead, and the whole history pulled through the WMS assets."""
    from assets.wms.assets import wms_assets
    from devkit.wms_sim import WmsSimulator
    from orchestration.resources import all_resources
    from warehouse.aliases import save_alias

    for c in world.clients:
        save_alias(settings.resolved_aliases_file, "wms_client", c.wms_id, c.lead_id)
    with WmsSimulator(world) as sim:
        monkeypatch.setenv("C360_WMS_BASE_URL", sim.url)
        monkeypatch.setenv("C360_WMS_TOKEN", sim.token)
        assert dg.materialize(wms_assets, resources=all_resources(), instance=instance).success


def build_views(instance) -> None:
    """The dbt staging and intermediate views that readers outside dbt query, made once per warehouse as its first
    build makes them (a test running a Python asset without a warehouse build first)."""
    from orchestration.dbt import dbt_resource, warehouse_models
    from warehouse.duck import connect

    with connect(get_settings().warehouse_path) as con:
        if con.execute("select count(*) from duckdb_views() where schema_name = 'intermediate'").fetchone()[0]:
            return
    views = dg.AssetSelection.groups("dbt_staging", "dbt_intermediate")
    result = dg.materialize([warehouse_models], selection=views, resources={"dbt": dbt_resource()}, instance=instance)
    assert result.success


def query(settings, sql, params=None) -> list[dict]:
    """Rows of a query on the warehouse, read-only, as dicts."""
    from warehouse.duck import connect, fetch_dicts

    with connect(settings.warehouse_path, read_only=True) as con:
        return fetch_dicts(con, sql, params)


def metadata_of(result, node: str) -> dict:
    """The metadata values of the one materialization of `node` in a run result."""
    [mat] = result.asset_materializations_for_node(node)
    return {k: v.value for k, v in mat.metadata.items()}
