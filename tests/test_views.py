"""What the app shows, formatted without Gradio: the client list, the card (head, profile, health, alerts, notes at
the team's local time, timeline), the chat's answers and citations, the admin page — in Russian, outside text
shown as text, and no internal ids the screens do not show."""

import base64
import json
import re
import subprocess
import sys
from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pandas as pd

from chat_app import views
from rag.citations import Citation, citation_label
from warehouse import alerts as words

MOSCOW = ZoneInfo("Europe/Moscow")


def test_a_typed_lead_id_is_checked_with_a_russian_reason():
    assert views.lead_problem(None) == views.lead_problem("  ") == "Введите ID лида"
    assert views.lead_problem("Зоомир").startswith("Не похоже на ID лида: ID лида — только цифры")
    assert views.lead_problem("1" * 30).startswith("Не похоже на ID лида")
    assert views.lead_problem("-5").startswith("Не похоже на ID лида")
    assert views.lead_problem(" 10234 ") is None


def test_trend_is_an_arrow_and_a_signed_change():
    assert [views.trend(v) for v in (None, 0, 3, -12)] == ["", "→", "↑ +3", "↓ -12"]


def test_weekly_chart_rows_split_outbound_by_kind():
    assert views.weekly([], views.FLOWS) is None
    week = {"week": date(2026, 11, 16), "outbound": 100, "outbound_fbs": 30, "withdrawal": None, "inbound": 5}
    week |= {"reserved": 0, "stock_end": 420}
    flows = views.weekly([week], views.FLOWS)
    assert dict(zip(flows["ряд"], flows["единиц"], strict=True)) == {
        "на маркетплейсы (FBO)": 70,
        "FBS": 30,
        "вывоз клиентом": 0,
        "приёмка": 5,
        "резервы": 0,
    }
    assert flows["неделя"].iloc[0] == pd.Timestamp("2026-11-16")
    stock = views.weekly([week], views.STOCK)
    assert stock.to_dict("records") == [{"неделя": pd.Timestamp("2026-11-16"), "ряд": "остаток", "единиц": 420}]
    assert set(views.FLOW_COLORS) == {name for name, _ in views.FLOWS}


def client_row(**kw) -> dict:
    row = {
        "client_id": "10234",
        "title": "ИП Смирнова",
        "curator_name": "Анна",
        "curator_id": 1,
        "score": 35,
        "band": "красный",
        "trend_vs_last_week": -12,
        "top_reasons": "вывоз 40% остатка",
        "last_contact": date(2026, 11, 20),
        "open_alerts": 2,
    }
    return row | kw


def test_client_list_in_russian_with_the_band_coloured():
    rows = [client_row(), client_row(client_id="10517", title="лид 10517", curator_name=None, score=None, band=None)]
    rows[1] |= {"trend_vs_last_week": None, "top_reasons": None, "last_contact": None, "open_alerts": None}
    styled = views.clients_table(rows)
    table = styled.data
    assert list(table.columns) == [
        "ID лида",
        "Клиент",
        "Здоровье",
        "Тревоги",
        "Последний контакт",
        "Куратор",
        "Причины",
    ]
    assert table.iloc[0].to_dict() == {
        "ID лида": "10234",
        "Клиент": "ИП Смирнова",
        "Здоровье": "красный 35 ↓ -12",
        "Тревоги": 2,
        "Последний контакт": "20.11.2026",
        "Куратор": "Анна",
        "Причины": "вывоз 40% остатка",
    }
    assert table.iloc[1].to_dict() == {
        "ID лида": "10517",
        "Клиент": "лид 10517",
        "Здоровье": "—",
        "Тревоги": 0,
        "Последний контакт": "—",
        "Куратор": "—",
        "Причины": "",
    }
    html = styled.to_html()
    assert html.count("background-color: #f8c9c6") == 1, "only the red band is coloured"
    assert views.clients_table([]).data.empty


