"""Meeting assets, one partition per recording: registry row → transcript → summary."""

import json
import time
from pathlib import Path

import dagster as dg

from assets.files import readable_name
from assets.metadata import md_table
from assets.resources import LLMResource, RecordingsResource, SttResource, WarehouseResource
from connectors.llm import LLMError, MeetingSummary, summarize_meeting
from connectors.stt import Segment, TranscriptionError
from warehouse.duck import fetch_dicts, upsert

GROUP = "meetings"
recordings_partitions = dg.DynamicPartitionsDefinition(name="meeting_recordings")


def _recording_row(warehouse: WarehouseResource, recording_id: str) -> dict:
    with warehouse.connect(read_only=True) as con:
        rows = fetch_dicts(con, "select * from raw.meeting_recordings where recording_id = ?", [recording_id])
    if not rows:
        raise dg.Failure(f"Запись {recording_id} не зарегистрирована: сначала материализуйте meeting_recordings")
    return rows[0]


@dg.asset(
    partitions_def=recordings_partitions,
    group_name=GROUP,
    pool="duckdb_write",
    kinds={"duckdb"},
    code_version="1",
    description=(
        "Реестр записей встреч: по одной строке на запись Jitsi (папка сессии Jibri с metadata.json) "
        "или на положенный в папку аудио/видеофайл. Клиент (ID лида Битрикс24) берётся из имени комнаты."
    ),
)
def meeting_recordings(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, recordings: RecordingsResource
) -> dg.MaterializeResult:
    rec = recordings.folder().find(context.partition_key, now=time.time())
    if rec is None:
        raise dg.Failure(
            description=f"Файл записи {context.partition_key} не найден в папке записей (удалён или переименован)",
        )
    row = {
        "recording_id": rec.recording_id,
        "client_id": rec.client_id,
        "room": rec.room,
        "kind": rec.kind,
        "media_path": str(rec.media_path),
        "session_dir": str(rec.session_dir) if rec.session_dir else None,
        "meeting_url": rec.meeting_url,
        "participants": json.dumps(list(rec.participants), ensure_ascii=False),
        "extra_metadata": json.dumps(rec.extra, ensure_ascii=False, default=str),
        "started_at": rec.started_at,
        "meeting_date": rec.started_at.date(),
        "size_bytes": rec.size,
        "mtime": rec.mtime,
    }
    with warehouse.connect() as con:
        upsert(con, "raw.meeting_recordings", [row])
    return dg.MaterializeResult(
        metadata={
            "клиент (ID лида)": rec.client_id,
            "комната": rec.room,
            "файл": dg.MetadataValue.path(str(rec.media_path)),
            "тип": rec.kind,
            "начало": rec.started_at.isoformat(sep=" "),
            "размер, МБ": round(rec.size / 2**20, 2),
            "участники": ", ".join(rec.participants) or "—",
        }
    )


@dg.asset(
    partitions_def=recordings_partitions,
    group_name=GROUP,
    deps=[meeting_recordings],
    pool="duckdb_write",
    kinds={"duckdb"},
    code_version="1",
    description=(
        "Расшифровка встречи с сегментами (время начала/конца, говорящий). Провайдер: Yandex SpeechKit "
        "(асинхронное распознавание) или готовая расшифровка рядом с файлом (sidecar)."
    ),
)
def meeting_transcripts(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, stt: SttResource
) -> dg.MaterializeResult:
    rec = _recording_row(warehouse, context.partition_key)
    provider = stt.provider()
    started = time.monotonic()
    try:
        transcript = provider.transcribe(Path(rec["media_path"]))
    except TranscriptionError as exc:
        raise dg.Failure(
            description=f"Не удалось расшифровать запись: {exc}",
            metadata={"файл": rec["media_path"], "провайдер": provider.name, "причина": str(exc)},
        ) from exc
    finally:
        close = getattr(provider, "close", None)
        if close:
            close()
    row = {
        "recording_id": rec["recording_id"],
        "client_id": rec["client_id"],
        "provider": transcript.provider,
        "language": transcript.language,
        "text": transcript.text,
        "segments": transcript.segments_json(),
        "segment_count": len(transcript.segments),
        "duration_s": transcript.duration,
    }
    with warehouse.connect() as con:
        upsert(con, "raw.meeting_transcripts", [row])
    return dg.MaterializeResult(
        metadata={
            "клиент (ID лида)": rec["client_id"],
            "провайдер": transcript.provider,
            "сегментов": len(transcript.segments),
            "символов": len(transcript.text),
            "длительность, мин": round((transcript.duration or 0) / 60, 1),
            "время расшифровки, с": round(time.monotonic() - started, 1),
            "начало текста": dg.MetadataValue.md(transcript.text[:500]),
        }
    )


