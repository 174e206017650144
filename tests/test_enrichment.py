"""interaction_signals: offline lexical and GLM paths, analysed once per text, shown on the timeline."""

import json
from datetime import datetime

import dagster as dg

from assets.enrichment.assets import interaction_signals
from orchestration.dbt import dbt_resource, warehouse_models
from orchestration.definitions import build_defs
from orchestration.resources import all_resources
from orchestration.run_once import run_once
from tests.conftest import build_views, jibri, metadata_of, query


def analyze(instance):
    build_views(instance)
    result = dg.materialize([interaction_signals], resources=all_resources(), instance=instance)
    return metadata_of(result, "interaction_signals")


def test_offline_signals_once_per_text_and_on_the_timeline(env, recordings, instance):
    jibri(recordings, "a", "12345", datetime(2026, 11, 24, 10, 0, 0))
    jibri(
        recordings,
        "b",
        "67890",
        datetime(2026, 11, 24, 12, 0, 0),
        lines=[("Артём", "Спасибо, всё отлично, поставка принята быстро."), ("Игорь", "Рады, хорошего дня.")],
    )
    assert run_once(build_defs(), instance, env, log=lambda *_: None).failed == []

    first = analyze(instance)
    assert (first["контактов всего"], first["проанализировано сейчас"]) == (2, 2)
    by_client = {r["client_id"]: r for r in query(env, "select * from raw.interaction_signals")}
    unhappy, happy = by_client["12345"], by_client["67890"]
    assert unhappy["complaint"] and unhappy["sentiment"] < 0 and unhappy["tone"] == "негативный"
    assert json.loads(unhappy["promises"])[0]["due"] == "до пятницы"
    assert happy["sentiment"] > 0 and not happy["complaint"] and happy["extractive"]

    again = analyze(instance)
    assert (again["проанализировано сейчас"], again["без изменений (пропущено)"]) == (0, 2)

    assert dg.materialize([warehouse_models], resources={"dbt": dbt_resource()}, instance=instance).success
    timeline = query(env, "select client_id, sentiment, tone from marts.fct_client_timeline order by client_id")
    assert [(t["client_id"], t["tone"]) for t in timeline] == [("12345", "негативный"), ("67890", "позитивный")]


def test_glm_signals_are_paid_once(env, recordings, instance, glm, monkeypatch):
    jibri(recordings, "a", "12345", datetime(2026, 11, 24, 10, 0, 0))
    assert run_once(build_defs(), instance, env, log=lambda *_: None).failed == []
    monkeypatch.setenv("C360_LLM_PROVIDER", "glm")
    glm.reply = json.dumps(
        {
            "sentiment": -0.6,
            "tone": "негативный",
            "complaint": True,
            "conflict": False,
            "blockers": ["пересорт"],
            "promises": [{"what": "прислать акт", "due": "пятница"}],
        },
        ensure_ascii=False,
    )
    meta = analyze(instance)
    assert meta["токенов всего"] > 0 and glm.completions == 1
    [row] = query(env, "select * from raw.interaction_signals")
    assert (row["sentiment"], row["generated_by"], row["extractive"]) == (-0.6, "glm:glm-4-flash-250414", False)
    assert "<<<ДАННЫЕ " in glm.requests[-1].json()["messages"][1]["content"]
    analyze(instance)
    assert glm.completions == 1
