#!/usr/bin/env bash
# The benchmarks (`make bench`): installs what they need (MinIO, PostgreSQL,
# awscli and the postgres:15 image: scripts/test-deps.sh), builds
# bin/lifeboat, then runs internal/bench, which runs each suite against what
# a user would otherwise do, on the same machine, in the same run, and prints
# a Markdown section per suite for docs/BENCHMARKS.md (also written to
# .cache/bench/SUITE.md):
#
#   fetch     lifeboat fetch vs aws s3 cp of a ~1 GiB pg_dump archive (MinIO)
#   restore   lifeboat restore vs docker run postgres:15 + pg_restore --jobs 2
#   failover  lifeboat failover of a warm standby (demo-size and ~1 GiB)
#   refresh   lifeboat refresh vs aws s3 cp + gunzip + pg_restore + docker run
#   cold      lifeboat failover with only the archive cached vs pg_restore + docker run
#   capture   lifeboat capture (plain, age) vs pg_dump to a file + aws s3 cp
#
# Arguments go to internal/bench. All suites at full size take about half an
# hour; a quick smoke run of the new ones:
#
#   scripts/bench.sh -suites restore,failover,refresh -rounds 1 -size 64MiB
#
# Other flags: -suites fetch,restore,failover,refresh,cold,capture  -rounds N  -jobs 2
# -objects gz,dump  -tune 8x32MiB  -warmup=false  -out FILE
# (go run ./internal/bench -h lists them). The archive is made once per size
# (a minute or two per GiB) and cached under ~/.cache/lifeboat/bench/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "${here}/.."
. scripts/lib.sh

scripts/test-deps.sh
# The by-hand refresh waits for the app's /health with curl.
command -v curl >/dev/null || apt_ensure curl
log "building bin/lifeboat"
make --no-print-directory build
exec go run ./internal/bench -lifeboat bin/lifeboat -dir .cache/bench "$@"
