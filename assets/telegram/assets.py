"""Telegram assets: Desktop-export import, daily Telethon pull, daily per-client chat summaries."""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from assets.metadata import alias_problems, md_table
from assets.partitions import daily_partitions
from assets.resources import LLMResource, TelegramUserResource, WarehouseResource
from assets.telegram.storage import (
    ChatMapping,
    StoreResult,
    chat_cursor,
    recent_ids,
    refresh_chat_mapping,
    store_chats,
    store_messages,
    store_unparsed,
)
from config.clock import day_start_utc, to_local
from config.settings import get_settings
from connectors.llm import LLMError
from connectors.llm.chats import summarize_chat_day
from connectors.telegram_export import ExportError, parse_export
from warehouse.aliases import Aliases
from warehouse.duck import fetch_dicts, upsert

if TYPE_CHECKING:  # Telethon is imported by the pull alone: a second of start-up for every other step
    from connectors.telegram_user import TelegramUserClient

GROUP = "telegram"
RENAME_RULE = (
    "Чат привязывается к клиенту по ID лида в названии, пока у него нет клиента; переименование чата клиента "
    "не меняет (чат попадает в список «переименован»), перепривязывает только администратор."
)


def mapping_metadata(mapping: ChatMapping, aliases: Aliases) -> dict:
    """What a person checks after a load: chats without a client (and why), renamed chats (kept with their client
    until an admin maps them), lines of the alias file that were skipped."""
    return {
        "чатов без клиента": len(mapping.unmapped),
        "чаты без клиента": md_table(
            ("chat_id", "название", "почему"), [(c["chat_id"], c["title"], c["reason"]) for c in mapping.unmapped]
        ),
        "переименованных чатов": len(mapping.renamed),
        "переименован (клиент не менялся)": md_table(
            ("chat_id", "было", "стало", "клиент", "лид в новом названии"),
            [(c["chat_id"], c["mapped_title"], c["title"], c["client_id"], c["title_lead"]) for c in mapping.renamed],
        ),
        **alias_problems(aliases),
    }


class TelegramExportConfig(dg.Config):
    path: str = Field(description="Путь к result.json экспорта Telegram Desktop")


@dg.asset(
    group_name=GROUP,
    pool="duckdb_write",
    kinds={"duckdb", "telegram"},
    description=(
        "Импорт истории переписки из экспорта Telegram Desktop (result.json: один чат или весь аккаунт). "
        "Повторный или пересекающийся импорт ничего не дублирует (ключ: чат + номер сообщения), правки применяются. "
        + RENAME_RULE
    ),
)
def telegram_exports(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, config: TelegramExportConfig
) -> dg.MaterializeResult:
    settings = get_settings()
    path = Path(config.path)
    try:
        parsed = parse_export(path, staff_ids=settings.staff_ids, tz=settings.tz)
    except ExportError as exc:
        raise dg.Failure(description=str(exc), metadata={"файл": str(path)}) from exc
    aliases = warehouse.aliases()
    with warehouse.connect() as con:
        con.begin()  # all of the file or nothing
        store_chats(con, parsed.chats, "export")
        result = store_messages(con, parsed.messages)
        store_unparsed(con, str(path.resolve()), parsed.unparsed)
        mapping = refresh_chat_mapping(con, aliases, settings.room_prefix)
        con.commit()
    context.log.info(f"{path}: добавлено {result.added}, обновлено {result.updated}, без изменений {result.unchanged}")
    return dg.MaterializeResult(
        metadata={
            "файл": dg.MetadataValue.path(str(path)),
            "чатов в файле": len(parsed.chats),
            "сообщений в файле": len(parsed.messages),
            "добавлено": result.added,
            "обновлено (правки)": result.updated,
            "уже были": result.unchanged,
            "служебных": parsed.count("service"),
            "неизвестного вида (сохранены как есть)": parsed.count("unknown") + len(parsed.unparsed),
            **mapping_metadata(mapping, aliases),
        }
    )


async def _pull(tg: "TelegramUserClient", warehouse: WarehouseResource, settings, log) -> dict:
    totals, chats_pulled = StoreResult(), 0
    try:
        await tg.start()
        dialogs = await tg.dialogs()
        with warehouse.connect() as con:
            store_chats(con, dialogs, "telethon")
            aliases = warehouse.aliases()
            mapping = refresh_chat_mapping(con, aliases, settings.room_prefix)
            seen = {d["chat_id"] for d in dialogs}
            mapped = [
                (chat_id, client_id)
                for chat_id, client_id in con.execute(
                    "select chat_id, client_id from raw.telegram_chats where client_id is not null order by chat_id"
                ).fetchall()
                if chat_id in seen
            ]
            # people chat with us in personal chats and groups; a channel's or bot's subscribers are no one's contact
            unmapped = [
                d["chat_id"]
                for d in dialogs
                if d["chat_id"] not in {c for c, _ in mapped} and d["chat_type"] not in ("channel", "bot_chat")
            ]
        # who is in each chat without a client: what assets/identity matches it to a lead's contacts on
        members = [m for chat_id in unmapped for m in await tg.members(chat_id)]
        with warehouse.connect() as con:
            con.execute("delete from raw.telegram_chat_members")
            upsert(con, "raw.telegram_chat_members", members)
        since = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=settings.telegram_edit_lookback_days)
        for chat_id, client_id in mapped:
            with warehouse.connect() as con:
                cursor, window = chat_cursor(con, chat_id), recent_ids(con, chat_id, since)

            def store(rows: list[dict]) -> None:
                nonlocal totals
                with warehouse.connect() as con:
                    totals += store_messages(con, rows)

            new = await tg.pull_new(chat_id, cursor, store)
            store(await tg.reread(chat_id, window))
            chats_pulled += 1
            log.info(f"чат {chat_id} (лид {client_id}): новых сообщений {new}, после #{cursor}")
    finally:
        await tg.close()
    return {
        "totals": totals,
        "chats": chats_pulled,
        "mapping": mapping,
        "aliases": aliases,
        "dialogs": len(dialogs),
        "members": len(members),
    }


