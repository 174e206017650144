"""Communication signals in the health score: silence against the client's own cadence, tone drop, conflicts,
unkept promises — for clients with no warehouse data at all; a client who keeps talking as usual stays green."""

import json
from datetime import datetime, time, timedelta

import dagster as dg
import pytest

from orchestration.dbt import dbt_resource, warehouse_models
from warehouse.duck import connect, fetch_dicts


def chat(con, today, client: str, chat_id: int, direction: str, from_day: int, to_day: int, every: int) -> None:
    """Messages in a client's chat every `every` days, from `from_day` to `to_day` days before `today` (noon UTC)."""
    con.execute(
        "insert or ignore into raw.telegram_chats (chat_id, title, client_id, mapped_by) values (?, ?, ?, 'alias')",
        [chat_id, f"Клиент {client}", client],
    )
    con.execute(
        f"""insert into raw.telegram_messages (chat_id, message_id, sent_at, direction, kind, text, source)
        select ?, d * 10 + {0 if direction == "client" else 1},
               cast(cast(? as date) - cast(d as integer) as timestamp) + interval 12 hour, ?, 'message', 'текст',
               'telethon'
        from range(?, ?, -?) t(d)""",
        [chat_id, today, direction, from_day, to_day - 1, every],
    )


def signal(con, today, client: str, days_ago: int, sentiment: float, conflict=False, promise=None) -> None:
    con.execute(
        "insert into raw.interaction_signals (ref, client_id, source, occurred_at, content_hash, sentiment, tone, "
        "complaint, conflict, blockers, promises) values (?, ?, 'telegram', cast(? as date) - cast(? as integer) "
        "+ interval 20 hour, 'h', ?, 'нейтральный', ?, ?, '[]', ?)",
        [
            f"telegram_day:{client}:{days_ago}",
            client,
            today,
            days_ago,
            sentiment,
            conflict,
            conflict,
            json.dumps([{"what": promise, "due": None}] if promise else [], ensure_ascii=False),
        ],
    )


@pytest.mark.calendar
def test_communication_signals_reach_health(env, instance):
    today = env.today()
    with connect(env.warehouse_path) as con:
        con.execute(  # a client for 400 days: the tenure counts to «today» of the settings (dbt var today)
            "insert into raw.bitrix_leads (lead_id, title, date_create) values (556, 'Клиент 556', ?)",
            [datetime.combine(today - timedelta(days=400), time(9, 0))],
        )
        # 556: talks every 3 days, both ways, up to today — the control
        chat(con, today, "556", -1556, "client", 200, 0, 3)
        chat(con, today, "556", -1556, "staff", 199, 0, 3)
        for d in range(7, 200, 7):
            signal(con, today, "556", d, 0.3)
        # 558: talked every 2 days, the last time 10 days ago: not silent yet, whatever the weekday
        chat(con, today, "558", -1558, "client", 200, 10, 2)
        chat(con, today, "558", -1558, "staff", 199, 11, 2)
        # 557: talked every 2 days for half a year, silent for the last 5 weeks
        chat(con, today, "557", -1557, "client", 220, 35, 2)
        chat(con, today, "557", -1557, "staff", 219, 35, 2)
        # 555: keeps writing, but the tone fell, two conflicts, and we promised and went quiet
        chat(con, today, "555", -1555, "client", 200, 0, 2)
        chat(con, today, "555", -1555, "staff", 199, 17, 2)
        for d in range(35, 120, 7):
            signal(con, today, "555", d, 0.6)
        signal(con, today, "555", 16, -0.5, promise="пришлём акт сверки")
        signal(con, today, "555", 9, -0.6, conflict=True)
        signal(con, today, "555", 2, -0.7, conflict=True)
    assert dg.materialize([warehouse_models], resources={"dbt": dbt_resource()}, instance=instance).success
    with connect(env.warehouse_path, read_only=True) as con:
        health = {r["client_id"]: r for r in fetch_dicts(con, "select * from marts.client_health")}
        [tenure] = fetch_dicts(con, "select tenure_days from marts.dim_clients where client_id = '556'")
        [quiet] = fetch_dicts(
            con, "select silence_days from marts.churn_features where client_id = '558' order by week desc limit 1"
        )
        [promise] = fetch_dicts(con, "select * from intermediate.int_promises where client_id = '555'")

    assert health["556"]["score"] == 100 and health["556"]["band"] == "зелёный", health["556"]
    assert tenure == {"tenure_days": 400}
    assert quiet == {"silence_days": 10}, "silent since the last contact until «today», not until Sunday"
    assert "клиент молчит" not in (health["558"]["top_reasons"] or "")
    silent = health["557"]["top_reasons"]
    assert "клиент молчит" in silent and "обычно на связи раз в 2 дн." in silent, silent
    troubled = health["555"]["top_reasons"]
    assert "тон общения ухудшился" in troubled and "жалобы или конфликт в 2 контактах" in troubled, troubled
    assert "не выполнено обещаний: 1 («пришлём акт сверки»)" in troubled, troubled
    assert "клиент молчит" not in troubled
    assert health["555"]["score"] == 100 - 15 - 15 - 10 and health["555"]["band"] == "жёлтый"
    assert promise["no_follow_up"] and promise["due_passed"]


