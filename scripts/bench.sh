#!/usr/bin/env bash
# The fetch benchmark (`make bench`): installs what it needs (MinIO,
# PostgreSQL, awscli: scripts/test-deps.sh), builds bin/lifeboat, then runs
# internal/bench, which times `lifeboat fetch` against `aws s3 cp` of the same
# ~1 GiB pg_dump archive on a local MinIO server and prints a Markdown section
# for docs/BENCHMARKS.md (also written to .cache/bench/fetch.md).
#
# Arguments go to internal/bench, e.g. a quick smoke run:
#
#   scripts/bench.sh -rounds 1 -size 64MiB
#
# Other flags: -objects gz,dump  -tune 8x32MiB  -warmup=false  -out FILE
# (go run ./internal/bench -h lists them). The archive is made once per size
# (a minute or two per GiB) and cached under ~/.cache/lifeboat/bench/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "${here}/.."
. scripts/lib.sh

scripts/test-deps.sh
log "building bin/lifeboat"
make --no-print-directory build
exec go run ./internal/bench -lifeboat bin/lifeboat -dir .cache/bench "$@"
