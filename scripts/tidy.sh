#!/bin/sh
# Runs clang-tidy 14 (checks: .clang-tidy) over every .c file in src/, JOBS
# files at a time, with the compile commands of build-tidy/ (configured by
# `make tidy`). Usage: tidy.sh JOBS [analyzer]; without "analyzer" the
# Clang static analyzer's checks are left out. Any finding fails.
set -eu
cd "$(dirname "$0")/.."
jobs=${1:-2}
checks='-clang-analyzer-*'
[ "${2:-}" = analyzer ] && checks=
export checks

# Each file's output is printed in one piece, without the compiler's
# "N warnings generated." count (about warnings in system headers, which
# clang-tidy does not report).
status=0
# shellcheck disable=SC2016 # expanded by the inner shell, per file
find src -name '*.c' | sort | xargs -P "$jobs" -n 1 sh -c '
	out=$(clang-tidy-14 -p build-tidy --quiet --checks="$checks" "$1" 2>&1)
	rc=$?
	out=$(printf "%s\n" "$out" | grep -v " generated\.$" || true)
	[ -z "$out" ] || printf "%s\n" "$out"
	exit $rc' tidy || status=1
if [ $status -ne 0 ]; then
	echo "tidy: FAILED" >&2
	exit 1
fi
echo "tidy: $(find src -name '*.c' | wc -l) files clean"