def test_the_list_filters_narrow_the_rows_they_are_given():
    rows = [
        client_row(),
        client_row(client_id="11820", band="зелёный", score=88, open_alerts=0),
        client_row(client_id="10517", curator_id=2, band="жёлтый", score=50, open_alerts=None),
        client_row(client_id="10600", curator_id=None, band=None, score=None, open_alerts=1),
    ]
    ids = lambda kept: [r["client_id"] for r in kept]  # noqa: E731
    assert ids(views.filter_clients(rows, 1)) == ["10234", "11820", "10517", "10600"]
    assert ids(views.filter_clients(rows, 1, views.MINE)) == ["10234", "11820"]
    assert views.filter_clients(rows, None, views.MINE) == [], "no Bitrix24 user: no client of one's own"
    assert ids(views.filter_clients(rows, 1, bands=["красный", "жёлтый"])) == ["10234", "10517"]
    assert ids(views.filter_clients(rows, 1, bands=list(views.BANDS))) == ids(rows), "every colour: also no score"
    assert ids(views.filter_clients(rows, 1, bands=["фиолетовый"])) == ids(rows)
    assert ids(views.filter_clients(rows, 1, alerts_only=True)) == ["10234", "10600"]
    assert ids(views.filter_clients(rows, 1, views.MINE, ["красный"], True)) == ["10234"]


def test_the_list_orders_by_any_column_the_health_by_its_score():
    rows = [
        client_row(client_id="9", title="Бета", band="жёлтый", score=45, open_alerts=0, last_contact=None),
        client_row(client_id="10", title="альфа", band="красный", score=20, open_alerts=1, curator_name="Яна"),
        client_row(client_id="11", title="Гамма", band="зелёный", score=90, open_alerts=3, curator_name=None),
        client_row(client_id="W:S1", title="Дельта", band=None, score=None, last_contact=date(2026, 12, 1)),
    ]
    order = lambda name: [r["client_id"] for r in views.order_clients(rows, name)]  # noqa: E731
    assert order("сначала самые рискованные") == ["10", "9", "11", "W:S1"]
    assert order("сначала самые здоровые") == ["11", "9", "10", "W:S1"]
    assert order("больше тревог") == ["11", "W:S1", "10", "9"]
    assert order("давно без контакта") == ["9", "10", "11", "W:S1"]
    assert order("недавний контакт") == ["W:S1", "10", "11", "9"]
    assert order("по названию") == ["10", "9", "11", "W:S1"]
    assert order("по ID лида") == ["9", "10", "11", "W:S1"]
    assert order("по куратору") == ["9", "W:S1", "10", "11"], "Анна, Яна, then no curator"
    assert order("что-то ещё") == order("сначала самые рискованные")
    assert set(views.ORDERS) >= {views.RISKIEST}


def test_the_export_has_russian_headers_and_no_formula(tmp_path):
    from chat_app import export

    rows = [
        client_row(title='=HYPERLINK("http://evil")', top_reasons="+7 дней тишины"),
        client_row(client_id="10517", score=None, band=None, trend_vs_last_week=None, last_contact=None),
    ]
    table = views.export_table(rows)
    assert list(table.columns) == views.EXPORT_COLUMNS
    assert table.iloc[0]["Клиент"] == '\'=HYPERLINK("http://evil")' and table.iloc[0]["Причины"] == "'+7 дней тишины"
    raw = export.write_csv(rows, tmp_path / "list.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "Excel reads UTF-8 Cyrillic only after a BOM"
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0] == "ID лида;Клиент;Здоровье;Оценка;Изменение за неделю;Тревоги;Последний контакт;Куратор;Причины"
    assert lines[1].split(";")[2:7] == ["красный", "35", "-12", "2", "20.11.2026"]
    assert lines[2].split(";")[:7] == ["10517", "ИП Смирнова", "", "", "", "2", ""]
    import openpyxl

    sheet = openpyxl.load_workbook(export.write_xlsx(rows, tmp_path / "list.xlsx")).active
    assert sheet.title == "Клиенты" and sheet["A1"].value == "ID лида"
    assert sheet["B2"].data_type == "s" and sheet["B2"].value.startswith("'="), "text, not a formula"
    assert sheet["D2"].value == 35 and sheet["G2"].value == datetime(2026, 11, 20)
    assert sheet["G2"].number_format == "DD.MM.YYYY"
    csv_path, xlsx_path = export.files(rows, date(2026, 12, 4))
    assert csv_path.endswith("/клиенты-04.12.2026.csv") and xlsx_path.endswith("/клиенты-04.12.2026.xlsx")
    import os
    import stat

    assert stat.S_IMODE(os.stat(os.path.dirname(csv_path)).st_mode) == 0o700, "only the app's user reads it"


