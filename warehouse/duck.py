"""DuckDB warehouse access: short-lived connections, raw-layer DDL, upserts keyed by the source's id."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb

from config.private import private_dir

RAW_DDL = """
create schema if not exists raw;

create table if not exists raw.meeting_recordings (
    recording_id     varchar primary key,
    client_id        varchar not null,
    room             varchar,
    kind             varchar not null,          -- jibri | file
    media_path       varchar not null,
    session_dir      varchar,
    meeting_url      varchar,
    participants     json,
    extra_metadata   json,
    started_at       timestamp,                  -- local time (C360_TIMEZONE)
    meeting_date     date,
    size_bytes       bigint,
    mtime            double,
    registered_at    timestamp default current_timestamp
);

create table if not exists raw.meeting_unmatched (
    path             varchar primary key,
    room             varchar,
    reason           varchar not null,
    size_bytes       bigint,
    first_seen_at    timestamp default current_timestamp,
    last_seen_at     timestamp default current_timestamp
);

create table if not exists raw.meeting_transcripts (
    recording_id     varchar primary key,
    client_id        varchar not null,
    provider         varchar not null,
    language         varchar,
    text             varchar not null,
    segments         json not null,
    segment_count    integer,
    duration_s       double,
    transcribed_at   timestamp default current_timestamp
);

create table if not exists raw.meeting_summaries (
    recording_id      varchar primary key,
    client_id         varchar not null,
    meeting_date      date,
    started_at        timestamp,
    summary           json not null,
    summary_text      varchar not null,
    generated_by      varchar,
    extractive        boolean,
    prompt_tokens     integer,
    completion_tokens integer,
    summarized_at     timestamp default current_timestamp
);

create table if not exists raw.telegram_chats (
    chat_id          bigint primary key,        -- Telethon "marked" id: users > 0, groups -id, channels -100id
    title            varchar,
    chat_type        varchar,
    client_id        varchar,                   -- from the alias file or the lead ID in the title
    mapped_by        varchar,                   -- alias | title | null (unmapped)
    source           varchar,
    first_seen_at    timestamp default current_timestamp,
    updated_at       timestamp default current_timestamp,
    mapped_title     varchar,                   -- the title when first seen (the client was read from it)
    title_lead       varchar                    -- the lead the current title names: a rename shows as a difference
);
alter table raw.telegram_chats add column if not exists mapped_title varchar;
alter table raw.telegram_chats add column if not exists title_lead varchar;

create table if not exists raw.telegram_messages (
    chat_id          bigint not null,
    message_id       bigint not null,
    sent_at          timestamp not null,         -- UTC
    edited_at        timestamp,                  -- UTC, last known edit
    sender_id        bigint,
    sender_name      varchar,
    direction        varchar not null,           -- staff | client | unknown
    kind             varchar not null,           -- message | service | unknown
    text             varchar,
    original_text    varchar,                    -- the text first stored, when an edit changed it
    reply_to_id      bigint,
    forwarded_from   varchar,
    media_kind       varchar,
    media_name       varchar,
    media_size       bigint,
    service_action   varchar,
    raw              json,                       -- kept for service and unknown shapes
    source           varchar not null,           -- telethon | export
    ingested_at      timestamp default current_timestamp,
    primary key (chat_id, message_id)
);

-- the people in a chat with no client yet (its messages are not read until it is mapped), as Telegram shows them to
-- our account — a phone only when their privacy lets us see it: what the chat is matched to a Bitrix24 contact on
-- (assets/identity). Rewritten for a chat at each pull; a mapped chat's members are not kept.
create table if not exists raw.telegram_chat_members (
    chat_id          bigint not null,
    user_id          bigint not null,
    name             varchar,
    username         varchar,
    phone            varchar,
    pulled_at        timestamp default current_timestamp,
    primary key (chat_id, user_id)
);

create table if not exists raw.telegram_unparsed (
    source_file      varchar not null,
    chat_id          bigint not null,
    position         integer not null,          -- index in the export's messages list
    raw              json not null,
    first_seen_at    timestamp default current_timestamp,
    primary key (source_file, chat_id, position)
);

