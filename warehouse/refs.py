"""Reference strings in Python: what a passage, a signal, a profile fact or a summary points at. The same syntax as
dbt_project/macros/refs.sql (`<kind>:<part>:…[@<second>]`; its comment lists every kind) — change both together."""

from __future__ import annotations

import re
from dataclasses import dataclass

# kind → its parts
KINDS: dict[str, tuple[str, ...]] = {
    "meeting": ("recording_id",),
    "telegram": ("chat_id", "message_id"),  # message_id may be a run: <first>-<last>
    "telegram_day": ("client_id", "day"),
    "bitrix": ("activity_id",),
    "call": ("activity_id",),
    "note": ("note_id",),
    "wms_week": ("client_id", "week"),
    "wms_order": ("wms_client_id", "order_id"),
    "wms_receipt": ("wms_client_id", "receipt_id"),
    "wms_reservation": ("wms_client_id", "reservation_id"),
    "bitrix_lead": ("lead_id",),
    "email": ("client_id", "thread"),
    "profile": ("client_id", "kind", "origin", "fact_key"),  # the last two only together
    "wms_month": ("client_id", "month"),
    "tone": ("client_id", "month"),
    "wms_period": ("client_id", "start", "end"),
    "alert": ("client_id", "alert_type"),
    "alerts": ("client_id",),
    "tool": ("name",),
}
# the last part is free text (a thread's subject, a fact's words): taken whole when parsing, and may be empty
FREE_TEXT = {"email", "profile"}
OPTIONAL_TAIL = {"profile": 2}  # kind → how many trailing parts may be left out (all of them together)
MOMENTS = {"meeting", "bitrix"}  # kinds a second of the recording may be appended to: `@<second>`
_AT = re.compile(r"@(\d+)$")


@dataclass(frozen=True)
class Ref:
    kind: str
    parts: tuple[str, ...]
    at: int | None = None

    def __str__(self) -> str:
        return make_ref(self.kind, *self.parts, at=self.at)


def _counts(kind: str) -> tuple[int, ...]:
    n = len(KINDS[kind])
    return (n - OPTIONAL_TAIL[kind], n) if kind in OPTIONAL_TAIL else (n,)


def make_ref(kind: str, *parts: object, at: int | float | None = None) -> str:
    """`make_ref("wms_order", 12, 345)` → `wms_order:12:345`; `at=` (meetings, calls) appends `@<second>`."""
    if kind not in KINDS:
        raise ValueError(f"unknown reference kind: {kind}")
    texts = [str(p) for p in parts]
    if len(texts) not in _counts(kind):
        raise ValueError(f"{kind}: expected parts {KINDS[kind]}, got {texts}")
    fixed = texts[:-1] if kind in FREE_TEXT else texts
    if any(not t or ":" in t for t in fixed) or not (texts[-1] or kind in FREE_TEXT):
        raise ValueError(f"{kind}: empty part or ':' inside one: {texts}")
    if at is not None and kind not in MOMENTS:
        raise ValueError(f"{kind}: no moment inside it")
    return f"{kind}:{':'.join(texts)}" + (f"@{int(at)}" if at is not None else "")


def parse_ref(ref: object) -> Ref | None:
    """A reference string → its kind, parts and moment; None when it is not one."""
    if not isinstance(ref, str):
        return None
    kind, sep, rest = ref.partition(":")
    if not sep or kind not in KINDS:
        return None
    at = None
    if kind in MOMENTS and (m := _AT.search(rest)):
        at, rest = int(m.group(1)), rest[: m.start()]
    parts = tuple(rest.split(":", len(KINDS[kind]) - 1) if kind in FREE_TEXT else rest.split(":"))
    fixed = parts[:-1] if kind in FREE_TEXT else parts
    if len(parts) not in _counts(kind) or not all(fixed):
        return None
    return Ref(kind, parts, at)


def ref_prefix(kind: str, *parts: object) -> str:
    """What every reference of `kind` starting with these parts begins with: `telegram:<chat>:` for a chat."""
    if kind not in KINDS or len(parts) >= len(KINDS[kind]):
        raise ValueError(f"{kind}: a prefix has fewer parts than {KINDS.get(kind)}")
    return ":".join([kind, *map(str, parts)]) + ":"
