"""`client360 run`, `report`, `demo` and `ui`: one whole cycle, the curators' daily report, the offline demo, the
Dagster UI."""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from config.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parent.parent


def cmd_run(args: argparse.Namespace) -> int:
    from orchestration.cycle import STEPS
    from orchestration.definitions import defs

    only = [s.strip() for s in (args.only or "").split(",") if s.strip()] or None
    unknown = sorted(set(only or []) - set(STEPS))
    if unknown:
        print(f"Неизвестные шаги: {', '.join(unknown)}. Можно: {','.join(STEPS)}", file=sys.stderr)
        return 2
    return _cycle(defs, get_settings(), only)


def _cycle(defs, settings: Settings, only: list[str] | None) -> int:
    """One whole cycle (or the steps in `only`) with these definitions and settings, summed up on the console."""
    from orchestration.cycle import CycleBusy, run_cycle
    from orchestration.instance import get_instance

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
    import duckdb

    from assets.reports.curator_report import day_report, report_key
    from config.delivery import deliver_report
    from config.factory import build_bot
    from connectors.telegram_bot import ChatTarget
    from warehouse.appdb import AppDB
    from warehouse.duck import connect

    try:
        with connect(settings.warehouse_path, read_only=True) as con:
            html = day_report(con, day).html
    except duckdb.CatalogException:  # the report reads dbt's views: none before the first warehouse build
        print("Хранилище ещё не собрано: сначала `client360 run` (шаг «Хранилище»).", file=sys.stderr)
        return 1
    print(html)
    if not send:
        return 0
    if not (settings.telegram_bot_token and settings.report_chat_id):
        print("Не отправлено: задайте TELEGRAM_BOT_TOKEN и C360_REPORT_CHAT_ID.", file=sys.stderr)
        return 2
    db = AppDB(settings.resolved_app_db_url)
    chat = ChatTarget(settings.report_chat_id, settings.report_thread_id, "C360_REPORT_CHAT_ID")
    with build_bot(settings) as bot:
        delivery = deliver_report(bot, db, chat, report_key(day), html)
    db.dispose()
    if delivery.already_sent:
        print(f"Отчёт за {day:%d.%m.%Y} уже был отправлен ранее — повторно не отправляем.", file=sys.stderr)
    else:
        print(f"Отправлено сообщений: {delivery.parts_sent_now} из {delivery.parts_total}.", file=sys.stderr)
    if delivery.unconfirmed_parts:
        print(
            f"Не подтверждены (связь оборвалась после отправки, повторно не отправляли): части "
            f"{', '.join(map(str, delivery.unconfirmed_parts))} — проверьте группу.",
            file=sys.stderr,
        )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    settings = get_settings()
    day = args.date or (settings.today() - timedelta(days=1))
    return _report(settings, day, args.send)


def cmd_demo(_: argparse.Namespace) -> int:
    """The offline demo: a synthetic company (meetings, a Telegram export, a WMS and a Bitrix24 portal simulator),
    then the same whole cycle `client360 run` makes, then the curators' report for the last demo day."""
    from devkit.bitrix_sim import BitrixSimulator
    from devkit.demo import CLIENTS, build_demo_bitrix, build_demo_company, build_demo_telegram_export
    from devkit.wms_sim import WmsSimulator, WmsWorld, write_truth
    from orchestration.definitions import build_defs
    from orchestration.resources import all_resources
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
        demo = base.model_copy(
            update={
                "recordings_dir": recordings,
                "telegram_export_dir": exports,
                "stt_provider": "sidecar",
                "llm_provider": "offline",
                "wms_base_url": wms.url,
                "wms_token": wms.token,
                "bitrix_webhook_url": portal.webhook_url,
                "bitrix_rate_per_second": 100.0,
                "telegram_bot_token": None,
                "telegram_session": None,
            }
        )
        code = _cycle(build_defs(all_resources(demo)), demo, None)
    settings = base
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
