"""The card's warehouse charts as Vega-Lite specs (Altair), in Russian: month names, «1 000», the chosen period, a
marker at each open alert's week. Pure functions (no Gradio, no I/O): weekly rows + alerts + period → chart.

Gradio's own plots build their Vega spec in the browser with no locale (English months, «1,000»); `gr.Plot` renders
an Altair chart's spec as given, and Vega honours the spec's `config.locale`."""

from __future__ import annotations

from datetime import date, timedelta

import altair as alt
import pandas as pd

from chat_app import views
from warehouse.alerts import week_label

PERIODS = {"3 мес.": 3, "6 мес.": 6, "12 мес.": 12, "24 мес.": 24}
DEFAULT_PERIOD = "6 мес."
HEIGHT = 220

RU_LOCALE = {  # d3's ru-RU, thousands apart by a no-break space as warehouse.alerts.ru_int writes them
    "number": {"decimal": ",", "thousands": "\u00a0", "grouping": [3], "currency": ["", "\u00a0₽"]},
    "time": {
        "dateTime": "%A, %e %B %Y г. %X",
        "date": "%d.%m.%Y",
        "time": "%H:%M:%S",
        "periods": ["AM", "PM"],
        "days": ["воскресенье", "понедельник", "вторник", "среда", "четверг", "пятница", "суббота"],
        "shortDays": ["вс", "пн", "вт", "ср", "чт", "пт", "сб"],
        "months": [
            "января",
            "февраля",
            "марта",
            "апреля",
            "мая",
            "июня",
            "июля",
            "августа",
            "сентября",
            "октября",
            "ноября",
            "декабря",
        ],  # fmt: skip
        "shortMonths": ["янв", "фев", "мар", "апр", "май", "июн", "июл", "авг", "сен", "окт", "ноя", "дек"],
    },
}
NUMBER = ",~f"  # «12 345», «2,5»: grouped by the locale, no «k» suffixes
# the x axis per period: an explicit format and step, so no tick falls back to Vega's «2026» for a January; over 3
# months every other week's Monday (Vega's own weeks begin on Sundays)
AXES = {
    3: ("%d %b", None),
    6: ("%b %Y", {"interval": "month", "step": 1}),
    12: ("%b %Y", {"interval": "month", "step": 2}),
    24: ("%b %Y", {"interval": "month", "step": 4}),
}
OUTBOUND = [name for name, _ in views.FLOWS[:3]]  # what leaves the warehouse: stacked, their sum is the outbound
LINES = [name for name, _ in views.FLOWS[3:]]  # receipts and reserves: lines over the stack
STOCK_SERIES = views.STOCK[0][0]
# which series of the flows chart an alert type is about; the stock line marks a withdrawal too (the stock falls) and
# any alert about no flow (what the client said)
ALERT_SERIES = {"withdrawal": "вывоз клиентом", "reservation_spike": "резервы", "inbound_stopped": "приёмка"}
ON_STOCK = {"withdrawal"}
MARKER_COLORS = views.SEVERITY_COLORS


def period_months(choice: str | None) -> int:
    return PERIODS.get(choice or "", PERIODS[DEFAULT_PERIOD])


