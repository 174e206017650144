"""The `client360` command end to end, as a user runs it: run → report --send, repeated; and the demo."""

import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import jibri
from warehouse.duck import connect, fetch_dicts

BIN = Path(sys.executable).parent / "client360"


def cli(*args, env_extra=None, cwd):
    env = {k: v for k, v in os.environ.items() if k.startswith(("C360_", "TELEGRAM_", "PATH", "HOME", "LANG"))}
    env.update(env_extra or {})
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def test_run_then_report_send_delivers_once(env, recordings, telegram, tmp_path):
    jibri(recordings, "e2e1", "12345", datetime(2026, 11, 24, 10, 0, 0))
    jibri(recordings, "e2e2", "67890", datetime(2026, 11, 24, 14, 0, 0))

    first = cli("run", "--only", "meetings", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert env.data_dir.stat().st_mode & 0o077 == 0, "the data folder is the service user's only"
    assert first.stdout.count("✓ meeting_pipeline_job") == 2 and "с ошибкой 0" in first.stdout
    early = cli("report", "--date", "2026-11-24", "--send", cwd=tmp_path)
    assert early.returncode == 1 and "Хранилище ещё не собрано" in early.stderr and not telegram.messages
    assert cli("run", "--only", "warehouse", cwd=tmp_path).returncode == 0
    sent = cli("report", "--date", "2026-11-24", "--send", cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    assert "Отчёт кураторам за 24.11.2026" in sent.stdout
    assert len(telegram.messages) == 1
    assert "лид 12345" in telegram.messages[0]["text"] and "лид 67890" in telegram.messages[0]["text"]

    again = cli("run", "--only", "meetings", cwd=tmp_path)
    assert again.returncode == 0 and "Новых записей нет" in again.stdout and "запусков 0" in again.stdout
    resent = cli("report", "--date", "2026-11-24", "--send", cwd=tmp_path)
    assert resent.returncode == 0 and "уже был отправлен" in resent.stderr
    assert len(telegram.messages) == 1


def test_run_reports_a_broken_recording_and_goes_on(env, recordings, tmp_path):
    jibri(recordings, "ok", "1001", datetime(2026, 11, 24, 10, 0, 0))
    bad = jibri(recordings, "bad", "1002", datetime(2026, 11, 24, 11, 0, 0))
    next(bad.glob("*.vtt")).write_text("WEBVTT\n\n")  # an empty transcript
    result = cli("run", cwd=tmp_path)
    assert result.returncode == 1
    assert "✗ Встречи (папка записей): запусков 2" in result.stdout and "ошибок 1" in result.stdout
    assert "✓ Хранилище" in result.stdout, "the other steps still run"
    assert "client-1002_2026-11-24-11-00-00.vtt: файл расшифровки пуст" in result.stderr
    assert cli("run", cwd=tmp_path).returncode == 0, "a failed recording is not resubmitted on every cycle"


@pytest.mark.calendar
def test_demo_runs_offline_and_prints_a_russian_report(tmp_path):
    # whatever the environment says, the demo uses its simulators and the offline providers (its own resources)
    elsewhere = {
        "C360_WMS_BASE_URL": "http://127.0.0.1:9/wms",
        "C360_WMS_TOKEN": "not-the-simulators",
        "BITRIX_WEBHOOK_URL": "http://127.0.0.1:9/rest/1/bogus/",
        "C360_LLM_PROVIDER": "glm",
        "ZHIPUAI_API_KEY": "bogus",
        "C360_GLM_BASE_URL": "http://127.0.0.1:9/glm/",
        "C360_STT_PROVIDER": "speechkit",
        "YANDEX_API_KEY": "bogus",
        "TELEGRAM_BOT_TOKEN": "1:bogus",
        "C360_REPORT_CHAT_ID": "-1001",
        "TELEGRAM_SESSION": "bogus",
    }
    result = cli("demo", cwd=tmp_path, env_extra={"C360_DATA_DIR": str(tmp_path / "data"), **elsewhere})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "– Отчёт кураторам: не настроено" in result.stdout, result.stdout[-3000:]
    assert "с ошибкой 0" in result.stdout and "Отчёт кураторам за" in result.stdout
    assert "Клиент: лид" in result.stdout and "офлайн-конспект" in result.stdout
    day = result.stdout.split("client360 report --date ")[1].split()[0]
    report = cli("report", "--date", day, cwd=tmp_path, env_extra={"C360_DATA_DIR": str(tmp_path / "data")})
    assert report.returncode == 0 and f"Отчёт кураторам за {day[8:10]}.{day[5:7]}.{day[:4]}" in report.stdout
    assert "Встреч:" in report.stdout
    assert "✓ Битрикс24" in result.stdout and "✓ Склад (WMS)" in result.stdout and "✓ Хранилище" in result.stdout
    # the demo client who said at a meeting they would look at another fulfilment: its own alert, quoted
    with connect(tmp_path / "data" / "warehouse.duckdb", read_only=True) as con:
        said = fetch_dicts(
            con,
            "select figures, evidence_refs, severity from marts.fct_client_alerts "
            "where client_id = '10234' and alert_type = 'intent_to_leave'",
        )
        [health] = fetch_dicts(con, "select top_reasons from marts.client_health where client_id = '10234'")
    assert said and {a["severity"] for a in said} == {"critical"}, said
    figures = json.loads(said[-1]["figures"])
    assert figures["source"] == "встреча" and "фулфилмент" in figures["quote"], figures
    assert said[-1]["evidence_refs"][0].startswith("meeting:")
    assert health["top_reasons"].startswith("клиент говорил об уходе: «"), health

    # the curators' question set over the demo data, graded on the answer text. The issue's acceptance (Recall@5 ≥ 0.9
    # and ≥ 0.8 per category, «нет» ≥ 0.9, answers ≥ 0.85) is not reached yet (issue 18 stays open): these are floors
    # a little under what the engine does now (02.12.2026 and the calendar dates: Recall@5 0.90, «нет» 0.92–0.96,
    # answers 0.67–0.68, the latest contact and the tone change 1.00, the weakest category 0.73)
    rag = cli("eval-rag", "--no-fail", cwd=tmp_path, env_extra={"C360_DATA_DIR": str(tmp_path / "data")})
    assert rag.returncode == 0, rag.stdout[-2000:] + rag.stderr[-2000:]
    whole = rag.stdout.split("Весь набор")[-1]
    figure = {
        name: float(whole.split(f"{name}: ")[1].split()[0])
        for name in ("Recall@5", "MRR", "точность ответов", "«нет в данных», где его нет", "доля перефразированных")
    }
    questions = int(whole.split("Вопросов: ")[1].split()[0])
    absent = int(whole.split("нет в данных: ")[1].split(")")[0])
    assert questions >= 200 and absent >= 0.15 * questions and figure["доля перефразированных"] >= 0.5, rag.stdout
    recall = {}
    for category in ("претензии", "обещания", "цены и тарифы", "маркетплейсы и схемы", "угрозы уйти",
                     "последний контакт", "смена тона", "цифры склада", "периоды"):  # fmt: skip
        recall[category] = float(whole.split(f"| {category} | ")[1].split(" |")[1])
    assert recall["последний контакт"] >= 0.9 and recall["смена тона"] >= 0.9, rag.stdout
    assert min(recall.values()) >= 0.65, rag.stdout
    assert "| нет в данных | " in whole and "половина «калибровка»" in rag.stdout.lower()
    assert figure["Recall@5"] >= 0.85 and figure["«нет в данных», где его нет"] >= 0.88, rag.stdout
    assert figure["точность ответов"] >= 0.6, rag.stdout
    ask = cli(
        "ask",
        "10234",
        "сколько клиент отгрузил за последний месяц?",
        "--json",
        cwd=tmp_path,
        env_extra={"C360_DATA_DIR": str(tmp_path / "data")},
    )
    assert ask.returncode == 0 and '"source": "wms"' in ask.stdout, ask.stdout[-1500:]


def test_the_demo_and_the_evaluations_leave_the_environment_alone():
    root = Path(__file__).resolve().parent.parent
    for path in [*sorted((root / "cli").glob("*.py")), root / "evals" / "churn.py"]:
        text = path.read_text(encoding="utf-8")
        writes = re.findall(r"os\.environ\[[^]]+\]\s*=[^=]|os\.environ\.(?:update|pop|setdefault|clear)|putenv", text)
        assert not writes, f"{path.name}: {writes}"


def test_an_unexpected_failure_is_one_line_and_its_stack_trace_goes_to_the_log(env, tmp_path):
    # the app's database is unreachable: the command cannot work, and says so in one line (no password in it)
    broken = {"C360_APP_DB_URL": "postgresql+psycopg://staff:S3cretDbPass@127.0.0.1:9/app"}
    out = cli("users", "list", cwd=tmp_path, env_extra=broken)
    assert out.returncode == 1
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("Команда не выполнена: ") and "client360-errors.log" in line, line
    log = env.data_dir / "logs" / "client360-errors.log"
    assert "Traceback" in log.read_text(encoding="utf-8") and log.stat().st_mode & 0o077 == 0
    assert "S3cretDbPass" not in out.stderr + log.read_text(encoding="utf-8")
