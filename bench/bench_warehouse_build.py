"""The warehouse build at scale: 1,000 clients × 2 years of synthetic history (WMS, Telegram, Bitrix24, meetings,
interaction signals) built in full, then one more day loaded and the same `dbt build` run again (incremental).

Volumes per client and day: 30 WMS orders, 6 Telegram messages, a daily stock snapshot of 100 SKUs, a chat-day summary
and its signals; a reservation every 3 days, a supply a week, a call or e-mail every 4 days, a meeting every 15.
Prints for both builds the wall time of the dbt process (what a Dagster run waits for, including ~2.5 s of
Python start-up), dbt's own elapsed time, the peak memory of the dbt process, and the ratios; and the same for a
dbt build that selects nothing — the fixed cost every build pays, which bounds the full/incremental ratio.
Run: .venv/bin/python bench/bench_warehouse_build.py [clients] [days]
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.settings import get_settings  # noqa: E402
from orchestration.dbt import DBT_DIR, build_args, dbt_vars  # noqa: E402
from warehouse import duck  # noqa: E402

ORDERS_PER_DAY = 30
MESSAGES_PER_DAY = 6
SKUS = 100


def load_days(con, clients: int, first: date, days: int) -> None:
    """Synthetic raw rows for `days` days from `first` for every client (ids are unique per day and client)."""
    d0 = (first - date(2020, 1, 1)).days
    con.execute("select setseed(0.42)")
    grid = f"""
        (select c, d, date '{first}' + cast(d as integer) as day, {d0} + d as dn
         from range(1, {clients} + 1) t(c), range(0, {days}) u(d))
    """
    con.execute(f"""
        insert into raw.wms_orders by name
        select 'W' || lpad(c::varchar, 5, '0') as wms_client_id,
               'O' || c || '-' || dn || '-' || i as order_id,
               case when i = 0 and dn % 29 = c % 29 then 'withdrawal' when i % 5 = 4 then 'fbs'
                    else 'marketplace' end as kind,
               ['wildberries', 'ozon', 'yandex_market'][1 + (c + i) % 3] as marketplace,
               day + interval 8 hour + to_minutes(cast(i * 25 as bigint)) as created_at,
               'shipped' as status,
               1 + cast(random() * 6 + (c % 7) as bigint) as units,
               'ok' as record_status
        from {grid}, range(0, {ORDERS_PER_DAY}) v(i)
    """)
    con.execute(f"""
        insert into raw.wms_receipts by name
        select 'W' || lpad(c::varchar, 5, '0') as wms_client_id, 'R' || c || '-' || dn as receipt_id,
               day + interval 8 hour as created_at, 250 + cast(random() * 100 as bigint) as units, 'ok' as record_status
        from {grid} where dn % 7 = c % 7
    """)
    con.execute(f"""
        insert into raw.wms_reservations by name
        select 'W' || lpad(c::varchar, 5, '0') as wms_client_id, 'S' || c || '-' || dn as reservation_id,
               day + interval 11 hour as created_at, 5 + cast(random() * 20 as bigint) as units, 'active' as status,
               'ok' as record_status
        from {grid} where dn % 3 = c % 3
    """)
    con.execute(f"""
        insert into raw.wms_stock by name
        select 'W' || lpad(c::varchar, 5, '0') as wms_client_id, 'SKU' || s as sku, day as snapshot_date,
               'Товар ' || s as name, 100 + cast(random() * 400 as bigint) as on_hand, 0 as reserved,
               day + interval 23 hour as as_of, 'ok' as record_status
        from {grid}, range(0, {SKUS}) v(s)
    """)
    con.execute(f"""
        insert into raw.telegram_messages by name
        select -100000 - c as chat_id, dn * 10 + i as message_id,
               day + interval 7 hour + to_minutes(cast(i * 90 as bigint)) as sent_at,
               case when i % 2 = 0 then 'client' else 'staff' end as direction, 'message' as kind,
               ['Когда будет отгрузка на Ozon?', 'Поставка принята, спасибо', 'Пришлите акт сверки'][1 + i % 3]
                   as text,
               'telethon' as source
        from {grid}, range(0, {MESSAGES_PER_DAY}) v(i)
    """)
    con.execute(f"""
        insert into raw.telegram_daily_summaries by name
        select c::varchar || '' as client_id, day, {MESSAGES_PER_DAY} as messages, 2 as client_messages,
               2 as staff_messages, '{{"summary": "Обсудили отгрузки", "tone": "нейтральный"}}' as summary,
               'Обсудили отгрузки и акт сверки' as summary_text, 'offline' as generated_by, true as extractive
        from {grid}
    """)
    con.execute(f"""
        insert into raw.interaction_signals by name
        select 'telegram_day:' || c || ':' || day as ref, c::varchar as client_id, 'telegram' as source,
               day + interval 20 hour as occurred_at, md5(c || '-' || dn) as content_hash,
               round(random() * 1.2 - 0.4, 2) as sentiment, 'нейтральный' as tone,
               random() < 0.05 as complaint, false as conflict, '[]' as blockers,
               case when dn % 50 = c % 50 then '[{{"what": "пришлём акт сверки", "due": null}}]' else '[]' end
                   as promises,
               'offline' as generated_by, true as extractive
        from {grid}
    """)
    con.execute(f"""
        insert into raw.bitrix_activities by name
        select c * 100000 + dn as activity_id, c::varchar as client_id, '1' as owner_type, c as owner_id,
               case when dn % 2 = 0 then 'call' else 'email' end as kind,
               case when dn % 4 < 2 then 'incoming' else 'outgoing' end as direction,
               'Созвон по поставкам' as subject, day + interval 12 hour as started_at, 300 as duration_s,
               'Обсудили поставку' as body_text, 'ok' as status
        from {grid} where dn % 4 = c % 4
    """)
    con.execute(f"""
        insert into raw.meeting_summaries by name
        select 'rec-' || c || '-' || dn as recording_id, c::varchar as client_id,
               day + interval 14 hour as started_at, day as meeting_date, '{{"topic": "Встреча"}}' as summary,
               'Встреча: обсудили планы на сезон' as summary_text, 'offline' as generated_by, true as extractive
        from {grid} where dn % 15 = c % 15
    """)


def dbt(args: list[str], env: dict, target: Path) -> tuple[float, float, float]:
    """Run dbt; returns (wall seconds, dbt's own elapsed seconds, peak RSS of the dbt process in MB)."""
    (target / "run_results.json").unlink(missing_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "dbt"), *args], env=env, cwd=DBT_DIR, stdout=subprocess.DEVNULL
    )
    peak_kb = 0
    while proc.poll() is None:  # VmHWM: the process's own high-water mark (wait4's counts the forked parent too)
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak_kb = max(peak_kb, int(status.split("VmHWM:")[1].split()[0]))
        except (OSError, IndexError, ValueError):
            pass
        time.sleep(0.02)
    if proc.returncode != 0:
        raise SystemExit(f"dbt {args[0]} failed (exit {proc.returncode})")
    wall = time.perf_counter() - t0
    results = target / "run_results.json"  # `dbt parse` writes none
    own = json.loads(results.read_text())["elapsed_time"] if results.exists() else wall
    return wall, own, peak_kb / 1024


