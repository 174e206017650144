# All set-up happens here: a fresh machine needs only Python 3.11 and make.
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha1sum | cut -c1-12)

.PHONY: setup demo test ui run lock clean

$(STAMP): requirements.lock pyproject.toml
	@command -v uv >/dev/null 2>&1 || python3 -m pip install -q uv
	@test -x $(BIN)/python || uv venv -q -p 3.11 $(VENV)
	VIRTUAL_ENV=$(VENV) uv pip sync -q requirements.lock
	VIRTUAL_ENV=$(VENV) uv pip install -q --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)

demo: setup            ## офлайн-демо: синтетические встречи → расшифровки → резюме → отчёт
	$(BIN)/client360 demo

test: setup            ## проверка стиля и все тесты (PostgreSQL на 127.0.0.1:5432 запускается при необходимости)
	$(BIN)/ruff check .
	bash .ci/ensure-postgres
	bash .ci/ensure-chromium
	$(BIN)/pytest

run: setup             ## один цикл по настоящим настройкам (.env)
	$(BIN)/client360 run

ui: setup              ## интерфейс Dagster на http://127.0.0.1:3000
	$(BIN)/client360 ui

lock:                  ## пересобрать requirements.lock после правки pyproject.toml
	uv pip compile -q pyproject.toml --extra dev -p 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) data
