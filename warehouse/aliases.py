"""The editable client-alias mapping: other systems' ids → client_id (the Bitrix24 lead ID).

Every line is checked before it is written; a bad line already in the file (edited by hand) is reported with its
line number and skipped, so one typo never stops the loaders that read the file.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from pathlib import Path

log = logging.getLogger(__name__)

# recording: a recording without a lead in its room name — its path (as listed as unmatched), its Jibri session
# folder or the room name (every recording of that room)
SYSTEMS = ("telegram_chat", "bitrix_contact", "bitrix_company", "wms_client", "recording")
HEADER = ["system", "external_id", "client_id", "note"]
# a Bitrix24 lead ID: digits only, at most 12 of them (anything longer is not an id but noise or an attack)
LEAD_ID_MAX_DIGITS = 12
LEAD_ID_RULE = f"ID лида — только цифры, не больше {LEAD_ID_MAX_DIGITS}"
EXTERNAL_ID_MAX_CHARS = 500
_CHAT_ID = re.compile(r"[-+]?\d{1,20}")


# the client id of a WMS account linked to no lead yet (dbt macros/identity.sql provisional_client_id)
PROVISIONAL_WMS = "wms-"


def provisional_wms_id(client_id: str | None) -> str | None:
    """The WMS account behind a provisional client id (`wms-W00003` → `W00003`); None for a lead."""
    text = str(client_id or "")
    return text.removeprefix(PROVISIONAL_WMS) if text.startswith(PROVISIONAL_WMS) else None


def client_name(title: str | None, client_id: str) -> str:
    """A client as people read it: «ИП Смирнова · лид 10234», or for a WMS account linked to no lead «Селлер 3 (WMS
    W00003, не привязан к лиду Битрикс24)» (the Telegram alert, the card, the chat, eval-churn)."""
    if wms_id := provisional_wms_id(client_id):
        return f"{title or wms_id} (WMS {wms_id}, не привязан к лиду Битрикс24)"
    return f"{title or 'Клиент'} · лид {client_id}"


class AliasError(ValueError):
    pass


class AliasConflict(AliasError):
    """The id is already mapped to another lead: re-mapping it must be asked for (`replace`)."""


def is_lead_id(value: object) -> bool:
    """True for a well-formed lead ID (`10234`); False for empty, signed, non-digit or over-long values."""
    text = str(value or "")
    return text.isascii() and text.isdigit() and len(text) <= LEAD_ID_MAX_DIGITS and int(text) > 0


def not_a_lead(value: str) -> str:
    """The reason a value is refused as a lead ID (shortened: the value may be an attacker's megabyte)."""
    shown = value if len(value) <= 24 else value[:24] + "…"
    return f"«{shown}» — не ID лида ({LEAD_ID_RULE})"


def alias_problem(system: str, external_id: str, client_id: str) -> str | None:
    """Why a mapping line is unusable (in Russian), or None when it is fine."""
    if system not in SYSTEMS:
        return f"неизвестная система «{system[:40]}» (можно: {', '.join(SYSTEMS)})"
    if not external_id:
        return "нет ID в системе (external_id)"
    if len(external_id) > EXTERNAL_ID_MAX_CHARS or not external_id.isprintable():
        return f"ID в системе длиннее {EXTERNAL_ID_MAX_CHARS} знаков или с управляющими символами"
    if system == "telegram_chat" and not _CHAT_ID.fullmatch(external_id):
        return f"ID чата Telegram — целое число (например, -1001730156619), а не «{external_id[:40]}»"
    if system in ("bitrix_contact", "bitrix_company") and not is_lead_id(external_id):
        return f"ID контакта или компании Битрикс24 — только цифры, а не «{external_id[:40]}»"
    if not is_lead_id(client_id):
        return not_a_lead(client_id) if client_id else f"нет ID лида ({LEAD_ID_RULE})"
    return None


def _canonical(system: str, external_id: str) -> str:
    """`+0012` and `12` are one Telegram chat (its key is the marked id as Python prints it)."""
    return str(int(external_id)) if system == "telegram_chat" else external_id


class Aliases(dict[tuple[str, str], str]):
    """(system, external_id) → client_id, plus what was skipped: `problems` as (line number, reason) and `unreadable`,
    the keys whose line was skipped (their mapping must stay as it was, not fall back to a guess)."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[tuple[int, str]] = []
        self.unreadable: set[tuple[str, str]] = set()

    def lead(self, key: tuple[str, str], current: str | None) -> str | None:
        """The lead for `key`: from the file, or — while its line there is broken — the one it has now."""
        return self.get(key) or (current if key in self.unreadable else None)

    def skip(self, path: Path, line_no: int, reason: str, key: tuple[str, str] | None = None) -> None:
        self.problems.append((line_no, reason))
        if key:
            self.unreadable.add(key)
        log.warning("%s, строка %s пропущена: %s", path, line_no, reason)


def load_aliases(path: Path) -> Aliases:
    """Read the CSV (`system,external_id,client_id,note`); a missing file is an empty mapping. A later line that maps
    an id already mapped above to another lead is skipped and reported (re-mapping rewrites the line itself:
    `save_alias(replace=True)`), so a line added by hand at the end cannot silently move a client's history."""
    aliases = Aliases()
    if not path.exists():
        return aliases
    lines_of: dict[tuple[str, str], int] = {}
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            if not {"system", "external_id", "client_id"} <= set(reader.fieldnames or ()):
                aliases.skip(path, 1, f"нет заголовка {','.join(HEADER)}: файл не прочитан")
                return aliases
            for row in reader:
                line_no = reader.line_num
                if None in row:  # more cells than the header names: a comma too many
                    aliases.skip(path, line_no, "лишние поля в строке (запятая в значении без кавычек?)")
                    continue
                system = (row.get("system") or "").strip()
                external, client = (row.get("external_id") or "").strip(), (row.get("client_id") or "").strip()
                if not system and not external and not client:
                    continue
                if problem := alias_problem(system, external, client):
                    known = system in SYSTEMS and external and alias_problem(system, external, "1") is None
                    aliases.skip(path, line_no, problem, (system, _canonical(system, external)) if known else None)
                    continue
                key = (system, _canonical(system, external))
                if key in aliases and aliases[key] != client:
                    first = lines_of.get(key)
                    aliases.skip(
                        path, line_no, f"{external} уже привязан к лиду {aliases[key]} в строке {first}: оставлена она"
                    )
                    continue
                aliases[key] = client
                lines_of.setdefault(key, line_no)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        aliases.skip(path, 0, f"файл не читается: {exc}")
    return aliases


def save_alias(
    path: Path, system: str, external_id: str, client_id: str, note: str = "", *, replace: bool = False
) -> bool:
    """Append a checked line (or, with `replace`, rewrite the id's line). False (nothing written) when the id is
    already mapped to this lead; AliasError, with nothing written, for a bad value or when the file would not read
    the new mapping back (a broken line above it, e.g. an unclosed quote); AliasConflict, unless `replace`, for an id
    already mapped to another lead."""
    system, external_id, client_id = system.strip(), str(external_id).strip(), str(client_id).strip()
    if problem := alias_problem(system, external_id, client_id):
        raise AliasError(problem)
    external_id = _canonical(system, external_id)
    current = load_aliases(path).get((system, external_id))
    if current == client_id:
        return False
    if current and not replace:
        raise AliasConflict(f"{external_id} уже привязан к лиду {current}")
    before = path.read_bytes() if path.exists() else None
    line = [system, external_id, client_id, " ".join(note.split())]
    if current:
        _rewrite(path, (system, external_id), line)
    else:
        _append(path, line)
    check = load_aliases(path)
    if check.get((system, external_id)) != client_id:  # the file did not take it: put it back as it was
        if before is None:
            path.unlink()
        else:
            path.write_bytes(before)
        where = "; ".join(f"строка {n}: {why}" for n, why in check.problems[:3]) or "строка выше новой"
        raise AliasError(f"файл привязок {path} испорчен ({where}) — исправьте его; привязка не записана")
    return True


def _append(path: Path, line: list[str]) -> None:
    new = not path.exists() or path.stat().st_size == 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as raw:
        if not new:  # a file edited by hand may lack the last newline: the new line must not join it
            raw.seek(-1, 2)
            if raw.read(1) not in (b"\n", b"\r"):
                raw.write(b"\r\n")
    with path.open("a", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(HEADER)
        writer.writerow(line)


def _rewrite(path: Path, key: tuple[str, str], line: list[str]) -> None:
    """The file with the id's line(s) replaced by `line`, written whole to a temporary file and moved over it."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    out = []
    for row in rows:
        system, external = (row + ["", ""])[0].strip(), (row + ["", ""])[1].strip()
        same = system == key[0] and alias_problem(system, external, "1") is None
        if same and _canonical(system, external) == key[1]:
            if line:
                out.append(line)
                line = []
            continue
        out.append(row)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(out)
    os.replace(tmp, path)


def title_lead(title: str | None, prefix: str) -> tuple[str | None, str]:
    """(lead ID, "") for `client-12345 ИП Смирнова` or `ИП Смирнова | client_12345` (the Jitsi room rule, anywhere);
    (None, why) when the title names no lead or digits that break the lead-ID rule."""
    m = re.search(rf"(?<![\w]){re.escape(prefix)}[-_ .#]?(\d+)(?!\d)", title or "", re.IGNORECASE)
    if not m:
        return None, f"в названии нет ID лида (ожидается {prefix}-12345…)"
    if not is_lead_id(m.group(1)):
        return None, f"в названии {not_a_lead(m.group(1))}"
    return m.group(1), ""
