#!/usr/bin/env bash
# The full local demonstration (`make demo`). Installs only what the demo
# needs, then runs internal/demo, which plays a Heroku backup bucket (an S3
# server in its own process) and database (a local Postgres cluster) and runs
# lifeboat against them:
#
#   - Debian packages: postgresql (the local cluster that makes real pg_dump
#     archives), ca-certificates, and mmdebstrap only while the Postgres
#     image is still to be built. Nothing else (no MinIO, no chromium, no
#     awscli: those are for the tests);
#   - the Docker image lifeboat/postgres:15 (scripts/build-postgres-image.sh),
#     built while Go compiles bin/lifeboat, the demo driver and the example
#     app in the background.
#
# Everything is cached (~/.cache/lifeboat, Go's caches): a second run starts
# the demo within seconds. Usage: scripts/demo.sh [--keep]
#   --keep   leave the standby running at the end, to explore it with bin/lifeboat
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "${here}/.."
. scripts/lib.sh

command -v go >/dev/null || die "go not found on PATH (Go 1.26 is needed)"
command -v docker >/dev/null || die "docker not found (install docker.io)"
docker info >/dev/null 2>&1 || die "the Docker Engine is not reachable (is dockerd running? are you in the docker group?)"

demo_dir=.cache/demo
mkdir -p "${demo_dir}/bin"
build_log="${demo_dir}/build.log"

# 1. Go, in the background: lifeboat, the demo driver, and the example app's
#    packages as the demo builds them into an image. All three static and
#    -trimpath, as the example app must be: they then share one build of the
#    standard library and of their common modules (a quarter faster cold).
if [ -x bin/lifeboat ] && [ -x "${demo_dir}/bin/demo" ]; then
	log "[$(elapsed)] building bin/lifeboat and the demo driver in the background (cached: seconds)"
else
	log "[$(elapsed)] building bin/lifeboat and the demo driver in the background (first time: about 5 min on 2 cores, modules downloaded from the Go proxy)"
fi
(
	t0=${SECONDS}
	export CGO_ENABLED=0
	make --no-print-directory build &&
		go build -trimpath -o "${demo_dir}/bin/demo" ./internal/demo &&
		GOOS=linux go build -trimpath -o /dev/null ./internal/exampleapp &&
		echo "built in $((SECONDS - t0))s"
) >"${build_log}" 2>&1 &
build_pid=$!

# 2. Debian packages, then the Postgres image (its first build makes a
#    Debian root filesystem with mmdebstrap, installing it: the longest step;
#    cached afterwards).
log "[$(elapsed)] Debian packages the demo needs: postgresql ca-certificates"
apt_ensure postgresql ca-certificates
log "[$(elapsed)] the Docker image lifeboat/postgres:15"
scripts/build-postgres-image.sh

# 3. Wait for Go.
if kill -0 "${build_pid}" 2>/dev/null; then
	log "[$(elapsed)] waiting for the Go build to finish"
fi
if ! wait "${build_pid}"; then
	cat "${build_log}" >&2
	die "building lifeboat or the demo driver failed (log above, also in ${build_log})"
fi
log "[$(elapsed)] Go: bin/lifeboat, the demo driver and the example app $(tail -n1 "${build_log}")"
log "[$(elapsed)] everything is ready; running the demo"
exec "${demo_dir}/bin/demo" -lifeboat bin/lifeboat -dir "${demo_dir}" "$@"
