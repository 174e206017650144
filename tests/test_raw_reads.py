"""dbt is the one transformation layer: outside dbt_project/, only a source's own assets read its raw tables (to
stay idempotent: what is stored already, which day is due); everything else reads the dbt models."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# who writes a raw table may read it back: the source's assets package → the raw tables it owns (name prefixes)
OWNERS = {
    "assets/meetings": ("meeting_",),
    "assets/telegram": ("telegram_",),
    "assets/bitrix24": ("bitrix_",),
    "assets/wms": ("wms_",),
    "assets/notes": ("staff_notes",),
    "assets/enrichment": ("interaction_signals", "client_profile_"),
    "assets/identity": ("identity_",),
    "warehouse/duck.py": ("",),  # the raw schema itself: creates and migrates every table
    "orchestration/dbt.py": ("",),  # dbt's runner: what a build starts from (mappings, its fingerprint)
}
SKIP = ("tests/", "dbt_project/", ".venv/", ".tools/")
# SQL reading a raw table, or a raw table's name handed around as a string
READ = re.compile(r"\b(?:from|join)\s+(?:\w+\.)?raw\.\"?(\w+)|[\"']raw\.(\w+)[\"']", re.I)


def raw_reads(text: str) -> list[str]:
    return [a or b for a, b in READ.findall(text)]


def test_the_pattern_finds_reads_and_only_reads():
    sql = 'select * from raw.a a join w.raw.b using (x); insert into raw.c values (1); select 1 from raw."d"'
    assert raw_reads(sql) == ["a", "b", "d"]
    assert raw_reads("""TABLES = {"orders": ("raw.wms_orders", "created_at")}""") == ["wms_orders"]
    assert raw_reads("from staging.stg_x join marts.fct_y; the raw.wms_orders rows") == []


def test_no_python_outside_dbt_reads_another_sources_raw_tables():
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(SKIP):
            continue
        own = next((prefixes for owner, prefixes in OWNERS.items() if rel.startswith(owner)), ())
        for table in raw_reads(path.read_text(encoding="utf-8")):
            if not table.startswith(own) if own else True:
                offenders.append(f"{rel}: raw.{table}")
    assert offenders == [], "read these through dbt models (staging/intermediate/marts):\n" + "\n".join(offenders)