create table if not exists raw.bitrix_leads (
    lead_id          bigint primary key,
    title            varchar,
    name             varchar,
    status_id        varchar,
    source_id        varchar,
    assigned_by_id   bigint,
    assigned_by_name varchar,
    date_create      timestamp,                 -- UTC
    date_modify      timestamp,                 -- UTC
    contact_id       bigint,
    company_id       bigint,
    phones           json,
    emails           json,
    messengers       json,
    uf               json,                      -- custom UF_* fields as they are
    raw              json,
    pulled_at        timestamp default current_timestamp
);

create table if not exists raw.bitrix_contacts (
    contact_id       bigint primary key,
    name             varchar,
    company_id       bigint,
    assigned_by_id   bigint,
    phones           json,
    emails           json,
    messengers       json,
    raw              json,
    pulled_at        timestamp default current_timestamp
);

create table if not exists raw.bitrix_companies (
    company_id       bigint primary key,
    title            varchar,
    phones           json,
    emails           json,
    raw              json,
    pulled_at        timestamp default current_timestamp
);

create table if not exists raw.bitrix_requisites (  -- crm.requisite.list of the leads' companies and contacts
    requisite_id     bigint primary key,
    entity_type_id   integer,                   -- 3 contact, 4 company (crm.enum.ownertype)
    entity_id        bigint,
    name             varchar,
    company_name     varchar,                   -- RQ_COMPANY_NAME, else RQ_COMPANY_FULL_NAME or RQ_NAME
    inn              varchar,                   -- RQ_INN, digits only
    raw              json,
    pulled_at        timestamp default current_timestamp
);

create table if not exists raw.bitrix_deals (
    deal_id          bigint primary key,
    title            varchar,
    stage_id         varchar,
    lead_id          bigint,
    contact_id       bigint,
    company_id       bigint,
    opportunity      double,
    raw              json,
    pulled_at        timestamp default current_timestamp
);

create table if not exists raw.bitrix_users (
    user_id          bigint primary key,
    name             varchar,
    email            varchar,
    active           boolean,
    pulled_at        timestamp default current_timestamp
);

create table if not exists raw.bitrix_owner_sync (
    owner_type       varchar not null,          -- Bitrix OWNER_TYPE_ID: 1 lead, 2 deal, 3 contact, 4 company
    owner_id         bigint not null,
    client_id        varchar not null,
    first_synced_at  timestamp default current_timestamp,
    primary key (owner_type, owner_id)
);

create table if not exists raw.bitrix_activities (
    activity_id      bigint primary key,
    client_id        varchar,
    owner_type       varchar,
    owner_id         bigint,
    kind             varchar not null,          -- call | email | other
    type_id          varchar,
    provider_id      varchar,
    direction        varchar,
    subject          varchar,
    started_at       timestamp,                 -- UTC
    ended_at         timestamp,
    duration_s       integer,
    responsible_id   bigint,
    completed        boolean,
    email_from       varchar,
    email_to         varchar,
    body_text        varchar,
    recording_url    varchar,                   -- the portal's link (crm_show_file.php: a webhook gets the login page)
    last_updated     timestamp,
    status           varchar not null,          -- ok | comma-separated reasons
    raw              json,
    pulled_at        timestamp default current_timestamp,
    recording_file_id bigint                    -- FILES[].id: the recording, fetched with disk.file.get
);
alter table raw.bitrix_activities add column if not exists recording_file_id bigint;

create table if not exists raw.bitrix_call_transcripts (
    activity_id      bigint primary key,
    -- ok | recording_no_access (tried again next run) | recording_unavailable | transcription_failed
    -- | transcription_pending (the STT service failed, not the recording: tried again next run)
    status           varchar not null,
    reason           varchar,
    provider         varchar,                   -- the speech-to-text provider, when the recording was transcribed
    text             varchar,
    segments         json,
    transcribed_at   timestamp default current_timestamp,
    transcript_source varchar                   -- where the text came from: bitrix_copilot | speechkit | sidecar
);
alter table raw.bitrix_call_transcripts add column if not exists transcript_source varchar;
-- runs that tried the call (a recording without access or a broken-off recognition is given up after a number)
alter table raw.bitrix_call_transcripts add column if not exists attempts integer;

