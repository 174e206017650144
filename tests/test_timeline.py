"""`client360 timeline`: the client's history as the app shows it (the `fct_client_timeline` mart), filterable."""

import json
from datetime import datetime

from config.clock import to_local
from orchestration.definitions import build_defs
from orchestration.run_once import run_once
from tests.conftest import jibri, query
from tests.fixtures import telegram_exports as fx
from tests.test_cli import cli
from tests.test_dbt_project import build
from tests.test_telegram_export import import_file, tg_env, write  # noqa: F401  (fixture)


def test_timeline_is_the_marts_history_in_time_order(tg_env, recordings, instance, tmp_path):  # noqa: F811
    assert "По клиенту 12345 событий нет." in cli("timeline", "12345", cwd=tmp_path).stdout  # nothing built yet
    jibri(recordings, "m1", "12345", datetime(2026, 11, 24, 10, 30, 0))  # local (Moscow) time
    jibri(recordings, "m2", "99999", datetime(2026, 11, 24, 11, 0, 0))  # another client
    assert run_once(build_defs(), instance, tg_env, log=lambda *_: None).failed == []
    import_file(instance, write(tmp_path / "e" / "result.json", fx.single_chat_export()))
    sent = query(tg_env, "select sent_at from raw.telegram_messages where kind = 'message'")
    days = sorted({to_local(r["sent_at"], tg_env.tz).date().isoformat() for r in sent})
    assert len(days) >= 2
    for day in days:
        job = build_defs().resolve_job_def("telegram_summary_job")
        assert job.execute_in_process(instance=instance, partition_key=day, raise_on_error=False).success
    assert build(instance).success

    events = json.loads(cli("timeline", "12345", "--json", cwd=tmp_path).stdout)
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    meeting = next(e for e in events if e["source"] == "meetings")
    assert meeting["at"] == "2026-11-24 10:30:00" and meeting["ref"].startswith("meeting:20261124-103000-12345-")
    assert [e["ref"] for e in events if e["source"] == "telegram"] == [f"telegram_day:12345:{d}" for d in days]
    assert all(e["kind"] == "переписка за день" and e["text"] for e in events if e["source"] == "telegram")
    assert all("99999" not in e["ref"] for e in events)
    mart = query(tg_env, "select ref from marts.fct_client_timeline where client_id = '12345' order by ref")
    assert sorted(e["ref"] for e in events) == [r["ref"] for r in mart], "the same history the app reads"

    only_chat = json.loads(
        cli("timeline", "12345", "--source", "telegram", "--since", days[-1], "--json", cwd=tmp_path).stdout
    )
    assert [e["ref"] for e in only_chat] == [f"telegram_day:12345:{days[-1]}"]

    text = cli("timeline", "12345", cwd=tmp_path).stdout
    assert "2026-11-24 10:30  встреча" in text and "переписка за день" in text
    assert "По клиенту 1 событий нет." in cli("timeline", "1", cwd=tmp_path).stdout
