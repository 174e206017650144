"""Zhipu GLM through the zhipuai SDK: cached, retried with backoff, token usage counted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from connectors.http import ExternalServiceError, RetryLater, with_retries
from connectors.llm.base import LLMError, LLMUsage, ResponseCache
from connectors.redact import register

# the SDK (and httpx) are imported when GLM is used: importing this module costs nothing to the code location
if TYPE_CHECKING:
    from zhipuai.core import _errors as zerr

SERVICE = "GLM (Zhipu)"


def _business_code(exc: zerr.APIStatusError) -> str | None:
    try:
        return str(exc.response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


class GLMClient:
    name = "glm"
    offline = False

    def __init__(
        self,
        api_key: str,
        *,
        model: str,
        base_url: str | None = None,
        cache: ResponseCache | None = None,
        timeout: float = 120.0,
        attempts: int = 5,
        base_delay: float = 2.0,
        temperature: float = 0.2,
        max_tokens: int = 4096,
    ):
        if not api_key:
            raise ExternalServiceError(SERVICE, "не задан ZHIPUAI_API_KEY (или выберите C360_LLM_PROVIDER=offline)")
        import httpx
        from zhipuai import ZhipuAI

        register(api_key)
        # retries are ours (one backoff policy for every external system), so the SDK's own are off
        self._sdk = ZhipuAI(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=httpx.Timeout(timeout, connect=10)
        )
        self.model = model
        self.cache = cache
        self.usage = LLMUsage()
        self.attempts = attempts
        self.base_delay = base_delay
        self.temperature = temperature
        self.max_tokens = max_tokens

    def _call(self, messages: list[dict], json_mode: bool = False, **kwargs):
        from zhipuai.core import _errors as zerr

        if json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        try:
            return self._sdk.chat.completions.create(
                model=self.model,
                messages=messages,
                temperature=self.temperature,
                max_tokens=self.max_tokens,
                **kwargs,
            )
        except (zerr.APIReachLimitError, zerr.APIInternalError, zerr.APIServerFlowExceedError) as exc:
            raise RetryLater(LLMError(f"{SERVICE}: HTTP {exc.status_code}: {exc}")) from None
        except zerr.APIConnectionError as exc:  # includes timeouts
            raise RetryLater(LLMError(f"{SERVICE}: нет ответа ({type(exc).__name__})")) from None
        except zerr.APIStatusError as exc:
            code = _business_code(exc)
            if code == "1302":  # "high concurrency": a rate limit reported as 400-class
                raise RetryLater(LLMError(f"{SERVICE}: слишком много параллельных запросов")) from None
            # not chained: the SDK's exception holds the request and the answer; its text is in ours, redacted
            raise LLMError(f"{SERVICE}: HTTP {exc.status_code}, код {code}: {exc}") from None

    def complete(self, system: str, user: str, *, json_mode: bool = False) -> str:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        request = {"messages": messages, "json": json_mode, "temperature": self.temperature}
        key = ResponseCache.key(self.model, request)
        if self.cache is not None and (cached := self.cache.get(key)) is not None:
            self.usage.hit()
            return cached
        completion = with_retries(
            lambda: self._call(messages, json_mode), attempts=self.attempts, base_delay=self.base_delay
        )
        text = (completion.choices[0].message.content or "").strip() if completion.choices else ""
        usage = completion.usage
        prompt_tokens = getattr(usage, "prompt_tokens", 0) or 0
        completion_tokens = getattr(usage, "completion_tokens", 0) or 0
        self.usage.add(prompt_tokens, completion_tokens)
        if not text:
            raise LLMError(f"{SERVICE}: пустой ответ модели {self.model}")
        if self.cache is not None:
            self.cache.put(key, self.model, text, prompt_tokens, completion_tokens)
        return text

    def chat(self, messages: list[dict], tools: list[dict] | None = None):
        """One turn with optional function calling; returns the assistant message (content and/or tool_calls)."""
        kwargs = {"tools": tools, "tool_choice": "auto"} if tools else {}
        completion = with_retries(
            lambda: self._call(messages, **kwargs), attempts=self.attempts, base_delay=self.base_delay
        )
        usage = completion.usage
        self.usage.add(getattr(usage, "prompt_tokens", 0) or 0, getattr(usage, "completion_tokens", 0) or 0)
        if not completion.choices:
            raise LLMError(f"{SERVICE}: пустой ответ модели {self.model}")
        return completion.choices[0].message

    def stream(self, messages: list[dict]) -> Iterator[str]:
        """The answer as it is written (server-sent events); a repeated identical request comes from the cache."""
        key = ResponseCache.key(self.model, {"messages": messages, "stream": True, "temperature": self.temperature})
        if self.cache is not None and (cached := self.cache.get(key)) is not None:
            self.usage.hit()
            yield cached
            return
        import httpx
        from zhipuai.core import _errors as zerr

        chunks = with_retries(
            lambda: self._call(messages, stream=True), attempts=self.attempts, base_delay=self.base_delay
        )
        parts, prompt_tokens, completion_tokens = [], 0, 0
        try:
            for chunk in chunks:
                if chunk.usage:
                    prompt_tokens = chunk.usage.prompt_tokens or 0
                    completion_tokens = chunk.usage.completion_tokens or 0
                delta = chunk.choices[0].delta.content if chunk.choices else None
                if delta:
                    parts.append(delta)
                    yield delta
        except (zerr.APIConnectionError, httpx.HTTPError) as exc:
            raise LLMError(f"{SERVICE}: ответ оборвался ({type(exc).__name__})") from None
        self.usage.add(prompt_tokens, completion_tokens)
        text = "".join(parts).strip()
        if not text:
            raise LLMError(f"{SERVICE}: пустой ответ модели {self.model}")
        if self.cache is not None:
            self.cache.put(key, self.model, text, prompt_tokens, completion_tokens)
