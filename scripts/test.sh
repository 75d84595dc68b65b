#!/usr/bin/env bash
# The whole test suite: installs what the tests need (scripts/test-deps.sh),
# checks formatting and vet, then runs every test against the real
# components (MinIO, PostgreSQL, the Docker Engine).
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
exec go test -count=1 -timeout 40m "$@" ./...
