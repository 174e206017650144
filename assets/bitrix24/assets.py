"""Bitrix24 assets: clients (leads and what is linked to them), activities, call transcripts, summaries."""

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import dagster as dg
from pydantic import Field

from assets.bitrix24.crm import (
    LEAD_SELECT,
    chunks,
    company_row,
    contact_row,
    deal_row,
    fetch_all,
    fetch_by_ids,
    fetch_requisites,
    fetch_users,
    ids_of,
    lead_row,
    owner_clients,
    requisite_row,
)
from assets.metadata import alias_problems
from assets.partitions import daily_partitions
from assets.resources import BitrixResource, LLMResource, SttResource, WarehouseResource
from config.clock import day_start_utc
from config.settings import get_settings
from connectors.bitrix import BitrixError
from connectors.bitrix_activity import file_id_from_url, normalize_activity
from connectors.bitrix_calls import (
    COPILOT,
    RecordingProblem,
    audio_suffix,
    copilot_certainly_none,
    copilot_transcripts,
    fetch_recordings,
)
from connectors.http import ExternalServiceError
from connectors.llm import LLMError, summarize_meeting
from connectors.stt import Segment, Transcript, TranscriptionError
from warehouse.duck import fetch_dicts, upsert
from warehouse.refs import make_ref

GROUP = "bitrix24"
ACTIVITY_SELECT = ["*", "COMMUNICATIONS", "FILES", "BINDINGS"]


def _failure(exc: Exception) -> dg.Failure:
    # a connector's error already names the system
    return dg.Failure(description=str(exc) if isinstance(exc, ExternalServiceError) else f"Bitrix24: {exc}")


@dg.asset(
    group_name=GROUP,
    pool="duckdb_write",
    kinds={"duckdb", "bitrix24"},
    description=(
        "Клиенты из Битрикс24: лиды (ID лида = ID клиента) со статусом, источником, ответственным куратором, "
        "датой создания, телефонами, почтой, мессенджерами и пользовательскими полями UF_, а также связанные "
        "контакты, компании и сделки."
    ),
)
def bitrix_clients(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, bitrix: BitrixResource
) -> dg.MaterializeResult:
    settings = get_settings()
    client = bitrix.client()
    try:
        with warehouse.connect(read_only=True) as con:
            since = con.execute("select max(date_modify) from raw.bitrix_leads").fetchone()[0]
        flt = {}
        if since:  # incremental by modification time, with an overlap so nothing slips between runs
            since -= timedelta(minutes=settings.bitrix_overlap_minutes)
            flt = {">=DATE_MODIFY": since.replace(tzinfo=UTC).isoformat()}
        leads = list(client.list_all("crm.lead.list", {"filter": flt, "select": LEAD_SELECT, "order": {"ID": "ASC"}}))
        contacts = fetch_by_ids(client, "crm.contact.list", ids_of(leads, "CONTACT_ID"), ["*", "PHONE", "EMAIL", "IM"])
        companies = fetch_by_ids(client, "crm.company.list", ids_of(leads, "COMPANY_ID"), ["*", "PHONE", "EMAIL"])
        deals = fetch_all(
            client,
            {
                f"d{i}": ("crm.deal.list", {"filter": {"@LEAD_ID": chunk}, "select": ["*"]})
                for i, chunk in enumerate(chunks(ids_of(leads, "ID")))
            },
        )
        users = fetch_users(client, ids_of(leads, "ASSIGNED_BY_ID"))
        # the INNs that link a WMS client to its lead (assets/identity); a webhook without the right to read
        # requisites (400 {"error": 0, "Access denied."}) loses only that
        # of every lead's company and contact, not only the changed leads': a requisite added later does not
        # change its lead's DATE_MODIFY (a few batch calls for hundreds of clients)
        with warehouse.connect(read_only=True) as con:
            known = con.execute("select list(contact_id), list(company_id) from raw.bitrix_leads").fetchone()
        requisites_error = None
        try:
            requisites = fetch_requisites(
                client,
                {*ids_of(leads, "CONTACT_ID"), *(i for i in known[0] or [] if i)},
                {*ids_of(leads, "COMPANY_ID"), *(i for i in known[1] or [] if i)},
            )
        except (BitrixError, ExternalServiceError) as exc:
            requisites, requisites_error = [], str(exc)
            context.log.warning(f"Реквизиты компаний не получены (сопоставление по ИНН без них): {exc}")
    except (BitrixError, ExternalServiceError) as exc:
        raise _failure(exc) from exc
    finally:
        client.close()
    names = {uid: u["name"] for uid, u in users.items()}
    with warehouse.connect() as con:
        upsert(con, "raw.bitrix_leads", [lead_row(lead, names) for lead in leads])
        upsert(con, "raw.bitrix_contacts", [contact_row(c) for c in contacts])
        upsert(con, "raw.bitrix_companies", [company_row(c) for c in companies])
        upsert(con, "raw.bitrix_deals", [deal_row(d) for d in deals])
        upsert(con, "raw.bitrix_requisites", [requisite_row(r) for r in requisites])
        upsert(
            con,
            "raw.bitrix_users",
            [
                {"user_id": uid, "name": u["name"], "email": u["email"], "active": u["active"]}
                for uid, u in users.items()
            ],
        )
        total = con.execute("select count(*) from raw.bitrix_leads").fetchone()[0]
    return dg.MaterializeResult(
        metadata={
            "лидов получено": len(leads),
            "лидов всего": total,
            "контактов": len(contacts),
            "компаний": len(companies),
            "сделок": len(deals),
            "реквизитов (ИНН)": requisites_error or len(requisites),
            "кураторов": len(users),
            "запросов к Битрикс24": client.requests_made,
            "загрузка": "изменения с " + since.isoformat(sep=" ") if since else "полная",
        }
    )


