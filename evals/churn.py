"""Churn evaluation: the WMS simulator's world through the real pipeline, alerts scored against its ground truth."""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

from config.settings import get_settings
from devkit.wms_sim import TRAPS


@dataclass
class ChurnEval:
    clients: int
    churners: int
    alerted: int
    true_positives: int
    false_positives: int
    trap_alerts: dict[str, int]
    lead_days: list[int]
    table: list[dict]

    @property
    def precision(self) -> float:
        return self.true_positives / self.alerted if self.alerted else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.churners if self.churners else 0.0

    @property
    def median_lead_days(self) -> float | None:
        return statistics.median(self.lead_days) if self.lead_days else None


def evaluate(
    clients: int = 60, days: int = 365, seed: int = 7, workdir: Path | None = None, mapping: bool = True
) -> ChurnEval:
    """The simulator's world through the WMS assets, identity and dbt; `mapping=False`: no alias file at all, so
    every WMS client is scored under its provisional identity (`wms-<id>`) and named by its WMS name."""
    from assets.identity.assets import client_identity
    from assets.wms.assets import wms_assets
    from devkit.wms_sim import WmsSimulator, WmsWorld
    from orchestration.dbt import warehouse_models
    from orchestration.resources import all_resources
    from orchestration.run_once import QUIET_CONSOLE, quiet_stdout
    from warehouse.aliases import PROVISIONAL_WMS, client_name, save_alias
    from warehouse.duck import connect, fetch_dicts

    workdir = workdir or Path(tempfile.mkdtemp(prefix="c360-eval-"))
    workdir.mkdir(parents=True, exist_ok=True)
    base = get_settings()
    world = WmsWorld(clients=clients, days=days, end=base.today(), seed=seed)
    truth = world.truth()
    # its own data dir (and the mapping file in it); the WMS is the simulator
    settings = base.model_copy(update={"data_dir": workdir / "data", "aliases_file": None})
    for c in world.clients if mapping else ():
        save_alias(settings.resolved_aliases_file, "wms_client", c.wms_id, c.lead_id)
    with WmsSimulator(world) as sim, dg.instance_for_test(temp_dir=str(workdir)) as instance:
        resources = all_resources(settings.model_copy(update={"wms_base_url": sim.url, "wms_token": sim.token}))
        config = {**QUIET_CONSOLE, "ops": {"wms_stock": {"config": {"history_weeks": 0}}}}
        dg.materialize(wms_assets, resources=resources, instance=instance, run_config=config)
        with quiet_stdout():
            dg.materialize(
                [warehouse_models, client_identity], resources=resources, instance=instance, run_config=QUIET_CONSOLE
            )
    with connect(settings.warehouse_path, read_only=True) as con:
        first = {
            r["client_id"]: r
            for r in fetch_dicts(
                con,
                "select a.client_id, any_value(d.title) as title, cast(min(a.week_end) as date) as first_alert, "
                "string_agg(distinct a.alert_type, ', ') as types from marts.fct_client_alerts as a "
                "left join marts.dim_clients as d using (client_id) group by 1",
            )
        }
    table, lead_days = [], []
    tp = fp = 0
    traps = dict.fromkeys(TRAPS, 0)
    for wms_id, t in truth.items():
        alert = first.get(t["lead_id"]) or first.get(f"{PROVISIONAL_WMS}{wms_id}")
        row = {
            "client": client_name(alert["title"], alert["client_id"]) if alert else t["lead_id"] if mapping else wms_id,
            "behaviour": t["behaviour"],
            "churn": t["churn"],
            "exit": t["exit"],
            "first_alert": alert["first_alert"].isoformat() if alert else None,
            "alert_types": alert["types"] if alert else None,
            "lead_days": None,
        }
        if alert and t["churn"]:
            tp += 1
            if t["exit"]:
                row["lead_days"] = (date.fromisoformat(t["exit"]) - alert["first_alert"]).days
                lead_days.append(row["lead_days"])
        elif alert:
            fp += 1
            if t["behaviour"] in traps:
                traps[t["behaviour"]] += 1
        if t["behaviour"] != "healthy" or alert:
            table.append(row)
    return ChurnEval(len(truth), sum(t["churn"] for t in truth.values()), len(first), tp, fp, traps, lead_days, table)


def render(result: ChurnEval) -> str:
    lines = [
        "| клиент | поведение | уход | выход | первая тревога | за сколько дней | типы тревог |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result.table:
        lines.append(
            f"| {r['client']} | {r['behaviour']} | {'да' if r['churn'] else 'нет'} | {r['exit'] or '—'} "
            f"| {r['first_alert'] or '—'} | {r['lead_days'] if r['lead_days'] is not None else '—'} "
            f"| {r['alert_types'] or '—'} |"
        )
    lines += [
        "",
        f"Клиентов: {result.clients}, уходящих: {result.churners}, с тревогой: {result.alerted}",
        f"Точность (precision): {result.precision:.2f}   Полнота (recall): {result.recall:.2f}   "
        f"Медиана упреждения: {result.median_lead_days} дн.",
        f"Ложные тревоги на ловушках: сезонный {result.trap_alerts['seasonal_trap']}, "
        f"FBO {result.trap_alerts['fbo_supply_trap']}, FBO с резервами {result.trap_alerts['fbo_reserved_trap']}; "
        f"всего ложных: {result.false_positives}",
    ]
    return "\n".join(lines)