def test_card_head_profile_health_and_alerts():
    card = {"title": "ООО *Звезда* ![x](http://evil/x.png)", "curator_name": None, "curator_id": 77}
    head = views.card_head(card, "10234")
    assert head.startswith("## ООО \\*Звезда\\* \\!\\[x\\](http:\\/\\/evil/x.png) · лид 10234\nКуратор: не назначен")
    assert "77" not in head, "the curator's Bitrix24 id is not shown"
    assert views.card_head({"title": None, "curator_name": "Анна"}, "10517").startswith("## Клиент · лид 10517\n")

    assert views.card_profile(None) == "### Профиль\n"
    sources = [{"ref": f"meeting:m{i}", "at": f"2026-11-2{i} 11:00:00"} for i in range(3)]
    profile = views.card_profile(
        {
            "products": "корма",
            "marketplaces": "Wildberries, Ozon",
            "brands": None,
            "with_us_since": date(2025, 3, 1),
            "facts": [
                {
                    "kind": "marketplaces",
                    "fact_key": "wildberries",
                    "value": "Wildberries",
                    "sources": json.dumps(sources),
                }
            ],
        }
    )
    assert profile.startswith("### Профиль\n- **Что продаёт:** корма\n- **Маркетплейсы:** Wildberries, Ozon\n")
    assert "Бренды" not in profile and "- **С нами с:** 01.03.2025" in profile
    assert "- Wildberries — Встреча 21.11.2026, 11:00, Встреча 22.11.2026, 11:00\n</details>" in profile, (
        "the two latest sources of a fact, as a person reads them"
    )
    assert "20.11.2026" not in profile and "wildberries" not in profile, "no fact key, no older sources"
    assert "meeting:" not in profile, "no reference string"

    assert views.card_health(None) == "### Почему под риском\nнет данных"
    health = {"score": 35, "band": "красный", "trend_vs_last_week": 0, "top_reasons": None}
    assert views.card_health(health) == "### Почему под риском\nТревожных признаков нет."
    health |= {
        "top_reasons": "вывез до 78% остатков за 2 недели; жалобы или конфликт в 4 контактах за 4 недели",
        "minus_warehouse": 45,
        "minus_complaints": 15,
        "minus_contact": 0,
    }
    text = views.card_health(health)
    assert "- Вывез до 78% остатков за 2 недели\n- Жалобы или конфликт в 4 контактах" in text
    assert text.endswith("Снижают оценку: склад −45 (75 %), жалобы −15 (25 %).")


