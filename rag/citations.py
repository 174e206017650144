"""What an answer is made of: the numbered passages given to the model (retrieved or from the warehouse tools),
the citations an answer keeps, and the answer itself."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime

from connectors.llm import prompts


@dataclass
class Passage:
    n: int
    source: str
    source_ref: str
    deep_ref: str
    occurred_at: datetime | None
    title: str
    text: str

    def render(self) -> str:
        when = f"{self.occurred_at:%d.%m.%Y %H:%M}" if self.occurred_at else "—"
        return prompts.PASSAGE.format(n=self.n, when=when, data=prompts.fence(self.text, {"Название": self.title}))


@dataclass
class Citation:
    n: int
    source: str
    source_id: str
    deep_ref: str
    time: str | None
    title: str
    quote: str


@dataclass
class Answer:
    question: str
    client_id: str
    text: str = ""
    found: bool = True
    provider: str = ""
    period: list[str | None] = field(default_factory=lambda: [None, None])
    citations: list[Citation] = field(default_factory=list)
    retrieved: list[str] = field(default_factory=list)  # chunk ids in rank order (for evaluation)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, default=str)
