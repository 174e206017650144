"""`client360 backup`, `restore`, `usage`, `doctor` and `app`: running the installation."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from config.settings import get_settings


def cmd_backup(_: argparse.Namespace) -> int:
    from ops.backup import make_backup, prune

    settings = get_settings()
    folder = make_backup(settings, settings.backup_dir)
    removed = prune(settings.backup_dir, settings.backup_keep_days)
    print(f"Резервная копия: {folder.resolve()} (удалено старых: {len(removed)})")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from ops.backup import BackupError, restore

    if not args.yes:
        print(
            "Восстановление заменит текущие данные. Остановите Dagster и приложение "
            "(docker compose stop) и повторите с --yes."
        )
        return 2
    try:
        restored = restore(get_settings(), Path(args.folder))
    except (BackupError, OSError, ValueError) as exc:
        print(f"Не удалось восстановить: {exc}", file=sys.stderr)
        return 1
    print("Восстановлено: " + ", ".join(restored))
    return 0


def cmd_usage(args: argparse.Namespace) -> int:
    from ops.usage import measure, render

    settings = get_settings()
    print(render(measure(settings, args.days), settings))
    return 0


def cmd_doctor(_: argparse.Namespace) -> int:
    from ops.doctor import run

    checks = run(get_settings())
    for check in checks:
        print(check.line())
    failed = [c for c in checks if c.ok is False]
    print(
        f"\nРаботает: {sum(c.ok is True for c in checks)}, не настроено: {sum(c.ok is None for c in checks)}, "
        f"с ошибкой: {len(failed)}"
    )
    return 1 if failed else 0


def cmd_app(args: argparse.Namespace) -> int:
    from chat_app.app import launch

    print(f"Приложение кураторов: http://{args.host}:{args.port} (вход — логин из client360 users)")
    launch(args.host, args.port)
    return 0