def test_the_card_head_says_who_and_how_healthy_with_the_trend():
    card = {"title": "ИП Смирнова (детская одежда)", "curator_name": None}
    health = {"score": 23, "band": "красный", "trend_vs_last_week": -10, "score_weeks": [100, 90, 55, 23]}
    head = views.card_head({**card, "health": health}, "10234")
    assert head.startswith("## ИП Смирнова (детская одежда) · лид 10234\n"), "no doubled brackets"
    assert "Куратор: не назначен — назначьте ответственного в лиде Битрикс24" in head
    assert "23 из 100 · красный</span> ↓ -10 за неделю · за 4 нед.: <img" in head
    line = base64.b64decode(re.search(r"base64,([^\"]+)", head)[1]).decode()
    ys = [float(point.split(",")[1]) for point in re.search(r'points="([^"]+)"', line)[1].split()]
    assert ys == sorted(ys) and len(ys) == 4, "the line falls as the score did, week by week"
    assert "Здоровье: нет данных" in views.card_head({**card, "health": None}, "10234")


def test_alerts_read_as_sentences_with_dated_evidence_and_a_step_never_a_future_date():
    today = date(2026, 12, 1)
    alert = {
        "alert_type": "withdrawal",
        "severity": "critical",
        "alert_label": "Вывоз товара",
        "week": date(2026, 11, 30),
        "week_end": date(2026, 12, 6),
        "message": "за 2 недели вывезено 1\xa0015 ед. — 78 % остатка",
        "figures": "{}",
        "evidence": [{"kind": "withdrawal", "at": datetime(2026, 11, 12, 15), "units": 1217, "number": "OW1-342"}],
        "evidence_refs": ["wms_order:W1:OW1-342"],
        "playbook": "Позвонить клиенту",
        "detected_on": date(2026, 11, 28),
        "due_on": date(2026, 11, 29),
    }
    assert views.card_alerts([], None, today) == "### Тревоги и что сделать\nОткрытых тревог нет."
    text = views.card_alerts([alert], "Анна Соколова", today)
    assert "●</span> **Вывоз товара — критично, неделя 30.11–01.12, текущая**" in text, (
        "the week up to today, not to 06.12"
    )
    assert "За 2 недели вывезено 1\xa0015 ед. — 78 % остатка." in text
    assert "Вывоз 12.11.2026: 1\xa0217 ед., заказ OW1-342" in text
    assert "**Что сделать:** Позвонить клиенту — Анна Соколова, до 29.11.2026 (просрочено)" in text
    assert "wms_order" not in text and "06.12" not in text
    # the Telegram alert tells the curator now: the days to act count from today
    assert words.step(alert, None, today, from_today=True) == "Позвонить клиенту — куратор не назначен, до 02.12.2026"
    said = {
        **alert,
        "evidence": [],
        "figures": '{"quote": "Будем смотреть другой фулфилмент", "source": "встреча", '
        '"occurred_at": "2026-11-28T14:05:00"}',
    }
    assert words.evidence_lines(said) == ["Встреча 28.11.2026: «Будем смотреть другой фулфилмент»"]
    old = {**alert, "week": date(2026, 11, 16), "week_end": date(2026, 11, 22)}
    assert words.week_label(old["week"], old["week_end"], today) == "неделя 16.11–22.11"
    assert (
        words.week_label(date(2025, 12, 29), date(2026, 1, 4), date(2026, 1, 2)) == "неделя 29.12.2025–02.01, текущая"
    )


def test_notes_are_shown_at_the_teams_local_time_with_the_authors_name():
    assert views.card_notes([], MOSCOW, {}, lambda n: True) == []
    notes = [
        {"id": 7, "author": "anna", "created_at": datetime(2026, 11, 20, 21, 30), "text": "Просит *скидку*"},
        {"id": 3, "author": "boss", "created_at": datetime(2026, 11, 20, 9, 5, tzinfo=ZoneInfo("UTC")), "text": "ок"},
    ]
    names = {"anna": "Анна Соколова", "boss": None}
    shown = views.card_notes(notes, MOSCOW, names, lambda n: n["author"] == "anna")
    assert shown == [
        {"id": 7, "author": "Анна Соколова", "when": "21.11.2026 00:30", "text": "Просит *скидку*", "mine": True},
        {"id": 3, "author": "boss", "when": "20.11.2026 12:05", "text": "ок", "mine": False},
    ], "stored UTC, shown in Moscow time (the next day after 21:00 UTC); the login when the account has no name"
    assert views.card_notes(notes[:1], ZoneInfo("Asia/Yekaterinburg"), {}, bool)[0]["when"] == "21.11.2026 02:30"
    assert views.note_markdown(shown[0]) == "**Анна Соколова**, 21.11.2026 00:30\n\nПросит \\*скидку\\*"


