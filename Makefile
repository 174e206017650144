# All set-up happens here: a fresh machine needs only Python 3.11 and make.
VENV   ?= .venv
BIN    := $(VENV)/bin
# uv lives in its own small venv and is called by path: a fresh `pip install uv` puts nothing on PATH under
# pyenv shims, and a Debian Python refuses pip outside a venv
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha1sum | cut -c1-12)

.PHONY: setup demo test ui run lock clean

$(UV):
	python3 -m venv $(TOOLS) && $(TOOLS)/bin/python -m pip install -q --disable-pip-version-check uv

$(STAMP): requirements.lock pyproject.toml | $(UV)
	@test -x $(BIN)/python || $(UV) venv -q -p 3.11 $(VENV)
# --compile-bytecode: uv leaves no .pyc by default, and every process then compiles all it imports (seconds)
	VIRTUAL_ENV=$(VENV) $(UV) pip sync -q --compile-bytecode requirements.lock
	VIRTUAL_ENV=$(VENV) $(UV) pip install -q --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)

demo: setup            ## офлайн-демо: синтетические встречи → расшифровки → резюме → отчёт
	$(BIN)/client360 demo

test: setup            ## проверка стиля, направления импортов и все тесты (PostgreSQL на 127.0.0.1:5432 запускается при необходимости)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-logo
	bash .ci/ensure-postgres
	bash .ci/ensure-chromium
	bash .ci/ensure-lua
# both cores: each test makes its own data folder, fakes take free ports, databases get unique names
	$(BIN)/pytest -n auto --dist worksteal --durations=25

run: setup             ## один цикл по настоящим настройкам (.env)
	$(BIN)/client360 run

ui: setup              ## интерфейс Dagster на http://127.0.0.1:3000
	$(BIN)/client360 ui

lock: | $(UV)          ## пересобрать requirements.lock после правки pyproject.toml
	$(UV) pip compile -q pyproject.toml --extra dev -p 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) $(TOOLS) data