create table if not exists raw.bitrix_activity_summaries (
    summary_key       varchar not null,         -- call:<id> | email:<client>:<thread>
    day               date not null,
    client_id         varchar,
    kind              varchar not null,         -- call | email_thread
    activity_ids      json,
    title             varchar,
    summary           json not null,
    summary_text      varchar not null,
    generated_by      varchar,
    extractive        boolean,
    summarized_at     timestamp default current_timestamp,
    primary key (summary_key, day)
);

create table if not exists raw.wms_clients (
    wms_client_id    varchar primary key,
    name             varchar,
    inn              varchar,
    client_id        varchar,                   -- via the alias file (system wms_client); null = not linked by it
    updated_at       timestamp default current_timestamp
);

create table if not exists raw.identity_candidates (  -- which lead a WMS client or chat could be
    system           varchar not null,          -- wms_client | telegram_chat (as in the alias file)
    external_id      varchar not null,
    lead_id          varchar not null,
    kind             varchar not null,          -- inn | name | phone | username | title
    confidence       double,
    evidence         varchar,                   -- in Russian, for the owner
    status           varchar not null,          -- applied | suggested | conflict | rejected
    updated_at       timestamp default current_timestamp,
    primary key (system, external_id, lead_id)
);

create table if not exists raw.wms_stock (
    wms_client_id    varchar not null,
    sku              varchar not null,
    snapshot_date    date not null,             -- the day the snapshot describes (C360_TIMEZONE)
    name             varchar,
    on_hand          bigint,
    reserved         bigint,
    as_of            timestamp,                 -- UTC, as the WMS stated it
    record_status    varchar not null,          -- ok | reason(s)
    pulled_at        timestamp default current_timestamp,
    primary key (wms_client_id, sku, snapshot_date)
);

create table if not exists raw.wms_orders (
    wms_client_id    varchar not null,
    order_id         varchar not null,
    kind             varchar,                   -- marketplace | withdrawal | fbs (as sent, even if unknown)
    marketplace      varchar,
    created_at       timestamp,                 -- UTC
    status           varchar,
    units            bigint,
    record_status    varchar not null,
    raw              json,
    pulled_at        timestamp default current_timestamp,
    primary key (wms_client_id, order_id)
);

create table if not exists raw.wms_receipts (
    wms_client_id    varchar not null,
    receipt_id       varchar not null,
    created_at       timestamp,
    units            bigint,
    record_status    varchar not null,
    raw              json,
    pulled_at        timestamp default current_timestamp,
    primary key (wms_client_id, receipt_id)
);

create table if not exists raw.wms_reservations (
    wms_client_id    varchar not null,
    reservation_id   varchar not null,
    created_at       timestamp,
    units            bigint,
    status           varchar,
    record_status    varchar not null,
    raw              json,
    pulled_at        timestamp default current_timestamp,
    primary key (wms_client_id, reservation_id)
);

create table if not exists raw.interaction_signals (
    ref              varchar primary key,        -- meeting:<id> | telegram_day:<client>:<day> | bitrix:<id>
    client_id        varchar,
    source           varchar not null,
    occurred_at      timestamp,
    content_hash     varchar not null,           -- re-analysed only when the text changes
    sentiment        double,                     -- −1 … 1
    tone             varchar,
    complaint        boolean,
    conflict         boolean,
    blockers         json,
    promises         json,
    generated_by     varchar,
    extractive       boolean,
    analyzed_at      timestamp default current_timestamp,
    facts            json,                       -- what the text says about the client's business (client_profile)
    leaving_intent   json                        -- the client's own sentences about leaving us (a list of quotes)
);
alter table raw.interaction_signals add column if not exists facts json;
alter table raw.interaction_signals add column if not exists leaving_intent json;

