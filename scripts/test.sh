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
	go test -run '^$' -fuzz '^FuzzUnpack$' -fuzztime "${LIFEBOAT_FUZZTIME:-20s}" -fuzzminimizetime 5s ./failover/archive
fi
