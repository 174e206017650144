"""`client360 timeline` and `ask`: one client's history and questions about it."""

from __future__ import annotations

import argparse
import sys

from config.settings import get_settings


def cmd_timeline(args: argparse.Namespace) -> int:
    """The client's history as the app shows it: the `fct_client_timeline` mart of the last warehouse build."""
    import json

    import duckdb

    from warehouse.duck import connect, fetch_dicts

    settings = get_settings()
    try:
        with connect(settings.warehouse_path, read_only=True) as con:
            events = fetch_dicts(
                con,
                """select occurred_at as at, source, kind, title, summary as text, tone, ref
                   from marts.fct_client_timeline
                   where client_id = ? and (? is null or source = ?) and (? is null or event_date >= ?)
                   order by occurred_at, ref""",
                [args.client_id, args.source, args.source, args.since, args.since],
            )
    except duckdb.CatalogException:  # no warehouse build yet
        events = []
    if args.json:
        print(json.dumps(events, ensure_ascii=False, default=str, indent=1))
        return 0
    if not events:
        print(f"По клиенту {args.client_id} событий нет.")
    for e in events:
        text = " ".join((e["text"] or "").split())
        print(f"{e['at']:%Y-%m-%d %H:%M}  {e['kind']:<18} {e['title']}: {text[:300]}  [{e['ref']}]")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from connectors.llm import LLMError
    from rag.answer import Answer, build_engine
    from rag.citations import sources_once

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
    if answer.citations:  # each source once; the answer's sentences already carry the quotes
        print("Источники:")
    for numbers, label, _ in sources_once(answer.citations):
        print(f"[{', '.join(map(str, numbers))}] {label}")
    return 0
