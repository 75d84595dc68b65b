#!/usr/bin/env bash
# Installs everything Lifeboat's test suite needs, skipping what is present:
#
#   - Debian packages: postgresql and postgresql-contrib (local clusters that
#     produce real pg_dump archives), chromium (the status page and the drill
#     report are checked in a headless browser), awscli (the benchmarks'
#     baseline), ca-certificates, debootstrap (the VPS image), and mmdebstrap
#     while the Postgres image is still to be built;
#   - MinIO, built from the Go module proxy into $LIFEBOAT_TOOLS
#     (default ~/.cache/lifeboat/tools/bin), the real S3 server the tests run
#     (about 16 min on 2 cores the first time: it builds in the background
#     while the packages and the images are installed);
#   - the Docker image lifeboat/postgres:15 (scripts/build-postgres-image.sh);
#   - ansible and ansible-lint from Debian, and the Debian 12 "VPS" image the
#     playbook's test converges (scripts/build-vps-image.sh, with debootstrap,
#     built in the background too).
#
# `make demo` needs less (scripts/demo.sh). Idempotent: a second run only
# checks, in a few seconds. Needs root (or sudo) for apt and mmdebstrap, Go
# and a running Docker Engine.
#
# The test helpers (internal/testenv) find everything at these default
# locations; the variables printed at the end only override them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
. "${here}/lib.sh"

# The MinIO release the tests run (a Go pseudo-version of github.com/minio/minio).
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c

start=${SECONDS}
tools="$(lifeboat_tools_dir)"

# --- MinIO, in the background: it needs only Go ------------------------------
command -v go >/dev/null || die "go not found on PATH (Go 1.26 is needed to build MinIO)"
minio="${tools}/minio"
install_minio() {
	local installed="" t0
	if [ -x "${minio}" ]; then
		installed="$(go version -m "${minio}" 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/minio/minio" { print $3 }')" || true
	fi
	if [ "${installed}" != "${MINIO_VERSION}" ]; then
		# One build at a time: wait for a concurrent run, then look again.
		mkdir -p "${tools}"
		exec 8>"${tools}/.minio.lock"
		flock 8
		installed="$(go version -m "${minio}" 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/minio/minio" { print $3 }')" || true
	fi
	if [ "${installed}" = "${MINIO_VERSION}" ]; then
		log "minio ${MINIO_VERSION} already in ${tools}"
	else
		log "building minio ${MINIO_VERSION} into ${tools} in the background (about 16 min on 2 cores; only the tests need it)"
		t0=${SECONDS}
		# Outside any module (go install pkg@version ignores go.mod anyway);
		# -buildvcs=false because there is no VCS to stamp.
		(cd / && GOBIN="${tools}" GOFLAGS=-buildvcs=false \
			go install "github.com/minio/minio@${MINIO_VERSION}")
		log "minio built in $((SECONDS - t0))s"
	fi
	"${minio}" --version >/dev/null || die "${minio} does not run"
}
install_minio &
minio_pid=$!

# --- Debian packages ---------------------------------------------------------
# chromium: the status page and the drill report are checked in a real headless browser.
# debootstrap: the VPS image (build-vps-image.sh); the Postgres image's
# mmdebstrap is installed by build-postgres-image.sh when it has to build.
packages=(postgresql postgresql-contrib debootstrap ca-certificates chromium)
# ansible-playbook and ansible-lint: the deployment test (internal/deploytest).
packages+=(ansible ansible-lint)
# gpg: the symmetric .gpg archives that forks of heroku-database-backups write
# are made with the real `gpg -c` in the tests that read them.
packages+=(gpg)
# `command -v` alone is not enough: a pyenv shim may name a missing program.
if command -v aws >/dev/null 2>&1 && aws --version >/dev/null 2>&1; then
	log "aws already on PATH ($(command -v aws)): not installing awscli"
else
	packages+=(awscli)
fi
apt_ensure "${packages[@]}"

# --- The VPS image, in the background ------------------------------------------
# Mostly downloads and dpkg: it overlaps well with the CPU-bound MinIO build.
vps_log="$(mktemp)"
"${here}/build-vps-image.sh" >"${vps_log}" 2>&1 &
vps_pid=$!
# If a step below fails, let the build finish rather than orphan it.
trap 'wait "${vps_pid}" 2>/dev/null || true; rm -f "${vps_log}"' EXIT

# --- Docker and the Postgres image --------------------------------------------
"${here}/build-postgres-image.sh"

if kill -0 "${minio_pid}" 2>/dev/null; then
	log "waiting for the MinIO build"
fi
wait "${minio_pid}" || die "installing MinIO failed (see above)"

vps_status=0
wait "${vps_pid}" || vps_status=$?
trap - EXIT
cat "${vps_log}" >&2
rm -f "${vps_log}"
[ "${vps_status}" -eq 0 ] || die "building the VPS image failed (scripts/build-vps-image.sh)"

log "all test dependencies present ($((SECONDS - start))s)"
cat >&2 <<EOF

The tests find these by default; to override:
  export LIFEBOAT_MINIO_BIN=${minio}
  export LIFEBOAT_PG_BINDIR=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
Postgres image: lifeboat/postgres:15 (also tagged postgres:15 unless that tag is someone else's).
VPS image: $("${here}/build-vps-image.sh" --print-tag)
EOF