@dg.asset(
    partitions_def=recordings_partitions,
    group_name=GROUP,
    deps=[meeting_transcripts],
    pool="duckdb_write",
    kinds={"duckdb"},
    code_version="1",
    description=(
        "Резюме встречи на русском: тема, участники, ключевые моменты, договорённости и следующие шаги "
        "(с ответственным и сроком, если названы), риски и недовольство. Длинные расшифровки — map-reduce."
    ),
)
def meeting_summaries(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, llm: LLMResource
) -> dg.MaterializeResult:
    rec = _recording_row(warehouse, context.partition_key)
    with warehouse.connect(read_only=True) as con:
        rows = fetch_dicts(
            con, "select segments from raw.meeting_transcripts where recording_id = ?", [rec["recording_id"]]
        )
    if not rows:
        raise dg.Failure(f"Нет расшифровки записи {rec['recording_id']}: сначала материализуйте meeting_transcripts")
    segments = [Segment(**s) for s in json.loads(rows[0]["segments"])]
    model = llm.client()
    try:
        summary: MeetingSummary = summarize_meeting(
            model,
            segments,
            client=f"лид {rec['client_id']}",
            when=f"{rec['started_at']:%d.%m.%Y %H:%M}" if rec["started_at"] else "",
            participants=json.loads(rec["participants"] or "[]"),
            max_chars=llm.max_input_chars(),
        )
    except LLMError as exc:
        raise dg.Failure(
            description=f"Не удалось составить резюме записи {rec['media_path']}: {exc}",
            metadata={"файл": rec["media_path"], "причина": str(exc), **model.usage.snapshot()},
        ) from exc
    usage = model.usage.snapshot()
    row = {
        "recording_id": rec["recording_id"],
        "client_id": rec["client_id"],
        "meeting_date": rec["meeting_date"],
        "started_at": rec["started_at"],
        "summary": summary.model_dump_json(),
        "summary_text": summary.as_text(),
        "generated_by": summary.generated_by,
        "extractive": summary.extractive,
        "prompt_tokens": usage["prompt_tokens"],
        "completion_tokens": usage["completion_tokens"],
    }
    with warehouse.connect() as con:
        upsert(con, "raw.meeting_summaries", [row])
    return dg.MaterializeResult(
        metadata={
            "клиент (ID лида)": rec["client_id"],
            "модель": summary.generated_by,
            "офлайн (извлечённые фразы)": summary.extractive,
            "токенов всего": usage["total_tokens"],
            "токенов на вход": usage["prompt_tokens"],
            "токенов на выход": usage["completion_tokens"],
            "вызовов модели": usage["calls"],
            "ответов из кэша": usage["cache_hits"],
            "резюме": dg.MetadataValue.md(summary.as_text()),
        }
    )


@dg.asset(
    group_name=GROUP,
    pool="duckdb_write",
    kinds={"duckdb"},
    description=(
        "Записи без ID лида в имени комнаты: не удаляются и не обрабатываются, пока их не переименуют или не "
        "привяжут к лиду (страница администратора приложения или файл привязок, строка recording). "
        "Список для ручного разбора."
    ),
)
def meeting_unmatched_files(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, recordings: RecordingsResource
) -> dg.MaterializeResult:
    folder = recordings.folder()
    found = folder.scan(now=time.time(), take_all=True).unmatched
    rows = [
        {"path": readable_name(str(u.path)), "room": u.room, "reason": u.reason, "size_bytes": u.size} for u in found
    ]
    with warehouse.connect() as con:
        known = {r[0] for r in con.execute("select path from raw.meeting_unmatched").fetchall()}
        if rows:
            con.executemany(
                "insert into raw.meeting_unmatched (path, room, reason, size_bytes) values (?, ?, ?, ?) "
                "on conflict (path) do update set room = excluded.room, reason = excluded.reason, "
                "size_bytes = excluded.size_bytes, last_seen_at = now()",
                [[r["path"], r["room"], r["reason"], r["size_bytes"]] for r in rows],
            )
        if folder.root.is_dir():  # mapped or renamed since: off the list
            con.execute(
                "delete from raw.meeting_unmatched where path not in (select unnest(?::varchar[]))",
                [[r["path"] for r in rows]],
            )
        total = con.execute("select count(*) from raw.meeting_unmatched").fetchone()[0]
    new = [r for r in rows if r["path"] not in known]
    return dg.MaterializeResult(
        metadata={
            "без ID лида сейчас": len(found),
            "новых": len(new),
            "всего в таблице": total,
            "файлы": md_table(("файл", "причина"), [(u.rel_path, u.reason) for u in found]),
        }
    )


meeting_assets = [meeting_recordings, meeting_transcripts, meeting_summaries, meeting_unmatched_files]
