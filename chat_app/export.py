"""The shown client list as a file to download (CSV for Excel, XLSX), written to a new private temporary directory
per request. Gradio copies what a handler returns into its cache, under a name made from a hash of the content
and a secret seed, and serves it only to a signed-in session (`/gradio_api/file=`): the copy here is not needed
after that and is removed by an export 10 minutes later."""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

from chat_app import views

PREFIX = "c360-export-"
KEEP_SECONDS = 600  # Gradio has long copied the file by then


def _fresh_dir() -> Path:
    """A new directory only this process's user may read (mkdtemp: mode 0700); older ones of this kind are removed."""
    root = Path(tempfile.gettempdir())
    for old in root.glob(PREFIX + "*"):
        try:
            if time.time() - old.stat().st_mtime > KEEP_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass  # another request removed it meanwhile
    return Path(tempfile.mkdtemp(prefix=PREFIX))


def write_csv(rows: list[dict], path: Path) -> Path:
    """UTF-8 with a BOM (without it Excel reads the Cyrillic as cp1251) and `;` between the cells (the list
    separator of Excel with Russian regional settings, so a double click opens it in columns); dates as dd.mm.yyyy."""
    table = views.export_table(rows)
    table["Последний контакт"] = [f"{d:%d.%m.%Y}" if d else "" for d in table["Последний контакт"]]
    table.to_csv(path, sep=";", index=False, encoding="utf-8-sig")
    return path


def write_xlsx(rows: list[dict], path: Path) -> Path:
    table = views.export_table(rows)
    table["Последний контакт"] = pd.to_datetime(table["Последний контакт"])
    with pd.ExcelWriter(path, engine="openpyxl") as xlsx:
        table.to_excel(xlsx, index=False, sheet_name="Клиенты")
        sheet = xlsx.sheets["Клиенты"]
        for (day,) in sheet.iter_rows(min_row=2, min_col=7, max_col=7):  # a date cell, shown as Russians write it
            day.number_format = "DD.MM.YYYY"
        sheet.freeze_panes = "A2"
        for column, width in zip("ABCDEFGHI", (10, 32, 10, 8, 12, 8, 14, 20, 60), strict=True):
            sheet.column_dimensions[column].width = width
    return path


def files(rows: list[dict], today: date) -> tuple[str, str]:
    """The CSV and the XLSX of these rows, named by the day: `клиенты-04.12.2026.csv`."""
    folder = _fresh_dir()
    name = f"клиенты-{today:%d.%m.%Y}"
    return str(write_csv(rows, folder / f"{name}.csv")), str(write_xlsx(rows, folder / f"{name}.xlsx"))
