"""`client360 users`: the app's staff accounts."""

from __future__ import annotations

import argparse
import sys

from config.settings import get_settings


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    import getpass

    first = getpass.getpass("Пароль: ")
    if getpass.getpass("Ещё раз: ") != first:
        raise SystemExit("Пароли не совпали")
    return first


def cmd_users(args: argparse.Namespace) -> int:
    from warehouse.appdb import AppDB
    from warehouse.staff import Staff, StaffError

    staff = Staff(AppDB(get_settings().resolved_app_db_url))
    try:
        if args.users_command == "add":
            user = staff.add(
                args.login,
                args.role,
                _password(args),
                name=args.name,
                bitrix_user_id=args.bitrix_user_id,
                see_all=args.see_all,
            )
            print(f"Добавлен {user.login} ({user.role})")
        elif args.users_command == "set-password":
            staff.set_password(args.login, _password(args))
            print(f"Пароль {args.login} изменён, открытые сессии закрыты")
        elif args.users_command == "disable":
            staff.disable(args.login)
            print(f"{args.login} отключён: войти больше не сможет, открытые сессии закрыты")
        elif args.users_command == "unlock":
            staff.unlock(args.login, by="client360 users unlock")
            print(f"{args.login} разблокирован: прежние неудачные попытки входа больше не мешают")
        else:
            for u in staff.list():
                print(
                    f"{u.login:20} {u.role:8} {'активен' if u.active else 'отключён':9} "
                    f"{'все клиенты' if u.see_all or u.role != 'curator' else 'свои клиенты':13} {u.name or ''}"
                )
    except StaffError as exc:
        print(f"Ошибка: {exc}", file=sys.stderr)
        return 1
    return 0
