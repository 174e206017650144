"""How fast a client's card opens in the app with 2 years of history: the warehouse of bench_warehouse_build (its
synthetic generator) for N clients × 730 days, built with dbt, published as the serving snapshot; then the card of
one client is opened through the running app over HTTP (Gradio's client, logged in), 50 times.

Prints p50/p95 of the whole card (profile, health, alerts, timeline, warehouse chart, notes) and of its data reads.
Run: .venv/bin/python bench/bench_app_card.py [clients]
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(clients: int = 50) -> None:
    work = Path(tempfile.mkdtemp(prefix="c360-bench-card-"))
    os.environ["C360_DATA_DIR"] = str(work / "data")
    from bench.bench_warehouse_build import in_child
    from config.settings import get_settings
    from orchestration.dbt import DBT_DIR, build_args

    settings = get_settings()
    warehouse = settings.warehouse_path
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    in_child(warehouse, clients, date.today() - timedelta(days=730), 730, 1)
    env = {**os.environ, "C360_WAREHOUSE_PATH": str(warehouse)}
    subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            *build_args(settings, full=True),
            "--quiet",
            "--target-path",
            str(work / "target"),
        ],
        cwd=DBT_DIR,
        env=env,
        check=True,
    )

    from assets.serving import publish
    from chat_app import data
    from chat_app.app import launch
    from warehouse.appdb import AppDB
    from warehouse.staff import Staff

    counts = publish(warehouse, settings.serving_path)
    print(f"snapshot: {json.dumps(counts)}")
    staff = Staff(AppDB(settings.resolved_app_db_url))
    staff.add("anna", "admin", "пароль-анны-1")
    client_id = "1"
    user = staff.get("anna")
    for i in range(20):
        staff.add_note(user, client_id, f"Заметка {i}: клиент просит пересчитать хранение")

    reads = []
    for _ in range(50):
        t0 = time.perf_counter()
        data.client(user, client_id)
        data.timeline(client_id, None, None)
        data.wms_weeks(client_id)
        reads.append(time.perf_counter() - t0)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = launch(port=port, prevent_thread_lock=True, staff=staff)
    from gradio_client import Client

    gc = Client(f"http://127.0.0.1:{port}", auth=("anna", "пароль-анны-1"), verbose=False)
    card = []
    for _ in range(50):
        t0 = time.perf_counter()
        result = gc.predict(client_id, [], "всё время", api_name="/open_card")
        card.append(time.perf_counter() - t0)
    app.close()
    events = len(result[4]["data"]) if isinstance(result[4], dict) else "?"
    ms = lambda xs, p: np.percentile(np.array(xs) * 1000, p)  # noqa: E731
    print(
        f"{clients} clients × 2 years; the card of client {client_id}: {events} timeline rows shown "
        f"(of {len(data.timeline(client_id))} read), {len(data.wms_weeks(client_id))} weeks in the chart"
    )
    print(f"card data reads: p50 {ms(reads, 50):.0f} ms, p95 {ms(reads, 95):.0f} ms")
    print(f"whole card over HTTP (logged in, Gradio): p50 {ms(card, 50):.0f} ms, p95 {ms(card, 95):.0f} ms")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
