"""`client360 wms-sim`, `eval-churn` and `eval-rag`: the WMS simulator and the evaluations."""

from __future__ import annotations

import argparse

from config.settings import get_settings


def cmd_wms_sim(args: argparse.Namespace) -> int:
    import time

    from devkit.wms_sim import WmsSimulator, WmsWorld, write_truth

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
    from evals.churn import evaluate, render

    result = evaluate(clients=args.clients, days=args.days, seed=args.seed, mapping=not args.no_mapping)
    print(render(result))
    return 0


def cmd_eval_rag(args: argparse.Namespace) -> int:
    import json

    from evals.rag import evaluate, render
    from rag.answer import build_engine

    settings = get_settings()
    engine = build_engine(settings)
    offline = engine if engine.llm.offline else build_engine(settings.model_copy(update={"llm_provider": "offline"}))
    results = [evaluate(offline, settings, categories=args.category)]
    if not engine.llm.offline and not args.offline_only:  # the configured model's answers, graded the same way
        results.append(evaluate(engine, settings, categories=args.category))
    if args.json:
        print(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2, default=str))
    else:
        print("\n\n".join(render(r, show_misses=args.show_misses) for r in results))
    failed = any(r.failures() for r in results[:1])  # the acceptance is the offline engine's
    return 0 if args.no_fail or not failed else 1