def said_leaving(con, today, client: str, days_ago: int, quote: str, source: str, ref: str) -> None:
    """An interaction in which the client said they consider leaving us, `days_ago` days before `today`."""
    con.execute(
        "insert into raw.interaction_signals (ref, client_id, source, occurred_at, content_hash, sentiment, tone, "
        "complaint, conflict, blockers, promises, leaving_intent) values (?, ?, ?, cast(? as date) - "
        "cast(? as integer) + interval 15 hour, 'h', 0.3, 'нейтральный', false, false, '[]', '[]', ?)",
        [ref, client, source, today, days_ago, json.dumps([quote], ensure_ascii=False)],
    )


@pytest.mark.calendar
def test_words_about_leaving_weigh_on_health_and_alert_once(env, instance):
    today = env.today()
    long_quote = (
        "Мы посчитали все штрафы за последние три месяца, и если до конца квартала ничего не поменяется, то со "
        "следующего года переедем к другому оператору."
    )
    with connect(env.warehouse_path) as con:
        for n, client in enumerate(("560", "561", "562", "563")):  # all talk every 3 days, both ways, until today
            chat(con, today, client, -1560 - n, "client", 200, 0, 3)
            chat(con, today, client, -1570 - n, "staff", 199, 0, 3)
            for d in range(7, 200, 7):
                signal(con, today, client, d, 0.3)
        said_leaving(
            con, today, "560", 10, "Похоже, придётся переезжать к другому оператору.", "meetings", "meeting:r560"
        )
        # said twice within intent_weeks: one episode, the latest words quoted first
        said_leaving(
            con,
            today,
            "561",
            24,
            "Конкурент зовёт нас на тестовую поставку.",
            "telegram",
            f"telegram_day:561:{today - timedelta(days=24)}",
        )
        said_leaving(con, today, "561", 3, "Будем расторгать договор.", "bitrix_call", "bitrix:7561")
        said_leaving(con, today, "562", 5, long_quote, "bitrix_email", "bitrix:7562")
        said_leaving(con, today, "563", 70, "Думаем о переезде.", "meetings", "meeting:r563")  # 10 weeks ago: off
    assert dg.materialize([warehouse_models], resources={"dbt": dbt_resource()}, instance=instance).success
    with connect(env.warehouse_path, read_only=True) as con:
        health = {r["client_id"]: r for r in fetch_dicts(con, "select * from marts.client_health")}
        alerts = fetch_dicts(
            con, "select * from marts.fct_client_alerts where alert_type = 'intent_to_leave' order by client_id, week"
        )

    said = (today - timedelta(days=10)).strftime("%d.%m.%Y")
    assert health["560"]["score"] == 60 and health["560"]["band"] == "жёлтый", health["560"]
    assert health["560"]["minus_intent"] == 40 and health["563"]["minus_intent"] == 0
    assert health["560"]["top_reasons"] == (
        f"клиент говорил об уходе: «Похоже, придётся переезжать к другому оператору» (встреча {said})"
    )
    assert health["561"]["score"] == 60
    assert health["561"]["top_reasons"].startswith("клиент говорил об уходе: «Будем расторгать договор» (звонок ")
    reason = health["562"]["top_reasons"]
    clipped = reason.split("«", 1)[1].split("»", 1)[0]
    assert clipped.endswith("…") and len(clipped) <= 81, reason
    assert long_quote.startswith(clipped[:-1]) and long_quote[len(clipped) - 1] == " ", "cut at a word boundary"
    assert "(письмо " in reason
    assert health["563"] == {**health["563"], "score": 100, "top_reasons": None}

    by_client: dict[str, list[dict]] = {}
    for a in alerts:
        by_client.setdefault(a["client_id"], []).append(a)
    assert {c: len({a["dedupe_key"] for a in rows}) for c, rows in by_client.items()} == {
        "560": 1,
        "561": 1,
        "562": 1,
        "563": 1,
    }, "one alert per episode"
    assert {a["severity"] for a in alerts} == {"critical"}
    latest = {c: rows[-1] for c, rows in by_client.items()}
    assert json.loads(latest["560"]["figures"]) == {
        "quote": "Похоже, придётся переезжать к другому оператору.",
        "source": "встреча",
        "occurred_at": (today - timedelta(days=10)).isoformat(),
    }
    assert list(json.loads(latest["560"]["figures"])) == ["quote", "source", "occurred_at"]
    assert latest["560"]["evidence_refs"] == ["meeting:r560"] and latest["560"]["evidence"] == []
    assert latest["560"]["alert_label"] == "Клиент говорит об уходе" and latest["560"]["playbook"]
    assert latest["560"]["message"] == f"клиент сам говорил, что может уйти от нас (встреча {said})"
    figures = json.loads(latest["561"]["figures"])
    assert (figures["quote"], figures["source"]) == ("Будем расторгать договор.", "звонок")
    assert latest["561"]["evidence_refs"] == ["bitrix:7561", f"telegram_day:561:{today - timedelta(days=24)}"]
    first = json.loads(by_client["561"][0]["figures"])
    assert (first["source"], first["occurred_at"]) == ("Telegram", (today - timedelta(days=24)).isoformat())
    assert json.loads(latest["562"]["figures"])["quote"] == long_quote, "the alert quotes the whole sentence"
    # on for intent_weeks from the week it was said, then off
    old = by_client["563"]
    assert len(old) == 6 and old[-1]["week_end"] < today - timedelta(days=14)
