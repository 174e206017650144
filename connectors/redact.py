"""The one place that takes secrets out of the text the project writes: exception messages, log records, Dagster
metadata, notices to Telegram, the CLI's and doctor's output.

Two nets: the exact values of the secrets this process knows (registered from the settings at start-up and by every
client that is handed a credential), and anything shaped like a secret whether known or not — Bot API tokens in
`/bot<id>:<token>/` paths, Bitrix24 webhook codes in `/rest/<user>/<code>/`, `user:password@` in URLs, query
parameters and fields named like a key or a password, `Authorization` values.

A leaf module (no project imports): the connectors' exceptions, the logging set-up and the app all use it.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
MIN_SECRET = 4  # a shorter "secret" would blank out ordinary words

# config/settings.py fields whose whole value is a secret, by their environment names
SECRET_ENV = (
    "TELEGRAM_BOT_TOKEN",
    "ZHIPUAI_API_KEY",
    "YANDEX_API_KEY",
    "C360_WMS_TOKEN",
    "TELEGRAM_API_HASH",
    "TELEGRAM_SESSION",
    "DAGSTER_PG_PASSWORD",  # deploy/dagster.yaml, compose
    "DAGSTER_UI_PASSWORD_HASH",  # deploy/Caddyfile basic auth
)
# fields whose value is a URL with a secret inside (the webhook code, a DSN password)
SECRET_URL_ENV = ("BITRIX_WEBHOOK_URL", "C360_APP_DB_URL")
SECRET_FIELDS = (
    "telegram_bot_token",
    "zhipuai_api_key",
    "yandex_api_key",
    "wms_token",
    "telegram_api_hash",
    "telegram_session",
)
SECRET_URL_FIELDS = ("bitrix_webhook_url", "app_db_url")

# names of query parameters and JSON fields that hold a credential
_PARAM = (
    r"(?:api[_-]?key|apikey|x-api-key|key|access[_-]?token|refresh[_-]?token|auth[_-]?token|token|auth|password|passwd"
    r"|pwd|secret|client[_-]?secret|signature|sig|session|api[_-]?hash)"
)
_SHAPES: list[tuple[re.Pattern[str], str]] = [
    # Bot API: https://api.telegram.org/bot<id>:<token>/<method>
    (re.compile(r"/bot\d+:[\w-]+"), "/bot" + MASK),
    # a bot token on its own: <digits>:<35 characters>
    (re.compile(r"\b\d{5,}:[\w-]{30,}"), MASK),
    # Bitrix24 incoming webhook: https://portal/rest/<user id>/<code>/<method>
    (re.compile(r"(/rest/\d+/)[^/\s?#\"'<>]+"), r"\1" + MASK),
    # scheme://user:password@host
    (re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^:/@\s\"'<>]*:)[^@/\s\"'<>]+@", re.I), r"\1" + MASK + "@"),
    # Authorization: Bearer …, Api-Key …, Basic …, OAuth …
    # (the schemes as HTTP writes them: «basic settings» in a sentence stays)
    (re.compile(r"\b(Bearer|bearer|Api-Key|Basic|OAuth)(\s+)[\w.~+/=\-]{6,}"), r"\1\2" + MASK),
    (
        re.compile(
            r"(\bauthorization[\"']?\s*[:=]\s*+[\"']?)(?!(?:Bearer|Api-Key|Basic|OAuth)\s)[^\s\"',;&][^\"'\n,;&]*", re.I
        ),
        r"\1" + MASK,
    ),
    # ?api_key=…&token=…, password=… (query strings, forms)
    (re.compile(rf"(?<![\w\-])({_PARAM}=)[^&#\s\"'<>]+", re.I), r"\1" + MASK),
    # TELEGRAM_BOT_TOKEN=…, DAGSTER_PG_PASSWORD=… (environment lines)
    (re.compile(r"\b([A-Z][A-Z0-9_]*_(?:TOKEN|KEY|SECRET|PASSWORD|HASH|SESSION)=)[^\s\"'&]+"), r"\1" + MASK),
    # "password": "…" (JSON echoed in error bodies)
    (re.compile(rf"([\"']{_PARAM}[\"']\s*:\s*[\"'])[^\"']+", re.I), r"\1" + MASK),
]

_lock = threading.Lock()
_known: set[str] = set()
_exact: re.Pattern[str] | None = None


def secrets_in_url(url: str | None) -> list[str]:
    """The secret parts of a URL: the password, a Bitrix24 webhook code, key-like query values."""
    if not url:
        return []
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return []
    found = [parts.password] if parts.password else []
    bot = re.search(r"/bot(\d+:[^/?#]+)", parts.path)
    if bot:
        found.append(bot.group(1))
    hook = re.search(r"/rest/\d+/([^/?#]+)", parts.path)
    if hook:
        found.append(hook.group(1))
    found += [m.group(1) for m in re.finditer(rf"(?:^|&){_PARAM}=([^&]+)", parts.query, re.I)]
    return [unquote(s) for s in found]


CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "proxy-authorization"})


def credential(header_value: str | None) -> str | None:
    """The secret of an Authorization-style header value: what follows the scheme (Bearer, Api-Key, …)."""
    if not header_value:
        return None
    return header_value.strip().split(None, 1)[-1]


def register(*values: str | None) -> None:
    """Known secret values: replaced wherever they appear (as they are and URL-encoded)."""
    global _exact
    fresh = set()
    for value in values:
        if not value or len(value := str(value).strip()) < MIN_SECRET:
            continue
        fresh |= {value, quote(value, safe=""), quote(value, safe=":/@")}
        if "." in value and len(secret := value.rsplit(".", 1)[1]) >= 8:  # GLM keys are <id>.<secret>
            fresh.add(secret)
    with _lock:
        if fresh <= _known:
            return
        _known.update(fresh)
        _exact = re.compile("|".join(re.escape(v) for v in sorted(_known, key=len, reverse=True)))


def register_url(*urls: str | None) -> None:
    for url in urls:
        register(*secrets_in_url(url))


def register_settings(settings: object | None = None, environ: Mapping[str, str] | None = None) -> None:
    """Every secret of the configuration: the settings object's fields and the environment (incl. deploy-only)."""
    environ = os.environ if environ is None else environ
    register(*(environ.get(name) for name in SECRET_ENV))
    register_url(*(environ.get(name) for name in SECRET_URL_ENV))
    if settings is not None:
        register(*(getattr(settings, name, None) for name in SECRET_FIELDS))
        register_url(*(getattr(settings, name, None) for name in SECRET_URL_FIELDS))


