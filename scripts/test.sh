#!/usr/bin/env bash
# The whole test suite: installs what the tests need (scripts/test-deps.sh),
# checks formatting and vet, then runs every test against the real
# components (MinIO, PostgreSQL, the Docker Engine), and, when run without
# arguments (as CI does), fuzzes the fetch verification path for 20s
# ($LIFEBOAT_FUZZTIME).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "${here}/.."
. scripts/lib.sh

scripts/test-deps.sh

unformatted="$(gofmt -l $(git ls-files '*.go') 2>/dev/null || true)"
if [ -n "${unformatted}" ]; then
	die "gofmt would change: ${unformatted}"
fi
log "go vet"
go vet ./...
log "go test"
# A test whose dependency is missing fails here instead of skipping.
export LIFEBOAT_REQUIRE_DEPS=1
go test -count=1 -timeout 40m "$@" ./...
if [ "$#" -eq 0 ]; then
	# The whole fetch verification path (gzip, tar.gz, the pg_dump reader,
	# the limits) under a short, fixed fuzzing run; its seeds already ran
	# above as plain tests.
	log "fuzz FuzzUnpack for ${LIFEBOAT_FUZZTIME:-20s}"
	# Go's fuzzer can end a timed run with "context deadline exceeded"
	# when its time is up while a worker is still on a slow input: that
	# is the end of the run, not a finding. A finding always writes its
	# input ("Failing input written to ...") and fails here.
	fuzzlog="$(mktemp)"
	if ! go test -run '^$' -fuzz '^FuzzUnpack$' -fuzztime "${LIFEBOAT_FUZZTIME:-20s}" -fuzzminimizetime 5s ./failover/archive 2>&1 | tee "$fuzzlog"; then
		if grep -q 'Failing input written' "$fuzzlog" || ! grep -q 'context deadline exceeded' "$fuzzlog"; then
			rm -f "$fuzzlog"
			exit 1
		fi
		log "fuzz: the run ended on the fuzzer's own deadline with no failing input (not a finding)"
	fi
	rm -f "$fuzzlog"
fi
