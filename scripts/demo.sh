#!/usr/bin/env bash
# The full local demonstration: installs what it needs (MinIO, PostgreSQL,
# the Postgres image), builds lifeboat, then runs internal/demo, which plays
# a Heroku backup bucket and database locally and runs lifeboat against them.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "${here}/.."
. scripts/lib.sh

scripts/test-deps.sh
log "building bin/lifeboat"
make --no-print-directory build
exec go run ./internal/demo -lifeboat bin/lifeboat -dir .cache/demo "$@"
