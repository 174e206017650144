"""`client360` command: run one cycle, print/send the daily report, build the offline demo, open the UI.
The parser is here; each command group's handlers live in their own module of this package."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from pathlib import Path

from cli import clients, dev, identity, ops, pipeline, telegram, users
from config.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    from connectors.redact import install

    install(get_settings)  # no secret in what this process logs or prints on an uncaught error (the app's too)
    parser = argparse.ArgumentParser(prog="client360", description="client360: история клиентов и риск ухода")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="один полный цикл: записи, экспорты, Telegram, Битрикс24, WMS, сводки, хранилище, тревоги, отчёт",
    )
    run.add_argument(
        "--only", metavar="ШАГИ", help="только эти шаги через запятую: meetings,telegram,bitrix,wms,warehouse,report"
    )
    run.set_defaults(func=pipeline.cmd_run)
    report = sub.add_parser("report", help="ежедневный отчёт кураторам за день")
    report.add_argument("--date", type=date.fromisoformat, help="день YYYY-MM-DD (по умолчанию вчера)")
    report.add_argument("--send", action="store_true", help="отправить в Telegram-группу (один раз)")
    report.set_defaults(func=pipeline.cmd_report)
    sub.add_parser("demo", help="офлайн-демо: синтетическая компания и полный прогон").set_defaults(
        func=pipeline.cmd_demo
    )
    imp = sub.add_parser("import-telegram", help="импорт экспорта Telegram Desktop (result.json)")
    imp.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    imp.set_defaults(func=telegram.cmd_import_telegram)
    tg = sub.add_parser("telegram", help="Telegram: вход в аккаунт для загрузки переписки")
    tg_sub = tg.add_subparsers(dest="telegram_command", required=True)
    tg_sub.add_parser("login", help="создать TELEGRAM_SESSION (телефон, код, пароль)").set_defaults(
        func=telegram.cmd_telegram_login
    )
    mp = sub.add_parser("map-telegram", help="привязать Telegram-чат к клиенту (ID лида)")
    mp.add_argument("chat_id", help="ID чата (целое число, как в списке «чаты без клиента»)")
    mp.add_argument("client_id", help="ID лида в Битрикс24")
    mp.add_argument("--note")
    mp.add_argument("--replace", action="store_true", help="заменить прежнюю привязку этого чата")
    mp.set_defaults(func=telegram.cmd_map_telegram)
    idm = sub.add_parser(
        "map", help="клиенты WMS и чаты без лида: предложения и конфликты сопоставления, принять или отклонить"
    )
    act = idm.add_mutually_exclusive_group()
    act.add_argument("--accept", type=int, metavar="N", help="принять предложение №N из списка")
    act.add_argument("--reject", type=int, metavar="N", help="отклонить предложение №N (больше не предлагать)")
    idm.add_argument("--by", default="владелец", help="кто решил (для журнала)")
    idm.set_defaults(func=identity.cmd_map)
    tl = sub.add_parser("timeline", help="все события клиента по времени")
    tl.add_argument("client_id")
    tl.add_argument("--source", choices=["meetings", "telegram", "bitrix", "wms", "notes"])
    tl.add_argument("--since", type=date.fromisoformat, help="с даты YYYY-MM-DD")
    tl.add_argument("--json", action="store_true")
    tl.set_defaults(func=clients.cmd_timeline)
    sim = sub.add_parser("wms-sim", help="симулятор WMS (эталонный API) для демо и проверок")
    sim.add_argument("--clients", type=int, default=30)
    sim.add_argument("--days", type=int, default=365)
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument("--token", default="sim-token")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--truth", type=Path, help="куда записать правильные ответы (JSON)")
    sim.set_defaults(func=dev.cmd_wms_sim)
    ev = sub.add_parser("eval-churn", help="проверка сигналов ухода на симуляторе WMS (точность, полнота, упреждение)")
    ev.add_argument("--clients", type=int, default=100)
    ev.add_argument("--days", type=int, default=365)
    ev.add_argument("--seed", type=int, default=7)
    ev.add_argument(
        "--no-mapping", action="store_true", help="без файла привязок: клиенты WMS под своими названиями из WMS"
    )
    ev.set_defaults(func=dev.cmd_eval_churn)
    ask = sub.add_parser("ask", help="вопрос по клиенту: ответ с цитатами из встреч, переписки, писем и склада")
    ask.add_argument("client", help="ID лида")
    ask.add_argument("question", help="вопрос по-русски")
    ask.add_argument("--json", action="store_true", help="ответ и цитаты в JSON")
    ask.set_defaults(func=clients.cmd_ask)
    er = sub.add_parser("eval-rag", help="качество поиска и ответов на наборе вопросов по демо-данным")
    er.add_argument(
        "--no-fail", action="store_true", help="только напечатать: код выхода 0, даже если приёмка не пройдена"
    )
    er.add_argument("--json", action="store_true", help="итоги и каждый вопрос в JSON")
    er.add_argument(
        "--category",
        action="append",
        choices=[
            "complaints",
            "promises",
            "prices",
            "marketplaces",
            "threats",
            "latest",
            "tone",
            "warehouse",
            "periods",
            "absent",
        ],
        help="только эта категория (можно несколько раз)",
    )
    er.add_argument("--show-misses", action="store_true", help="перечислить неудачные вопросы с найденным и ответом")
    er.add_argument("--offline-only", action="store_true", help="с ключом GLM: не спрашивать модель, только офлайн")
    er.set_defaults(func=dev.cmd_eval_rag)
    sub.add_parser("backup", help="резервная копия всех данных сейчас (C360_BACKUP_DIR)").set_defaults(
        func=ops.cmd_backup
    )
    rs = sub.add_parser("restore", help="восстановить данные из резервной копии")
    rs.add_argument("folder", help="папка копии, например backups/20261125-033000")
    rs.add_argument("--yes", action="store_true", help="да, заменить текущие данные")
    rs.set_defaults(func=ops.cmd_restore)
    accounts = sub.add_parser("users", help="пользователи приложения: add, list, set-password, disable, unlock")
    users_sub = accounts.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="добавить пользователя")
    add.add_argument("login")
    add.add_argument("--role", required=True, choices=["admin", "curator", "viewer"])
    add.add_argument("--name", help="имя, как его видят коллеги")
    add.add_argument("--bitrix-user-id", type=int, help="ID куратора в Битрикс24: его клиенты — «свои»")
    add.add_argument("--see-all", action="store_true", help="куратор видит всех клиентов")
    add.add_argument("--password-stdin", action="store_true", help="прочитать пароль из стандартного ввода")
    sp = users_sub.add_parser("set-password", help="сменить пароль")
    sp.add_argument("login")
    sp.add_argument("--password-stdin", action="store_true")
    users_sub.add_parser("disable", help="отключить пользователя").add_argument("login")
    users_sub.add_parser("unlock", help="снять блокировку входа после неудачных попыток").add_argument("login")
    users_sub.add_parser("list", help="список пользователей")
    accounts.set_defaults(func=users.cmd_users)
    app = sub.add_parser("app", help="приложение кураторов (Gradio)")
    app.add_argument("--host", default="127.0.0.1")
    app.add_argument("--port", type=int, default=7860)
    app.set_defaults(func=ops.cmd_app)
    us = sub.add_parser("usage", help="расход токенов GLM и минут SpeechKit и оценка стоимости в месяц")
    us.add_argument("--days", type=int, default=30)
    us.set_defaults(func=ops.cmd_usage)
    sub.add_parser("doctor", help="проверить все подключения и подсказать, что исправить").set_defaults(
        func=ops.cmd_doctor
    )
    ui = sub.add_parser("ui", help="открыть интерфейс Dagster (dagster dev)")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=pipeline.cmd_ui)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("Прервано.", file=sys.stderr)
        return 130
    except Exception as exc:  # an unexpected failure: one line for the person, the stack trace to the log file
        print(f"Команда не выполнена: {error_log(exc)}", file=sys.stderr)
        return 1


def error_log(exc: Exception) -> str:
    """Write the stack trace (redacted) to <data>/logs/client360-errors.log; a short text saying where it is."""
    import traceback

    from config.private import private_file
    from connectors.redact import redact

    head = " ".join(redact(exc).split())[:300] or type(exc).__name__
    try:
        path = private_file(get_settings().data_dir / "logs" / "client360-errors.log")
        with path.open("a", encoding="utf-8") as f:
            f.write(f"--- {datetime.now().isoformat(timespec='seconds')} client360 {' '.join(sys.argv[1:2])}\n")
            f.write(redact("".join(traceback.format_exception(exc))))
    except (OSError, ValueError):
        return head
    return f"{head} (подробности — в {path})"


if __name__ == "__main__":
    sys.exit(main())