def period_start(today: date, months: int) -> date:
    """The same day `months` calendar months back (the month's last day when it has fewer days)."""
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    month += 1
    days = (date(year + month // 12, month % 12 + 1, 1) - date(year, month, 1)).days
    return date(year, month, min(today.day, days))


def in_period(weeks: list[dict], today: date, months: int) -> list[dict]:
    """The weeks that end within the period (the first one may have begun before it)."""
    start = period_start(today, months)
    return [w for w in weeks if w["week"] + timedelta(days=6) >= start]


def _rows(weeks: list[dict], series, today: date) -> pd.DataFrame:
    rows = views.weekly(weeks, series)
    labels = {pd.Timestamp(w["week"]): week_label(w["week"], w["week"] + timedelta(days=6), today) for w in weeks}
    rows["когда"] = rows["неделя"].map(labels)
    return rows


def _markers(
    alerts: list[dict], value_at: dict[tuple[str, pd.Timestamp], float], today: date, *, stock: bool
) -> pd.DataFrame:
    """One point per open alert at its week, on its series' line (or on the stack's top for the stacked ones)."""
    rows = []
    for a in alerts:
        week = pd.Timestamp(a["week"])
        series = STOCK_SERIES if stock else ALERT_SERIES.get(a["alert_type"])
        if (series, week) in value_at:
            rows.append(
                {
                    "неделя": week,
                    "единиц": value_at[series, week],
                    "тревога": a["alert_label"],
                    "когда": week_label(a["week"], a["week_end"], today),
                    "цвет": MARKER_COLORS.get(a["severity"], "#555555"),
                }
            )
    return pd.DataFrame(rows, columns=["неделя", "единиц", "тревога", "когда", "цвет"])


def _x(months: int, weeks: list[dict]) -> alt.X:
    fmt, step = AXES[months]
    if step:
        ticks = {"tickCount": step}
    else:  # the last week's Monday and every other one before it
        ticks = {
            "values": [alt.DateTime(year=w.year, month=w.month, date=w.day) for w in [w["week"] for w in weeks][::-2]]
        }
    axis = alt.Axis(title=None, format=fmt, labelAngle=0, labelOverlap=True, grid=False, **ticks)
    return alt.X("неделя:T", axis=axis)


def _y(**kw) -> alt.Y:
    return alt.Y("единиц:Q", axis=alt.Axis(title=None, format=NUMBER, tickCount=5), **kw)


def _marker_layer(markers: pd.DataFrame, x: alt.X) -> list[alt.Chart]:
    if markers.empty:
        return []
    tooltip = [alt.Tooltip("тревога:N", title="Тревога"), alt.Tooltip("когда:N", title="Когда")]
    base = alt.Chart(markers).encode(x=x)
    rule = base.mark_rule(strokeDash=[3, 3], opacity=0.6).encode(color=alt.Color("цвет:N", scale=None))
    point = base.mark_point(filled=True, size=140, shape="triangle-down", opacity=1).encode(
        y=_y(), color=alt.Color("цвет:N", scale=None), tooltip=tooltip
    )
    return [rule, point]


def _finish(layers: list[alt.Chart]) -> alt.LayerChart:
    return (
        alt.layer(*layers)
        .properties(width="container", height=HEIGHT, padding={"top": 32, "left": 5, "right": 14, "bottom": 5})
        .configure(locale=RU_LOCALE)
        .configure_legend(orient="bottom", title=None, columns=2, labelLimit=160)
        .configure_view(stroke=None)
    )


def stock_chart(weeks: list[dict], alerts: list[dict], months: int, today: date) -> alt.LayerChart | None:
    """The stock at each week's end over the period, a marker at the week of each open withdrawal alert and of
    each alert about no flow (the others are marked on the flows chart)."""
    weeks = in_period(weeks, today, months)
    if not weeks:
        return None
    x = _x(months, weeks)
    rows = _rows(weeks, views.STOCK, today)
    tooltip = [alt.Tooltip("когда:N", title="Неделя"), alt.Tooltip("единиц:Q", title="Остаток, ед.", format=NUMBER)]
    line = alt.Chart(rows).mark_line(point=True, color="#1f77b4").encode(x=x, y=_y(), tooltip=tooltip)
    value_at = {(STOCK_SERIES, w): v for w, v in zip(rows["неделя"], rows["единиц"], strict=True)}
    mine = [a for a in alerts if a["alert_type"] in ON_STOCK or a["alert_type"] not in ALERT_SERIES]
    markers = _markers(mine, value_at, today, stock=True)
    return _finish([line, *_marker_layer(markers, x)])


def flows_chart(weeks: list[dict], alerts: list[dict], months: int, today: date) -> alt.LayerChart | None:
    """What left the warehouse each week as a stacked area by kind (FBO, FBS, taken back by the client), receipts
    and reserves as lines over it, a marker at each open alert's week on its series (a withdrawal at the stack's
    top, where the client's own outbound band ends)."""
    weeks = in_period(weeks, today, months)
    if not weeks:
        return None
    x = _x(months, weeks)
    rows = _rows(weeks, views.FLOWS, today)
    rows["порядок"] = rows["ряд"].map({name: i for i, name in enumerate(OUTBOUND + LINES)})
    color = alt.Color(
        "ряд:N",
        scale=alt.Scale(domain=OUTBOUND + LINES, range=[views.FLOW_COLORS[n] for n in OUTBOUND + LINES]),
        legend=alt.Legend(title=None),
    )
    tooltip = [
        alt.Tooltip("когда:N", title="Неделя"),
        alt.Tooltip("ряд:N", title="Что"),
        alt.Tooltip("единиц:Q", title="Ед.", format=NUMBER),
    ]
    outbound = rows[rows["ряд"].isin(OUTBOUND)]
    area = (
        alt.Chart(outbound)
        .mark_area(opacity=0.85)
        .encode(
            x=x,
            y=_y(stack="zero"),
            color=color,
            order=alt.Order("порядок:Q"),
            tooltip=tooltip,
        )
    )
    lines = (
        alt.Chart(rows[rows["ряд"].isin(LINES)])
        .mark_line(strokeWidth=2, point=alt.OverlayMarkDef(size=25))
        .encode(x=x, y=_y(), color=color, detail="ряд:N", tooltip=tooltip)
    )
    value_at = {(s, w): v for s, w, v in zip(rows["ряд"], rows["неделя"], rows["единиц"], strict=True)}
    tops = outbound.groupby("неделя")["единиц"].sum()  # a stacked series is marked at the top of the stack
    value_at |= {(OUTBOUND[-1], w): v for w, v in tops.items()}
    markers = _markers(alerts, value_at, today, stock=False)
    return _finish([area, lines, *_marker_layer(markers, x)])
