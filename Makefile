# Thin driver over CMake: deps, build, run, test, bench. See README.md.
.PHONY: all deps build build-asan build-fuzz run test unit e2e e2e-sqlite e2e-postgres e2e-asan browser-test fuzz fuzz-smoke openapi-lint tidy bench reliability clean

JOBS       ?= $(shell nproc)
PYTHON     ?= /usr/bin/python3
CONFIG     ?= examples/grantd.yaml
FUZZ_SECONDS ?= 5
FUZZERS    = fuzz_http_head fuzz_primegaming_body fuzz_partner_body fuzz_catalog fuzz_config fuzz_codec fuzz_http_path fuzz_oauth_request fuzz_access_token fuzz_provider_answers fuzz_link_params fuzz_offer_decode fuzz_gamepot_query fuzz_gamepot_login fuzz_gamepot_payment fuzz_offer_redeem fuzz_events_cursor

all: build

deps:
	@sh scripts/deps.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build -j $(JOBS) >/dev/null

build-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DGRANTD_SANITIZE=ON \
		-DGRANTD_UNIT_TESTS=ON >/dev/null
	@cmake --build build-asan -j $(JOBS) >/dev/null

# ThreadSanitizer: the writer, syncer and checkpointer under load from
# bench/store_driver (Criterion's test runner cannot run under TSan).
build-tsan: deps
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DGRANTD_TSAN=ON >/dev/null
	@cmake --build build-tsan -j $(JOBS) --target grantd_store_driver >/dev/null

tsan: build-tsan
	@dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && \
	DRIVER_WAL_RESTART_BYTES=262144 TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
		build-tsan/grantd_store_driver "$$dir" 3000 64 16 && mkdir "$$dir/normal" && \
	DRIVER_SYNC=normal DRIVER_WAL_RESTART_BYTES=262144 \
	TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
		build-tsan/grantd_store_driver "$$dir/normal" 3000 64 16

build-fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug \
		-DGRANTD_SANITIZE=ON -DGRANTD_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS) >/dev/null

run: build
	@mkdir -p var
	./build/grantd serve --config $(CONFIG) --pid-file var/grantd.pid

unit: build-asan
	./build-asan/grantd_unit --jobs $(JOBS)

# The whole end-to-end suite, and the self-tests of the loopback provider
# fakes (tests/fakes): on SQLite against the ASan/UBSan build, every server
# stopped cleanly so LeakSanitizer runs and its stderr checked for reports;
# at the same time on PostgreSQL against the release build (a throwaway
# cluster; its log goes to build/e2e-postgres.log and its summary is printed
# after SQLite's).
e2e: build build-asan
	@GRANTD_BIN=$(CURDIR)/build/grantd GRANTD_TEST_DRIVERS=postgres \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e \
		> build/e2e-postgres.log 2>&1 & pg=$$!; \
	GRANTD_BIN=$(CURDIR)/build-asan/grantd GRANTD_SANITIZER_CHECK=1 \
		GRANTD_TEST_DRIVERS=sqlite \
		$(PYTHON) -m pytest -q tests/e2e tests/fakes tests/pg; sq=$$?; \
	wait $$pg; pgrc=$$?; \
	if [ $$pgrc -ne 0 ]; then sed -n '/= FAILURES =/,$$p' build/e2e-postgres.log | tail -150; fi; \
	echo "postgres: $$(tail -n 1 build/e2e-postgres.log)"; \
	[ $$sq -eq 0 ] && [ $$pgrc -eq 0 ]

# One driver's half alone, against the release build: make e2e-sqlite,
# make e2e-postgres.
e2e-sqlite e2e-postgres: e2e-%: build
	GRANTD_BIN=$(CURDIR)/build/grantd GRANTD_TEST_DRIVERS=$* \
		$(PYTHON) -m pytest -q tests/e2e

# The PostgreSQL driver's paths under the sanitizers (the SQLite half of
# make e2e runs the whole suite under them already).
E2E_ASAN_PG = tests/e2e/test_guarantees.py tests/e2e/test_nodes.py \
	tests/e2e/test_links.py tests/e2e/test_outbox_ops.py \
	tests/e2e/test_gamepot_login.py tests/e2e/test_events.py \
	tests/e2e/test_revoke.py
e2e-asan: build-asan
	GRANTD_BIN=$(CURDIR)/build-asan/grantd GRANTD_SANITIZER_CHECK=1 \
		GRANTD_TEST_DRIVERS=postgres $(PYTHON) -m pytest -q $(E2E_ASAN_PG)

# The operator console in a real browser: Debian's chromium driven by
# playwright-core (pinned, installed once under build/npm) against a real
# grantd; screenshots land in tests/browser/screenshots/.
PLAYWRIGHT_VERSION = 1.49.1
browser-test: build
	@test -f build/npm/node_modules/playwright-core/package.json || \
		npm install --prefix build/npm --no-audit --no-fund \
			playwright-core@$(PLAYWRIGHT_VERSION) >/dev/null
	GRANTD_BIN=$(CURDIR)/build/grantd node --test tests/browser/console.test.mjs