def generate(warehouse: Path, clients: int, first: date, days: int, mappings: bool) -> None:
    with duck.connect(warehouse) as con:
        if mappings:
            con.execute(
                f"insert into raw.wms_clients by name select 'W' || lpad(c::varchar, 5, '0') as wms_client_id, "
                f"'Клиент ' || c as name, c::varchar as client_id from range(1, {clients} + 1) t(c)"
            )
            con.execute(
                f"insert into raw.telegram_chats by name select -100000 - c as chat_id, 'Клиент ' || c as title, "
                f"c::varchar as client_id, 'title' as mapped_by from range(1, {clients} + 1) t(c)"
            )
            con.execute(
                f"insert into raw.bitrix_leads by name select c as lead_id, 'Клиент ' || c as title, "
                f"date '{first}' as date_create, 'Анна' as assigned_by_name from range(1, {clients} + 1) t(c)"
            )
        load_days(con, clients, first, days)


def in_child(*args) -> None:
    """Generate in a child process, so the dbt processes are not forked from a parent full of DuckDB pages."""
    code = (
        "import sys; from datetime import date; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
        "from bench.bench_warehouse_build import generate; "
        "generate(Path(sys.argv[2]), int(sys.argv[3]), date.fromisoformat(sys.argv[4]), int(sys.argv[5]), "
        "sys.argv[6] == '1')"
    )
    subprocess.run([sys.executable, "-c", code, str(ROOT), *map(str, args)], check=True)


def main(clients: int = 1000, days: int = 730) -> None:
    work = Path(tempfile.mkdtemp(prefix="c360-bench-wh-"))
    warehouse = work / "warehouse.duckdb"
    env = {**os.environ, "C360_WAREHOUSE_PATH": str(warehouse)}
    target = work / "target"
    common = ["--target-path", str(target), "--log-path", str(work / "logs"), "--quiet"]
    settings = get_settings()
    today = date.today()
    first = today - timedelta(days=days)

    t0 = time.perf_counter()
    in_child(warehouse, clients, first, days, 1)
    with duck.connect(warehouse, read_only=True) as con:
        counts = {
            t: con.execute(f"select count(*) from raw.{t}").fetchone()[0]
            for t in ("wms_orders", "wms_stock", "telegram_messages", "interaction_signals", "bitrix_activities")
        }
    print(f"synthetic history: {clients} clients × {days} days in {time.perf_counter() - t0:.0f} s — {counts}")
    print(f"warehouse file: {warehouse.stat().st_size / 2**20:.0f} MB")

    vars_ = ["--vars", json.dumps(dbt_vars(settings), ensure_ascii=False)]
    dbt(["parse", *vars_, *common], env, target)  # the manifest once, as in production (Dagster parses at start-up)
    full = dbt([*build_args(settings, full=True), *common], env, target)
    in_child(warehouse, clients, today, 1, 0)
    inc = dbt([*build_args(settings, full=False), *common], env, target)
    # the floor of any build: one dbt process that selects nothing (start-up, manifest, adapter)
    idle = dbt(["build", "--select", "tag:nothing-has-this-tag", *vars_, *common], env, target)
    rows = (("full build", full), ("one more day, incremental", inc), ("dbt with nothing to build", idle))
    for name, (wall, own, mb) in rows:
        print(f"{name:28s} wall {wall:6.1f} s   dbt elapsed {own:6.1f} s   peak RSS {mb:6.0f} MB")
    print(f"ratio full / incremental: wall {full[0] / inc[0]:.1f}×, dbt elapsed {full[1] / inc[1]:.1f}×")
    print(f"highest ratio any incremental build could reach here (full / nothing to build): {full[0] / idle[0]:.1f}×")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