class ActivitiesConfig(dg.Config):
    backfill_from: str | None = Field(None, description="Перезагрузить дела, изменённые с этой даты (YYYY-MM-DD)")
    backfill_to: str | None = Field(None, description="…и до этой даты (не включая)")


def _iso(day: str) -> str:
    return datetime.fromisoformat(day).replace(tzinfo=UTC).isoformat()


@dg.asset(
    group_name=GROUP,
    deps=[bitrix_clients],
    pool="duckdb_write",
    kinds={"duckdb", "bitrix24"},
    description=(
        "Звонки и письма (и прочие дела) по лидам, контактам, компаниям и сделкам клиентов из Битрикс24. "
        "Загружаются только изменённые с прошлого раза (с небольшим перекрытием); новый клиент — вся история. "
        "Дела неизвестного вида, без владельца или с битым текстом сохраняются со статусом и причиной."
    ),
)
def bitrix_activities(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, bitrix: BitrixResource, config: ActivitiesConfig
) -> dg.MaterializeResult:
    settings = get_settings()
    aliases = warehouse.aliases()
    with warehouse.connect(read_only=True) as con:
        owners = owner_clients(con, aliases)
        synced = {
            (t, str(i)) for t, i in con.execute("select owner_type, owner_id from raw.bitrix_owner_sync").fetchall()
        }
        since = con.execute("select max(last_updated) from raw.bitrix_activities").fetchone()[0]
    window: dict[str, str] = {}
    if config.backfill_from:
        window[">=LAST_UPDATED"] = _iso(config.backfill_from)
        if config.backfill_to:
            window["<LAST_UPDATED"] = _iso(config.backfill_to)
    elif since:
        window[">=LAST_UPDATED"] = (
            (since - timedelta(minutes=settings.bitrix_overlap_minutes)).replace(tzinfo=UTC).isoformat()
        )
    calls, owners_of = {}, {}
    for new in (True, False):
        group = [o for o in owners if (o in synced) != new]
        for owner_type in sorted({t for t, _ in group}):
            ids = [int(i) for t, i in group if t == owner_type]
            for n, chunk in enumerate(chunks(ids)):
                flt = {"OWNER_TYPE_ID": owner_type, "@OWNER_ID": chunk}
                if not new or config.backfill_from:
                    if not window:
                        continue  # known owners, nothing stored yet: their history came with them
                    flt |= window
                key = f"{'n' if new else 'k'}{owner_type}_{n}"
                calls[key] = ("crm.activity.list", {"filter": flt, "select": ACTIVITY_SELECT, "order": {"ID": "ASC"}})
                owners_of[key] = [(owner_type, str(i)) for i in chunk]
    client = bitrix.client()
    try:
        pages, failed = client.batch_list_all(calls) if calls else ({}, {})
    except (BitrixError, ExternalServiceError) as exc:
        raise _failure(exc) from exc
    finally:
        client.close()
    raw_rows = {int(r["ID"]): r for rows in pages.values() for r in rows if str(r.get("ID") or "").isdigit()}
    rows = [normalize_activity(r, owners) for r in raw_rows.values()]
    with warehouse.connect() as con:
        known = dict(
            con.execute(
                "select activity_id, last_updated from raw.bitrix_activities where activity_id in (select unnest(?))",
                [[r["activity_id"] for r in rows] or [-1]],
            ).fetchall()
        )
        upsert(con, "raw.bitrix_activities", rows)
        # an owner whose query failed (e.g. the method's time budget did not reset in time) is not synced: the next
        # run pulls its whole history, so nothing between the runs is lost
        unsynced = {o for key in failed for o in owners_of[key]}
        new_owners = [(t, int(i), c) for (t, i), c in owners.items() if (t, i) not in synced | unsynced]
        if new_owners:
            con.executemany(
                "insert or ignore into raw.bitrix_owner_sync (owner_type, owner_id, client_id) values (?, ?, ?)",
                new_owners,
            )
        if unsynced & synced:
            con.executemany(
                "delete from raw.bitrix_owner_sync where owner_type = ? and owner_id = ?",
                [(t, int(i)) for t, i in unsynced & synced],
            )
    added = sum(1 for r in rows if r["activity_id"] not in known)
    changed = sum(1 for r in rows if r["activity_id"] in known and known[r["activity_id"]] != r["last_updated"])
    statuses = Counter(s for r in rows for s in r["status"].split(",") if s != "ok")
    kinds = Counter(r["kind"] for r in rows)
    return dg.MaterializeResult(
        metadata={
            "дел получено": len(rows),
            "новых": added,
            "изменённых": changed,
            "звонков": kinds["call"],
            "писем": kinds["email"],
            "других дел": kinds["other"],
            "без клиента (владелец неизвестен)": statuses["owner_unknown"],
            "проблемы (статусы)": dg.MetadataValue.json(dict(statuses)),
            "новых владельцев (вся история)": len(new_owners),
            "ошибки запросов": dg.MetadataValue.json({k: str(v) for k, v in failed.items()}),
            "запросов к Битрикс24": client.requests_made,
            "ожидание лимита Битрикс24, с": round(client.limit_waited, 1),
            "окно": json.dumps(window, ensure_ascii=False) if window else "полная загрузка",
            **alias_problems(aliases),
        }
    )


