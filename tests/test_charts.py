"""The card's warehouse charts as specs (no browser): Russian months and «1 000» through Vega's locale, only the
chosen period's weeks, one marker per open alert at its week on its series, the outbound kinds stacked."""

from datetime import date, timedelta

import pytest

from chat_app import charts

TODAY = date(2026, 12, 4)
ENGLISH_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def weeks(n: int = 110) -> list[dict]:
    """n weeks up to the one running today (a Monday each), the stock falling at the end."""
    last = TODAY - timedelta(days=TODAY.weekday())
    return [
        {
            "week": last - timedelta(weeks=n - 1 - i),
            "outbound": 1500,
            "outbound_fbs": 300,
            "withdrawal": 900 if i == n - 3 else 0,
            "inbound": 1200,
            "reserved": 100,
            "stock_end": 5000 - (4000 if i >= n - 3 else 0),
        }
        for i in range(n)
    ]


def alert(kind: str, week: date, label: str, severity: str = "high") -> dict:
    return {"alert_type": kind, "week": week, "week_end": week + timedelta(days=6), "alert_label": label} | {
        "severity": severity
    }


def layers(chart) -> list[tuple[dict, list[dict]]]:
    """Each layer of a chart's spec with its rows."""
    spec = chart.to_dict()
    return [(layer, spec["datasets"][layer.get("data", spec.get("data"))["name"]]) for layer in spec["layer"]]


def mark(layer: dict) -> str:
    return layer["mark"] if isinstance(layer["mark"], str) else layer["mark"]["type"]


def markers(chart) -> list[dict]:
    return [row for layer, rows in layers(chart) if mark(layer) == "point" for row in rows]


def test_the_charts_speak_russian_months_and_group_thousands_by_a_no_break_space():
    for build in (charts.stock_chart, charts.flows_chart):
        for months in charts.PERIODS.values():
            spec = build(weeks(), [], months, TODAY).to_dict()
            locale = spec["config"]["locale"]
            assert (
                locale["time"]["shortMonths"][:3] == ["янв", "фев", "мар"] and locale["time"]["months"][10] == "ноября"
            )
            assert locale["number"]["thousands"] == "\u00a0" and locale["number"]["decimal"] == ","
            for layer in spec["layer"]:
                x, y = layer["encoding"]["x"], layer["encoding"]["y"]
                assert x["type"] == "temporal" and "%b" in x["axis"]["format"], "months by their (locale's) names"
                assert "%Y" in x["axis"]["format"] or months == 3, "no tick left to Vega's own «2026»"
                assert y["axis"]["format"] == ",~f", "grouped by the locale, no «1k»"
                if months == 3:  # every other week by its Monday, as the app's weeks begin
                    ticks = [date(v["year"], v["month"], v["date"]) for v in x["axis"]["values"]]
                    assert ticks and {d.weekday() for d in ticks} == {0} and ticks[0] - ticks[1] == timedelta(weeks=2)
            text = str(spec)
            assert not any(f"'{m}" in text for m in ENGLISH_MONTHS)


def test_only_the_chosen_periods_weeks_are_drawn_and_a_longer_period_draws_more():
    drawn = {}
    for months in (3, 6, 12, 24):
        [(_, rows)] = [
            (lay, r)
            for lay, r in layers(
                charts.stock_chart(
                    weeks(),
                    [],
                    months,
                    TODAY,
                )
            )
            if mark(lay) == "line"
        ]
        first = min(date.fromisoformat(r["неделя"][:10]) for r in rows)
        assert first + timedelta(days=6) >= charts.period_start(TODAY, months) > first - timedelta(days=1)
        drawn[months] = len(rows)
    assert drawn[3] < drawn[6] < drawn[12] < drawn[24] == 105
    assert charts.stock_chart([], [], 6, TODAY) is None and charts.flows_chart([], [], 6, TODAY) is None
    assert charts.period_months("12 мес.") == 12 and charts.period_months("что-то") == 6


@pytest.mark.parametrize(
    ("today", "months", "start"),
    [
        (date(2026, 12, 4), 3, date(2026, 9, 4)),
        (date(2026, 5, 31), 3, date(2026, 2, 28)),
        (date(2026, 1, 15), 24, date(2024, 1, 15)),
    ],
)
def test_a_period_starts_the_same_day_months_back(today, months, start):
    assert charts.period_start(today, months) == start


def test_each_open_alert_is_one_marker_at_its_week_on_its_series_with_its_label():
    rows = weeks()
    withdrawn, last = rows[-3]["week"], rows[-1]["week"]
    alerts = [
        alert("withdrawal", withdrawn, "Вывоз товара", "critical"),
        alert("inbound_stopped", last, "Поставки прекратились"),
        alert("reservation_spike", rows[-2]["week"], "Всплеск резервов"),
        alert("intent_to_leave", last, "Клиент говорит об уходе", "critical"),
        alert("withdrawal", TODAY - timedelta(days=400), "Вывоз товара"),  # before the period: not drawn
    ]
    flows = markers(charts.flows_chart(rows, alerts, 6, TODAY))
    assert [(m["тревога"], m["неделя"][:10], m["единиц"]) for m in flows] == [
        ("Вывоз товара", f"{withdrawn}", 1500 + 900),  # at the stack's top: FBO + FBS + the withdrawal
        ("Поставки прекратились", f"{last}", 1200),
        ("Всплеск резервов", f"{rows[-2]['week']}", 100),
    ]
    assert flows[0]["цвет"] == charts.MARKER_COLORS["critical"] != flows[1]["цвет"]
    assert flows[1]["когда"].startswith(f"неделя {last:%d.%m}") and flows[1]["когда"].endswith("текущая")
    stock = markers(charts.stock_chart(rows, alerts, 6, TODAY))
    assert [(m["тревога"], m["неделя"][:10], m["единиц"]) for m in stock] == [
        ("Вывоз товара", f"{withdrawn}", 1000),
        ("Клиент говорит об уходе", f"{last}", 1000),
    ]
    spec = charts.stock_chart(rows, alerts, 6, TODAY).to_dict()
    [point] = [lay for lay in spec["layer"] if mark(lay) == "point"]
    assert [t["field"] for t in point["encoding"]["tooltip"]] == ["тревога", "когда"]
    assert not markers(charts.stock_chart(rows, [], 6, TODAY))


def test_the_outbound_kinds_are_a_stacked_area_receipts_and_reserves_lines_over_it():
    (area, area_rows), (lines, line_rows) = layers(charts.flows_chart(weeks(), [], 6, TODAY))
    assert mark(area) == "area" and area["encoding"]["y"]["stack"] == "zero"
    assert {r["ряд"] for r in area_rows} == {"на маркетплейсы (FBO)", "FBS", "вывоз клиентом"}
    assert mark(lines) == "line" and {r["ряд"] for r in line_rows} == {"приёмка", "резервы"}
    fbo = {r["единиц"] for r in area_rows if r["ряд"] == "на маркетплейсы (FBO)"}
    assert fbo == {1200}, "FBO is the outbound less FBS, not counted twice"
