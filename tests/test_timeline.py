"""`client360 timeline`: meetings and chat messages of one client, in time order, filterable."""

import json
from datetime import datetime

from orchestration.definitions import defs
from orchestration.run_once import run_once
from tests.conftest import jibri
from tests.fixtures import telegram_exports as fx
from tests.test_cli import cli
from tests.test_telegram_export import import_file, tg_env, write  # noqa: F401  (fixture)


def test_timeline_merges_sources_in_time_order(tg_env, recordings, instance, tmp_path):  # noqa: F811
    jibri(recordings, "m1", "12345", datetime(2026, 11, 24, 10, 30, 0))  # local (Moscow) time
    jibri(recordings, "m2", "99999", datetime(2026, 11, 24, 11, 0, 0))  # another client
    assert run_once(defs, instance, tg_env, log=lambda *_: None).failed == []
    import_file(instance, write(tmp_path / "e" / "result.json", fx.single_chat_export()))

    events = json.loads(cli("timeline", "12345", "--json", cwd=tmp_path).stdout)
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    meeting = next(e for e in events if e["source"] == "meetings")
    assert meeting["at"] == "2026-11-24 10:30:00" and meeting["ref"].startswith("meeting:20261124-103000-12345-")
    before = [e["ref"] for e in events if e["at"] < meeting["at"]]
    assert before == ["telegram:-1001730156619:100", "telegram:-1001730156619:101", "telegram:-1001730156619:102"]
    assert all("99999" not in e["ref"] for e in events)

    only_chat = json.loads(
        cli("timeline", "12345", "--source", "telegram", "--since", "2026-11-25", "--json", cwd=tmp_path).stdout
    )
    assert [e["ref"] for e in only_chat] == ["telegram:-1001730156619:111"]

    text = cli("timeline", "12345", cwd=tmp_path).stdout
    assert "2026-11-24 10:30  встреча" in text and "сообщение (мы)" in text and "(изменено)" in text
    assert "По клиенту 1 событий нет." in cli("timeline", "1", cwd=tmp_path).stdout