def redact(text: object) -> str:
    """`text` with every secret replaced by ***."""
    text = "" if text is None else str(text)
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    exact = _exact
    return exact.sub(MASK, text) if exact is not None else text


def redact_data(value):
    """Strings inside dicts, lists and tuples redacted (metadata values, JSON to be written)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_data(v) for v in value)
    return value


# --- logging and uncaught exceptions --------------------------------------------------------------------------------


class RedactedLogRecord(logging.LogRecord):
    """A log record whose message, formatted exception and stack never carry a secret."""

    def getMessage(self) -> str:  # noqa: N802 — logging's name
        return redact(super().getMessage())

    # logging.Formatter stores the formatted traceback here (and handlers print it): redacted as it is stored
    @property
    def exc_text(self) -> str | None:
        return self.__dict__.get("_exc_text")

    @exc_text.setter
    def exc_text(self, value: str | None) -> None:
        self.__dict__["_exc_text"] = None if value is None else redact(value)

    @property
    def stack_info(self) -> str | None:
        return self.__dict__.get("_stack_info")

    @stack_info.setter
    def stack_info(self, value: str | None) -> None:
        self.__dict__["_stack_info"] = None if value is None else redact(value)


_installed = False


def _excepthook(kind, value, tb) -> None:
    sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))


def _thread_excepthook(args) -> None:
    if args.exc_type is not SystemExit:
        _excepthook(args.exc_type, args.exc_value, args.exc_traceback)


def install(load_settings: Callable[[], object] | None = None, extra: Iterable[str] = ()) -> None:
    """Once per process at start-up (CLI, code location): register the configuration's secrets, make every log
    record redact itself, and print uncaught exceptions redacted. Calling it again refreshes the secrets."""
    global _installed
    try:
        settings = load_settings() if load_settings else None
    except ValueError:  # a broken .env: the environment's secrets still count; what is wrong is said where it's used
        settings = None
    register_settings(settings)
    register(*extra)
    with _lock:
        if _installed:
            return
        _installed = True
    previous = logging.getLogRecordFactory()
    if previous is logging.LogRecord:
        logging.setLogRecordFactory(RedactedLogRecord)
    else:  # someone's own factory: keep it, redact what it made

        def factory(*args, **kwargs) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if type(record) is logging.LogRecord:
                exc_text, stack_info = record.__dict__.pop("exc_text"), record.__dict__.pop("stack_info")
                record.__class__ = RedactedLogRecord
                record.exc_text, record.stack_info = exc_text, stack_info
            return record

        logging.setLogRecordFactory(factory)
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook
