"""Importing a 100k-message Telegram Desktop export, then importing it again (must add 0 rows).

Run: .venv/bin/python bench/bench_telegram_import.py [messages]
"""

import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path


def build_export(path: Path, total: int, chats: int = 20) -> None:
    rng = random.Random(1)
    phrases = [
        "Когда будет отгрузка на Ozon?",
        "Пришлите акт сверки, пожалуйста",
        "Поставка принята, спасибо",
        "Опять пересорт по двум артикулам",
        "Отправили счёт за хранение",
        "Нужна маркировка Честный знак",
    ]
    per_chat, start = total // chats, 1_700_000_000
    chat_list = []
    for c in range(chats):
        messages = []
        for i in range(1, per_chat + 1):
            when = start + c * 1000 + i * 60
            m = {
                "id": i,
                "type": "message",
                "date": "2023-11-14T22:13:20",
                "date_unixtime": str(when),
                "from": "Клиент" if i % 3 else "Анна Соколова",
                "from_id": f"user{1000 + c if i % 3 else 222}",
                "text": rng.choice(phrases),
                "text_entities": [],
            }
            if i % 50 == 0:
                m["text"] = ["Смотрите ", {"type": "link", "text": "https://seller.ozon.ru/x"}, " срочно"]
            if i % 70 == 0:
                m.update(photo="photos/p.jpg", width=10, height=10, text="")
            if i % 90 == 0:
                m = {
                    "id": i,
                    "type": "service",
                    "date": "2023-11-14T22:13:20",
                    "date_unixtime": str(when),
                    "actor": "Анна Соколова",
                    "actor_id": "user222",
                    "action": "pin_message",
                    "text": "",
                    "text_entities": [],
                }
            messages.append(m)
        chat_list.append(
            {"name": f"client-{10000 + c} чат", "type": "private_supergroup", "id": 500 + c, "messages": messages}
        )
    path.write_text(
        json.dumps(
            {"about": "", "personal_information": {"user_id": 222}, "chats": {"about": "", "list": chat_list}},
            ensure_ascii=False,
        )
    )


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["C360_DATA_DIR"] = f"{tmp}/data"
        import dagster as dg

        from orchestration.definitions import defs
        from orchestration.run_once import QUIET_CONSOLE
        from orchestration.sensors import export_run_request

        export = Path(tmp) / "result.json"
        build_export(export, total)
        job = defs.resolve_job_def("telegram_export_job")
        with dg.instance_for_test(temp_dir=tmp) as instance:
            for attempt in ("first", "again"):
                request = export_run_request(export, export.stat().st_size, export.stat().st_mtime)
                start = time.perf_counter()
                result = job.execute_in_process(run_config={**request.run_config, **QUIET_CONSOLE}, instance=instance)
                took = time.perf_counter() - start
                [mat] = result.asset_materializations_for_node("telegram_exports")
                meta = {k: v.value for k, v in mat.metadata.items()}
                print(
                    f"{attempt}: {meta['сообщений в файле']} messages ({export.stat().st_size / 2**20:.0f} MB) "
                    f"in {took:.1f} s, added {meta['добавлено']}, updated {meta['обновлено (правки)']}"
                )


if __name__ == "__main__":
    main()
