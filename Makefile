# mailgate: `make run` starts a demo, `make test` runs the tests. Both set everything up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= mailgate-data
STAMP := $(VENV)/.installed
# Test processes, one per core (`auto`), each taking whole test files: most of the suite
# waits on real servers and clients. `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= auto

.PHONY: run test lint fuzz bench soak-queue clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	@if [ ! -f $(DATA)/mailgate.db ]; then $(BIN)/mailgate --data $(DATA) init --demo; fi
	$(BIN)/mailgate --data $(DATA) serve

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -rfEs -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .

fuzz: $(STAMP)
	$(BIN)/pip install --quiet atheris
	for target in fuzz/fuzz_*.py; do $(BIN)/python $$target -max_total_time=$${FUZZ_SECONDS:-120} || exit 1; done
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q -p no:cacheprovider tests/integration/test_imap_session_properties.py

# The outbound queue's kill -9 test at length: 200 kills instead of 20 (SOAK_KILLS=N).
soak-queue: $(STAMP)
	MAILGATE_TEST_KILLS=$${SOAK_KILLS:-200} $(BIN)/python -m pytest -q -p no:cacheprovider \
		tests/integration/test_smtp_queue.py -k kill_9

bench: $(STAMP)
	@echo "see bench/README.md: each bench/*.py prints mailgate vs reference ratios"

clean:
	rm -rf $(VENV) $(DATA) build *.egg-info
