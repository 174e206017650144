"""The sensor and the meeting assets, run for real on a Dagster instance, against a Jibri-layout folder."""

from datetime import datetime
from pathlib import Path

import dagster as dg
from dagster._core.storage.dagster_run import DagsterRunStatus, RunsFilter

from orchestration.definitions import build_defs
from orchestration.run_once import apply_sensor_data, evaluate_sensor, run_once
from tests.conftest import jibri
from warehouse.aliases import save_alias
from warehouse.duck import connect


def tick(instance, cursor=None):
    return evaluate_sensor(build_defs(), instance, "new_recordings_sensor", cursor)


def rows(settings, sql):
    with connect(settings.warehouse_path, read_only=True) as con:
        return con.execute(sql).fetchall()


def test_new_jibri_recording_becomes_exactly_one_run(env, recordings, instance):
    jibri(recordings, "7f3a9c", "12345", datetime(2026, 11, 24, 10, 0, 0))
    first = tick(instance)
    [request] = first.run_requests
    assert request.job_name == "meeting_pipeline_job"
    assert request.partition_key.startswith("20261124-100000-12345-")
    assert request.tags["c360/client_id"] == "12345"
    [add] = first.dynamic_partitions_requests
    assert list(add.partition_keys) == [request.partition_key]

    apply_sensor_data(instance, first)  # the daemon registered the partition, then died before launching the run
    second = tick(instance, first.cursor)
    [again] = second.run_requests
    assert (again.partition_key, again.run_key) == (request.partition_key, request.run_key)
    assert second.dynamic_partitions_requests == [], "already registered: not added twice"

    run = (
        build_defs()
        .resolve_job_def(again.job_name)
        .execute_in_process(
            instance=instance, partition_key=again.partition_key, tags={"dagster/run_key": again.run_key}
        )
    )
    assert run.success
    third = tick(instance, second.cursor)
    assert third.run_requests == [] and third.dynamic_partitions_requests == []
    assert "Новых записей нет" in third.skip_message


def test_missing_recordings_folder_is_said_plainly(env, instance, monkeypatch, tmp_path):
    monkeypatch.setenv("C360_RECORDINGS_DIR", str(tmp_path / "nfs-not-mounted"))
    data = tick(instance)
    assert data.run_requests == [] and "nfs-not-mounted не найдена" in data.skip_message


def test_growing_plain_file_not_requested_until_complete(env, recordings, instance):
    media = recordings / "client_4444_telefon.ogg"
    media.write_bytes(b"a" * 100)
    t1 = tick(instance)
    assert t1.run_requests == []
    with media.open("ab") as f:
        f.write(b"b" * 100)
    t2 = tick(instance, t1.cursor)
    assert t2.run_requests == [], "still growing"
    t3 = tick(instance, t2.cursor)
    [request] = t3.run_requests
    assert "-4444-" in request.partition_key


def test_unmatched_room_is_reported_not_dropped(env, recordings, instance):
    from devkit.demo import write_jibri_session

    write_jibri_session(recordings, "s-int", "planerka", datetime(2026, 11, 24, 18, 0, 0), [("Анна", "Планёрка.")])
    data = tick(instance)
    [request] = data.run_requests
    assert request.job_name == "unmatched_recordings_job"
    [observation] = data.asset_events
    assert observation.asset_key == dg.AssetKey("meeting_unmatched_files")
    assert "planerka" in observation.metadata["файлы"].value
    # the same unmatched set is not re-reported on the next tick
    assert tick(instance, data.cursor).run_requests == []

    report = run_once(build_defs(), instance, env)
    assert report.failed == []
    [(path, room, reason)] = rows(env, "select path, room, reason from raw.meeting_unmatched")
    assert path.endswith(".mp4") and room == "planerka" and "нет ID лида" in reason


def test_a_recording_mapped_by_hand_is_processed_and_leaves_the_unmatched_list(env, recordings, instance):
    from devkit.demo import write_jibri_session

    write_jibri_session(recordings, "s-a", "planerka", datetime(2026, 11, 24, 18, 0, 0), [("Анна", "Про поставку.")])
    write_jibri_session(recordings, "s-b", "obzvon", datetime(2026, 11, 24, 19, 0, 0), [("Анна", "Про возвраты.")])
    assert run_once(build_defs(), instance, env, log=lambda *_: None).failed == []
    assert len(rows(env, "select path from raw.meeting_unmatched")) == 2
    [(path_b,)] = rows(env, "select path from raw.meeting_unmatched where room = 'obzvon'")

    save_alias(env.resolved_aliases_file, "recording", "planerka", "77777", "весь разговор комнаты")  # a room
    save_alias(env.resolved_aliases_file, "recording", path_b, "88888", "одна запись")  # one file, as listed
    report = run_once(build_defs(), instance, env, log=lambda *_: None)
    assert report.failed == [] and len(report.succeeded) >= 2
    assert rows(env, "select client_id from raw.meeting_summaries order by client_id") == [("77777",), ("88888",)]
    assert rows(env, "select count(*) from raw.meeting_unmatched") == [(0,)]
    assert run_once(build_defs(), instance, env, log=lambda *_: None).requested == 0  # and only once


