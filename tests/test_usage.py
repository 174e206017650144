"""`client360 usage`: GLM tokens actually paid and SpeechKit minutes of the last days, from what the system recorded,
turned into rubles per month when prices are set."""

import contextlib
import io
from datetime import datetime

from cli.main import main
from orchestration.definitions import build_defs
from orchestration.run_once import run_once
from tests.conftest import jibri
from warehouse.duck import connect


def usage() -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["usage"]) == 0
    return out.getvalue()


def test_usage_counts_paid_tokens_and_speech_minutes(env, recordings, instance, speechkit, glm, monkeypatch):
    monkeypatch.setenv("C360_STT_PROVIDER", "speechkit")
    monkeypatch.setenv("C360_LLM_PROVIDER", "glm")
    speechkit.polls_until_done = 1
    jibri(recordings, "u1", "31337", datetime(2026, 11, 24, 11, 0, 0), lines=None)
    assert run_once(build_defs(), instance, env, log=lambda *_: None).failed == []
    with connect(env.warehouse_path, read_only=True) as con:
        seconds = con.execute("select duration_s from raw.meeting_transcripts").fetchone()[0]
    paid = glm.completions
    assert paid >= 1 and seconds > 0

    out = usage()
    assert f"GLM: {paid} оплаченных запросов" in out and f"SpeechKit: {seconds / 60:.0f} мин аудио" in out
    assert "Цены не заданы" in out

    monkeypatch.setenv("C360_PRICE_GLM_RUB_PER_MTOKENS", "1000000")  # 1 ₽ per token: the sum is easy to check
    monkeypatch.setenv("C360_PRICE_SPEECHKIT_RUB_PER_MIN", "0")
    tokens = int(out.split("оплаченных запросов, ")[1].split(" токенов")[0].replace(" ", ""))
    priced = usage()
    assert f"GLM ≈ {tokens:,} ₽".replace(",", " ") in priced and "SpeechKit ≈ 0 ₽" in priced
