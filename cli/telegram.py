"""`client360 import-telegram`, `map-telegram` and `telegram login`: Telegram exports, chat↔client links, the
account session."""

from __future__ import annotations

import argparse
import sys

from config.settings import get_settings


def cmd_import_telegram(args: argparse.Namespace) -> int:
    """Import through the same Dagster job the sensor launches, so the run shows up in the UI."""
    from orchestration.definitions import defs
    from orchestration.instance import get_instance
    from orchestration.run_once import QUIET_CONSOLE, failure_text
    from orchestration.sensors import export_run_request

    settings = get_settings()
    instance = get_instance(settings)
    code = 0
    for path in args.paths:
        path = path.resolve()
        if not path.is_file():
            print(f"Файл не найден: {path}", file=sys.stderr)
            code = 1
            continue
        request = export_run_request(path, path.stat().st_size, path.stat().st_mtime)
        result = defs.resolve_job_def(request.job_name).execute_in_process(
            run_config={**request.run_config, **QUIET_CONSOLE},
            instance=instance,
            tags=request.tags,
            raise_on_error=False,
        )
        if not result.success:
            print(
                f"Ошибка импорта: {failure_text(result)} (подробности — запуск {result.run_id} в Dagster)",
                file=sys.stderr,
            )
            code = 1
            continue
        [mat] = result.asset_materializations_for_node("telegram_exports")
        meta = {k: v.value for k, v in mat.metadata.items()}
        print(
            f"{path}: чатов {meta['чатов в файле']}, сообщений {meta['сообщений в файле']}, "
            f"добавлено {meta['добавлено']}, обновлено {meta['обновлено (правки)']}, уже были {meta['уже были']}, "
            f"чатов без клиента {meta['чатов без клиента']}"
        )
    return code


def cmd_map_telegram(args: argparse.Namespace) -> int:
    from assets.telegram.storage import chat_overview, refresh_chat_mapping
    from warehouse.aliases import AliasConflict, AliasError, load_aliases, save_alias
    from warehouse.duck import connect

    settings = get_settings()
    path = settings.resolved_aliases_file
    try:
        written = save_alias(path, "telegram_chat", args.chat_id, args.client_id, args.note or "", replace=args.replace)
    except AliasConflict as exc:
        print(f"Не привязано: чат {exc}. Перепривязать к лиду {args.client_id}: добавьте --replace.", file=sys.stderr)
        return 2
    except AliasError as exc:
        print(f"Не привязано: {exc}. Файл привязок не изменён.", file=sys.stderr)
        return 2
    with connect(settings.warehouse_path) as con:
        refresh_chat_mapping(con, load_aliases(path), settings.room_prefix)
        title, count = chat_overview(con, int(args.chat_id))
    print(
        f"Чат {args.chat_id} «{title or '?'}» привязан к лиду {args.client_id}: сообщений в истории {count}. "
        + (f"Запись добавлена в {path}." if written else f"Такая запись в {path} уже была.")
    )
    return 0


def cmd_telegram_login(_: argparse.Namespace) -> int:
    """Interactive: phone, code, 2FA password → a StringSession line for .env."""
    import asyncio
    import getpass

    from telethon import TelegramClient
    from telethon.sessions import StringSession

    settings = get_settings()
    print("Вход в Telegram для загрузки переписки. Ключи приложения: https://my.telegram.org → API development tools.")
    api_id = settings.telegram_api_id or int(input("api_id: ").strip())
    api_hash = settings.telegram_api_hash or input("api_hash: ").strip()

    async def login() -> str:
        client = TelegramClient(StringSession(), api_id, api_hash)
        await client.start(
            phone=lambda: input("Телефон (в формате +7…): ").strip(),
            code_callback=lambda: input("Код из Telegram: ").strip(),
            password=lambda: getpass.getpass("Пароль двухэтапной проверки (если есть): "),
        )
        me = await client.get_me()
        session = client.session.save()
        await client.disconnect()
        print(f"Вошли как {me.first_name or ''} {me.last_name or ''} (id {me.id}).")
        return session

    session = asyncio.run(login())
    print("\nДобавьте в .env (строка — это доступ к аккаунту, храните её как пароль):\n")
    print(f"TELEGRAM_API_ID={api_id}\nTELEGRAM_API_HASH={api_hash}\nTELEGRAM_SESSION={session}")
    return 0