@dg.asset(
    group_name=GROUP,
    deps=[bitrix_activities],
    pool="duckdb_write",
    kinds={"duckdb"},
    description=(
        "Расшифровки звонков из Битрикс24: сначала готовая расшифровка CoPilot (бесплатно), иначе запись звонка "
        "(через Диск или статистику телефонии) распознаётся тем же способом, что и встречи. Источник каждой "
        "расшифровки сохраняется. Ответ портала, который не звук (страница входа), — «нет доступа к записи»: "
        "не сохраняется и повторяется при следующем запуске. Недоступная запись или ошибка распознавания "
        "сохраняются со статусом и причиной; такой звонок резюмируется по описанию. Пока CoPilot может "
        "ещё сделать расшифровку (C360_BITRIX_COPILOT_WAIT_HOURS после звонка) или Битрикс24 ответил временной "
        "ошибкой, звонок ждёт следующего запуска. Прерванное распознавание (ответ SpeechKit потерян) "
        "повторяется: уже оплаченная операция забирается, а не заказывается снова."
    ),
)
def bitrix_call_transcripts(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, stt: SttResource, bitrix: BitrixResource
) -> dg.MaterializeResult:
    settings = get_settings()
    own = bitrix.settings()
    now = settings.now().astimezone(UTC).replace(tzinfo=None)  # ended_at is naive UTC
    with warehouse.connect(read_only=True) as con:
        calls = fetch_dicts(
            con,
            """
            select a.activity_id, a.recording_url, a.recording_file_id, a.duration_s, a.ended_at, t.status,
                   coalesce(t.attempts, 0) as attempts
            from raw.bitrix_activities a left join raw.bitrix_call_transcripts t using (activity_id)
            where a.kind = 'call' and (a.recording_file_id is not null or a.recording_url is not null)
              and (t.activity_id is null
                   or t.status in ('recording_no_access', 'transcription_pending', 'transcription_failed'))
            order by a.activity_id
            """,
        )
    folder = settings.data_dir / "bitrix_recordings"
    folder.mkdir(parents=True, exist_ok=True)
    # the recording kept from an earlier run, if what was kept is audio (probed once per call)
    kept = {
        c["activity_id"]: next((p for p in sorted(folder.glob(f"{c['activity_id']}.*")) if audio_suffix(p)), None)
        for c in calls
    }
    # a failed one is redone only when what was kept is not audio: an older version stored the login page
    calls = [c for c in calls if c["status"] != "transcription_failed" or kept[c["activity_id"]] is None]
    by_id = {c["activity_id"]: c for c in calls}
    client, providers = bitrix.client(), []
    rows, copilot_missing, waiting, failure = [], Counter(), Counter(), None

    def provider():  # built only when a recording is to be transcribed: a CoPilot portal may have no STT key
        if not providers:
            providers.append(stt.provider())
        return providers[0]

    try:
        copilot, missing = copilot_transcripts(client, list(by_id))
        for activity, reason in missing.items():
            if copilot_certainly_none(
                reason, by_id[activity]["ended_at"], now, timedelta(hours=own.bitrix_copilot_wait_hours)
            ):
                copilot_missing[reason] += 1
            else:  # CoPilot may still make one, or Bitrix24 failed for now: the call waits for the next run
                waiting[reason] += 1
                del by_id[activity]
        for activity, segments in copilot.items():
            transcript = Transcript(provider=COPILOT, segments=segments)
            rows.append(
                _transcript_row(
                    activity, "ok", text=transcript.text, segments=transcript.segments_json(), transcript_source=COPILOT
                )
            )
        local, files = {}, {}
        for activity in (a for a in by_id if a not in copilot):
            if kept[activity]:
                local[activity] = kept[activity]
            else:
                call = by_id[activity]
                files[activity] = call["recording_file_id"] or file_id_from_url(call["recording_url"])
        for activity, got in fetch_recordings(client, files).items():
            if isinstance(got, RecordingProblem):
                status = "recording_no_access" if got.no_access else "recording_unavailable"
                rows.append(_transcript_row(activity, status, reason=got.reason))
                continue
            for stale in folder.glob(f"{activity}.*"):  # e.g. a login page an older version kept as audio
                stale.unlink()
            local[activity] = folder / f"{activity}{got.suffix}"
            local[activity].write_bytes(got.content)
        for activity, media in sorted(local.items()):
            stt_provider = provider()
            try:
                transcript = stt_provider.transcribe(media)
            except TranscriptionError as exc:
                # a lost answer or a broken stream: tried again next run (the ledger fetches what was paid for)
                status = "transcription_pending" if exc.retry_next_run else "transcription_failed"
                rows.append(_transcript_row(activity, status, reason=str(exc), provider=stt_provider.name))
                continue
            rows.append(
                _transcript_row(
                    activity,
                    "ok",
                    text=transcript.text,
                    segments=transcript.segments_json(),
                    provider=stt_provider.name,
                    transcript_source=stt_provider.name,
                )
            )
    except (BitrixError, ExternalServiceError) as exc:  # e.g. no STT key: what was done so far is kept
        failure = _failure(exc)
    finally:
        client.close()
        for p in providers:
            getattr(p, "close", lambda: None)()
    gave_up = Counter()
    final = {"recording_no_access": "recording_unavailable", "transcription_pending": "transcription_failed"}
    for row in rows:
        row["attempts"] = by_id[row["activity_id"]]["attempts"] + 1
        if row["status"] in final and row["attempts"] >= own.bitrix_recording_retries:
            gave_up[row["status"]] += 1
            row["status"] = final[row["status"]]
            row["reason"] += f"; попыток: {row['attempts']} (C360_BITRIX_RECORDING_RETRIES) — больше не повторяется"
    with warehouse.connect() as con:
        upsert(con, "raw.bitrix_call_transcripts", rows)
    if failure:
        raise failure
    statuses = Counter(r["status"] for r in rows)
    sources = Counter(r["transcript_source"] for r in rows if r["transcript_source"])
    saved = sum(by_id[r["activity_id"]]["duration_s"] or 0 for r in rows if r["transcript_source"] == COPILOT)
    return dg.MaterializeResult(
        metadata={
            "звонков с записью (к расшифровке)": len(calls),
            "ждёт расшифровку Битрикс24": sum(waiting.values()),
            "ждёт расшифровку Битрикс24 (причина)": dg.MetadataValue.json(dict(waiting)),
            "расшифровано": statuses["ok"],
            "источник расшифровки": dg.MetadataValue.json(dict(sources)),
            "минут SpeechKit сэкономлено (CoPilot)": round(saved / 60, 1),
            "без расшифровки CoPilot (причина)": dg.MetadataValue.json(dict(copilot_missing)),
            "нет доступа к записи (повтор при следующем запуске)": statuses["recording_no_access"],
            "запись недоступна": statuses["recording_unavailable"],
            "ошибка распознавания": statuses["transcription_failed"],
            "распознавание прервано (повтор при следующем запуске)": statuses["transcription_pending"],
            "попытки исчерпаны (больше не повторяется)": dg.MetadataValue.json(dict(gave_up)),
        }
    )


