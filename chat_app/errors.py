"""Every handler fails with a short Russian sentence under a Russian title (`russian_errors`), never an exception's
text nor Gradio's «Error»."""

from __future__ import annotations

import functools
import inspect
import logging

import gradio as gr

from warehouse.staff import StaffError

log = logging.getLogger("client360.app")
INTERNAL_ERROR = (
    "Не получилось: внутренняя ошибка приложения. Попробуйте ещё раз; если повторится — сообщите администратору."
)
TITLE = "Не получилось"  # the toast's heading (Gradio's is «Error»; its 6.31 page ignores this: app.TOAST_TITLES_JS)


def russian_errors(handler):
    """A handler fails with a short Russian sentence: its own (gr.Error, StaffError) or a general one, the details
    going to the log — never an exception's text (`Python int too large…`) on the user's screen."""

    def explain(exc: Exception) -> gr.Error:
        if isinstance(exc, gr.Error):
            return gr.Error(exc.message, duration=exc.duration, title=TITLE)
        if isinstance(exc, StaffError):
            return gr.Error(str(exc), title=TITLE)
        log.exception("ошибка в %s", handler.__name__)
        return gr.Error(INTERNAL_ERROR, title=TITLE)

    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def streaming(*args, **kwargs):
            try:
                yield from handler(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 — every failure becomes a sentence
                raise explain(exc) from None

        return streaming

    @functools.wraps(handler)
    def plain(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 — every failure becomes a sentence
            raise explain(exc) from None

    return plain
