"""What the system used over the last days, from what it recorded: GLM tokens actually paid (every cached answer
was one paid call; answers served from the cache cost nothing) and minutes of audio sent to SpeechKit."""

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from config.settings import Settings
from warehouse import duck


@dataclass
class Usage:
    days: int
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    speech_minutes: float

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


# seconds of audio sent to SpeechKit since a moment: (the staging views read, the query)
SPEECH_SQL = [
    (
        ("stg_meetings__transcripts",),
        """select coalesce(sum(duration_s), 0) from staging.stg_meetings__transcripts
           where provider = 'speechkit' and transcribed_at >= ?""",
    ),
    (
        ("stg_bitrix24__call_transcripts", "stg_bitrix24__activities"),
        """select coalesce(sum(a.duration_s), 0) from staging.stg_bitrix24__call_transcripts t
           join staging.stg_bitrix24__activities a using (activity_id)
           where t.provider = 'speechkit' and t.status = 'ok' and t.transcribed_at >= ?""",
    ),
]


def measure(settings: Settings, days: int = 30) -> Usage:
    since = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)
    calls = prompt = completion = 0
    if settings.llm_cache_path.exists():
        with sqlite3.connect(settings.llm_cache_path) as db:
            calls, prompt, completion = db.execute(
                "select count(*), coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0) "
                "from llm_responses where created_at >= ?",
                [since.isoformat(sep=" ", timespec="seconds")],
            ).fetchone()
    seconds = 0.0
    if settings.warehouse_path.exists():
        with duck.connect(settings.warehouse_path, read_only=True) as con:
            views = con.execute("select view_name from duckdb_views() where schema_name = 'staging'").fetchall()
            built = {v for (v,) in views}
            for needs, sql in SPEECH_SQL:
                if set(needs) <= built:  # the warehouse build has made them (a fresh install: nothing sent yet)
                    seconds += con.execute(sql, [since]).fetchone()[0]
    return Usage(days, calls, prompt, completion, seconds / 60)


def _n(x: float) -> str:
    return f"{round(x):,}".replace(",", " ")


def render(u: Usage, settings: Settings) -> str:
    lines = [
        f"За последние {u.days} дн.:",
        f"  GLM: {u.llm_calls} оплаченных запросов, {_n(u.tokens)} токенов (вход {_n(u.prompt_tokens)}, "
        f"ответ {_n(u.completion_tokens)})",
        f"  SpeechKit: {u.speech_minutes:.0f} мин аудио",
    ]
    scale = 30 / u.days
    costs = []
    if settings.price_glm_rub_per_mtokens is not None:
        costs.append(("GLM", u.tokens / 1e6 * settings.price_glm_rub_per_mtokens * scale))
    if settings.price_speechkit_rub_per_min is not None:
        costs.append(("SpeechKit", u.speech_minutes * settings.price_speechkit_rub_per_min * scale))
    if costs:
        lines.append(
            "В месяц при таком объёме: "
            + ", ".join(f"{n} ≈ {c:,.0f} ₽".replace(",", " ") for n, c in costs)
            + f"; всего ≈ {sum(c for _, c in costs):,.0f} ₽".replace(",", " ")
        )
    else:
        lines.append("Цены не заданы: впишите C360_PRICE_GLM_RUB_PER_MTOKENS и C360_PRICE_SPEECHKIT_RUB_PER_MIN в .env")
    return "\n".join(lines)