def _transcript_row(activity: int, status: str, **fields) -> dict:
    row = {"activity_id": activity, "status": status, "reason": None, "provider": None, "text": None}
    return row | {"segments": None, "transcript_source": None, "attempts": None} | fields


def thread_subject(subject: str | None) -> str:
    """`Re: Fwd: Акт сверки` → `акт сверки`: mails of one thread share it."""
    return re.sub(r"^\s*((re|fw|fwd|ответ|пересл)\s*(\[\d+\])?\s*:\s*)+", "", subject or "", flags=re.I).strip().lower()


def load_day_activities(con, day, tz) -> list[dict]:
    start = day_start_utc(day, tz)
    return fetch_dicts(
        con,
        """
        select a.*, t.text as transcript, t.segments as transcript_segments, t.status as transcript_status
        from raw.bitrix_activities a left join raw.bitrix_call_transcripts t using (activity_id)
        where a.client_id is not null and a.kind in ('call', 'email') and a.started_at >= ? and a.started_at < ?
        order by a.client_id, a.started_at, a.activity_id
        """,
        [start, start + timedelta(days=1)],
    )


@dg.asset(
    partitions_def=daily_partitions,
    group_name=GROUP,
    deps=[bitrix_call_transcripts],
    pool="duckdb_write",
    kinds={"duckdb"},
    description=(
        "Резюме звонков (по расшифровке или описанию) и переписки по почте (по цепочке писем) за день — "
        "для раздела «Звонки и почта» в отчёте кураторам. Раздел = день."
    ),
)
def bitrix_activity_summaries(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, llm: LLMResource
) -> dg.MaterializeResult:
    settings = get_settings()
    day = context.partition_time_window.start.date()
    with warehouse.connect(read_only=True) as con:
        items = load_day_activities(con, day, settings.tz)
        threads: dict[tuple[str, str], list[dict]] = {}
        for mail in (i for i in items if i["kind"] == "email"):
            key = (mail["client_id"], thread_subject(mail["subject"]))
            if key not in threads:  # the whole thread up to this day, oldest first
                threads[key] = [
                    m
                    for m in fetch_dicts(
                        con,
                        "select * from raw.bitrix_activities where client_id = ? and kind = 'email' "
                        "and started_at < ? order by started_at, activity_id",
                        [
                            key[0],
                            day_start_utc(day + timedelta(days=1), settings.tz),
                        ],
                    )
                    if thread_subject(m["subject"]) == key[1]
                ]
    model = llm.client()
    rows, failed = [], []

    def summarize(key, kind, client, title, segments, ids, what):
        try:
            summary = summarize_meeting(
                model,
                segments,
                client=f"лид {client}",
                when=f"{day:%d.%m.%Y}",
                max_chars=llm.max_input_chars(),
                what=what,
            )
        except LLMError as exc:
            failed.append(f"{key}: {exc}")
            return
        rows.append(
            {
                "summary_key": key,
                "day": day,
                "client_id": client,
                "kind": kind,
                "activity_ids": json.dumps(ids),
                "title": title,
                "summary": summary.model_dump_json(),
                "summary_text": summary.as_text(),
                "generated_by": summary.generated_by,
                "extractive": summary.extractive,
            }
        )

    for call in (i for i in items if i["kind"] == "call"):
        if call["transcript_segments"]:
            segments = [Segment(**s) for s in json.loads(call["transcript_segments"])]
        else:
            segments = [Segment(None, None, None, call["body_text"] or call["subject"] or "Звонок без описания")]
        direction = {"incoming": "Входящий звонок", "outgoing": "Исходящий звонок"}.get(call["direction"], "Звонок")
        summarize(
            make_ref("call", call["activity_id"]),
            "call",
            call["client_id"],
            call["subject"] or direction,
            segments,
            [call["activity_id"]],
            direction,
        )
    for (client, subject), mails in threads.items():
        segments = [
            Segment(
                None,
                None,
                m["email_from"] or ("клиент" if m["direction"] == "incoming" else "мы"),
                f"{m['subject'] or ''}. {m['body_text'] or ''}",
            )
            for m in mails
        ]
        summarize(
            make_ref("email", client, subject),
            "email_thread",
            client,
            mails[-1]["subject"],
            segments,
            [m["activity_id"] for m in mails],
            "Переписка по почте",
        )
    with warehouse.connect() as con:
        upsert(con, "raw.bitrix_activity_summaries", rows)
    usage = model.usage.snapshot()
    metadata = {
        "день": day.isoformat(),
        "звонков": sum(1 for r in rows if r["kind"] == "call"),
        "цепочек писем": sum(1 for r in rows if r["kind"] == "email_thread"),
        "токенов всего": usage["total_tokens"],
        "ответов из кэша": usage["cache_hits"],
    }
    if failed:
        raise dg.Failure(description="Не удалось составить резюме: " + "; ".join(failed), metadata=metadata)
    return dg.MaterializeResult(metadata=metadata)


bitrix_assets = [bitrix_clients, bitrix_activities, bitrix_call_transcripts, bitrix_activity_summaries]
