# The two commands of the README:
#   make demo   set up, seed the demo project and serve on http://127.0.0.1:8000 with a worker
#   make test   set up and run the whole test suite (PostgreSQL + Redis + Chromium)
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(VENV)/bin/pip

.PHONY: demo test bench bench-quick check-deploy clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt $(PY)
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

demo: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py serve 127.0.0.1:8000

# axe-core for the accessibility browser test (tests/e2e/test_accessibility.py), pinned in package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# The shape first (seconds): ruff's lint and format rules and the import-linter layer contracts
# (both configured in pyproject.toml), then the tests.
test: $(VENV)/.installed-dev node_modules/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

bench-quick: $(VENV)/.installed-dev
	$(PY) bench/agreement.py --quick
	$(PY) bench/inference.py --quick
	$(PY) bench/serve.py --quick

check-deploy: $(VENV)/.installed
	DJANGO_SETTINGS_MODULE=config.settings.production SECRET_KEY=$$($(PY) -c 'import secrets;print(secrets.token_urlsafe(50))') \
	ALLOWED_HOSTS=example.org DATABASE_URL=postgres://postgres@127.0.0.1:5432/affect_studio \
	CELERY_BROKER_URL=redis://127.0.0.1:6379/0 $(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) db.sqlite3* var staticfiles node_modules
