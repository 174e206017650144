"""A failed run reaches the alert group: which job, which step (asset) failed, the head of its error, a link."""

import dagster as dg

from orchestration.resources import all_resources
from orchestration.sensors import run_failure_notice


@dg.asset(group_name="wms")
def broken_pull():
    raise dg.Failure(description="WMS: HTTP 503 Service Unavailable после 5 попыток")


def test_a_failed_run_is_posted_with_its_error_and_link(env, instance, telegram, monkeypatch):
    monkeypatch.setenv("C360_ALERT_CHAT_ID", "-1009876543210")
    monkeypatch.setenv("C360_DAGSTER_URL", "https://c360.example.ru/dagster")
    result = dg.materialize([broken_pull], instance=instance, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_notice",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure,
        resources={"telegram": all_resources()["telegram"], "app_db": all_resources()["app_db"]},
    ).for_run_failure()
    run_failure_notice(context)
    [message] = telegram.messages
    assert message["chat"]["id"] == -1009876543210
    assert "Сбой запуска" in message["text"] and "broken_pull" in message["text"]
    assert "HTTP 503 Service Unavailable" in message["text"]
    assert f'href="https://c360.example.ru/dagster/runs/{run.run_id}"' in message["raw"]


def test_no_bot_no_notice(env, instance, monkeypatch):
    result = dg.materialize([broken_pull], instance=instance, raise_on_error=False)
    run = instance.get_run_by_id(result.run_id)
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_notice",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure,
        resources={"telegram": all_resources()["telegram"], "app_db": all_resources()["app_db"]},
    ).for_run_failure()
    skipped = run_failure_notice(context)
    assert isinstance(skipped, dg.SkipReason) and "не настроены" in skipped.skip_message
