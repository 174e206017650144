"""`client360` command: run one cycle, print/send the daily report, build the offline demo, open the UI."""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from warehouse.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parent.parent
# a command that prints its own one-line outcome: the run's events (with stack traces) stay in the run's log only
SILENT_CONSOLE = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def cmd_run(args: argparse.Namespace) -> int:
    from orchestration.cycle import STEPS, CycleBusy, run_cycle
    from orchestration.definitions import defs
    from orchestration.instance import get_instance

    only = [s.strip() for s in (args.only or "").split(",") if s.strip()] or None
    unknown = sorted(set(only or []) - set(STEPS))
    if unknown:
        print(f"Неизвестные шаги: {', '.join(unknown)}. Можно: {','.join(STEPS)}", file=sys.stderr)
        return 2
    settings = get_settings()
    try:
        result = run_cycle(defs, get_instance(settings), settings, only=only)
    except CycleBusy as exc:
        print(f"Цикл уже идёт в другом процессе ({exc}): дождитесь его конца.", file=sys.stderr)
        return 2
    failed = [s for s in result.steps if not s.ok]
    print(
        f"Итого: шагов {len(result.steps)}, успешно {len(result.steps) - len(failed)}, с ошибкой {len(failed)}; "
        f"запусков {sum(s.runs_ok + len(s.failures) for s in result.steps)}."
    )
    for step in failed:
        for why in step.failures:
            print(f"  ошибка «{step.title}» — {why}", file=sys.stderr)
    return 1 if failed else 0