def test_a_summary_is_shortened_at_a_boundary_and_keeps_its_lines():
    text = "Тема: поставки\nКлючевые моменты:\n- " + "Клиент просит ускорить отгрузку FBS. " * 12 + "\nТон: позитивный"
    short = views.short_summary(text)
    assert len(short) <= views.SUMMARY_CHARS + 1 and short.endswith("…")
    assert short.splitlines()[:2] == ["Тема: поставки", "Ключевые моменты:"] and short.splitlines()[2].startswith("- ")
    assert short[:-1].endswith("FBS"), "cut after a whole sentence, not inside a word"
    assert "Тон:" not in views.short_summary("Коротко.\nТон: негативный"), "the tone has its own column"
    words_only = views.short_summary("слово " * 80)
    assert words_only.endswith("слово…"), words_only[-20:]
    assert views.short_summary("Коротко.") == "Коротко." and views.short_summary(None) == ""
    assert views.summary_cell("- *раз*\n- два") == "- \\*раз\\*  \n- два", "each line its own line, text as written"


def test_the_tone_agrees_with_the_summary():
    day = {"summary": "Главное: приёмка завтра.\nТон: позитивный", "tone": "нейтральный"}
    assert views.event_tone(day) == "позитивный", "the tone the summary states"
    assert views.event_tone({"summary": "Тема: FBS", "tone": "негативный"}) == "негативный"
    risky = {"summary": "Тема: FBS\nРиски и недовольство:\n- штраф за пересорт", "tone": "позитивный"}
    assert views.event_tone(risky) == "смешанный", "a summary with risks is not «позитивный»"
    assert views.event_tone({"summary": None, "tone": None}) == ""


def test_an_original_links_out_to_bitrix24_and_telegram_with_our_own_urls():
    portal = views.bitrix_portal("https://fulfil.bitrix24.ru/rest/1/s3cr3t/")
    assert portal == "https://fulfil.bitrix24.ru", "the portal only, never the webhook's token"
    assert views.bitrix_portal(None) is None and views.bitrix_portal("javascript:alert(1)") is None
    assert views.bitrix_portal("https://evil.com\\@x/rest/1/t/") is None
    assert views.link_out("bitrix:42", "10234", portal) == (
        "Открыть лид в Битрикс24 (запись — в его ленте)",
        "https://fulfil.bitrix24.ru/crm/lead/details/10234/",
    )
    assert views.link_out("bitrix:42", "10234", None) is None, "no webhook, no portal known"
    assert views.link_out("bitrix:42", "wms-W00003", portal) is None, "a WMS client has no lead"
    assert views.link_out("telegram:-1001234567890:17-20", "10234", None) == (
        "Открыть сообщение в Telegram",
        "https://t.me/c/1234567890/17",
    ), "a supergroup or channel: its internal id without -100"
    assert views.link_out("telegram:-4012345:17", "10234", None) is None, "a basic group's message has no link"
    assert views.link_out("telegram:-100123)](javascript:x:1", "10234", None) is None
    assert views.link_out("meeting:m1", "10234", portal) is None
    page = views.with_link("### Переписка\n\nтекст", ("Открыть сообщение в Telegram", "https://t.me/c/1/2"))
    assert page == "### Переписка\n\n[Открыть сообщение в Telegram ↗](https://t.me/c/1/2)\n\nтекст"


