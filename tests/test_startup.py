"""Start-up cost stays low: the CLI's help and `ask` load no Dagster, loading the code location (every run and every
step process) loads none of the SDKs its steps use, and dbt parses the project again only when it has changed.
Timings are in bench/bench_startup.py; here only what is imported, in fresh interpreters."""

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime

from dagster_dbt import DbtProject

from orchestration.dbt import DBT_DIR, ensure_manifest
from rag.embeddings import build_embedder
from rag.index import RagIndex

# what a step imports when it needs it, never the code location or the CLI by merely starting
HEAVY = ["lancedb", "gradio", "telethon", "zhipuai", "httpx", "polars", "pandas", "pyarrow"]

CLI = """import json, sys
from cli.main import main
try:
    code = main()
finally:
    print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})), file=sys.stderr)
sys.exit(code)"""


def run_cli(*args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    """`client360 ARGS` as the console script runs it; the top-level packages it imported."""
    proc = subprocess.run(
        [sys.executable, "-c", CLI, *args], capture_output=True, text=True, timeout=300, env=os.environ
    )
    return proc, set(json.loads(proc.stderr.strip().splitlines()[-1]))


def imported_by(module: str) -> set[str]:
    code = f"import json, sys, {module}; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_help_imports_no_dagster(env):
    proc, modules = run_cli("--help")
    assert proc.returncode == 0 and "ask" in proc.stdout
    assert "dagster" not in modules
    assert not modules & {"lancedb", "gradio", "telethon", "zhipuai", "duckdb"}


def test_ask_answers_without_dagster(env):
    text = "Договорились: пришлём акт сверки до пятницы."
    index = RagIndex(env.rag_path, env.embed_dim)
    index.upsert(
        [
            {
                "chunk_id": "meeting:m1#0",
                "client_id": "10001",
                "source": "meeting",
                "source_ref": "meeting:m1",
                "deep_ref": "meeting:m1@65",
                "occurred_at": datetime(2026, 11, 20, 11, 1),
                "author": "Анна",
                "title": "Встреча 20.11.2026 11:00",
                "text": text,
                "content_hash": "h1",
                "vector": build_embedder(env).embed([text])[0].tolist(),
            }
        ]
    )
    index.ensure_indices(changed=True)
    proc, modules = run_cli("ask", "10001", "что обещали на встрече?", "--json")
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["found"] and answer["citations"][0]["deep_ref"] == "meeting:m1@65"
    assert "dagster" not in modules
    assert not modules & {"gradio", "telethon", "zhipuai", "httpx", "sqlalchemy"}


def test_code_location_imports_none_of_the_step_sdks():
    modules = imported_by("orchestration.definitions")
    assert "dagster" in modules and "dagster_dbt" in modules
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_the_app_never_imports_dagster():
    modules = imported_by("chat_app.app")
    assert "gradio" in modules and "dagster" not in modules


def test_dbt_parses_a_fresh_project_once_and_again_after_an_edit(env, tmp_path):
    project_dir = tmp_path / "dbt_project"
    shutil.copytree(DBT_DIR, project_dir, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    project = DbtProject(project_dir=project_dir, profiles_dir=project_dir)

    manifest = ensure_manifest(project)  # a fresh clone: no manifest yet
    assert "model.client360.client_health" in json.loads(manifest.read_text())["nodes"]
    first = manifest.stat()

    (project_dir / "target" / "run").mkdir()  # a build's output is not an input
    (project_dir / "target" / "run" / "run_results.json").write_text("{}")
    ensure_manifest(project)
    again = manifest.stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns), "parsed again for nothing"

    (project_dir / "models" / "marts" / "zz_probe.sql").write_text("select 1 as probe\n")
    nodes = json.loads(ensure_manifest(project).read_text())["nodes"]
    assert "model.client360.zz_probe" in nodes


def test_installs_compile_bytecode():
    """uv installs no .pyc by default; without them every process compiles all it imports, seconds per process
    (the image's site-packages is not even writable by the user the services run as)."""
    root = DBT_DIR.parent
    assert "pip sync -q --compile-bytecode" in (root / "Makefile").read_text()
    assert "--compile-bytecode -r requirements.lock" in (root / "deploy" / "Dockerfile").read_text()