def test_run_once_processes_new_recordings_once_and_failures_stay_failed(env, recordings, instance):
    jibri(recordings, "s1", "12345", datetime(2026, 11, 24, 10, 0, 0))
    jibri(recordings, "s2", "67890", datetime(2026, 11, 24, 15, 30, 0))
    broken = jibri(recordings, "s3", "55555", datetime(2026, 11, 24, 16, 0, 0))
    for vtt in broken.glob("*.vtt"):
        vtt.unlink()  # no transcript next to it: sidecar STT must fail for this one only

    first = run_once(build_defs(), instance, env, log=lambda *_: None)
    assert len(first.succeeded) == 2
    [(failed_key, reason)] = first.failed
    assert "-55555-" in failed_key
    assert "client-55555_2026-11-24-16-00-00.mp4" in reason and "нет файла расшифровки" in reason

    assert rows(env, "select count(*) from raw.meeting_recordings") == [(3,)]
    assert rows(env, "select count(*) from raw.meeting_transcripts") == [(2,)]
    summaries = rows(env, "select client_id, meeting_date, summary_text from raw.meeting_summaries order by client_id")
    assert [(c, str(d)) for c, d, _ in summaries] == [("12345", "2026-11-24"), ("67890", "2026-11-24")]
    assert "пересорт" in summaries[0][2] and "офлайн-конспект" in summaries[0][2]

    second = run_once(build_defs(), instance, env, log=lambda *_: None)
    assert (second.requested, second.succeeded, second.failed) == (0, [], [])
    assert rows(env, "select count(*) from raw.meeting_summaries") == [(2,)]

    failed_runs = instance.get_runs(filters=RunsFilter(statuses=[DagsterRunStatus.FAILURE]))
    assert [r.tags["dagster/partition"] for r in failed_runs] == [failed_key]
    assert len(instance.get_runs()) == 3


def test_failed_recording_can_be_retried_after_fix(env, recordings, instance):
    session = jibri(recordings, "s4", "24680", datetime(2026, 11, 23, 12, 0, 0))
    vtt = next(session.glob("*.vtt"))
    text = vtt.read_text()
    vtt.unlink()
    [(key, _)] = run_once(build_defs(), instance, env, log=lambda *_: None).failed

    vtt.write_text(text)  # the transcript arrives; the data owner re-runs the partition from the UI
    job = build_defs().resolve_job_def("meeting_pipeline_job")
    assert job.execute_in_process(instance=instance, partition_key=key).success
    assert rows(env, "select count(*) from raw.meeting_summaries where client_id = '24680'") == [(1,)]
    # materializing again replaces, never duplicates
    assert job.execute_in_process(instance=instance, partition_key=key).success
    assert rows(env, "select count(*) from raw.meeting_summaries") == [(1,)]


def test_assets_have_russian_descriptions_and_groups():
    graph = build_defs().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description and any("а" <= ch <= "я" for ch in node.description.lower()), key
        groups = {
            "meetings",
            "reports",
            "telegram",
            "bitrix24",
            "wms",
            "alerts",
            "enrichment",
            "identity",
            "rag",
            "notes",
            "app",
        } | {
            "dbt_staging",
            "dbt_intermediate",
            "dbt_marts",
        }
        assert node.group_name in groups, key


def test_bad_entries_are_listed_and_never_block_the_folder(env, recordings, instance):
    """An undecodable file name, an undecodable session folder and an empty session do not stop the others."""
    import os

    from devkit.demo import write_tone

    jibri(recordings, "good", "2001", datetime(2026, 11, 24, 10, 0, 0))
    raw = os.fsencode(recordings)
    write_tone(Path(os.fsdecode(raw + b"/client-2002_\xff\xfe.mp4")))  # a name in no encoding Python can decode
    jibri(recordings, os.fsdecode(b"sess-\xe9t\xe9"), "2003", datetime(2026, 11, 24, 12, 0, 0))  # Latin-1 name
    (recordings / "empty-session").mkdir()
    (recordings / "empty-session" / "metadata.json").write_text("{}")

    data = tick(instance)
    [request] = data.run_requests[:1]
    assert "-2001-" in request.partition_key and len(data.run_requests) == 2  # the meeting + the unmatched list
    [observation] = data.asset_events
    listed = observation.metadata["файлы"].value
    assert listed.count("имя не в кодировке UTF-8") == 2 and "client-2002_\ufffd\ufffd.mp4" in listed
    assert "sess-\ufffdt\ufffd" in listed and "нет файла записи" in listed

    apply_sensor_data(instance, data)
    assert run_once(build_defs(), instance, env, log=lambda *_: None).failed == []
    stored = rows(env, "select path, reason from raw.meeting_unmatched order by path")
    assert len(stored) == 3 and all("\ufffd" in p or "empty-session" in p for p, _ in stored)
    assert rows(env, "select client_id from raw.meeting_recordings") == [("2001",)]
