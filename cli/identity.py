"""`client360 map`: the suggested and conflicting links of WMS clients and Telegram chats to leads, accepted or
rejected by number."""

from __future__ import annotations

import argparse
import sys

from config.settings import get_settings


def open_candidates(settings) -> list[dict]:
    """The suggestions and conflicts waiting for a person, numbered from 1 in a stable order."""
    from warehouse.duck import connect, fetch_dicts

    with connect(settings.warehouse_path, read_only=True) as con:
        try:
            return fetch_dicts(
                con,
                "select * from staging.stg_identity__candidates where status in ('suggested', 'conflict') "
                "order by system desc, external_id, confidence desc, lead_id",
            )
        except Exception as exc:  # no warehouse build yet
            if "does not exist" in str(exc):
                return []
            raise


def cmd_map(args: argparse.Namespace) -> int:
    from chat_app.views import IDENTITY_WHAT, identity_choice
    from warehouse.aliases import AliasError, save_alias
    from warehouse.appdb import AppDB

    settings = get_settings()
    rows = open_candidates(settings)
    if args.accept is None and args.reject is None:
        if not rows:
            print("Предложений и конфликтов нет: все клиенты WMS и чаты привязаны или совпадений не найдено.")
            return 0
        for n, r in enumerate(rows, 1):
            print(f"{n}. {identity_choice(r)}")
        print("Принять: client360 map --accept N   Отклонить: client360 map --reject N")
        return 0
    n = args.accept if args.accept is not None else args.reject
    if not 1 <= n <= len(rows):
        print(f"Нет предложения №{n}: их {len(rows)} (список: client360 map).", file=sys.stderr)
        return 2
    row = rows[n - 1]
    what = f"{IDENTITY_WHAT[row['system']]} {row['external_id']}"
    if args.accept is not None:
        note = f"принято предложение: {row['evidence']}"
        path = settings.resolved_aliases_file
        try:
            save_alias(path, row["system"], row["external_id"], row["lead_id"], note)
        except AliasError as exc:
            print(f"Не привязано: {exc}. Файл привязок не изменён.", file=sys.stderr)
            return 2
        if row["system"] == "telegram_chat":  # as map-telegram: the chat's history is the lead's at once
            from assets.telegram.storage import refresh_chat_mapping
            from warehouse.aliases import load_aliases
            from warehouse.duck import connect

            with connect(settings.warehouse_path) as con:
                refresh_chat_mapping(con, load_aliases(path), settings.room_prefix)
        print(
            f"{what} привязан к лиду {row['lead_id']}; история и тревоги перейдут к лиду при следующей сборке "
            "хранилища (повторно тревоги не отправляются)."
        )
        return 0
    db = AppDB(settings.resolved_app_db_url)
    try:
        db.reject_identity(row["system"], row["external_id"], row["lead_id"], args.by)
    finally:
        db.dispose()
    print(f"Отклонено: {what} — не лид {row['lead_id']}; больше не предлагается.")
    return 0
