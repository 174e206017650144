"""RAG evaluation over the demo data: Russian questions per client, each with what a right passage must be (its
source types and a phrase it contains, or an exact chunk id), plus questions whose answer is not in the data.

The questions are fixed (in `QUESTIONS` and the per-client templates below); which clients they are asked about
follows from what the demo data holds (a question about «пересорт» is asked of the clients whose meetings
mention it), so the set stays right when the demo is rebuilt on another day. Run `client360 demo` first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from devkit.demo import CLIENTS
from rag.answer import Answer, ClientQA
from warehouse import duck
from warehouse.duck import fetch_dicts
from warehouse.refs import make_ref

MEETING = ("meeting", "meeting_summary")
CHAT = ("telegram",)
EMAIL = ("email",)
CALL = ("call",)
MONTHS_PREP = [
    "январе",
    "феврале",
    "марте",
    "апреле",
    "мае",
    "июне",
    "июле",
    "августе",
    "сентябре",
    "октябре",
    "ноябре",
    "декабре",
]

# (marker in the client's meetings or chats, question, sources that may hold the answer, phrase the passage has)
CONTENT = [
    ("пересорт", "Что клиент говорил про пересорт?", MEETING + CHAT, "пересорт"),
    ("хранение выросли", "Жаловался ли клиент на стоимость хранения?", MEETING, "хранени"),
    ("задержал приёмку", "Что случилось с приёмкой на Ozon?", MEETING, "приёмк"),
    ("FBS", "Что клиент хочет сделать с отгрузками FBS?", MEETING + CHAT, "FBS"),
    ("Возвраты", "Какие проблемы были с возвратами?", MEETING, "возврат"),
    ("другой фулфилмент", "Грозил ли клиент уйти к другому фулфилменту?", MEETING, "фулфилмент"),
    ("фотосъёмка", "Нужна ли клиенту фотосъёмка товаров?", MEETING, "фотосъём"),
    ("новую коллекцию", "Сколько единиц новой коллекции клиент хочет отгрузить к распродаже?", MEETING, "коллекц"),
    ("примете поставку", "Когда примут поставку клиента на склад?", MEETING + CHAT, "приём"),
    ("вторую смену", "Что мы предложили, чтобы ускорить отгрузку FBS?", CHAT, "смену"),
    ("счёт за хранение", "О каком счёте клиент писал в письме?", EMAIL, "счёт"),
    ("отчёт по остаткам", "Какой отчёт клиент просил прислать?", EMAIL, "отчёт"),
    ("брак", "Что клиент писал про брак в поставке?", EMAIL, "брак"),
    ("12 паллет", "Сколько паллет клиент привезёт в четверг?", EMAIL, "паллет"),
    ("нехватки коробов", "Почему клиент просил перенести отгрузку на Ozon?", CALL, "короб"),
    ("паллетное хранение", "Что клиент хочет по тарифу на паллетное хранение?", CALL, "паллетн"),
    ("Честный знак для новой категории", "Что клиент уточнял по маркировке Честный знак?", CALL + MEETING, "маркировк"),
]
ABSENT = [
    "Какой у клиента бюджет на рекламу?",
    "Сколько сотрудников работает у клиента?",
    "Есть ли у клиента собственный склад в Казани?",
    "Какая у клиента выручка за прошлый год?",
]


@dataclass
class Question:
    client_id: str
    text: str
    kind: str  # meeting | chat | profile | wms | tone | time | absent
    sources: tuple[str, ...] = ()
    phrase: str | None = None
    chunk_id: str | None = None

    def matches(self, chunk: dict) -> bool:
        if self.chunk_id:
            return chunk["chunk_id"] == self.chunk_id
        return chunk["source"] in self.sources and (
            self.phrase is None or self.phrase.lower() in (chunk["title"] + " " + chunk["text"]).lower()
        )


@dataclass
class RagEval:
    questions: list[Question]
    ranks: list[int | None] = field(default_factory=list)  # rank of the first right passage (1-based)
    answered: list[bool] = field(default_factory=list)
    cited_ok: list[bool] = field(default_factory=list)
    provider: str = ""

    def _answerable(self):
        return [
            (q, r, a) for q, r, a in zip(self.questions, self.ranks, self.answered, strict=True) if q.kind != "absent"
        ]

    @property
    def recall_at_5(self) -> float:
        rows = self._answerable()
        return sum(r is not None and r <= 5 for _, r, _ in rows) / len(rows) if rows else 0.0

    @property
    def mrr(self) -> float:
        rows = self._answerable()
        return sum(1 / r for _, r, _ in rows if r) / len(rows) if rows else 0.0

    @property
    def absent_ok(self) -> float:
        rows = [a for q, a in zip(self.questions, self.answered, strict=True) if q.kind == "absent"]
        return sum(not a for a in rows) / len(rows) if rows else 0.0

    @property
    def answered_rate(self) -> float:
        rows = self._answerable()
        return sum(a for _, _, a in rows) / len(rows) if rows else 0.0


def build_questions(con, today: date) -> list[Question]:
    leads = [c[0] for c in CLIENTS]
    out: list[Question] = []
    meetings = {
        r["client_id"]: r["text"]
        for r in fetch_dicts(
            con, "select client_id, string_agg(text, ' ') as text from staging.stg_meetings__transcripts group by 1"
        )
    }
    chats = {
        r["client_id"]: r["text"]
        for r in fetch_dicts(
            con,
            "select client_id, string_agg(text, ' ') as text from staging.stg_telegram__messages "
            "where client_id is not null group by 1",
        )
    }
    crm = {
        r["client_id"]: r["text"]
        for r in fetch_dicts(
            con,
            "select client_id, string_agg(coalesce(body_text, ''), ' ') as text from staging.stg_bitrix24__activities "
            "where client_id is not null group by 1",
        )
    }
    kinds = {CHAT: "chat", EMAIL: "email", CALL: "call", CALL + MEETING: "call"}
    for lead in leads:
        said = meetings.get(lead, "") + " " + chats.get(lead, "") + " " + crm.get(lead, "")
        for marker, question, sources, phrase in CONTENT:
            if marker.lower() in said.lower():
                kind = kinds.get(sources, "meeting")
                out.append(Question(lead, question, kind, sources, phrase))
    month = (today.replace(day=1) - timedelta(days=70)).replace(day=1)
    monthly = {
        r["client_id"]
        for r in fetch_dicts(
            con,
            "select distinct client_id from marts.fct_client_daily_activity where date_trunc('month', day) = ? "
            "and outbound_units > 0",
            [month],
        )
    }
    last_monday = today - timedelta(days=today.weekday() + 7)
    for lead in leads:
        if lead in monthly:
            out.append(
                Question(
                    lead,
                    f"Сколько клиент отгрузил на маркетплейсы в {MONTHS_PREP[month.month - 1]}?",
                    "wms",
                    chunk_id=make_ref("wms_month", lead, f"{month:%Y-%m}") + "#0",
                )
            )
            out.append(
                Question(
                    lead,
                    "Какой остаток на складе был у клиента на конец прошлой недели?",
                    "time",
                    chunk_id=make_ref("wms_week", lead, f"{last_monday:%Y-%m-%d}") + "#0",
                )
            )
        out.append(Question(lead, "На каких маркетплейсах торгует клиент?", "profile", ("profile",), "маркетплейс"))
        if lead in meetings:
            out.append(Question(lead, "Какой тон общения с клиентом за последний месяц?", "tone", ("tone",), "тон"))
    for lead in leads[:6]:
        for q in ABSENT:
            out.append(Question(lead, q, "absent"))
    return out


def evaluate(engine: ClientQA, settings, today: date | None = None) -> RagEval:
    today = today or settings.today()
    with duck.connect(settings.warehouse_path, read_only=True) as con:
        questions = build_questions(con, today)
    result = RagEval(questions, provider=engine.llm.name)
    chunks = {}
    tbl = engine.index.table(create=False)
    if tbl is None:
        raise SystemExit("Индекс пуст: сначала запустите `client360 demo`")
    for row in tbl.search().select(["chunk_id", "source", "title", "text"]).limit(tbl.count_rows()).to_list():
        chunks[row["chunk_id"]] = row
    for q in questions:
        answer = next(p for p in engine.ask(q.client_id, q.text, today=today) if isinstance(p, Answer))
        rank = next(
            (i for i, cid in enumerate(answer.retrieved[:10], 1) if cid in chunks and q.matches(chunks[cid])), None
        )
        result.ranks.append(rank)
        result.answered.append(answer.found)
        retrieved = set(answer.retrieved)
        result.cited_ok.append(
            all(
                c.source_id
                and any(r.startswith(c.source_id + "#") for r in retrieved)
                or c.source.startswith(("wms", "tone", "alert", "profile"))
                for c in answer.citations
            )
            and (bool(answer.citations) or not answer.found)
        )
    return result


def render(result: RagEval) -> str:
    kinds: dict[str, list[int | None]] = {}
    for q, r in zip(result.questions, result.ranks, strict=True):
        kinds.setdefault(q.kind, []).append(r)
    lines = ["| вид вопроса | вопросов | найдено в топ-5 |", "|---|---|---|"]
    for kind, ranks in kinds.items():
        hit = "—" if kind == "absent" else str(sum(r is not None and r <= 5 for r in ranks))
        lines.append(f"| {kind} | {len(ranks)} | {hit} |")
    lines += [
        "",
        f"Вопросов: {len(result.questions)} (ответ есть в данных: "
        f"{sum(q.kind != 'absent' for q in result.questions)}, нет в данных: "
        f"{sum(q.kind == 'absent' for q in result.questions)}); модель ответов: {result.provider}",
        f"Recall@5: {result.recall_at_5:.2f}   MRR: {result.mrr:.2f}   "
        f"ответ дан, где он есть: {result.answered_rate:.2f}   «нет в данных», где его нет: {result.absent_ok:.2f}",
        f"Цитаты указывают на найденные фрагменты: {sum(result.cited_ok)}/{len(result.cited_ok)}",
    ]
    return "\n".join(lines)