# Runs every fuzzer for FUZZ_SECONDS over its committed corpus; a crash,
# leak or sanitizer report fails the target (the input is left in build-fuzz/).
fuzz-smoke: build-fuzz
	@for f in $(FUZZERS); do \
		mkdir -p build-fuzz/corpus/$$f; \
		if ./build-fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
			-artifact_prefix=build-fuzz/$$f- build-fuzz/corpus/$$f \
			tests/fuzz/corpus/$$f > build-fuzz/$$f.log 2>&1; then \
			echo "fuzz: $$f: $$(tail -1 build-fuzz/$$f.log)"; \
		else \
			tail -40 build-fuzz/$$f.log; echo "fuzz: $$f FAILED"; exit 1; \
		fi; \
	done

fuzz: FUZZ_SECONDS = 300
fuzz: fuzz-smoke

# Unit tests (ASan/UBSan), a short fuzz of every parser, the whole
# end-to-end suite against the sanitized build (SQLite) and the release
# build (PostgreSQL), then the console in a browser.
test:
	@$(MAKE) --no-print-directory check-banned
	@$(MAKE) --no-print-directory tidy
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory tsan
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory e2e-asan
	@$(MAKE) --no-print-directory e2e
	@$(MAKE) --no-print-directory browser-test
	@$(MAKE) --no-print-directory openapi-lint

# Lints docs/openapi.yaml with Redocly's CLI at a pinned version (rules:
# redocly.yaml, .redocly.lint-ignore.yaml), installed from npm under
# build/npm the first time. Needs Node.js 20.19+ or 22.12+ with npm.
REDOCLY_VERSION = 2.77.0
REDOCLY = build/npm/node_modules/.bin/redocly
REDOCLY_ENV = REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
openapi-lint:
	@grep -qs '"version": "$(REDOCLY_VERSION)"' \
		build/npm/node_modules/@redocly/cli/package.json || \
		npm install --prefix build/npm --no-audit --no-fund --save-exact \
			@redocly/cli@$(REDOCLY_VERSION) >/dev/null
	@$(REDOCLY_ENV) $(REDOCLY) lint docs/openapi.yaml

# The banned functions (src/util/util.h) must fail to build: a call to
# each, compiled as grantd's sources are, has to be refused.
check-banned:
	@sh scripts/check-banned.sh

# clang-tidy 14 over every source in src/ (the checks, and why some are
# left out: .clang-tidy), JOBS at a time, with the compile commands of a
# release build configured in build-tidy/; any finding fails. The Clang
# static analyzer is left out (it makes the run four times longer):
# `make tidy TIDY_ANALYZER=1` adds it.
tidy: deps
	@cmake -S . -B build-tidy -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
	@sh scripts/tidy.sh $(JOBS) $(if $(TIDY_ANALYZER),analyzer)

# The benchmark: grantd against a bare libmicrohttpd baseline (wrk, and an
# open-loop generator), then pull syncs against the provider fakes; writes
# bench/results/latest.md. Not part of make test.
bench: build
	$(PYTHON) bench/run.py
	$(PYTHON) bench/sync.py
	$(PYTHON) bench/pg.py

# The fault tests at length (GRANTD_RELIABILITY=1: kill -9 under load 20
# times, a full disk for 20 s, and connection exhaustion), each appending
# its figures to build/reliability.jsonl, then the figures section of
# docs/reliability.md rewritten from them. The full disk needs root (it
# mounts a tmpfs). RELIABILITY_DRIVERS=sqlite,postgres adds PostgreSQL for
# the kill -9 test. Not part of make test.
RELIABILITY_DRIVERS ?= sqlite
# A test that fails records nothing (the figures say so) and fails the run.
RELIABILITY_TESTS = \
	tests/e2e/test_connection_exhaustion.py::test_ten_thousand_idle_connections_from_40_addresses \
	tests/e2e/test_connection_exhaustion.py::test_slow_drip_from_5_addresses \
	tests/e2e/test_guarantees.py::test_kill_9_under_load_loses_nothing_and_doubles_nothing \
	tests/e2e/test_disk_full.py
reliability: build
	@rm -f build/reliability.jsonl; start=$$(date +%s); \
	GRANTD_BIN=$(CURDIR)/build/grantd GRANTD_TEST_DRIVERS=$(RELIABILITY_DRIVERS) \
		GRANTD_RELIABILITY=1 GRANTD_RELIABILITY_REPORT=$(CURDIR)/build/reliability.jsonl \
		$(PYTHON) -m pytest -q -p no:cacheprovider -rs $(RELIABILITY_TESTS); rc=$$?; \
	$(PYTHON) scripts/reliability_report.py build/reliability.jsonl \
		docs/reliability.md --seconds $$(( $$(date +%s) - start )) && exit $$rc

clean:
	rm -rf build build-asan build-fuzz build-tsan build-tidy
