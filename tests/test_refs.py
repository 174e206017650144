"""warehouse/refs.py: every kind listed in dbt_project/macros/refs.sql round-trips; anything else parses to None."""

import re
from datetime import date
from pathlib import Path

import pytest

from warehouse.refs import KINDS, Ref, make_ref, parse_ref

MACRO = Path(__file__).resolve().parent.parent / "dbt_project" / "macros" / "refs.sql"

EXAMPLES = [
    ("meeting:rec-20261130-10517", Ref("meeting", ("rec-20261130-10517",))),
    ("meeting:rec-1@754", Ref("meeting", ("rec-1",), 754)),
    ("telegram:-1001234:56", Ref("telegram", ("-1001234", "56"))),
    ("telegram:-1001234:56-61", Ref("telegram", ("-1001234", "56-61"))),
    ("telegram_day:10234:2026-11-30", Ref("telegram_day", ("10234", "2026-11-30"))),
    ("bitrix:9001", Ref("bitrix", ("9001",))),
    ("bitrix:9001@30", Ref("bitrix", ("9001",), 30)),
    ("call:9001", Ref("call", ("9001",))),
    ("note:7", Ref("note", ("7",))),
    ("wms_week:10234:2026-11-23", Ref("wms_week", ("10234", "2026-11-23"))),
    ("wms_order:55:O-1", Ref("wms_order", ("55", "O-1"))),
    ("wms_receipt:55:R-1", Ref("wms_receipt", ("55", "R-1"))),
    ("wms_reservation:55:Z-1", Ref("wms_reservation", ("55", "Z-1"))),
    ("bitrix_lead:10234", Ref("bitrix_lead", ("10234",))),
    ("email:10234:счёт: октябрь", Ref("email", ("10234", "счёт: октябрь"))),
    ("email:10234:", Ref("email", ("10234", ""))),
    ("profile:10234:marketplaces", Ref("profile", ("10234", "marketplaces"))),
    ("profile:10234:marketplaces:wms:ozon", Ref("profile", ("10234", "marketplaces", "wms", "ozon"))),
    ("profile:10234:pains:conversation:", Ref("profile", ("10234", "pains", "conversation", ""))),
    ("wms_month:10234:2026-09", Ref("wms_month", ("10234", "2026-09"))),
    ("tone:10234:2026-09", Ref("tone", ("10234", "2026-09"))),
    ("wms_period:10234:2026-09-01:2026-09-30", Ref("wms_period", ("10234", "2026-09-01", "2026-09-30"))),
    ("alert:10234:silence", Ref("alert", ("10234", "silence"))),
    ("alerts:10234", Ref("alerts", ("10234",))),
    ("tool:wms_period", Ref("tool", ("wms_period",))),
]


@pytest.mark.parametrize(("text", "ref"), EXAMPLES)
def test_round_trip(text, ref):
    assert parse_ref(text) == ref
    assert make_ref(ref.kind, *ref.parts, at=ref.at) == text == str(ref)


def test_every_kind_of_the_macro_is_known_and_tested():
    comment = MACRO.read_text(encoding="utf-8")
    listed = set(re.findall(r"^\s{4}(\w+):<", comment, re.M)) | set(re.findall(r", (\w+):<", comment))
    assert listed == set(KINDS)
    assert {ref.kind for _, ref in EXAMPLES} == set(KINDS)


def test_parts_are_written_as_text():
    assert make_ref("wms_week", 10234, date(2026, 11, 23)) == "wms_week:10234:2026-11-23"
    assert make_ref("meeting", "r1", at=12.7) == "meeting:r1@12"


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        42,
        "",
        "meeting",
        "meeting:",
        "unknown:1",
        "telegram:1",
        "telegram:1:2:3",
        "telegram::2",
        "profile:1:kind:origin",
        "profile:1",
        "wms_week:1:",
        "note:7@12:x",
        "http://example.com",
    ],
)
def test_garbage_is_none(garbage):
    assert parse_ref(garbage) is None


@pytest.mark.parametrize(
    ("kind", "parts", "at"),
    [
        ("unknown", ("1",), None),
        ("telegram", ("1",), None),
        ("telegram", ("1:2", "3"), None),
        ("wms_week", ("1", ""), None),
        ("profile", ("1", "kind", "origin"), None),
        ("note", ("7",), 12),
    ],
)
def test_make_refuses_what_could_not_be_read_back(kind, parts, at):
    with pytest.raises(ValueError):
        make_ref(kind, *parts, at=at)


def test_a_prefix_is_what_every_longer_reference_starts_with():
    from warehouse.refs import make_ref, ref_prefix

    assert make_ref("telegram", -1001, "5-7").startswith(ref_prefix("telegram", -1001))
    assert not make_ref("telegram", -10012, 5).startswith(ref_prefix("telegram", -1001))
    with pytest.raises(ValueError):
        ref_prefix("telegram", -1001, 5)
