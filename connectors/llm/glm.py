"""Zhipu GLM through the zhipuai SDK: cached, retried with backoff, token usage counted."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from connectors.http import ExternalServiceError, RetryLater, with_retries
from connectors.llm.base import LLMError, LLMUsage, OnceNotice, ResponseCache
from connectors.llm.prompts import TRUNCATED_NOTE
from connectors.redact import register

# the SDK (and httpx) are imported when GLM is used: importing this module costs nothing to the code location
if TYPE_CHECKING:
    from zhipuai.core import _errors as zerr

SERVICE = "GLM (Zhipu)"
log = logging.getLogger(__name__)

# Business codes in the error body {"error": {"code", "message"}} (docs.bigmodel.cn/cn/api/api-code,
# docs.z.ai/api-reference/api-code). HTTP 429 carries both the limits below and the account's own problems.
ACCOUNT_CODES = {  # the account cannot be served until the owner acts: not retried, the owner is told once
    "1110": "аккаунт неактивен",
    "1111": "аккаунт не существует",
    "1112": "аккаунт заблокирован",
    "1113": "на счёте нет средств (задолженность)",
    "1121": "аккаунт заблокирован за нарушения",
    "1304": "исчерпан дневной лимит вызовов",
    "1308": "исчерпан лимит использования",
    "1309": "истёк пакет GLM Coding Plan",
    "1310": "исчерпан недельный или месячный лимит",
}
RATE_CODES = frozenset({"1302", "1303", "1305", "1312"})  # concurrency, frequency, traffic limit, model busy: wait
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})  # 429 unless an account code; 5xx: the gateway or the model
CONTENT_FILTER = "1301"
THINKING_RE = re.compile(r"^glm-(?:4\.(?:[5-9]|\d\d)|[5-9])", re.I)  # GLM-4.5 and later think by default


def model_thinks(model: str) -> bool:
    """Whether the model takes the `thinking` parameter (docs: GLM-4.5 series and later, hybrid or on by default)."""
    return bool(THINKING_RE.match(model))


def _error_body(exc: zerr.APIStatusError) -> tuple[str | None, str]:
    try:
        error = exc.response.json()["error"]
        return str(error["code"]), str(error.get("message") or "")
    except (ValueError, KeyError, TypeError):
        return None, exc.response.text[:300]


def glm_error(
    exc: zerr.APIConnectionError | zerr.APIStatusError, notice: OnceNotice | None, service: str = SERVICE
) -> LLMError | RetryLater:
    """What to raise for the SDK's error (not chained: the SDK's exception holds the request and the answer), for
    every GLM endpoint (chat, embeddings): an account code (1113 arrears, 1112 locked…) is an LLMError, not
    retried, the owner told once through `notice`; a limit code, 429, 5xx (502/504 come as a bare APIStatusError:
    zhipuai/core/_http_client.py `_make_status_error`) or no answer is RetryLater. The message is Russian; the
    server's own text (Chinese) goes to the log only."""
    from zhipuai.core import _errors as zerr

    if isinstance(exc, zerr.APIConnectionError):  # includes timeouts
        return RetryLater(LLMError(f"{service}: нет ответа ({type(exc).__name__})"))
    status, (code, text) = exc.status_code, _error_body(exc)
    log.warning("%s: HTTP %s, код %s, ответ сервера: %s", service, status, code, text)
    where = f"HTTP {status}, код {code}" if code else f"HTTP {status}"
    if code in ACCOUNT_CODES:
        if notice is not None:
            notice.tell(f"glm_account:{code}", account_notice(code))
        return LLMError(f"{service}: {ACCOUNT_CODES[code]} ({where})")
    if code in RATE_CODES or status in RETRY_STATUS:
        what = "превышен лимит запросов" if code in RATE_CODES or status == 429 else "сбой сервера"
        return RetryLater(LLMError(f"{service}: {what} ({where})"))
    return LLMError(f"{service}: запрос отклонён ({where})")


