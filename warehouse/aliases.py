"""The editable client-alias mapping: other systems' ids → client_id (the Bitrix24 lead ID)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

# recording: a recording without a lead in its room name — its path (as listed as unmatched), its Jibri session
# folder or the room name (every recording of that room)
SYSTEMS = ("telegram_chat", "bitrix_contact", "bitrix_company", "wms_client", "recording")
HEADER = ["system", "external_id", "client_id", "note"]
# a Bitrix24 lead ID: digits only, at most 12 of them (anything longer is not an id but noise or an attack)
LEAD_ID_MAX_DIGITS = 12
LEAD_ID_RULE = f"ID лида — только цифры, не больше {LEAD_ID_MAX_DIGITS}"


class AliasError(ValueError):
    pass


def is_lead_id(value: object) -> bool:
    """True for a well-formed lead ID (`10234`); False for empty, signed, non-digit or over-long values."""
    text = str(value or "")
    return text.isascii() and text.isdigit() and len(text) <= LEAD_ID_MAX_DIGITS and int(text) > 0


def load_aliases(path: Path) -> dict[tuple[str, str], str]:
    """Read the CSV (`system,external_id,client_id,note`); a missing file is an empty mapping."""
    if not path.exists():
        return {}
    aliases: dict[tuple[str, str], str] = {}
    with path.open(encoding="utf-8-sig", newline="") as f:
        for line_no, row in enumerate(csv.DictReader(f), start=2):
            system = (row.get("system") or "").strip()
            external, client = (row.get("external_id") or "").strip(), (row.get("client_id") or "").strip()
            if not system and not external:
                continue
            if system not in SYSTEMS or not external or not client.isdigit():
                raise AliasError(
                    f"{path}, строка {line_no}: ожидается system из {SYSTEMS}, external_id и числовой client_id"
                )
            aliases[(system, external)] = client
    return aliases


def save_alias(path: Path, system: str, external_id: str, client_id: str, note: str = "") -> None:
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(HEADER)
        writer.writerow([system, external_id, client_id, note])


def lead_id_in_title(title: str | None, prefix: str) -> str | None:
    """`client-12345 ИП Смирнова`, `ИП Смирнова | client_12345` → `12345` (the Jitsi room rule, anywhere)."""
    if not title:
        return None
    m = re.search(rf"(?<![\w]){re.escape(prefix)}[-_ .#]?(\d+)(?!\d)", title, re.IGNORECASE)
    return m.group(1) if m else None
