"""Writing Telegram chats and messages into the warehouse: keyed by (chat_id, message_id), edits applied once."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from warehouse.aliases import Aliases, title_lead
from warehouse.duck import fetch_dicts

# column → type; polars is imported by store_messages alone (loading the code location needs none of it)
MESSAGE_SCHEMA = {
    "chat_id": "int",
    "message_id": "int",
    "sent_at": "datetime",
    "edited_at": "datetime",
    "sender_id": "int",
    "sender_name": "str",
    "direction": "str",
    "kind": "str",
    "text": "str",
    "reply_to_id": "int",
    "forwarded_from": "str",
    "media_kind": "str",
    "media_name": "str",
    "media_size": "int",
    "service_action": "str",
    "raw": "str",
    "source": "str",
}
COLUMNS = ", ".join(MESSAGE_SCHEMA)


@dataclass
class StoreResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: StoreResult) -> StoreResult:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


def store_messages(con: duckdb.DuckDBPyConnection, rows: list[dict]) -> StoreResult:
    """Insert new messages; for known ones apply a newer edit (keeping the first text); never duplicate."""
    if not rows:
        return StoreResult()
    import polars as pl

    dtypes = {"int": pl.Int64, "datetime": pl.Datetime("us"), "str": pl.Utf8}
    incoming = pl.DataFrame(rows, schema={c: dtypes[t] for c, t in MESSAGE_SCHEMA.items()})
    # an export overlapping itself, or a batch with a message twice: keep the latest edit
    incoming = incoming.sort("edited_at", nulls_last=False).unique(["chat_id", "message_id"], keep="last")
    con.register("incoming_messages", incoming.to_arrow())
    try:
        added, updated = con.execute(
            """
            select
                count(*) filter (where m.message_id is null),
                count(*) filter (where m.message_id is not null
                                 and coalesce(i.edited_at, '1970-01-01') > coalesce(m.edited_at, '1970-01-01')
                                 and i.text is distinct from m.text)
            from incoming_messages i
            left join raw.telegram_messages m using (chat_id, message_id)
            """
        ).fetchone()
        con.execute(
            f"""
            insert into raw.telegram_messages ({COLUMNS})
            select {COLUMNS} from incoming_messages
            on conflict (chat_id, message_id) do update set
                original_text = coalesce(original_text, text),
                text = excluded.text,
                edited_at = excluded.edited_at,
                media_kind = excluded.media_kind,
                media_name = excluded.media_name
            where coalesce(excluded.edited_at, '1970-01-01') > coalesce(edited_at, '1970-01-01')
              and excluded.text is distinct from text
            """
        )
    finally:
        con.unregister("incoming_messages")
    return StoreResult(added=added, updated=updated, unchanged=len(incoming) - added - updated)


def store_chats(con: duckdb.DuckDBPyConnection, chats: list[dict], source: str) -> None:
    con.executemany(
        """
        insert into raw.telegram_chats (chat_id, title, chat_type, source) values (?, ?, ?, ?)
        on conflict (chat_id) do update set
            title = coalesce(excluded.title, title), chat_type = excluded.chat_type, updated_at = now()
        """,
        [[c["chat_id"], c["title"], c["chat_type"], source] for c in chats],
    )


def store_unparsed(con: duckdb.DuckDBPyConnection, source_file: str, items: list[dict]) -> None:
    if items:
        con.executemany(
            "insert or ignore into raw.telegram_unparsed (source_file, chat_id, position, raw) values (?, ?, ?, ?)",
            [[source_file, i["chat_id"], i["position"], i["raw"]] for i in items],
        )


# a chat whose title changed after it was first seen so that it now names another lead (or none): it keeps its
# client — or stays without one — until an admin decides
RENAMED = (
    "(mapped_by = 'title' and title_lead is distinct from client_id) "
    "or (client_id is null and title_lead is not null and title is distinct from mapped_title)"
)


@dataclass
class ChatMapping:
    unmapped: list[dict] = field(default_factory=list)  # chat_id, title, reason
    renamed: list[dict] = field(default_factory=list)  # chat_id, mapped_title, title, client_id, title_lead


def refresh_chat_mapping(con: duckdb.DuckDBPyConnection, aliases: Aliases, prefix: str) -> ChatMapping:
    """Map chats to clients: an alias always wins; otherwise a chat takes the lead ID in its title only the first
    time it is seen (`mapped_title` keeps that title). A later rename never maps or re-maps a chat (whoever can rename
    a group must not move a client's history to another client): the rename is listed, and only an alias changes it."""
    chats = con.execute(
        "select chat_id, title, client_id, mapped_by, mapped_title, title_lead from raw.telegram_chats order by chat_id"
    ).fetchall()
    changes, unmapped = [], []
    for chat_id, title, client_id, mapped_by, mapped_title, old_title_lead in chats:
        key = ("telegram_chat", str(chat_id))
        lead, why = title_lead(title, prefix)
        if key in aliases:
            new = (aliases[key], "alias", mapped_title)
        elif key in aliases.unreadable:  # its alias line is broken: it keeps what it had until the line is fixed
            new = (client_id, mapped_by, mapped_title)
        elif mapped_by == "title" and client_id:
            new = (client_id, "title", mapped_title or title)
        elif mapped_title is None and lead:  # first sight
            new = (lead, "title", title)
        else:
            new = (None, None, mapped_title or title)
        if new + (lead,) != (client_id, mapped_by, mapped_title, old_title_lead):
            changes.append([*new, lead, chat_id])
        if new[0] is None:
            if lead:  # the lead came with a later title
                why = f"ID лида {lead} появился в названии после первой загрузки: привязать может администратор"
            unmapped.append({"chat_id": chat_id, "title": title, "reason": why})
    if changes:
        con.executemany(
            "update raw.telegram_chats set client_id = ?, mapped_by = ?, mapped_title = ?, title_lead = ?, "
            "updated_at = now() where chat_id = ?",
            changes,
        )
    return ChatMapping(unmapped=unmapped, renamed=renamed_chats(con))


def renamed_chats(con: duckdb.DuckDBPyConnection) -> list[dict]:
    return fetch_dicts(
        con,
        f"select chat_id, mapped_title, title, client_id, title_lead from raw.telegram_chats where {RENAMED} "
        "order by chat_id",
    )


def chat_cursor(con: duckdb.DuckDBPyConnection, chat_id: int) -> int:
    """The last stored message id of a chat (from pulls and imports alike): the next pull starts after it."""
    return con.execute(
        "select coalesce(max(message_id), 0) from raw.telegram_messages where chat_id = ?", [chat_id]
    ).fetchone()[0]


def recent_ids(con: duckdb.DuckDBPyConnection, chat_id: int, since) -> list[int]:
    return [
        r[0]
        for r in con.execute(
            "select message_id from raw.telegram_messages where chat_id = ? and sent_at >= ? and kind = 'message' "
            "order by message_id",
            [chat_id, since],
        ).fetchall()
    ]


def message_hours(con: duckdb.DuckDBPyConnection, since) -> list:
    """The hours (UTC) in which messages were sent since `since`: which days have something to summarize."""
    return [
        r[0]
        for r in con.execute(
            "select distinct date_trunc('hour', sent_at) from raw.telegram_messages where sent_at >= ?", [since]
        ).fetchall()
    ]


def chat_overview(con: duckdb.DuckDBPyConnection, chat_id: int) -> tuple[str | None, int]:
    """A chat's title and how many of its messages are stored."""
    return con.execute(
        "select any_value(c.title), count(m.message_id) from raw.telegram_chats c "
        "left join raw.telegram_messages m using (chat_id) where c.chat_id = ?",
        [chat_id],
    ).fetchone()