def test_timeline_rows():
    today = date(2026, 12, 1)
    assert views.timeline_table([], today).empty
    event = {
        "occurred_at": datetime(2026, 11, 23, 9, 1),
        "source": "telegram",
        "kind": "message",
        "title": "Telegram, client-10234",
        "summary": "я" * 400,
        "tone": None,
        "ref": "telegram:-1001:1",
    }
    other = event | {"occurred_at": None, "source": "new_source", "summary": None, "tone": "negative"}
    rows = views.timeline_table([event, other], today).to_dict("records")
    assert rows[0] == {
        "Когда": "23.11.2026 09:01",
        "Источник": "Telegram",
        "Что": "Telegram, client-10234",
        "Кратко": "я" * 300 + "…",
        "Тон": "",
    }
    assert views.timeline_refs([event, other]) == ["telegram:-1001:1", "telegram:-1001:1"], "what each row opens"
    assert rows[1]["Когда"] == "" and rows[1]["Источник"] == "new_source" and rows[1]["Кратко"] == ""
    assert rows[1]["Тон"] == "negative" and "message" not in rows[1].values(), "the kind is not a column"
    # never a day ahead, never a made-up time
    week = event | {"occurred_at": datetime(2026, 12, 6, 23), "kind": "склад за неделю"}
    day = event | {"occurred_at": datetime(2026, 11, 30, 23, 59), "kind": "переписка за день"}
    past = week | {"occurred_at": datetime(2026, 11, 29, 23)}
    whens = [r["Когда"] for r in views.timeline_table([week, day, past], today).to_dict("records")]
    assert whens == ["неделя 30.11–01.12, текущая", "30.11.2026", "неделя 23.11–29.11"]


def test_an_answer_is_its_text_and_its_sources_are_listed_once_with_readable_labels():
    text = views.answer_markdown("Клиент прислал ![](http://evil/a.png) [2].")
    assert text == "Клиент прислал \\!\\[\\](http:\\/\\/evil/a.png) \\[2\\].", "the model's words as text"
    assert views.answer_markdown("Нет в данных.") == "Нет в данных."
    meeting = "meeting:20261130-140500-10234-aa"
    citations = [
        Citation(1, "meeting", meeting, f"{meeting}@83", "2026-11-30 14:06", "Встреча 30.11.2026 14:05: Итоги", "ц"),
        Citation(2, "telegram", "telegram:-1001:1", "telegram:-1001:1-3", "2026-11-23 09:01", "Telegram, чат", "ч"),
        Citation(
            3, "meeting", meeting, f"{meeting}@540", "2026-11-30 14:14", "Встреча 30.11.2026 14:05 — с 09:00", "м"
        ),
        Citation(
            4, "email", "bitrix:6", "bitrix:6", "2026-11-30 11:05", "Письмо (входящее) 30.11.2026: Претензия", "п"
        ),
        Citation(5, "wms", "wms_week:10234:2026-11-23", "wms_week:10234:2026-11-23", "2026-11-29 23:00", "Склад", "с"),
    ]
    choices = views.citation_choices([c.__dict__ for c in citations])
    assert choices == [
        ("[1, 3] Встреча 30.11.2026, 14:05", f"{meeting}@83"),  # one meeting (by its start), opened at [1]
        ("[2] Telegram, 23.11.2026", "telegram:-1001:1-3"),
        ("[4] Письмо „Претензия“, 30.11.2026", "bitrix:6"),
        ("[5] Склад, неделя 23.11–29.11.2026", "wms_week:10234:2026-11-23"),
    ]
    for label, _ in choices:  # what a curator reads: no reference, no ISO date
        assert not re.search(r"meeting:|bitrix:|telegram:|wms_week|\d{4}-\d\d-\d\d", label), label
    stored = json.dumps([citations[1].__dict__ | {"time": None}], ensure_ascii=False)
    assert views.citation_choices(stored) == [("[2] Telegram", "telegram:-1001:1-3")]
    assert views.citation_choices(None) == views.citation_choices("[]") == []