create table if not exists raw.client_profile_facts (
    client_id        varchar not null,
    kind             varchar not null,           -- products | brands | marketplaces | schemes | since | volumes | ...
    fact_key         varchar not null,           -- normalised value: the same fact in other words merges
    value            varchar not null,           -- as shown (the latest wording)
    detail           varchar,                    -- figures behind a WMS/CRM fact
    origin           varchar not null,           -- conversation | wms | bitrix
    sources          json not null,              -- refs of the meetings/chat days/calls/e-mails (or WMS/CRM) behind it
    mentions         integer not null,
    first_seen       timestamp,
    last_confirmed   timestamp,                  -- time of the newest evidence
    updated_at       timestamp default current_timestamp,
    primary key (client_id, kind, fact_key, origin)
);

create table if not exists raw.client_profile_evidence (   -- texts already read into the profile
    ref              varchar primary key,
    content_hash     varchar not null,
    processed_at     timestamp default current_timestamp
);

create table if not exists raw.staff_notes (   -- curators' notes, copied from the app DB by the notes sensor
    note_id          bigint primary key,
    client_id        varchar not null,
    author           varchar not null,
    text             varchar not null,
    created_at       timestamp,                 -- UTC
    updated_at       timestamp,
    deleted_at       timestamp,                 -- deleted in the app: gone from the timeline and the index
    pulled_at        timestamp default current_timestamp
);

create table if not exists raw.build_state (   -- bookkeeping of the warehouse build (orchestration/dbt.py)
    key              varchar primary key,
    value            varchar,
    updated_at       timestamp default current_timestamp
);

create table if not exists raw.telegram_daily_summaries (
    client_id         varchar not null,
    day               date not null,
    messages          integer,
    client_messages   integer,
    staff_messages    integer,
    summary           json not null,
    summary_text      varchar not null,
    generated_by      varchar,
    extractive        boolean,
    prompt_tokens     integer,
    completion_tokens integer,
    summarized_at     timestamp default current_timestamp,
    primary key (client_id, day)
);
"""


@contextmanager
def connect(path: Path, *, read_only: bool = False, wait_seconds: float = 60.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse for as short as possible; wait while another process holds the file lock."""
    if read_only and not path.exists():
        with connect(path, wait_seconds=wait_seconds):
            pass  # a fresh install: create the empty warehouse, then read it
    private_dir(path.parent)  # client data: the data folder is the service user's only
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    try:
        if not read_only:
            con.execute(RAW_DDL)
        yield con
    finally:
        con.close()


# columns that say when a row was (re)loaded; dbt's incremental models read them as `loaded_at`
LOAD_STAMPS = frozenset({"pulled_at", "ingested_at", "summarized_at", "analyzed_at", "transcribed_at", "updated_at"})


def upsert(con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[dict]) -> int:
    """Insert or replace rows by the table's primary key; returns the number of rows written.

    Rows go in as one Arrow table: DuckDB's executemany costs milliseconds per row.
    """
    if not rows:
        return 0
    import pyarrow as pa  # here, not at the top: loading the code location needs no pyarrow

    columns = list(rows[0])
    incoming = pa.Table.from_pylist(list(rows))
    # `insert or replace` keeps an omitted column's old value: the load stamp is set explicitly, so the
    # incremental dbt models see a replaced row as changed
    schema, _, name = table.rpartition(".")
    stamps = [
        c
        for (c,) in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [schema or "main", name],
        ).fetchall()
        if c in LOAD_STAMPS and c not in columns
    ]
    con.register("upsert_rows", incoming)
    try:
        names = ", ".join(columns + stamps)
        values = ", ".join(columns + ["current_timestamp"] * len(stamps))
        con.execute(f"insert or replace into {table} ({names}) select {values} from upsert_rows")
    finally:
        con.unregister("upsert_rows")
    return len(rows)


def fetch_dicts(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence | None = None) -> list[dict]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def raw_row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per raw table (what a pull added, as the cycle reports it)."""
    tables = [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw' and table_type = 'BASE TABLE'"
        ).fetchall()
    ]
    return {t: con.execute(f'select count(*) from raw."{t}"').fetchone()[0] for t in tables}
