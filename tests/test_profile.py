"""client_profile: facts with their sources, merged from new evidence, withdrawn when a text changes; the GLM path
pays for a text once (facts come in the signals call); WMS and CRM facts alongside."""

import json
from datetime import datetime

import dagster as dg

from assets.enrichment.assets import interaction_signals
from assets.enrichment.profile import client_profile
from connectors.llm.profile import lexical_facts
from orchestration.dbt import dbt_resource, warehouse_models
from orchestration.definitions import build_defs
from orchestration.resources import all_resources
from orchestration.run_once import run_once
from tests.conftest import build_views, jibri, metadata_of
from warehouse.duck import connect, fetch_dicts, upsert


def profile(instance) -> dict:
    build_views(instance)
    result = dg.materialize([client_profile], resources=all_resources(), instance=instance)
    return metadata_of(result, "client_profile")


def facts(settings, client_id="12345") -> dict:
    with connect(settings.warehouse_path, read_only=True) as con:
        rows = fetch_dicts(con, "select * from raw.client_profile_facts where client_id = ?", [client_id])
    return {(r["kind"], r["value"]): {**r, "refs": [s["ref"] for s in json.loads(r["sources"])]} for r in rows}


def said(ref: str, when: datetime, text_hash: str, **kinds) -> dict:
    return {
        "ref": ref,
        "client_id": "12345",
        "source": "telegram",
        "occurred_at": when,
        "content_hash": text_hash,
        "sentiment": 0.0,
        "tone": "нейтральный",
        "complaint": False,
        "conflict": False,
        "blockers": "[]",
        "promises": "[]",
        "facts": json.dumps(kinds, ensure_ascii=False),
    }


def test_lexical_facts_read_a_russian_conversation():
    f = lexical_facts(
        "Мы продаём детские игрушки и косметику бренда «Лисичка» на ВБ и Озоне, по FBS. "
        "Отгружаем около 300 заказов в день. Опять пересорт на приёмке, это недопустимо, думаем уйти к конкуренту."
    )
    assert f.marketplaces == ["Wildberries", "Ozon"] and f.schemes == ["FBS"]
    assert {"детские товары", "косметика"} <= set(f.products) and f.brands == ["Лисичка"]
    assert f.volumes == ["Отгружаем около 300 заказов в день."]
    assert any("пересорт" in p for p in f.pains) and any("уйти" in c for c in f.conflicts)


def test_new_evidence_updates_facts_and_a_changed_text_withdraws_its_own(env, instance):
    with connect(env.warehouse_path) as con:
        upsert(
            con,
            "raw.interaction_signals",
            [
                said(
                    "telegram_day:12345:2026-10-01",
                    datetime(2026, 10, 1),
                    "h1",
                    marketplaces=["Wildberries"],
                    pains=["Задержки приёмки на складе"],
                ),
                said("meeting:m7", datetime(2026, 11, 2), "h2", marketplaces=["WB, FBO"], schemes=["FBO"]),
            ],
        )
    first = profile(instance)
    assert (first["прочитано новых текстов"], first["новых фактов"], first["подтверждено"]) == (2, 3, 1)
    got = facts(env)
    wb = got[("marketplaces", "Wildberries")]
    assert wb["mentions"] == 2 and wb["refs"] == ["telegram_day:12345:2026-10-01", "meeting:m7"]
    assert wb["last_confirmed"] == datetime(2026, 11, 2) and wb["first_seen"] == datetime(2026, 10, 1)
    assert got[("schemes", "FBO")]["refs"] == ["meeting:m7"]

    again = profile(instance)
    assert again["прочитано новых текстов"] == 0 and facts(env) == got, "nothing new: nothing changes"

    with connect(env.warehouse_path) as con:  # the meeting was re-summarized: it now says Ozon, not WB
        upsert(con, "raw.interaction_signals", [said("meeting:m7", datetime(2026, 11, 2), "h3", marketplaces=["Озон"])])
    changed = profile(instance)
    assert changed["снято (текст изменился)"] == 2 and changed["прочитано новых текстов"] == 1
    got = facts(env)
    assert got[("marketplaces", "Wildberries")]["refs"] == ["telegram_day:12345:2026-10-01"]
    assert got[("marketplaces", "Ozon")]["refs"] == ["meeting:m7"]
    assert ("schemes", "FBO") not in got, "a fact whose only source changed its mind is gone"
    assert got[("pains", "Задержки приёмки на складе")]["mentions"] == 1


