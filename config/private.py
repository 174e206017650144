"""Files that hold secrets, password hashes or client data (the app DB, the model caches, backups) are readable by
the service user only: folders 0700, files 0600, whatever the umask."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):  # a folder someone else owns (a mounted volume) stays as it is
        path.chmod(0o700)
    return path


def private_file(path: Path) -> Path:
    """Create the file empty if missing (SQLite takes an empty file as a new database, and gives its journal and
    WAL files the database's mode), then make it 0600."""
    private_dir(path.parent)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    with contextlib.suppress(PermissionError):
        path.chmod(0o600)
    return path
