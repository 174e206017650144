"""`client360` command: run one cycle, print/send the daily report, build the offline demo, open the UI."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

from warehouse.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parent.parent


def cmd_run(_: argparse.Namespace) -> int:
    from orchestration.definitions import defs
    from orchestration.instance import get_instance
    from orchestration.run_once import run_once

    settings = get_settings()
    instance = get_instance(settings)
    report = run_once(defs, instance, settings)
    print(
        f"Итого: запусков {len(report.succeeded) + len(report.failed)}, успешно {len(report.succeeded)}, "
        f"с ошибкой {len(report.failed)}, уже были {len(report.skipped)}."
    )
    for what, why in report.failed:
        print(f"  ошибка {what}: {why}", file=sys.stderr)
    return 1 if report.failed else 0


def _report(settings: Settings, day: date, send: bool) -> int:
    from assets.reports.curator_report import deliver_report, load_day_meetings, render_report, report_key
    from connectors.factory import build_bot
    from warehouse.appdb import AppDB
    from warehouse.duck import connect

    with connect(settings.warehouse_path, read_only=True) as con:
        meetings = load_day_meetings(con, day)
    html = render_report(day, meetings)
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
    day = args.date or (datetime.now(settings.tz).date() - timedelta(days=1))
    return _report(settings, day, args.send)


def cmd_demo(_: argparse.Namespace) -> int:
    from orchestration.demo import build_demo_company

    base = get_settings()
    recordings = (base.data_dir / "demo_recordings").resolve()
    # the demo is offline by construction, whatever the environment says
    os.environ.update(C360_RECORDINGS_DIR=str(recordings), C360_STT_PROVIDER="sidecar", C360_LLM_PROVIDER="offline")
    settings = get_settings()
    days = build_demo_company(recordings, datetime.now(settings.tz).date(), settings.tz)
    print(f"Демо-записи встреч (формат Jibri): {recordings}")
    code = cmd_run(argparse.Namespace())
    print()
    _report(settings, days[-1], send=False)
    data_dir = settings.data_dir.resolve()
    exe = os.path.relpath(sys.argv[0]) if os.path.isabs(sys.argv[0]) else sys.argv[0]
    print(
        "\nГотово. Где смотреть:\n"
        f"  хранилище DuckDB:     {settings.warehouse_path.resolve()}\n"
        f"  отчёт за другой день: {exe} report --date {days[0].isoformat()}\n"
        f"  интерфейс Dagster:    make ui  (затем http://127.0.0.1:3000)\n"
        f"  данные Dagster:       {Path(os.environ['DAGSTER_HOME'])}\n"
        f"  папка данных:         {data_dir}"
    )
    return code


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
    parser = argparse.ArgumentParser(prog="client360", description="client360: история клиентов и риск ухода")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="один цикл: найти новые записи и обработать их").set_defaults(func=cmd_run)
    report = sub.add_parser("report", help="ежедневный отчёт кураторам за день")
    report.add_argument("--date", type=date.fromisoformat, help="день YYYY-MM-DD (по умолчанию вчера)")
    report.add_argument("--send", action="store_true", help="отправить в Telegram-группу (один раз)")
    report.set_defaults(func=cmd_report)
    sub.add_parser("demo", help="офлайн-демо: синтетическая компания и полный прогон").set_defaults(func=cmd_demo)
    ui = sub.add_parser("ui", help="открыть интерфейс Dagster (dagster dev)")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=cmd_ui)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
