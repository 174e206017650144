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
        self.tool_calls_next: list[tuple[str, dict]] = []  # the next request that offers tools calls these
        self.embedding_requests = 0
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        return f"{self.url}/api/paas/v4/"

    def handle(self, req: Request):
        if req.headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {}, {"error": {"code": "1000", "message": "身份验证失败。"}}
        if req.method == "POST" and req.path.endswith("/embeddings"):
            return self._embeddings(req.json())
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
        if body.get("tools") and self.tool_calls_next:
            calls, self.tool_calls_next = self.tool_calls_next, []
            return 200, {}, self._tool_calls(body, calls)
        if body.get("stream"):
            reply = self.reply(body) if callable(self.reply) else self.reply
            return 200, {"Content-Type": "text/event-stream"}, self._sse(body, reply or "Ответ [1].")
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
        blocks = re.findall(r"<<<ДАННЫЕ (\w+)>>>\n(.*?)\n<<<КОНЕЦ ДАННЫХ \1>>>", user, re.S)
        data = blocks[-1][1].strip() if blocks else ""  # the last block: the transcript (the first: who and when)
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

    def _embeddings(self, body: dict):
        from rag.embeddings import LocalEmbedder

        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        if len(texts) > 64:
            return 400, {}, {"error": {"code": "1214", "message": "input 数组最大不得超过64条"}}
        self.embedding_requests += 1
        vectors = LocalEmbedder(int(body.get("dimensions") or 2048)).embed(texts)
        tokens = sum(len(t) for t in texts) // 3
        return (
            200,
            {},
            {
                "model": body["model"],
                "object": "list",
                "data": [{"index": i, "object": "embedding", "embedding": v.tolist()} for i, v in enumerate(vectors)],
                "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
            },
        )

    def _tool_calls(self, body: dict, calls: list[tuple[str, dict]]) -> dict:
        return {
            "id": f"2026112{next(self._ids):05d}",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": "",
                        "tool_calls": [
                            {
                                "id": f"call_{i}",
                                "type": "function",
                                "index": i,
                                "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)},
                            }
                            for i, (name, args) in enumerate(calls)
                        ],
                    },
                }
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
        }

    def _sse(self, body: dict, content: str) -> str:
        """The answer as server-sent events, a few words per chunk, usage in the last one."""
        words = content.split(" ")
        pieces = [" ".join(words[i : i + 3]) + (" " if i + 3 < len(words) else "") for i in range(0, len(words), 3)]
        cid, events = f"2026112{next(self._ids):05d}", []
        for piece in pieces:
            events.append(
                {
                    "id": cid,
                    "created": int(time.time()),
                    "model": body["model"],
                    "choices": [{"index": 0, "delta": {"role": "assistant", "content": piece}}],
                }
            )
        prompt = sum(len(m.get("content") or "") for m in body["messages"]) // 3
        events.append(
            {
                "id": cid,
                "created": int(time.time()),
                "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop", "delta": {"content": ""}}],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": len(content) // 3,
                    "total_tokens": prompt + len(content) // 3,
                },
            }
        )
        return "".join(f"data: {json.dumps(e, ensure_ascii=False)}\n\n" for e in events) + "data: [DONE]\n\n"
