"""Dependencies point one way (pyproject.toml [tool.importlinter]): the real tree keeps the contracts, and a copy of
it with one wrong import breaks them, naming that import."""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).parent / "lint-imports"
PACKAGES = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]


def lint(cwd: Path) -> subprocess.CompletedProcess:
    # cwd first on the path: the copied packages, not the installed tree
    return subprocess.run(
        [str(LINT), "--no-cache", "--no-logo", str(cwd / "pyproject.toml")],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_keeps_the_contracts():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "broken"),
    [
        ("warehouse/duck.py", "import orchestration.definitions", "warehouse.duck -> orchestration.definitions"),
        ("config/settings.py", "from connectors import http", "config.settings -> connectors.http"),
        ("connectors/http.py", "import warehouse.appdb", "connectors.http -> warehouse.appdb"),
        ("orchestration/jobs.py", "import chat_app.data", "orchestration.jobs -> chat_app.data"),
        ("chat_app/data.py", "import dagster", "chat_app.data -> dagster"),
        ("chat_app/data.py", "import assets.serving", "chat_app.data -> assets.serving"),
        ("rag/tools.py", "import chat_app.data", "rag.tools -> chat_app.data"),
        ("rag/index.py", "import dagster", "rag.index -> dagster"),
    ],
)
def test_one_wrong_import_breaks_a_contract_and_is_named(tmp_path, module, bad_import, broken):
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    assert lint(tmp_path).returncode == 0, "the copy keeps the contracts before the change"
    with (tmp_path / module).open("a") as f:
        f.write(f"\n{bad_import}\n")
    result = lint(tmp_path)
    assert result.returncode == 1 and " 0 broken" not in result.stdout, result.stdout + result.stderr
    assert broken in result.stdout
