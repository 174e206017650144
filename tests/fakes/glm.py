"""Fake Zhipu GLM (OpenAI-style): POST /chat/completions, with usage, errors and slow answers on demand.

What it follows:
- errors: HTTP status + body {"error": {"code", "message"}} with the business codes of docs.bigmodel.cn/cn/api/api-code
  (docs.z.ai/api-reference/api-code): 429 carries both 1302/1303/1305 (limits) and 1113 (arrears) / 1112 (locked);
  a gateway's 502/504 answer is its HTML page, not JSON (the SDK maps it to a bare APIStatusError:
  zhipuai/core/_http_client.py `_make_status_error`).
- streams: `data: {json}` events and `data: [DONE]`; an error inside a stream is an `event: error` or a data line
  with "error" (the two forms zhipuai/core/_sse_client.py raises APIResponseError for).
- finish_reason "length" when the answer does not fit max_tokens (the chat-completion reference: 'length' = the
  token limit was reached); the completion is cut there, like the real one.
- thinking (docs.z.ai «Thinking mode», docs.bigmodel.cn GLM-4.5 page): GLM-4.5 and later think unless
  thinking.type is "disabled"; the reasoning is message.reasoning_content (delta.reasoning_content in a stream) and
  its tokens count in completion_tokens, inside max_tokens.
"""

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
        # the next requests (chat or embeddings) answer these: (HTTP status, business code or None for a gateway's page)
        self.errors_next: list[tuple[int, str | None]] = []
        self.stream_error_after: int | None = None  # a stream breaks with an error event after this many chunks
        self.stream_error_form = "event"  # "event": `event: error`; "data": a data line with "error"; "garbage"
        self.reasoning = "Сначала посмотрю, что просили, затем вызову функцию."  # what a thinking model thinks
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        return f"{self.url}/api/paas/v4/"

    def handle(self, req: Request):
        if req.headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {}, {"error": {"code": "1000", "message": "身份验证失败。"}}
        if req.method != "POST" or not req.path.endswith(("/chat/completions", "/embeddings")):
            return 404, {}, {"error": {"code": "404", "message": "Not Found"}}
        # the error codes are the platform's, the same for every endpoint (docs.bigmodel.cn/cn/api/api-code)
        if self.errors_next:
            status, code = self.errors_next.pop(0)
            if code is None:  # what nginx in front of the model answers
                title = {502: "502 Bad Gateway", 503: "503 Service Temporarily Unavailable"}.get(
                    status, "504 Gateway Time-out"
                )
                page = f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center></body></html>"
                return status, {"Content-Type": "text/html"}, page
            return status, {}, error_body(code)
        if req.path.endswith("/embeddings"):
            return self._embeddings(req.json())
        if self.rate_limit_next:
            self.rate_limit_next -= 1
            return 429, {}, error_body("1302")
        if self.delay_next:
            delay, self.delay_next = self.delay_next, 0.0
            time.sleep(delay)
        body = req.json()
        user = body["messages"][-1]["content"]
        self.completions += 1
        reasoning = self.reasoning if thinks(body) else None
        if body.get("tools") and self.tool_calls_next:
            calls, self.tool_calls_next = self.tool_calls_next, []
            return 200, {}, self._tool_calls(body, calls, reasoning)
        if body.get("stream"):
            reply = self.reply(body) if callable(self.reply) else self.reply
            return 200, {"Content-Type": "text/event-stream"}, self._sse(body, reply or "Ответ [1].", reasoning)
        if callable(self.reply):
            content = self.reply(body)
        else:
            content = self.reply if self.reply is not None else json.dumps(self._summary(user), ensure_ascii=False)
        content, finish, completion_tokens = fit(body, content, reasoning)
        message = {"role": "assistant", "content": content}
        if reasoning:
            message["reasoning_content"] = reasoning
        prompt_tokens = sum(len(m["content"] or "") for m in body["messages"]) // 3
        return (
            200,
            {},
            {
                "id": f"2026112{next(self._ids):05d}",
                "created": int(time.time()),
                "model": body["model"],
                "request_id": "req-1",
                "choices": [{"index": 0, "finish_reason": finish, "message": message}],
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
        dim = int(body.get("dimensions") or 2048)
        if body["model"] == "embedding-3" and dim not in (256, 512, 1024, 2048):  # the embeddings reference
            return 400, {}, {"error": {"code": "1214", "message": "dimensions 参数非法。请检查文档。"}}
        self.embedding_requests += 1
        words = LocalEmbedder().embed(texts)  # meaning-bearing 300-d vectors repeated up to the size asked
        vectors = [(list(v) * (dim // len(v) + 1))[:dim] for v in words]
        tokens = sum(len(t) for t in texts) // 3
        return (
            200,
            {},
            {
                "model": body["model"],
                "object": "list",
                "data": [
                    {"index": i, "object": "embedding", "embedding": [float(x) for x in v]}
                    for i, v in enumerate(vectors)
                ],
                "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
            },
        )

    def _tool_calls(self, body: dict, calls: list[tuple[str, dict]], reasoning: str | None) -> dict:
        answer = {
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
        if reasoning:
            answer["choices"][0]["message"]["reasoning_content"] = reasoning
        return answer

    def _sse(self, body: dict, content: str, reasoning: str | None) -> str:
        """The answer as server-sent events, a few words per chunk, usage in the last one."""
        content, finish, completion_tokens = fit(body, content, reasoning)
        words = content.split(" ")
        pieces = [" ".join(words[i : i + 3]) + (" " if i + 3 < len(words) else "") for i in range(0, len(words), 3)]
        cid, events = f"2026112{next(self._ids):05d}", []
        if reasoning:
            events.append(
                {
                    "id": cid,
                    "created": int(time.time()),
                    "model": body["model"],
                    "choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": reasoning}}],
                }
            )
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
                "choices": [{"index": 0, "finish_reason": finish, "delta": {"content": ""}}],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt + completion_tokens,
                },
            }
        )
        lines = [f"data: {json.dumps(e, ensure_ascii=False)}\n\n" for e in events]
        if self.stream_error_after is not None:
            # the model failed after these chunks: the stream ends with the error instead of the rest
            error = {"error": {"code": "1234", "message": "网络错误，错误id：20261202，请联系客服"}}
            broken = {
                "event": f"event: error\ndata: {json.dumps(error, ensure_ascii=False)}\n\n",
                "data": f"data: {json.dumps(error, ensure_ascii=False)}\n\n",
                "garbage": 'data: {"id": "2026112", "choices": [{"index": 0, "delta": {"content": "об\n\n',
            }[self.stream_error_form]
            self.stream_error_after, lines = None, [*lines[: self.stream_error_after], broken]
            return "".join(lines)
        return "".join(lines) + "data: [DONE]\n\n"


