"""Fake Zhipu GLM (OpenAI-style): POST /chat/completions, with usage, 429s and slow answers on demand."""

from __future__ import annotations

import itertools
import json
import re
import time

from tests.fakes.server import FakeServer, Request


class FakeGLM(FakeServer):
    def __init__(self, api_key: str = "test.secret"):
        super().__init__()
        self.api_key = api_key
        self.rate_limit_next = 0
        self.delay_next = 0.0
        self.completions = 0
        self.reply: str | None = None  # fixed content instead of the generated summary
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        return f"{self.url}/api/paas/v4/"

    def handle(self, req: Request):
        if req.headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {}, {"error": {"code": "1000", "message": "身份验证失败。"}}
        if req.method != "POST" or not req.path.endswith("/chat/completions"):
            return 404, {}, {"error": {"code": "404", "message": "Not Found"}}
        if self.rate_limit_next:
            self.rate_limit_next -= 1
            return (
                429,
                {},
                {"error": {"code": "1302", "message": "您当前使用该API的并发数过高，请降低并发，或联系客服增加限额。"}},
            )
        if self.delay_next:
            delay, self.delay_next = self.delay_next, 0.0
            time.sleep(delay)
        body = req.json()
        user = body["messages"][-1]["content"]
        self.completions += 1
        content = self.reply if self.reply is not None else json.dumps(self._summary(user), ensure_ascii=False)
        prompt_tokens = sum(len(m["content"]) for m in body["messages"]) // 3
        completion_tokens = len(content) // 3
        return (
            200,
            {},
            {
                "id": f"2026112{next(self._ids):05d}",
                "created": int(time.time()),
                "model": body["model"],
                "request_id": "req-1",
                "choices": [
                    {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        )

    @staticmethod
    def _summary(user: str) -> dict:
        """A deterministic 'summary' that reflects what the model was given (so tests can see the flow)."""
        part = re.search(r"часть (\d+) из (\d+)", user)
        data = user.split("<<<ДАННЫЕ>>>", 1)[-1].split("<<<КОНЕЦ ДАННЫХ>>>", 1)[0].strip()
        first = data.splitlines()[0][:120] if data else ""
        if "Объедини" in user:
            return {
                "topic": "Итог встречи (объединено)",
                "participants": [],
                "key_points": [first],
                "agreements": [{"what": "Отгрузить партию", "owner": "Склад", "due": "пятница"}],
                "next_steps": [],
                "risks": ["Клиент недоволен сроками приёмки"],
            }
        return {
            "topic": f"Часть {part.group(1)}" if part else "Поставки на Ozon",
            "participants": ["Анна Соколова"],
            "key_points": [first],
            "agreements": [{"what": "Отгрузить партию", "owner": "Склад", "due": "пятница"}],
            "next_steps": [{"what": "Прислать акт", "owner": None, "due": None}],
            "risks": ["Клиент недоволен сроками приёмки"],
        }
