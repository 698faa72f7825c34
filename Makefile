# The two commands a fresh machine needs: `make demo` and `make test`. Each creates .venv
# from nothing. PYTHON may name another interpreter (3.11 or newer).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test browser lint format clean catalogs

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/webinar-ops demo

# The browser tests drive the distribution's Chromium; Playwright's own download cannot be used.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		echo "Installing Chromium (Debian's package) for the browser tests"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

test: $(BIN)/.installed browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The translations (docs/translating.md): messages.pot from the templates and the Python
# modules, each language's messages.po brought up to date with it, and its messages.mo compiled.
# A language is added with: $(BIN)/pybabel init -i $(LOCALE)/messages.pot -d $(LOCALE) -l LANG
LOCALE := webinar_ops/locale
catalogs: $(BIN)/.installed
	$(BIN)/pybabel extract --mapping-file=babel.cfg --add-comments=Translators: --sort-by-file \
		--project=webinar-ops --copyright-holder="the webinar-ops authors" --output-file=$(LOCALE)/messages.pot .
	$(BIN)/pybabel update --input-file=$(LOCALE)/messages.pot --output-dir=$(LOCALE) --ignore-obsolete
	$(BIN)/pybabel compile --directory=$(LOCALE) --statistics

clean:
	rm -rf $(VENV) data/webinar_ops.db data/webinar_ops.db-* data/outbox artefacts
