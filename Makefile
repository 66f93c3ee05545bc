# TEKE: `make run` starts the whole system on this machine; `make test` runs the test suite.
# Everything is installed into .venv from uv.lock; uv itself goes into .tools (from PyPI).

SHELL := /bin/bash
PYTHON ?= python3.11
UV_VERSION := 0.13.8
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)

.PHONY: run test test-postgres install lint bench token backup restore clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.installed: $(UV) uv.lock pyproject.toml */pyproject.toml services/*/pyproject.toml
	$(UV) sync --frozen
	touch $@

# The TypeScript client check (tests/test_typescript_client.py): openapi-typescript, typescript
# and openapi-fetch exactly as clients/typescript/package-lock.json pins them, from the npm
# registry. Without npm this only warns (`make run` needs no node); that test then fails.
TS_CLIENT := clients/typescript
$(TS_CLIENT)/node_modules/.package-lock.json: $(TS_CLIENT)/package.json $(TS_CLIENT)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd $(TS_CLIENT) && npm ci --ignore-scripts --no-audit --no-fund; \
	else \
		echo "make install: npm not found; skipping $(TS_CLIENT) (the TypeScript client test will fail)"; \
	fi

install: .venv/.installed $(TS_CLIENT)/node_modules/.package-lock.json

run: install
	.venv/bin/python deploy/embedded.py

# A development token for any role, signed with this data folder's development secret.
token: install
	@.venv/bin/python deploy/embedded.py --token $(or $(ROLE),admin) $(if $(ORG),--org $(ORG))

# A backup of the running system (deploy/backup.py; README "Backup and restore"): every
# database, the data folder's secrets and mail, into TO (default backups/<UTC time>).
backup: install
	.venv/bin/python -m deploy.backup backup $(if $(TO),--to $(TO))

# FROM=<a backup folder> into a fresh data folder (TEKE_DATA, default data) or fresh databases
# (*_DATABASE_URL); then `make run`.
restore: install
	.venv/bin/python -m deploy.backup restore --from $(or $(FROM),$(error FROM=<backup folder> is required))

test: install
	.venv/bin/python -m pytest $(PYTEST_ARGS)

# The same suite on PostgreSQL (127.0.0.1:5432, user postgres, trust); databases are made per run.
test-postgres: install
	TEKE_TEST_DB=postgres .venv/bin/python -m pytest $(PYTEST_ARGS)

lint: install
	.venv/bin/ruff check .

# Every benchmark in quick mode and one table (bench/__main__.py); FULL=1: the issue's sizes.
bench: install
	.venv/bin/python -m bench $(if $(FULL),--full) $(BENCH_ARGS)

clean:
	rm -rf .venv .tools data