def test_every_kind_of_source_has_a_label_a_curator_reads():
    cases = [
        (
            ("call", "bitrix:5", "2026-11-28 11:20", "Звонок (входящее) 28.11.2026 11:20 — резюме"),
            "Звонок 28.11.2026, 11:20",
        ),
        (("meeting_summary", "meeting:x", datetime(2026, 11, 30, 14, 5, 42), "Встреча"), "Встреча 30.11.2026, 14:05"),
        (("call", "bitrix:7", "2026-11-28 11:22:10", "Звонок", "bitrix:7@130"), "Звонок 28.11.2026, 11:20"),
        (("email", "bitrix:2", "2026-11-29 16:32", "Письмо (исходящее) 29.11.2026: без темы"), "Письмо, 29.11.2026"),
        (("note", "note:3", "2026-11-30 09:00", "Заметка куратора anna, 30.11.2026"), "Заметка куратора, 30.11.2026"),
        (("wms", "wms_week:1:2025-12-29", "2026-01-04 23:00", "Склад"), "Склад, неделя 29.12.2025–04.01.2026"),
        (("wms", "wms_period:1:2026-11-01:2026-11-30", "2026-11-30", "Склад за период"), "Склад, 01.11–30.11.2026"),
        (("tone", "tone:1:2026-11", "2026-11-30 23:59", "Тон общения за ноябрь 2026"), "Тон общения, ноябрь 2026"),
        (("tone", "bitrix:1", date(2026, 10, 1), "Тон за 10.2026"), "Тон общения, октябрь 2026"),  # a tool's
        (
            ("profile", "meeting:x", "2026-11-20 11:00", "Профиль: marketplaces"),
            "Профиль клиента: маркетплейсы, 20.11.2026",
        ),
        (("alert", "wms_order:W1:O1", date(2026, 11, 29), "Тревога: Вывоз товара"), "Тревога, 29.11.2026"),
        (("telegram", "telegram:-1:1", None, "Telegram, чат"), "Telegram"),
    ]
    for args, label in cases:
        assert citation_label(*args) == label, args


def test_the_chat_head_names_the_client_or_asks_to_choose_one():
    assert views.chat_head({"title": "ИП Смирнова (детская одежда)"}, "10234") == (
        "### ИП Смирнова (детская одежда) · лид 10234"
    )
    assert views.chat_head({"title": None}, "10234") == "### лид 10234"
    assert "Сначала выберите клиента" in views.chat_head(None, "")


def test_the_stored_chat_as_shown():
    log = [
        {"id": 1, "role": "user", "text": "что на фото ![](x.png)?", "citations": None},
        {"id": 2, "role": "assistant", "text": "Ответ \\[1\\]", "citations": "[]"},
    ]
    assert views.chat_messages(log) == [
        {"role": "user", "content": "что на фото \\!\\[\\](x.png)?"},
        {"role": "assistant", "content": "Ответ \\[1\\]"},
    ]
    assert views.chat_messages([]) == []