def account_notice(code: str) -> str:
    return (
        f"🔴 GLM (Zhipu): {ACCOUNT_CODES[code]} (код {code}).\n"
        "Сводки встреч и переписки, поиск и ответы чата через GLM не делаются, пока это не исправлено: пополните "
        "счёт или снимите ограничение в личном кабинете open.bigmodel.cn (ключ ZHIPUAI_API_KEY). "
        "Это сообщение приходит один раз; после первого успешного запроса к GLM следующая такая проблема "
        "придёт снова."
    )


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
        max_output_tokens: int = 16384,
        thinking: str = "disabled",
        thinking_tokens: int = 8192,
        notice: OnceNotice | None = None,
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
        # a thinking model spends completion tokens on its reasoning first: that room is added to the answer's
        self.thinks = model_thinks(model)
        self.thinking = thinking
        self.max_tokens = max_tokens + (thinking_tokens if self.thinks and thinking == "enabled" else 0)
        self.max_output_tokens = max(max_output_tokens, self.max_tokens)  # a truncated JSON answer grows to this
        self.notice = notice

    def _request_key(self, request: dict) -> str:
        if self.thinks:  # only then sent: the keys of models without the parameter stay as they were
            request = {**request, "thinking": self.thinking}
        return ResponseCache.key(self.model, request)

    def _call(self, messages: list[dict], json_mode: bool = False, max_tokens: int | None = None, **kwargs):
        from zhipuai.core import _errors as zerr

        if json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        if self.thinks:
            kwargs["thinking"] = {"type": self.thinking}
        try:
            completion = self._sdk.chat.completions.create(
                model=self.model,
                messages=messages,
                temperature=self.temperature,
                max_tokens=max_tokens or self.max_tokens,
                **kwargs,
            )
        except (zerr.APIConnectionError, zerr.APIStatusError) as exc:
            raise glm_error(exc, self.notice) from None
        if self.notice is not None:
            self.notice.clear()  # the account works again: a later problem is told again
        if not kwargs.get("stream"):
            _check_finish(completion)
        return completion

    def _usage(self, completion) -> tuple[int, int]:
        usage = completion.usage
        prompt_tokens = getattr(usage, "prompt_tokens", 0) or 0
        completion_tokens = getattr(usage, "completion_tokens", 0) or 0
        self.usage.add(prompt_tokens, completion_tokens)
        return prompt_tokens, completion_tokens

    def complete(self, system: str, user: str, *, json_mode: bool = False) -> str:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        key = self._request_key({"messages": messages, "json": json_mode, "temperature": self.temperature})
        if self.cache is not None and (cached := self.cache.get(key)) is not None:
            self.usage.hit()
            return cached
        max_tokens, prompt_tokens, completion_tokens = self.max_tokens, 0, 0
        while True:
            completion = with_retries(
                lambda: self._call(messages, json_mode, max_tokens),  # noqa: B023 (called at once)
                attempts=self.attempts,
                base_delay=self.base_delay,
            )
            spent = self._usage(completion)
            prompt_tokens, completion_tokens = prompt_tokens + spent[0], completion_tokens + spent[1]
            choice = completion.choices[0] if completion.choices else None
            text = (choice.message.content or "").strip() if choice else ""
            if not choice or choice.finish_reason != "length":
                break
            if not json_mode:  # free text: kept, and marked as cut
                text = f"{text}\n{TRUNCATED_NOTE}".strip()
                break
            # a cut JSON answer cannot be parsed: ask again with more room (docs: `length` = the max_tokens limit)
            if max_tokens >= self.max_output_tokens:
                raise LLMError(
                    f"{SERVICE}: ответ модели {self.model} обрезан на пределе длины (max_tokens={max_tokens}) — "
                    "уменьшите C360_LLM_MAX_INPUT_CHARS или выберите модель с более длинным ответом"
                )
            max_tokens = min(max_tokens * 2, self.max_output_tokens)
        if not text:
            raise LLMError(f"{SERVICE}: пустой ответ модели {self.model}")
        if self.cache is not None and choice.finish_reason != "length":
            self.cache.put(key, self.model, text, prompt_tokens, completion_tokens)
        return text

    def chat(self, messages: list[dict], tools: list[dict] | None = None):
        """One turn with optional function calling; returns the assistant message (content and/or tool_calls, and a
        thinking model's reasoning_content: send it back with `assistant_turn`)."""
        kwargs = {"tools": tools, "tool_choice": "auto"} if tools else {}
        completion = with_retries(
            lambda: self._call(messages, **kwargs), attempts=self.attempts, base_delay=self.base_delay
        )
        self._usage(completion)
        if not completion.choices:
            raise LLMError(f"{SERVICE}: пустой ответ модели {self.model}")
        return completion.choices[0].message

    def stream(self, messages: list[dict]) -> Iterator[str]:
        """The answer as it is written (server-sent events); a repeated identical request comes from the cache.
        An error inside the stream is an LLMError and nothing of the broken answer is cached."""
        key = self._request_key({"messages": messages, "stream": True, "temperature": self.temperature})
        if self.cache is not None and (cached := self.cache.get(key)) is not None:
            self.usage.hit()
            yield cached
            return
        import httpx
        from zhipuai.core import _errors as zerr

        chunks = with_retries(
            lambda: self._call(messages, stream=True), attempts=self.attempts, base_delay=self.base_delay
        )
        parts, prompt_tokens, completion_tokens, finish = [], 0, 0, None
        try:
            for chunk in chunks:
                if chunk.usage:
                    prompt_tokens = chunk.usage.prompt_tokens or 0
                    completion_tokens = chunk.usage.completion_tokens or 0
                choice = chunk.choices[0] if chunk.choices else None
                finish = (choice.finish_reason if choice else None) or finish
                delta = choice.delta.content if choice else None  # reasoning_content deltas are not the answer
                if delta:
                    parts.append(delta)
                    yield delta
        # the SDK raises APIResponseError for an `error` event or a data line carrying `error`
        # (zhipuai/core/_sse_client.py), httpx its transport errors, json a broken line
        except zerr.APIResponseError as exc:
            code = exc.json_data.get("code") if isinstance(exc.json_data, dict) else None
            log.warning("%s: ошибка в потоке, код %s: %s", SERVICE, code, exc.message)
            detail = f"код {code}" if code else type(exc).__name__
            raise LLMError(f"{SERVICE}: ответ оборвался ({detail})") from None
        except (zerr.ZhipuAIError, httpx.HTTPError, ValueError) as exc:
            raise LLMError(f"{SERVICE}: ответ оборвался ({type(exc).__name__})") from None
        finally:
            chunks.response.close()
        self.usage.add(prompt_tokens, completion_tokens)
        _check_finish_reason(finish, retry=False)
        if finish == "length":
            yield f"\n{TRUNCATED_NOTE}"
            return  # not cached: a cut answer is not the answer
        text = "".join(parts).strip()
        if not text:
            raise LLMError(f"{SERVICE}: пустой ответ модели {self.model}")
        if self.cache is not None:
            self.cache.put(key, self.model, text, prompt_tokens, completion_tokens)


def _check_finish_reason(finish: str | None, *, retry: bool = True) -> None:
    """finish_reason (docs.bigmodel.cn chat completion reference): stop, tool_calls, length, `sensitive` (stopped by
    the content filter) and `network_error` (the model's inference failed: asked again, unless already streamed)."""
    if finish == "sensitive":
        raise LLMError(f"{SERVICE}: ответ остановлен фильтром безопасности модели (код {CONTENT_FILTER})")
    if finish == "network_error":
        error = LLMError(f"{SERVICE}: сбой вывода модели (finish_reason=network_error)")
        raise RetryLater(error) if retry else error


def _check_finish(completion) -> None:
    for choice in completion.choices or []:
        _check_finish_reason(choice.finish_reason)