@dg.asset(
    group_name=GROUP,
    pool="duckdb_write",
    kinds={"duckdb", "telegram"},
    description=(
        "Ежедневная загрузка переписки из Telegram (аккаунт сотрудника, Telethon): по каждому чату, привязанному к "
        "клиенту, только новые сообщения после последнего сохранённого, плюс правки за последние дни. "
        "Чаты без клиента сохраняются в списке и подхватываются целиком, когда их привяжут. " + RENAME_RULE
    ),
)
def telegram_messages(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, telegram_user: TelegramUserResource
) -> dg.MaterializeResult:
    from connectors.telegram_user import TelegramUserError

    settings = get_settings()
    tg = telegram_user.client()
    try:
        out = asyncio.run(_pull(tg, warehouse, settings, context.log))
    except TelegramUserError as exc:
        raise dg.Failure(description=str(exc)) from exc
    totals: StoreResult = out["totals"]
    return dg.MaterializeResult(
        metadata={
            "чатов в аккаунте": out["dialogs"],
            "чатов загружено": out["chats"],
            "участников чатов без клиента (для сопоставления с лидами)": out["members"],
            "новых сообщений": totals.added,
            "правок применено": totals.updated,
            "пауз FloodWait": tg.flood_waits,
            **mapping_metadata(out["mapping"], out["aliases"]),
        }
    )


def load_day_messages(con, day, tz) -> list[dict]:
    """Messages of mapped chats sent on `day` in the team's timezone (stored times are UTC)."""
    start = day_start_utc(day, tz)
    rows = fetch_dicts(
        con,
        """
        select c.client_id, m.chat_id, m.message_id, m.sent_at, m.sender_name, m.direction, m.text, m.media_kind
        from raw.telegram_messages m join raw.telegram_chats c using (chat_id)
        where c.client_id is not null and m.kind = 'message' and m.sent_at >= ? and m.sent_at < ?
        order by c.client_id, m.sent_at, m.chat_id, m.message_id
        """,
        [start, start + timedelta(days=1)],
    )
    for r in rows:
        r["local_time"] = to_local(r["sent_at"], tz)
    return rows


@dg.asset(
    partitions_def=daily_partitions,
    group_name=GROUP,
    deps=[telegram_messages, telegram_exports],
    pool="duckdb_write",
    kinds={"duckdb"},
    description=(
        "Сводка переписки в Telegram по каждому клиенту за день: о чём говорили, просьбы, жалобы, обещания нашей "
        "стороны, тон. Раздел = день (можно дозагрузить диапазон дней из интерфейса)."
    ),
)
def telegram_daily_summaries(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, llm: LLMResource
) -> dg.MaterializeResult:
    settings = get_settings()
    day = context.partition_time_window.start.date()
    with warehouse.connect() as con:
        # an alias added to the file by hand since the last pull takes effect here too
        refresh_chat_mapping(con, warehouse.aliases(), settings.room_prefix)
        messages = load_day_messages(con, day, settings.tz)
    model = llm.client()
    clients = list(dict.fromkeys(m["client_id"] for m in messages))
    rows, failed = [], []
    for client in clients:
        own = [m for m in messages if m["client_id"] == client]
        before = model.usage.snapshot()
        try:
            summary = summarize_chat_day(
                model, own, client=f"лид {client}", day=f"{day:%d.%m.%Y}", max_chars=llm.max_input_chars()
            )
        except LLMError as exc:
            failed.append(f"лид {client}: {exc}")
            continue
        spent = model.usage.since(before)
        rows.append(
            {
                "client_id": client,
                "day": day,
                "messages": len(own),
                "client_messages": sum(m["direction"] == "client" for m in own),
                "staff_messages": sum(m["direction"] == "staff" for m in own),
                "summary": summary.model_dump_json(),
                "summary_text": summary.as_text(),
                "generated_by": summary.generated_by,
                "extractive": summary.extractive,
                "prompt_tokens": spent["prompt_tokens"],
                "completion_tokens": spent["completion_tokens"],
            }
        )
    usage = model.usage.snapshot()
    with warehouse.connect() as con:
        upsert(con, "raw.telegram_daily_summaries", rows)
    metadata = {
        "день": day.isoformat(),
        "клиентов": len(clients),
        "сообщений": len(messages),
        "токенов всего": usage["total_tokens"],
        "ответов из кэша": usage["cache_hits"],
    }
    if failed:
        raise dg.Failure(description="Не удалось составить сводку: " + "; ".join(failed), metadata=metadata)
    return dg.MaterializeResult(metadata=metadata)


telegram_assets = [telegram_exports, telegram_messages, telegram_daily_summaries]