def test_admin_page():
    empty = {"chats": [], "renamed": [], "wms": [], "recordings": []}
    users = [
        SimpleNamespace(login="anna", role="curator", active=True, see_all=False, name="Анна Соколова"),
        SimpleNamespace(login="igor", role="viewer", active=False, see_all=True, name=None),
        SimpleNamespace(login="boss", role="admin", active=True, see_all=False, name=None),
    ]
    page = views.admin_page(empty, users, [], None, room_prefix="client", dagster_url="http://d:3000/")
    assert page.count("\n\n- нет") == 5, "each empty list, and no runs, apart from what is above it"
    assert "- **anna** — Анна Соколова, куратор\n" in page and "- **igor** — наблюдатель, все клиенты, отключён" in page
    assert "- **boss** — администратор" in page
    assert page.endswith("## Последние запуски Dagster\n\n- нет")
    # every list under its own heading, a blank line before and after it: none runs into the one before or after
    blocks = page.split("\n\n")
    assert blocks[:4] == ["## Без клиента", "#### Чаты Telegram", "- нет", "#### Переименованные чаты Telegram"]
    for i, block in enumerate(blocks):
        if block.startswith("- "):
            assert all(line.startswith("- ") for line in block.split("\n")), block
            assert not blocks[i - 1].startswith("- ") and (i + 1 == len(blocks) or not blocks[i + 1].startswith("- "))

    unmapped = {
        "chats": [{"chat_id": -1009, "title": "Новый селлер (без ID)"}],
        "renamed": [
            {
                "chat_id": -1001,
                "mapped_title": "client-10234",
                "title": "Смирнова",
                "client_id": "10234",
                "title_lead": None,
            }
        ],
        "wms": [{"wms_client_id": "W-77", "name": "ООО Неизвестный"}],
        "recordings": [{"path": "rec/planerka.mp4", "room": None, "reason": "комната без ID лида"}],
    }
    runs = [
        SimpleNamespace(run_id="0123456789abcdef", job_name="wms_pull_job", status="SUCCESS"),
        SimpleNamespace(run_id="fedcba9876543210", job_name="backup_job", status="FAILURE"),
        SimpleNamespace(run_id="00000000aaaaaaaa", job_name="__ASSET_JOB", status="STARTED"),
        SimpleNamespace(run_id="11111111bbbbbbbb", job_name="old_job", status="QUEUED"),
    ]
    page = views.admin_page(unmapped, [], runs, None, room_prefix="client", dagster_url="http://d:3000/")
    assert "- `-1009` Новый селлер (без ID) — в названии нет ID лида (ожидается client-12345…)" in page
    assert (
        "- `-1001` переименован: «client-10234» → «Смирнова»; клиент — лид 10234, в новом названии нет ID лида" in page
    )
    assert "- `W-77` ООО Неизвестный" in page and "- `rec/planerka.mp4` (комната `—`) — комната без ID лида" in page
    # a run: its status in Russian and what its job does (the job's own description), not Dagster's names
    assert (
        "- успешно · Клиенты, остатки, отгрузки, поставки и резервы из WMS (только новое и изменённое) · "
        "[01234567](http://d:3000/runs/0123456789abcdef)" in page
    )
    assert "- ошибка · Резервная копия всех данных" in page
    assert "- идёт · обновление отдельных данных (не по заданию) · [00000000]" in page
    assert "- в очереди · задание `old_job` · [11111111]" in page
    assert not re.search(r"SUCCESS|FAILURE|STARTED|QUEUED|_job|ASSET", page.replace("`old_job`", ""))

    failed = views.admin_page(empty, users, None, "база недоступна", room_prefix="client", dagster_url="http://d")
    assert failed.endswith("## Последние запуски Dagster\n\nИстория запусков недоступна: база недоступна")
    assert "**anna**" in failed, "the rest of the page is shown anyway"


def test_every_role_and_every_dagster_run_status_has_its_russian_name():
    import dagster as dg

    from warehouse.staff import ROLES

    assert set(views.ROLES) == set(ROLES)
    assert set(views.RUN_STATUSES) == {status.value for status in dg.DagsterRunStatus}
    assert all(re.fullmatch(r"[а-яё ]+", name) for name in [*views.ROLES.values(), *views.RUN_STATUSES.values()])


def test_outside_text_is_escaped_and_ids_are_code():
    assert (
        views.as_text("**жирный** <b> www.site.ru http://x") == "\\*\\*жирный\\*\\* \\<b\\> www\\.site.ru http:\\/\\/x"
    )
    assert views.as_text(None) == "" and views.as_code(None) == "``"
    assert views.as_code("a`b") == "`a'b`"


def test_the_formatters_need_no_gradio():
    probe = "import sys, chat_app.views; assert 'gradio' not in sys.modules, 'views imports Gradio'"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
