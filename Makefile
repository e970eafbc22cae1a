# The demo and the test suite, each from nothing: a .venv in the project folder.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-e2e check install lint bench clean stress

$(BIN)/.installed: requirements.txt pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py serve --host $(HOST) --port $(PORT)

# The whole suite (what CI runs), with the coverage gate: pytest-cov measures wsapp and fails the
# run under [tool.coverage.report] fail_under in pyproject.toml. Server subprocesses are not
# measured, so the gate is set from the in-process suites alone and holds with margin here.
test: install
	$(BIN)/python -m pytest --cov=wsapp --cov-report=term

# The suites that talk to real server processes over real sockets.
test-e2e: install
	$(BIN)/python -m pytest tests/e2e tests/security

# Before every commit, under a minute: the linters, the layers and the in-process unit tests.
check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check wsapp tests
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest tests/wsapp tests/demo tests/support tests/test_exports.py tests/test_architecture.py -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check wsapp tests
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run

# The suites that run real processes, several times, beside a CPU burner on the other core, with
# every test timeout stretched by WSAPP_TEST_TIMEOUT_FACTOR: what fails here flakes in CI. The
# burner is bounded (timeout) and killed by PID at the end, whatever the result.
STRESS_RUNS ?= 3
STRESS_FACTOR ?= 3
STRESS_TESTS ?= tests/e2e tests/chaos

stress: install
	@timeout 3600 $(BIN)/python -c 'while True: pass' & burner=$$!; \
	trap 'kill $$burner 2>/dev/null' EXIT INT TERM; \
	failed=0; \
	for run in $$(seq $(STRESS_RUNS)); do \
		echo "== stress run $$run of $(STRESS_RUNS) (WSAPP_TEST_TIMEOUT_FACTOR=$(STRESS_FACTOR))"; \
		WSAPP_TEST_TIMEOUT_FACTOR=$(STRESS_FACTOR) $(BIN)/python -m pytest $(STRESS_TESTS) -q \
			|| failed=$$((failed + 1)); \
	done; \
	echo "== stress: $$failed of $(STRESS_RUNS) runs failed"; \
	test $$failed -eq 0

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) db.sqlite3