THINKING_MODEL = re.compile(r"^glm-(?:4\.(?:[5-9]|\d\d)|[5-9])", re.I)


def thinks(body: dict) -> bool:
    """GLM-4.5 and later think unless told `thinking: {"type": "disabled"}` (docs.z.ai «Thinking mode»); older models
    ignore the parameter."""
    return bool(THINKING_MODEL.match(body["model"])) and (body.get("thinking") or {}).get("type") != "disabled"


def fit(body: dict, content: str, reasoning: str | None) -> tuple[str, str, int]:
    """(content, finish_reason, completion_tokens) within max_tokens: the reasoning comes first and counts; an answer
    that does not fit is cut there with finish_reason "length". Tokens are estimated as 3 characters."""
    limit = int(body.get("max_tokens") or 4096)
    used = len(reasoning or "") // 3
    room = max(0, limit - used) * 3
    if len(content) > room:
        return content[:room], "length", limit
    return content, "stop", used + len(content) // 3


MESSAGES = {  # docs.bigmodel.cn/cn/api/api-code, as the API answers them
    "1112": "您的账户已被锁定，请联系客服解锁",
    "1113": "您的账户已欠费，请充值后重试",
    "1301": "系统检测到输入或生成内容可能包含不安全或敏感内容，请您避免输入易产生敏感内容的提示语，感谢您的配合",
    "1302": "您当前使用该API的并发数过高，请降低并发，或联系客服增加限额。",
    "1303": "您当前使用该API的频率过高，请降低频率，或联系客服增加限额",
    "1305": "该API已触发流量限制",
}


def error_body(code: str) -> dict:
    return {"error": {"code": code, "message": MESSAGES.get(code, "API 调用错误")}}
