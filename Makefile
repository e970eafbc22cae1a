# The demo and the test suite, each from nothing: a .venv in the project folder.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install lint bench clean stress

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

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check wsapp tests
	$(BIN)/mypy
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