def test_glm_facts_come_with_the_signals_and_reach_the_profile_card(env, recordings, instance, glm, monkeypatch):
    jibri(recordings, "a", "12345", datetime(2026, 11, 24, 10, 0, 0))
    assert run_once(build_defs(), instance, env, log=lambda *_: None).failed == []
    monkeypatch.setenv("C360_LLM_PROVIDER", "glm")
    glm.reply = json.dumps(
        {
            "sentiment": -0.2,
            "tone": "нейтральный",
            "complaint": False,
            "conflict": False,
            "blockers": [],
            "promises": [],
            "facts": {
                "products": ["Женская одежда"],
                "marketplaces": ["Wildberries", "Яндекс.Маркет"],
                "schemes": ["FBS"],
                "volumes": ["150 заказов в день"],
            },
        },
        ensure_ascii=False,
    )
    build_views(instance)
    assert dg.materialize([interaction_signals], resources=all_resources(), instance=instance).success
    assert glm.completions == 1, "one call per text for signals and facts together"
    assert "facts" in glm.requests[-1].json()["messages"][0]["content"]
    profile(instance)
    assert glm.completions == 1, "the profile reads the stored facts, not the model"
    got = facts(env)
    assert {k for k in got} == {
        ("products", "Женская одежда"),
        ("marketplaces", "Wildberries"),
        ("marketplaces", "Яндекс Маркет"),
        ("schemes", "FBS"),
        ("volumes", "150 заказов в день"),
    }
    assert all(f["refs"][0].startswith("meeting:") and f["origin"] == "conversation" for f in got.values())

    with connect(env.warehouse_path) as con:  # the CRM and the WMS add what they know
        con.execute(
            "insert into raw.bitrix_leads (lead_id, title, date_create) values (12345, 'Лиса', '2024-03-01 09:00')"
        )
        con.execute("insert into raw.wms_clients (wms_client_id, name, client_id) values ('W1', 'Лиса', '12345')")
        con.execute(
            "insert into raw.wms_orders (wms_client_id, order_id, kind, marketplace, created_at, units, record_status)"
            " values ('W1', 'o1', 'marketplace', 'ozon', '2026-11-20 10:00', 40, 'ok'),"
            " ('W1', 'o2', 'fbs', 'wildberries', '2026-11-21 10:00', 3, 'ok')"
        )
    profile(instance)
    got = facts(env)
    ozon = got[("marketplaces", "Ozon")]
    assert ozon["origin"] == "wms" and ozon["refs"] == ["wms_order:W1:o1"]
    assert got[("since", "01.03.2024")]["refs"] == ["bitrix_lead:12345"]
    assert got[("volumes", "за 30 дней отгружено 43 ед. (2 заказов)")]["origin"] == "wms"

    assert dg.materialize([warehouse_models], resources={"dbt": dbt_resource()}, instance=instance).success
    with connect(env.warehouse_path, read_only=True) as con:
        [card] = fetch_dicts(con, "select * from marts.client_profile_card where client_id = '12345'")
    assert card["marketplaces"] == "Ozon; Wildberries; Яндекс Маркет" and card["products"] == "Женская одежда"
    assert card["with_us_since"].date().isoformat() == "2024-03-01"
    assert any(f["kind"] == "schemes" and f["value"] == "FBS" for f in card["facts"])
