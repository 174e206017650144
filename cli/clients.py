"""`client360 timeline` and `ask`: one client's history and questions about it."""

from __future__ import annotations

import argparse
import sys

from config.settings import get_settings


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


def cmd_ask(args: argparse.Namespace) -> int:
    from connectors.llm import LLMError
    from rag.answer import Answer, build_engine

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