def _report(settings: Settings, day: date, send: bool) -> int:
    from assets.reports.curator_report import (
        deliver_report,
        load_day_activities,
        load_day_chats,
        load_day_meetings,
        render_report,
        report_key,
    )
    from connectors.factory import build_bot
    from warehouse.appdb import AppDB
    from warehouse.duck import connect

    with connect(settings.warehouse_path, read_only=True) as con:
        meetings = load_day_meetings(con, day)
        chats = load_day_chats(con, day)
        activities = load_day_activities(con, day)
    html = render_report(day, meetings, chats, activities)
    print(html)
    if not send:
        return 0
    if not (settings.telegram_bot_token and settings.report_chat_id):
        print("Не отправлено: задайте TELEGRAM_BOT_TOKEN и C360_REPORT_CHAT_ID.", file=sys.stderr)
        return 2
    db = AppDB(settings.resolved_app_db_url)
    with build_bot(settings) as bot:
        delivery = deliver_report(bot, db, settings.report_chat_id, report_key(day), html)
    db.dispose()
    if delivery.already_sent:
        print(f"Отчёт за {day:%d.%m.%Y} уже был отправлен ранее — повторно не отправляем.", file=sys.stderr)
    else:
        print(f"Отправлено сообщений: {delivery.parts_sent_now} из {delivery.parts_total}.", file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    settings = get_settings()
    day = args.date or (settings.today() - timedelta(days=1))
    return _report(settings, day, args.send)


def cmd_import_telegram(args: argparse.Namespace) -> int:
    """Import through the same Dagster job the sensor launches, so the run shows up in the UI."""
    from orchestration.definitions import defs
    from orchestration.instance import get_instance
    from orchestration.run_once import failure_text
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
            run_config={**request.run_config, **SILENT_CONSOLE},
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
    from assets.telegram.storage import refresh_chat_mapping
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
        title, count = con.execute(
            "select any_value(c.title), count(m.message_id) from raw.telegram_chats c "
            "left join raw.telegram_messages m using (chat_id) where c.chat_id = ?",
            [int(args.chat_id)],
        ).fetchone()
    print(
        f"Чат {args.chat_id} «{title or '?'}» привязан к лиду {args.client_id}: сообщений в истории {count}. "
        + (f"Запись добавлена в {path}." if written else f"Такая запись в {path} уже была.")
    )
    return 0


def cmd_timeline(args: argparse.Namespace) -> int:
    import json

    from warehouse.duck import connect
    from warehouse.timeline import client_timeline

    settings = get_settings()
    with connect(settings.warehouse_path, read_only=True) as con:
        events = client_timeline(con, args.client_id, settings.tz, source=args.source, since=args.since)
    if args.json:
        print(json.dumps(events, ensure_ascii=False, default=str, indent=1))
        return 0
    if not events:
        print(f"По клиенту {args.client_id} событий нет.")
    for e in events:
        text = " ".join(e["text"].split())
        print(f"{e['at']:%Y-%m-%d %H:%M}  {e['kind']:<18} {e['who']}: {text[:300]}  [{e['ref']}]")
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


def cmd_demo(_: argparse.Namespace) -> int:
    """The offline demo: a synthetic company (meetings, a Telegram export, a WMS and a Bitrix24 portal simulator),
    then the same whole cycle `client360 run` makes, then the curators' report for the last demo day."""
    from orchestration.bitrix_sim import BitrixSimulator
    from orchestration.demo import CLIENTS, build_demo_bitrix, build_demo_company, build_demo_telegram_export
    from orchestration.wms_sim import WmsSimulator, WmsWorld, write_truth
    from warehouse.aliases import load_aliases, save_alias

    base = get_settings()
    recordings = (base.data_dir / "demo_recordings").resolve()
    exports = (base.data_dir / "demo_telegram_exports").resolve()
    today = base.today()
    days = build_demo_company(recordings, today, base.tz)
    build_demo_telegram_export(exports, days, base.tz)
    world = WmsWorld(clients=30, days=365, end=today)
    aliases = load_aliases(base.resolved_aliases_file)
    for (lead, *_), client in zip(CLIENTS, world.clients, strict=False):  # the first ten WMS clients are demo leads
        if ("wms_client", client.wms_id) not in aliases:
            save_alias(base.resolved_aliases_file, "wms_client", client.wms_id, lead, client.name)
    truth = base.data_dir.resolve() / "demo_wms_truth.json"
    write_truth(world, truth)
    print(
        f"Демо-записи встреч (формат Jibri): {recordings}\nДемо-экспорт Telegram: {exports}\n"
        f"Симуляторы WMS (30 клиентов за год; ответы — {truth}) и Битрикс24 (лиды, звонки, письма)\n"
    )
    with contextlib.ExitStack() as stack:
        wms = stack.enter_context(WmsSimulator(world))
        portal = stack.enter_context(BitrixSimulator())
        build_demo_bitrix(portal, days, base.tz)
        # the demo is offline by construction, whatever the environment says
        stack.enter_context(
            _environ(
                C360_RECORDINGS_DIR=str(recordings),
                C360_TELEGRAM_EXPORT_DIR=str(exports),
                C360_STT_PROVIDER="sidecar",
                C360_LLM_PROVIDER="offline",
                C360_WMS_BASE_URL=wms.url,
                C360_WMS_TOKEN=wms.token,
                BITRIX_WEBHOOK_URL=portal.webhook_url,
                C360_BITRIX_RATE="100",
                TELEGRAM_BOT_TOKEN=None,
                TELEGRAM_SESSION=None,
            )
        )
        code = cmd_run(argparse.Namespace(only=None))
    settings = get_settings()
    print()
    _report(settings, days[-1], send=False)
    data_dir = settings.data_dir.resolve()
    exe = os.path.relpath(sys.argv[0]) if os.path.isabs(sys.argv[0]) else sys.argv[0]
    print(
        "\nГотово. Где смотреть:\n"
        f"  хранилище DuckDB:     {settings.warehouse_path.resolve()}\n"
        f"  отчёт за другой день: {exe} report --date {days[0].isoformat()}\n"
        f"  история клиента:      {exe} timeline 10234\n"
        f'  вопрос по клиенту:    {exe} ask 10234 "что обещали на последней встрече?"\n'
        f"  интерфейс Dagster:    make ui  (затем http://127.0.0.1:3000)\n"
        f"  данные Dagster:       {Path(os.environ['DAGSTER_HOME'])}\n"
        f"  папка данных:         {data_dir}"
    )
    return code


@contextlib.contextmanager
def _environ(**values: str | None):
    """Set (or, with None, remove) environment variables for a block, then put them back."""

    def put(items) -> None:
        for k, v in items:
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    saved = [(k, os.environ.get(k)) for k in values]
    try:
        put(values.items())
        yield
    finally:
        put(saved)


def cmd_wms_sim(args: argparse.Namespace) -> int:
    import time

    from orchestration.wms_sim import WmsSimulator, WmsWorld, write_truth

    world = WmsWorld(clients=args.clients, days=args.days, seed=args.seed)
    with WmsSimulator(world, token=args.token, port=args.port) as sim:
        if args.truth:
            write_truth(world, args.truth)
        print(
            f"Симулятор WMS: {sim.url} — {args.clients} клиентов, {args.days} дней "
            f"(по {world.start.isoformat()}…{world.end.isoformat()}).\n"
            f"Для client360: C360_WMS_BASE_URL={sim.url} C360_WMS_TOKEN={args.token}\n"
            + (f"Правильные ответы (кто уходит и с какого дня): {args.truth}\n" if args.truth else "")
            + "Остановить: Ctrl+C",
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def cmd_eval_churn(args: argparse.Namespace) -> int:
    from orchestration.eval_churn import evaluate, render

    result = evaluate(clients=args.clients, days=args.days, seed=args.seed)
    print(render(result))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from chat_app.engine import Answer, build_engine
    from connectors.llm import LLMError

    settings = get_settings()
    engine = build_engine(settings)
    try:
        for piece in engine.ask(args.client, args.question):
            if isinstance(piece, Answer):
                answer = piece
            elif not args.json:
                print(piece, end="", flush=True)
    except LLMError as exc:
        print(f"Не удалось получить ответ: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(answer.to_json())
        return 0
    print()
    for c in answer.citations:
        print(f"[{c.n}] {c.title} · {c.time or '—'} · {c.deep_ref}\n    «{c.quote}»")
    return 0


def cmd_eval_rag(args: argparse.Namespace) -> int:
    from chat_app.engine import build_engine
    from orchestration.eval_rag import evaluate, render

    settings = get_settings()
    result = evaluate(build_engine(settings), settings)
    print(render(result))
    return 0 if result.recall_at_5 >= 0.9 else 1


def cmd_backup(_: argparse.Namespace) -> int:
    from orchestration.backup import make_backup, prune

    settings = get_settings()
    folder = make_backup(settings, settings.backup_dir)
    removed = prune(settings.backup_dir, settings.backup_keep_days)
    print(f"Резервная копия: {folder.resolve()} (удалено старых: {len(removed)})")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from orchestration.backup import BackupError, restore

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
    from orchestration.usage import measure, render

    settings = get_settings()
    print(render(measure(settings, args.days), settings))
    return 0


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    import getpass

    first = getpass.getpass("Пароль: ")
    if getpass.getpass("Ещё раз: ") != first:
        raise SystemExit("Пароли не совпали")
    return first


def cmd_users(args: argparse.Namespace) -> int:
    from chat_app.staff import Staff, StaffError
    from warehouse.appdb import AppDB

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


def cmd_app(args: argparse.Namespace) -> int:
    from chat_app.app import launch

    print(f"Приложение кураторов: http://{args.host}:{args.port} (вход — логин из client360 users)")
    launch(args.host, args.port)
    return 0


def cmd_doctor(_: argparse.Namespace) -> int:
    from orchestration.doctor import run

    checks = run(get_settings())
    for check in checks:
        print(check.line())
    failed = [c for c in checks if c.ok is False]
    print(
        f"\nРаботает: {sum(c.ok is True for c in checks)}, не настроено: {sum(c.ok is None for c in checks)}, "
        f"с ошибкой: {len(failed)}"
    )
    return 1 if failed else 0


def cmd_ui(args: argparse.Namespace) -> int:
    from orchestration.instance import ensure_dagster_home

    ensure_dagster_home(get_settings())
    return subprocess.call(
        [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-w",
            str(ROOT / "workspace.yaml"),
            "-h",
            args.host,
            "-p",
            str(args.port),
        ]
    )


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
    run.set_defaults(func=cmd_run)
    report = sub.add_parser("report", help="ежедневный отчёт кураторам за день")
    report.add_argument("--date", type=date.fromisoformat, help="день YYYY-MM-DD (по умолчанию вчера)")
    report.add_argument("--send", action="store_true", help="отправить в Telegram-группу (один раз)")
    report.set_defaults(func=cmd_report)
    sub.add_parser("demo", help="офлайн-демо: синтетическая компания и полный прогон").set_defaults(func=cmd_demo)
    imp = sub.add_parser("import-telegram", help="импорт экспорта Telegram Desktop (result.json)")
    imp.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    imp.set_defaults(func=cmd_import_telegram)
    tg = sub.add_parser("telegram", help="Telegram: вход в аккаунт для загрузки переписки")
    tg_sub = tg.add_subparsers(dest="telegram_command", required=True)
    tg_sub.add_parser("login", help="создать TELEGRAM_SESSION (телефон, код, пароль)").set_defaults(
        func=cmd_telegram_login
    )
    mp = sub.add_parser("map-telegram", help="привязать Telegram-чат к клиенту (ID лида)")
    mp.add_argument("chat_id", help="ID чата (целое число, как в списке «чаты без клиента»)")
    mp.add_argument("client_id", help="ID лида в Битрикс24")
    mp.add_argument("--note")
    mp.add_argument("--replace", action="store_true", help="заменить прежнюю привязку этого чата")
    mp.set_defaults(func=cmd_map_telegram)
    tl = sub.add_parser("timeline", help="все события клиента по времени")
    tl.add_argument("client_id")
    tl.add_argument("--source", choices=["meetings", "telegram", "bitrix"])
    tl.add_argument("--since", type=date.fromisoformat, help="с даты YYYY-MM-DD")
    tl.add_argument("--json", action="store_true")
    tl.set_defaults(func=cmd_timeline)
    sim = sub.add_parser("wms-sim", help="симулятор WMS (эталонный API) для демо и проверок")
    sim.add_argument("--clients", type=int, default=30)
    sim.add_argument("--days", type=int, default=365)
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument("--token", default="sim-token")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--truth", type=Path, help="куда записать правильные ответы (JSON)")
    sim.set_defaults(func=cmd_wms_sim)
    ev = sub.add_parser("eval-churn", help="проверка сигналов ухода на симуляторе WMS (точность, полнота, упреждение)")
    ev.add_argument("--clients", type=int, default=100)
    ev.add_argument("--days", type=int, default=365)
    ev.add_argument("--seed", type=int, default=7)
    ev.set_defaults(func=cmd_eval_churn)
    ask = sub.add_parser("ask", help="вопрос по клиенту: ответ с цитатами из встреч, переписки, писем и склада")
    ask.add_argument("client", help="ID лида")
    ask.add_argument("question", help="вопрос по-русски")
    ask.add_argument("--json", action="store_true", help="ответ и цитаты в JSON")
    ask.set_defaults(func=cmd_ask)
    sub.add_parser("eval-rag", help="качество поиска и ответов на наборе вопросов по демо-данным").set_defaults(
        func=cmd_eval_rag
    )
    sub.add_parser("backup", help="резервная копия всех данных сейчас (C360_BACKUP_DIR)").set_defaults(func=cmd_backup)
    rs = sub.add_parser("restore", help="восстановить данные из резервной копии")
    rs.add_argument("folder", help="папка копии, например backups/20261125-033000")
    rs.add_argument("--yes", action="store_true", help="да, заменить текущие данные")
    rs.set_defaults(func=cmd_restore)
    users = sub.add_parser("users", help="пользователи приложения: add, list, set-password, disable, unlock")
    users_sub = users.add_subparsers(dest="users_command", required=True)
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
    users.set_defaults(func=cmd_users)
    app = sub.add_parser("app", help="приложение кураторов (Gradio)")
    app.add_argument("--host", default="127.0.0.1")
    app.add_argument("--port", type=int, default=7860)
    app.set_defaults(func=cmd_app)
    us = sub.add_parser("usage", help="расход токенов GLM и минут SpeechKit и оценка стоимости в месяц")
    us.add_argument("--days", type=int, default=30)
    us.set_defaults(func=cmd_usage)
    sub.add_parser("doctor", help="проверить все подключения и подсказать, что исправить").set_defaults(func=cmd_doctor)
    ui = sub.add_parser("ui", help="открыть интерфейс Dagster (dagster dev)")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=cmd_ui)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
